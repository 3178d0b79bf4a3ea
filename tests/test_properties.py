"""Property tests of the engine on random process configs (see tests/strategies.py).

Each property is checked on the tables a run writes (visits, entities, time
series) against the config, so a wrong model (lost or duplicated entities,
visits out of order, routes the config does not allow, more servers busy than
on duty, streams shared between purposes) makes a property fail.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from routing_sim.api import RunResult, simulate_config
from routing_sim.loader import validate_data
from routing_sim.model.checks import stage_targets
from routing_sim.units import parse_duration
from tests.strategies import calendars, process_configs

PROPERTY = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
EPS = 1e-9


# --------------------------------------------------------------------------- helpers


def run(data: dict[str, Any], seed: int | None = None) -> RunResult:
    return simulate_config(validate_data(data), seed=seed)


def columns(table: pa.Table) -> dict[str, list]:
    return table.to_pydict()


def isnan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


def visits_by_entity(r: RunResult) -> dict[int, list[dict]]:
    """Each entity's visits in path order (by enter; a zero-length visit before the one it leads to)."""
    v = columns(r.visits)
    out: dict[int, list[dict]] = defaultdict(list)
    for i in range(len(v["entity"])):
        out[v["entity"][i]].append({k: v[k][i] for k in v})
    for rows in out.values():
        rows.sort(key=lambda row: (row["enter"], math.inf if isnan(row["end"]) else row["end"]))
    return out


def entity_rows(r: RunResult) -> dict[int, dict]:
    e = columns(r.entities)
    return {e["entity"][i]: {k: e[k][i] for k in e} for i in range(len(e["entity"]))}


def decided_anywhere(data: dict[str, Any]) -> set[str]:
    """Attributes some stage's ``decide`` may change after creation."""
    return {d["set"] for s in data["stages"].values() for d in s.get("decide", [])}


def scheduled_at(points: list[tuple[float, int]], t: float) -> int:
    """Scheduled on-duty count at time t from a pool's calendar change points."""
    times = [p[0] for p in points]
    return points[bisect_right(times, t) - 1][1]


def scheduled_near(points: list[tuple[float, int]], t: float) -> set[int]:
    """The scheduled counts at t, allowing for a change point within EPS of t."""
    return {scheduled_at(points, t - EPS), scheduled_at(points, t), scheduled_at(points, t + EPS)}


def delay_support(dist: dict[str, Any]) -> tuple[float, float]:
    if dist["dist"] == "fixed":
        value = parse_duration(dist["value"])
        return value, value
    if dist["dist"] == "uniform":
        return parse_duration(dist["low"]), parse_duration(dist["high"])
    return 0.0, math.inf


def tables_identical(a: pa.Table, b: pa.Table) -> bool:
    """``Table.equals`` with NaN equal to NaN (open visits and in-progress entities hold NaN times;
    Arrow's ``equals`` treats NaN as different from itself)."""
    if not a.schema.equals(b.schema) or a.num_rows != b.num_rows:
        return False
    if a.equals(b):
        return True
    for name in a.column_names:
        x, y = a.column(name).to_numpy(), b.column(name).to_numpy()
        if not np.array_equal(x, y, equal_nan=np.issubdtype(x.dtype, np.floating)):
            return False
    return True


# --------------------------------------------------------------------------- the generator itself


@PROPERTY
@given(process_configs())
def test_generated_configs_are_valid(data):
    cfg = validate_data(data)
    assert list(cfg.stages) == list(data["stages"])


FEATURES: dict[str, Callable[[dict], bool]] = {
    "spawn": lambda d: any("spawn" in s for s in d["stages"].values()),
    "decide": lambda d: any("decide" in s for s in d["stages"].values()),
    "priority": lambda d: any("priority" in s for s in d["stages"].values()),
    "service by attribute": lambda d: any("by" in s["service"] for s in d["stages"].values()),
    "probabilistic loop": lambda d: any(
        isinstance(r["to"], dict) and any(t in d["stages"] and int(t[1:]) <= int(n[1:]) for t in r["to"])
        for n, s in d["stages"].items() for r in s["next"]
    ),
    "conditional route": lambda d: any("when" in r for s in d["stages"].values() for r in s["next"]),
    "office hours": lambda d: any(p["calendar"]["type"] == "office_hours" for p in d["pools"].values()),
    "rota": lambda d: any(p["calendar"]["type"] == "rota" for p in d["pools"].values()),
    "two kinds": lambda d: len(d["kinds"]) == 2,
    "inherit": lambda d: any("inherit" in a for k in d["kinds"].values() for a in k["attributes"].values()),
    "cases": lambda d: any("cases" in a for k in d["kinds"].values() for a in k["attributes"].values()),
    "source override": lambda d: any("attributes" in s for s in d["sources"].values()),
    "delay stage": lambda d: any("pool" not in s for s in d["stages"].values()),
}


@pytest.mark.slow
def test_generator_covers_every_feature():
    """The strategy produces each feature the properties should exercise (checked on generated
    examples only: no shrinking, no database, derandomised so the test is stable)."""
    seen: set[str] = set()

    @settings(max_examples=150, phases=[Phase.generate], database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(process_configs())
    def collect(data):
        seen.update(name for name, has in FEATURES.items() if has(data))

    collect()
    assert seen == set(FEATURES), f"never generated: {sorted(set(FEATURES) - seen)}"


# --------------------------------------------------------------------------- conservation


@PROPERTY
@given(process_configs())
def test_conservation(data):
    r = run(data)
    codes, summary = r.codes, r.summary
    n_stages, n_outcomes = len(codes.stages), len(codes.outcomes)
    ents = entity_rows(r)
    e = columns(r.entities)

    # one row per entity ever created, each id once
    assert len(set(e["entity"])) == len(e["entity"])
    assert len(ents) == sum(summary.arrived_by_source.values()) + sum(summary.spawned_by_kind.values())

    # each entity is either in exactly one outcome or in progress at exactly one stage
    for row in ents.values():
        if row["outcome"] == -1:
            assert 0 <= row["stage"] < n_stages, row
            assert isnan(row["ended"]), row
        else:
            assert 0 <= row["outcome"] < n_outcomes, row
            assert row["stage"] == -1, row
            assert row["created"] <= row["ended"] <= summary.horizon, row

    # counts by source and by spawned kind match the summary
    for i, name in enumerate(codes.sources):
        from_source = [row for row in ents.values() if row["source"] == i]
        assert len(from_source) == summary.arrived_by_source[name]
        kind = codes.kinds.index(data["sources"][name]["kind"])
        assert all(row["kind"] == kind and row["parent"] == -1 for row in from_source)
    for k, kind in enumerate(codes.kinds):
        spawned = [row for row in ents.values() if row["source"] == -1 and row["kind"] == k]
        assert len(spawned) == summary.spawned_by_kind[kind]
    assert all(0 <= row["source"] < len(codes.sources) or row["parent"] >= 0 for row in ents.values())

    # the KPI conservation table balances for every kind
    table = r.kpis["conservation"]
    for kind in codes.kinds:
        assert table[kind]["balanced"], table[kind]
        assert table[kind]["created"] == table[kind]["rows"]
    assert table["pending_spawns"] == summary.pending_spawns >= 0

    # visits belong to known entities; in-progress entities have exactly one open visit, at their stage
    by_entity = visits_by_entity(r)
    assert set(by_entity) <= set(ents)
    for eid, row in ents.items():
        open_visits = [v for v in by_entity.get(eid, []) if isnan(v["end"])]
        if row["outcome"] == -1:
            assert len(open_visits) == 1, (row, open_visits)
            assert open_visits[0]["stage"] == row["stage"] and open_visits[0]["next"] == -1
        else:
            assert open_visits == [], (row, open_visits)
    assert r.summary.visits_written == r.visits.num_rows
    assert r.summary.entities_written == r.entities.num_rows


# --------------------------------------------------------------------------- causality


@PROPERTY
@given(process_configs())
def test_causality(data):
    r = run(data)
    codes = r.codes
    n_stages = len(codes.stages)
    horizon = r.summary.horizon
    ents = entity_rows(r)
    by_entity = visits_by_entity(r)
    allowed = {i: {codes.place(t) for t in stage_targets(r.cfg.stages[name])} for i, name in enumerate(codes.stages)}

    for eid, row in ents.items():
        path = by_entity.get(eid, [])
        assert path, f"entity {eid} has no visit"
        assert 0 <= row["created"] <= horizon
        first = path[0]
        assert first["enter"] >= row["created"]
        if row["source"] != -1:
            assert first["enter"] == row["created"], (row, first)
            assert codes.stages[first["stage"]] == data["sources"][codes.sources[row["source"]]]["to"]
        for i, visit in enumerate(path):
            stage_cfg = r.cfg.stages[codes.stages[visit["stage"]]]
            if not isnan(visit["start"]):
                assert visit["enter"] <= visit["start"], visit
            if stage_cfg.pool is None:
                assert visit["start"] == visit["enter"], ("a delay starts on arrival", visit)
            if not isnan(visit["end"]):
                assert not isnan(visit["start"]) and visit["start"] <= visit["end"] <= horizon, visit
                assert visit["next"] in allowed[visit["stage"]], (visit, codes.places[visit["next"]])
            else:
                assert visit["next"] == -1, visit
            if i + 1 < len(path):
                following = path[i + 1]
                assert not isnan(visit["end"]), ("only the last visit may be open", visit)
                assert following["enter"] == visit["end"], (visit, following)
                assert visit["next"] == following["stage"], (visit, following)
        last = path[-1]
        if row["outcome"] == -1:
            assert isnan(last["end"]) and last["stage"] == row["stage"], (row, last)
        else:
            assert last["next"] == n_stages + row["outcome"], (row, last)
            assert last["end"] == row["ended"], (row, last)


@PROPERTY
@given(process_configs(min_spawns=1))
def test_spawned_entities_follow_their_parent(data):
    r = run(data)
    codes = r.codes
    ents = entity_rows(r)
    by_entity = visits_by_entity(r)
    decided = decided_anywhere(data)
    for eid, child in ents.items():
        if child["parent"] == -1:
            assert child["source"] != -1 and eid < 2**62
            assert child["origin"] == child["created"], ("an arrival is its own origin", child)
            continue
        assert child["source"] == -1
        parent = ents[child["parent"]]
        # spawned ids lie in [2**62, 2**63), derived from the parent's; arrivals' ids below
        assert eid >= 2**62 and eid != child["parent"] and parent["created"] <= child["created"]
        assert child["origin"] == parent["origin"] <= parent["created"], ("the first ancestor's arrival", child, parent)
        kind = codes.kinds[child["kind"]]
        entry = codes.stages[by_entity[eid][0]["stage"]]
        # some visit of the parent, at a stage whose spawn rule makes this kind enter this stage,
        # ended before the child was created, by a delay the rule's distribution can produce
        candidates = []
        for visit in by_entity[child["parent"]]:
            if isnan(visit["end"]):
                continue
            for spawn in data["stages"][codes.stages[visit["stage"]]].get("spawn", []):
                if spawn["kind"] == kind and spawn["to"] == entry:
                    low, high = delay_support(spawn["after"])
                    delay = child["created"] - visit["end"]
                    candidates.append((delay, low, high))
        assert any(low - EPS <= delay <= high + EPS for delay, low, high in candidates), (child, candidates)
        # inherited attributes are the parent's (unless a decide may have changed either since)
        for name, draw in data["kinds"][kind]["attributes"].items():
            if draw.get("inherit") and name not in decided:
                assert child[f"attr.{name}"] == parent[f"attr.{name}"], (name, child, parent)


@PROPERTY
@given(process_configs())
def test_attributes_follow_their_draws(data):
    r = run(data)
    codes = r.codes
    decided = decided_anywhere(data)
    for row in entity_rows(r).values():
        kind = data["kinds"][codes.kinds[row["kind"]]]
        overrides = data["sources"][codes.sources[row["source"]]].get("attributes", {}) if row["source"] >= 0 else {}
        for name, draw in kind["attributes"].items():
            value = row[f"attr.{name}"]
            assert -1 <= value < len(data["attributes"][name])
            if name in decided:
                continue
            spec = overrides.get(name, draw)
            if isinstance(spec, str):
                assert value == codes.value(name, spec), (name, row)
            elif "p" in spec:
                assert value >= 0 and spec["p"].get(codes.values[name][value], 0) > 0, (name, spec, row)
            elif "cases" in spec:
                possible = {v for case in spec["cases"] for v, p in case["p"].items() if p > 0}
                assert value >= 0 and codes.values[name][value] in possible, (name, spec, row)
            elif "decided" in spec or row["source"] >= 0:
                assert value == -1, (name, spec, row)


# --------------------------------------------------------------------------- capacity


@PROPERTY
@given(process_configs())
def test_capacity(data):
    r = run(data)
    codes = r.codes
    horizon = r.summary.horizon
    v = columns(r.visits)
    ts = columns(r.timeseries)
    for p, pool in enumerate(codes.pools):
        points = r.calendars[p]
        assert points[0][0] == 0.0 and all(a[0] <= b[0] for a, b in pairwise(points))
        stages = {i for i, name in enumerate(codes.stages) if r.cfg.stages[name].pool == pool}
        events = []  # (time, +1 at a start / -1 at an end); ends sort first: a server freed at t is free at t
        for i in range(len(v["entity"])):
            if v["stage"][i] in stages and not isnan(v["start"][i]):
                end = horizon if isnan(v["end"][i]) else v["end"][i]
                events.append((v["start"][i], 1))
                events.append((end, -1))
        events.sort()
        in_service = 0
        for t, delta in events:
            in_service += delta
            if delta == 1:
                assert in_service <= scheduled_at(points, t), (pool, t, in_service, points)
        assert in_service == 0
        busy, on_duty = ts[f"busy.{pool}"], ts[f"on_duty.{pool}"]
        for t, b, d in zip(ts["t"], busy, on_duty, strict=True):
            assert 0 <= b <= d, (pool, t, b, d)
            assert d in {max(s, b) for s in scheduled_near(points, t)}, (pool, t, b, d, points)


@PROPERTY
@given(process_configs())
def test_timeseries_agree_with_visits(data):
    """Samples of inside/queued/busy equal the counts the visit table implies (away from ties)."""
    r = run(data)
    codes = r.codes
    horizon = r.summary.horizon
    v = {k: np.asarray(a, dtype=float) for k, a in columns(r.visits).items()}
    ts = columns(r.timeseries)
    t = np.asarray(ts["t"], dtype=float)
    assert t[0] == 0.0 and np.all(np.diff(t) > 0) and t[-1] <= horizon + EPS
    end = np.where(np.isnan(v["end"]), horizon, v["end"])
    start = np.where(np.isnan(v["start"]), horizon, v["start"])
    stage_of = v["stage"]
    for i, name in enumerate(codes.stages):
        m = stage_of == i
        enter, st_, en = v["enter"][m], start[m], end[m]
        ties = np.isin(t, np.concatenate([enter, st_, en]))
        inside = ((enter[None, :] <= t[:, None]) & (t[:, None] < en[None, :])).sum(axis=1)
        queued = ((enter[None, :] <= t[:, None]) & (t[:, None] < st_[None, :])).sum(axis=1)
        got_inside = np.asarray(ts[f"inside.{name}"])
        got_queued = np.asarray(ts[f"queued.{name}"])
        assert np.array_equal(inside[~ties], got_inside[~ties]), name
        assert np.array_equal(queued[~ties], got_queued[~ties]), name
    for pool in codes.pools:
        m = np.isin(stage_of, [i for i, n in enumerate(codes.stages) if r.cfg.stages[n].pool == pool])
        st_, en = start[m], end[m]
        ties = np.isin(t, np.concatenate([st_, en]))
        busy = ((st_[None, :] <= t[:, None]) & (t[:, None] < en[None, :])).sum(axis=1)
        got = np.asarray(ts[f"busy.{pool}"])
        assert np.array_equal(busy[~ties], got[~ties]), pool


# --------------------------------------------------------------------------- determinism and common random numbers


@PROPERTY
@given(process_configs(), st.integers(0, 2**32))
def test_determinism(data, seed):
    a, b = run(data, seed), run(data, seed)
    assert tables_identical(a.visits, b.visits)
    assert tables_identical(a.entities, b.entities)
    assert tables_identical(a.timeseries, b.timeseries)
    assert a.summary == b.summary
    other = run(data, seed + 1)
    assume(a.entities.num_rows > 0 or other.entities.num_rows > 0)
    assert not tables_identical(a.visits, other.visits)
    assert not tables_identical(a.entities, other.entities)


def arrivals(r: RunResult, keep: list[str]) -> list[tuple]:
    """(source, created, attributes not changed by a decide) of every source arrival, in order."""
    e = columns(r.entities)
    rows = [
        (e["source"][i], e["created"][i], tuple(e[f"attr.{a}"][i] for a in keep))
        for i in range(len(e["entity"]))
        if e["source"][i] >= 0
    ]
    return sorted(rows)


@PROPERTY
@given(process_configs(), st.data())
def test_common_random_numbers(data, draw):
    """Staffing changes leave what arrives (when, where from, with which attributes) unchanged, and
    every entity's path: a visit both runs completed went to the same stage and on to the same place
    (draws depend on the entity and its visit number, never on the order of events)."""
    assume(data["pools"])
    changed = copy.deepcopy(data)
    pool = draw.draw(st.sampled_from(sorted(changed["pools"])), label="pool")
    what = draw.draw(st.sampled_from(["headcount", "calendar", "both"]), label="change")
    if what in ("headcount", "both"):
        changed["pools"][pool]["headcount"] = draw.draw(st.integers(0, 6), label="headcount")
    if what in ("calendar", "both"):
        changed["pools"][pool]["calendar"] = draw.draw(calendars(), label="calendar")
    seed = draw.draw(st.integers(0, 2**32), label="seed")
    keep = [a for a in data["attributes"] if a not in decided_anywhere(data)]
    a, b = run(data, seed), run(changed, seed)
    assert a.summary.arrived_by_source == b.summary.arrived_by_source
    assert arrivals(a, keep) == arrivals(b, keep)
    paths_a, paths_b = completed_paths(a), completed_paths(b)
    common = paths_a.keys() & paths_b.keys()
    assert {k: paths_a[k] for k in common} == {k: paths_b[k] for k in common}


def completed_paths(r) -> dict[tuple[int, int], tuple[int, int]]:
    """(entity, its k-th visit) -> (stage, next place), for the visits that ended."""
    v = r.visits.to_pydict()
    rows = sorted(range(len(v["entity"])), key=lambda i: (v["entity"][i], v["enter"][i]))
    out, seen = {}, {}
    for i in rows:
        e = v["entity"][i]
        k = seen.get(e, 0)
        seen[e] = k + 1
        if v["end"][i] == v["end"][i]:
            out[(e, k)] = (v["stage"][i], v["next"][i])
    return out


# --------------------------------------------------------------------------- marks and the streamed KPIs


def with_deadlines(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with deadlines from arrival or origin (alternately) to most points of every stage
    (each kind measures a different subset), some broken down by an attribute."""
    data = copy.deepcopy(data)
    attributes = list(data.get("attributes", {}))
    deadlines = {}
    for k, kind in enumerate(data["kinds"]):
        for s, stage in enumerate(data["stages"]):
            for w, which in enumerate(("enter", "start", "end")):
                if (k + s + w) % 3 == 2 and len(data["kinds"]) > 1:
                    continue  # this kind does not measure this point
                start = "origin" if (k + s + w) % 2 else "arrival"
                deadline = {"kind": kind, "from": start, "to": f"{stage}.{which}", "within": "2h"}
                if attributes and (k + s) % 2:
                    deadline["by"] = [attributes[(k + s) % len(attributes)]]
                deadlines[f"d{k}_{s}_{which}"] = deadline
    data["deadlines"] = deadlines
    return data


def same_kpis(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two KPI trees differ: exactly, except means (different, equally exact summation order)."""
    if isinstance(old, dict):
        if list(old) != list(new):
            return [f"{path}: keys {list(old)} != {list(new)}"]
        return [d for k in old for d in same_kpis(old[k], new[k], f"{path}.{k}")]
    if isinstance(old, float) and isinstance(new, float):
        if (math.isnan(old) and math.isnan(new)) or old == new:
            return []
        mean = path.endswith("mean_h") or path.endswith("mean_inside")
        return [] if mean and math.isclose(old, new, rel_tol=1e-12, abs_tol=1e-15) else [f"{path}: {old} != {new}"]
    return [] if old == new and type(old) is type(new) else [f"{path}: {old!r} != {new!r}"]


@PROPERTY
@given(process_configs())
def test_marks_are_first_visit_times_and_streamed_kpis_equal_whole_table_kpis(data):
    """Each entity row's ``mark.<stage>.<point>`` is the first time its visits reached that point
    when its kind's deadlines measure the point, NaN otherwise; the KPIs computed a chunk at a time (marks, exact percentiles in passes) equal those computed
    from the whole tables by joining visits to entities (the KPI code before streaming)."""
    from routing_sim import kpis
    from tests import kpi_oracle

    r = run(with_deadlines(data))
    v = {name: r.visits.column(name).to_numpy() for name in r.visits.column_names}
    e = {name: r.entities.column(name).to_numpy() for name in r.entities.column_names}
    assert r.codes.marks
    for j, point in enumerate(r.codes.marks):
        kept = np.array([j in js for js in r.codes.kind_marks], dtype=bool)[e["kind"]]
        expected = np.where(kept, kpis.point_times(point, r.codes, v, e), np.nan)
        assert np.array_equal(e[f"mark.{point}"], expected, equal_nan=True), point
    old = kpi_oracle.compute_kpis(r.cfg, r.codes, r.summary, r.visits, r.entities, r.timeseries)
    assert same_kpis(old, r.kpis) == []


@given(process_configs())
def test_a_deadlines_curve_rises_and_meets_its_share_at_the_target(data):
    """``reached_within`` is a distribution: non-decreasing over the grid (more time, more reached;
    fewer pending entities young enough to be left out), within [0, 1], and at a grid time equal to
    a deadline's target it is that deadline's ``share_within``."""
    from routing_sim.kpis.deadlines import GRID_H, REACHED_GRID

    r = run(with_deadlines(data))
    for name, d in r.kpis["deadlines"].items():
        curve = np.array([d["reached_within"][t] for t in REACHED_GRID])
        known = curve[~np.isnan(curve)]
        assert np.all((known >= 0) & (known <= 1)), name
        assert np.all(np.diff(known) >= -1e-12), (name, curve)
        on_grid = np.flatnonzero(d["target_h"] == GRID_H)
        if on_grid.size and not math.isnan(d["share_within"]):
            assert curve[on_grid[0]] == d["share_within"], name
