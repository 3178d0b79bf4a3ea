"""``python -m routing_sim.cli``: the ``routing-sim`` command."""

from routing_sim.cli import main

main()
