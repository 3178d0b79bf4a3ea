"""``python -m routing_sim.validation [--out docs/validation.md]``: regenerate the validation report."""

import sys

from routing_sim.validation import main

sys.exit(main())
