"""Answer the staffing question directly: a staffing optimiser and sensitivity analysis.

- :func:`routing_sim.optimise.search.optimise` (``routing-sim optimise``): the cheapest headcount
  vector whose targets all hold with the chosen confidence, from replications with common random
  numbers, adding replications per candidate until its decision is clear (or a cap is reached);
- :mod:`routing_sim.optimise.plan` (``routing-sim optimise --per year|quarter``): a staffing plan,
  the cheapest headcount of every year or quarter within hiring limits, as a ``schedule:`` block;
- :mod:`routing_sim.optimise.sensitivity` (``routing-sim sensitivity``): one-at-a-time ranges
  (tornado data and chart) and Morris elementary effects.

Both evaluate candidates with the experiments' task function, executors and task store
(:mod:`routing_sim.optimise.evaluate`), so they run serially, on a process pool or on Dask, and
resume from the stored task records.
"""
