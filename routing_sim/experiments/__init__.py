"""Experiments: replications, confidence intervals, paired comparisons, sweeps, parallel runs, resume.

An experiment file (``scenarios/*.yaml``) names a base config, variants as
overrides by dotted path, an optional sweep grid, the replications and the
warm-up. :func:`routing_sim.experiments.runner.run_experiment` runs every
(variant, replication) task with one task function, serially, on a process
pool or on Dask, writes each result atomically under a content key, and
summarises the results with t-intervals and paired differences against the
baseline (common random numbers).

Data flow: spec (file -> variants) -> tasks (one replication -> flat KPIs)
-> executors -> store (one JSON file per task) -> stats and summary.
"""
