"""Where a deadline's time goes: the per-stage parts add up to the deadline's mean time, and each
part equals a brute-force sum over the visits of the entities that reached both points."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from routing_sim.api import simulate_config
from routing_sim.loader import validate_data
from routing_sim.model.process import point_column
from routing_sim.yamlio import read_yaml
from tests.conftest import CONFIGS


def clip(t: float, a: float, b: float) -> float:
    """``t`` inside [a, b]; NaN (not yet at the horizon) counts as the window's end."""
    return min(max(b if t != t else t, a), b)


@pytest.fixture(scope="module")
def eu_run():
    data, _ = read_yaml(CONFIGS / "eu-centre-2019.yaml")
    data["time"]["horizon"] = "10d"
    return simulate_config(validate_data(data), seed=5)


def test_the_parts_add_up_to_each_targeted_deadlines_mean_time(eu_run):
    deadlines = eu_run.kpis["deadlines"]
    targeted = [n for n, d in eu_run.cfg.deadlines.items() if d.share is not None]
    assert targeted and all("time_by_stage" in deadlines[n] for n in targeted if deadlines[n]["n"])
    for name in targeted:
        parts = deadlines[name].get("time_by_stage", {})
        total = sum(p["wait_h"] + p["service_h"] for p in parts.values())
        assert total == pytest.approx(deadlines[name]["mean_h"], rel=1e-9), name
    assert "before_creation" in deadlines["takedown_within_3d"]["time_by_stage"]  # from origin: the report's path
    assert "national_intake" in deadlines["at_police_within_3d"]["time_by_stage"]  # the 27 copies as one stage


def test_each_part_is_the_visits_time_inside_the_window(eu_run):
    """forwarded_within_24h by brute force: every visit of every report that reached forwarding,
    its wait and service clipped to [arrival, end of forwarding], summed per stage."""
    d = eu_run.cfg.deadlines["forwarded_within_24h"]
    e = eu_run.entities.to_pydict()
    start, end = e[point_column(d.start)], e[point_column(d.end)]
    report = eu_run.codes.kinds.index("report")
    window = {x: (a, b) for x, k, a, b in zip(e["entity"], e["kind"], start, end, strict=True)
              if k == report and a == a and b == b}
    wait: dict[str, float] = defaultdict(float)
    service: dict[str, float] = defaultdict(float)
    v = eu_run.visits.to_pydict()
    for x, s, enter, begun, ended in zip(v["entity"], v["stage"], v["enter"], v["start"], v["end"], strict=True):
        if x not in window:
            continue
        a, b = window[x]
        entered, started, finished = (clip(t, a, b) for t in (enter, begun, ended))
        stage = eu_run.codes.stages[s]
        wait[stage] += started - entered
        service[stage] += finished - started
    parts = eu_run.kpis["deadlines"]["forwarded_within_24h"]["time_by_stage"]
    n = len(window)
    for stage, p in parts.items():
        assert p["wait_h"] == pytest.approx(wait[stage] / n, rel=1e-9, abs=1e-12), stage
        assert p["service_h"] == pytest.approx(service[stage] / n, rel=1e-9, abs=1e-12), stage
    assert set(parts) == {s for s in wait if wait[s] + service[s] > 0}
    assert np.isclose(sum(wait.values()) + sum(service.values()), n * eu_run.kpis["deadlines"]["forwarded_within_24h"]["mean_h"])


def test_a_large_run_uses_a_fixed_subset_whose_parts_still_add_up(eu_run, monkeypatch):
    """Beyond the budget of windows, one entity in ``stride`` (by its mixed id) is used: the same
    subset whatever the run, and the parts add up to the subset's own mean time."""
    from routing_sim.kpis import breakdown
    from routing_sim.kpis.columns import Columns

    monkeypatch.setattr(breakdown, "BUDGET", 50_000)
    reached = {n: d["n"] for n, d in eu_run.kpis["deadlines"].items()}
    parts, stride = breakdown.time_by_stage(eu_run.cfg, eu_run.codes, Columns.of_table(eu_run.visits),
                                            Columns.of_table(eu_run.entities), reached)
    assert stride > 1
    full = eu_run.kpis["deadlines"]["forwarded_within_24h"]["time_by_stage"]
    part = parts["forwarded_within_24h"]
    assert set(part) <= set(full) and part != full
    ids = eu_run.entities.column("entity").to_numpy()
    kept = breakdown.sampled(ids, stride)
    assert 0.5 / stride < kept.mean() < 2.0 / stride
    assert np.array_equal(breakdown.sampled(ids[::-1], stride), kept[::-1])  # by id alone
