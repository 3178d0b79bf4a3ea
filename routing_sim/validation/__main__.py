"""``python -m routing_sim.validation [--out docs/validation.md]``: regenerate the validation report
(``routing_sim.validation.document.main``)."""

import sys

from routing_sim.validation.document import main

sys.exit(main())
