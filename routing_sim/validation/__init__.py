"""Validation of the engine against queueing theory, and the report ``docs/validation.md``.

Regenerate the report (about a minute on two cores)::

    .venv/bin/python -m routing_sim.validation --out docs/validation.md

What is here:

- the formulas (pure functions; rates per hour, times in hours): Erlang C for
  M/M/c, Pollaczek-Khinchine for M/G/1, Cobham for non-preemptive priority
  M/G/1, the traffic equations of an open Jackson network;
- the textbook systems of ``configs/textbook/`` and, for each, the theory read
  from the config itself (rates, means, headcounts, routing probabilities), so
  the numbers live in one place, the config;
- replications with a warm-up and a cool-down window, and Student t intervals
  over the replication means;
- Little's law ``L = lambda W`` at every stage of a pipeline, from the records
  and from the time series.

``tests/test_validation.py`` calls the same functions with the same settings,
so the report shows exactly what the test suite checks.
"""

from __future__ import annotations

from routing_sim.validation.document import (  # noqa: F401  (the callers still find them here)
    METAMORPHIC_AND_HOSTILE,
    main,
    report,
)
from routing_sim.validation.estimates import (  # noqa: F401  (the callers still find them here)
    TEST_LEVEL,
    Estimate,
    estimate,
    window_waits,
)
from routing_sim.validation.formulas import (  # noqa: F401  (the callers still find them here)
    cobham_waits,
    erlang_c,
    mmc_wait,
    pollaczek_khinchine_wait,
    second_moment,
    traffic_equations,
)
from routing_sim.validation.littles import (  # noqa: F401  (the callers still find them here)
    EU_CONFIG,
    LITTLE_Z,
    LittleRow,
    eu_pipeline,
    littles_law,
)
from routing_sim.validation.systems import (  # noqa: F401  (the callers still find them here)
    CONFIGS,
    ROOT,
    SYSTEMS,
    TEXTBOOK,
    Measure,
    System,
    jackson_measures,
    load_textbook,
    mg1_measures,
    priority_measures,
    system,
)
