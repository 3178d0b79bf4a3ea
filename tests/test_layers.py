"""The floors of the house: the statistics never load the engine, and nothing but running the
reference executor loads SimPy.

Each check imports modules in a fresh interpreter whose import of simpy fails, then lists which
routing_sim modules got loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BLOCK_SIMPY = "import sys; sys.modules['simpy'] = None\n"


def loaded_by(*modules: str) -> list[str]:
    code = BLOCK_SIMPY + "".join(f"import {m}\n" for m in modules) + (
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith(('routing_sim', 'numba')))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("module", ["routing_sim.kpis", "routing_sim.stats", "routing_sim.codes",
                                    "routing_sim.calendars", "routing_sim.summary", "routing_sim.folders"])
def test_the_statistics_and_the_shared_vocabulary_load_no_engine(module):
    assert [m for m in loaded_by(module) if m.startswith("routing_sim.engine")] == []


@pytest.mark.parametrize("module", ["routing_sim.report", "routing_sim.experiments.runner",
                                    "routing_sim.optimise.drive", "routing_sim.cli", "routing_sim.api"])
def test_nothing_loads_simpy_or_numba_until_an_executor_runs(module):
    """The fast executor's numba and the reference executor's SimPy are imported when a run picks
    them, not by importing the package, its CLI, the report or the experiments."""
    loaded = loaded_by(module)
    assert "routing_sim.engine.kernel" not in loaded and "routing_sim.engine.fast" not in loaded
    assert not [m for m in loaded if m.startswith("numba")]
