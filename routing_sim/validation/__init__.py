"""Validation of the engine against queueing theory, and the report ``docs/validation.md``.

Regenerate the report (about a minute on two cores)::

    .venv/bin/python -m routing_sim.validation --out docs/validation.md

One module per job:

- ``formulas``: the formulas (pure functions; rates per hour, times in hours): Erlang C for
  M/M/c, Pollaczek-Khinchine for M/G/1, Cobham for non-preemptive priority M/G/1, the traffic
  equations of an open Jackson network, the second moments of the service-time distributions;
- ``systems``: the textbook systems of ``configs/textbook/`` and, for each, the theory read
  from the config itself (rates, means, headcounts, routing probabilities), so the numbers
  live in one place, the config;
- ``estimates``: replications with a warm-up and a cool-down window, and Student t intervals
  over the replication means;
- ``littles``: Little's law ``L = lambda W`` at every stage of a pipeline, from the records
  and from the time series;
- ``document``: the markdown of ``docs/validation.md`` and the command above (``__main__``).

``tests/test_validation.py`` calls the same functions with the same settings, so the report
shows exactly what the test suite checks. Import from the modules; this file re-exports nothing.
"""
