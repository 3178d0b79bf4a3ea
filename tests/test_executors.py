"""The two executors agree: same rows, same order, same KPIs, whatever the process.

The reference executor (SimPy's event queue) and the fast one (a loop per pool in topological
order) share every rule through the planner; what they must agree on is the timing: the queue
order (class, arrival at the pool, entity id), one rule for simultaneous events (completions,
arrivals and calendar changes before dispatch), absolute calendar boundaries, and the same
arithmetic for every time. Continuous random times hide tie-order bugs, so every process is
also run with its durations moved onto a coarse grid and with incidents of several reports
arriving at once, where exact ties are everywhere.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing_sim.api import RunResult, simulate_config
from routing_sim.engine.build import build
from routing_sim.engine.topology import fast_applies
from routing_sim.loader import load_config, validate_data
from routing_sim.model.common import Hours
from tests.strategies import process_configs

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "configs" / "textbook").glob("*.yaml"))


def same(a: RunResult, b: RunResult) -> list[str]:
    """What differs between two runs of one config (empty: nothing)."""
    problems = []
    for table in ("visits", "entities", "timeseries"):
        x, y = getattr(a, table), getattr(b, table)
        if x.schema != y.schema or x.num_rows != y.num_rows:
            problems.append(f"{table}: shape {x.num_rows} vs {y.num_rows}")
            continue
        for name in x.column_names:  # NaN == NaN here: compare the bytes
            if not pa.compute.all(pa.compute.equal(x.column(name).fill_null(0), y.column(name).fill_null(0))).as_py():
                xs, ys = x.column(name).to_numpy(), y.column(name).to_numpy()
                if xs.tobytes() != ys.tobytes():
                    problems.append(f"{table}.{name} differs")
    for field in ("arrived_by_source", "pending_spawns", "spawned_by_kind", "pools", "visits_written",
                  "entities_written"):
        if getattr(a.summary, field) != getattr(b.summary, field):
            problems.append(f"summary.{field}: {getattr(a.summary, field)} vs {getattr(b.summary, field)}")
    if json.dumps(a.kpis, sort_keys=True) != json.dumps(b.kpis, sort_keys=True):
        problems.append("kpis differ")
    return problems


def both(cfg: Any, seed: int = 1) -> tuple[RunResult, RunResult]:
    simpy = simulate_config(cfg, seed=seed, engine="simpy")
    fast = simulate_config(cfg, seed=seed, engine="fast")
    assert simpy.summary.engine == "simpy" and fast.summary.engine == "fast"
    return simpy, fast


def shortened(path: Path, days: int) -> Any:
    cfg = load_config(path)
    return cfg.model_copy(update={"time": cfg.time.model_copy(update={"horizon": Hours(f"{days}d")})})


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.parent.name == "configs" else p
                                  for p in SHIPPED], ids=lambda p: p.stem)
def test_both_executors_write_the_same_tables_and_kpis_for_every_shipped_config(path):
    cfg = shortened(path, 45)
    applies, why = fast_applies(build(cfg))
    if not applies:
        assert path.parent.name == "textbook", f"a shipped EU config must run on the fast executor: {why}"
        pytest.skip(f"reference executor only: {why}")
    simpy, fast = both(cfg, seed=3)
    assert simpy.visits.num_rows > 500
    assert same(simpy, fast) == []


def on_grid(data: dict[str, Any], grid_minutes: int) -> dict[str, Any]:
    """Every duration a whole number of grid steps (at least one), every source bringing incidents
    of one to three reports at once: exact ties at pools, everywhere."""
    out = copy.deepcopy(data)

    def snap(dist: dict[str, Any]) -> dict[str, Any]:
        if "by" in dist:
            return {**dist, "cases": {k: snap(v) for k, v in dist["cases"].items()},
                    **({"default": snap(dist["default"])} if dist.get("default") else {})}
        return {"dist": "empirical", "values": [f"{grid_minutes * k}min" for k in (1, 2, 3)],
                "weights": [3.0, 2.0, 1.0]}

    for stage in out["stages"].values():
        stage["service"] = snap(stage["service"])
        for spawn in stage.get("spawn", []):
            spawn["after"] = snap(spawn["after"])
    for source in out["sources"].values():
        source["duplicates"] = {"dist": "table", "values": [1, 2, 3], "weights": [1.0, 1.0, 1.0]}
    return out


EXECUTORS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.filter_too_much])


@EXECUTORS
@given(process_configs(), st.sampled_from([None, 15, 60]), st.integers(0, 2**31))
def test_both_executors_agree_on_random_acyclic_processes(data, grid, seed):
    """On any process the fast executor accepts, continuous times or exact ties on a grid, the
    two executors write the same rows in the same order and the same KPIs."""
    if grid is not None:
        data = on_grid(data, grid)
    cfg = validate_data(data)
    if not fast_applies(build(cfg))[0]:
        return
    simpy, fast = both(cfg, seed)
    assert same(simpy, fast) == []


def test_ties_really_happen_on_the_grid(base_config):
    """The grid variant is only a test of tie order if ties occur: several reports start at one
    pool at the same instant, and arrivals meet completions and shift changes."""
    cfg = validate_data(on_grid(base_config, 30))
    simpy, fast = both(cfg)
    starts = simpy.visits.column("start").drop_null().to_numpy()
    starts = starts[starts == starts]
    assert starts.size - len(set(starts.tolist())) > 50
    assert same(simpy, fast) == []


def test_auto_picks_fast_for_acyclic_pools_and_simpy_for_a_cycle():
    eu = simulate_config(shortened(ROOT / "configs" / "eu-centre-2019.yaml", 3))
    assert eu.summary.engine == "fast"
    jackson = simulate_config(shortened(ROOT / "configs" / "textbook" / "jackson.yaml", 3))
    assert jackson.summary.engine == "simpy" and "cycle" in jackson.summary.engine_reason


@pytest.mark.slow
@pytest.mark.parametrize("name", ["eu-centre-2019", "eu-centre-ramp-up-2025-2030"])
def test_compacting_plans_changes_nothing(name, monkeypatch):
    """The fast executor copies mostly-done plans into smaller ones (memory follows the work in
    flight); forced at every period boundary, the tables are still the reference executor's."""
    import routing_sim.engine.fast as fast_module

    cfg = shortened(ROOT / "configs" / f"{name}.yaml", 60)
    reference = simulate_config(cfg, seed=4, engine="simpy")
    monkeypatch.setattr(fast_module, "COMPACT_MIN", 0)
    monkeypatch.setattr(fast_module, "COMPACT_SHARE", 0)  # every plan, every period
    compacted = []
    original = fast_module.Plan.subset

    def counting(self, rows):
        compacted.append(rows.size)
        return original(self, rows)

    monkeypatch.setattr(fast_module.Plan, "subset", counting)
    fast = simulate_config(cfg, seed=4, engine="fast")
    assert len(compacted) > 10
    assert same(reference, fast) == []
