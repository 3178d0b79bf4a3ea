"""The vectorised front and the pieces it rests on: array draws that continue a stream exactly,
arrival times handed out by period, the arithmetic grid index, the packed row tables, the writer
thread, and the agreement of the array path with the one-entity-at-a-time path."""

from __future__ import annotations

import copy
import gc

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_sim.api import simulate_config
from routing_sim.engine.arrivals import ArrivalTimes
from routing_sim.engine.records import BackgroundSink, EntityTable, MemorySink
from routing_sim.engine.series import SeriesAccumulator
from routing_sim.engine.streams import Stream
from routing_sim.errors import RunError
from routing_sim.loader import validate_data


def _stream(seed: int) -> Stream:
    return Stream(np.random.default_rng(seed), lambda g, n: g.random(n))


@given(st.lists(st.one_of(st.just(None), st.integers(0, 5000)), max_size=30), st.integers(0, 2**32))
def test_take_continues_the_stream_exactly_as_pop_would(plan, seed):
    """Mixing array takes and single pops consumes one sequence, in order, with nothing lost."""
    mixed, single = _stream(seed), _stream(seed)
    got = []
    for step in plan:
        if step is None:
            got.append(mixed.next())
        else:
            got.extend(mixed.take(step).tolist())
    want = [single.next() for _ in range(len(got))]
    assert got == want


@settings(max_examples=30)
@given(st.lists(st.floats(0.0, 80.0), max_size=12), st.integers(0, 2**32))
def test_arrival_times_by_period_are_the_whole_sequence_cut_at_the_boundaries(cuts, seed):
    intensity = np.concatenate([np.full(24, 30.0), np.zeros(12), np.full(36, 5.0)])  # a quiet gap
    whole = ArrivalTimes(intensity, np.random.default_rng(seed)).until(np.inf)
    periods = ArrivalTimes(intensity, np.random.default_rng(seed))
    bounds = sorted(cuts) + [np.inf]
    parts = [periods.until(b) for b in bounds]
    assert np.array_equal(np.concatenate(parts), whole)
    lo = -np.inf
    for part, hi in zip(parts, bounds):
        assert np.all((part >= lo) & (part < hi))
        lo = hi
    assert np.all(np.diff(whole) >= 0) and whole.size and whole[-1] < intensity.size
    assert not np.any((whole >= 24) & (whole < 36))  # nothing where the intensity is zero


@given(st.sampled_from([1.0, 0.25, 1 / 3, 0.1, 7.3, 1 / 60]), st.floats(1.0, 500.0), st.integers(0, 2**32))
def test_grid_index_is_the_searchsorted_one(step, horizon, seed):
    acc = SeriesAccumulator(["a"], [-1], [], [], horizon, step)
    rng = np.random.default_rng(seed)
    times = np.concatenate([rng.uniform(-1, horizon * 1.1, 500), acc.grid, np.nextafter(acc.grid, np.inf),
                            np.nextafter(acc.grid, -np.inf), [np.nan, np.inf, -np.inf, 0.0, horizon]])
    want = np.full(times.shape, acc.n)
    known = ~np.isnan(times)
    want[known] = np.searchsorted(acc.grid, times[known], side="left")
    assert np.array_equal(acc._index(times), want)


class _Failing(MemorySink):
    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def write(self, batch):
        if len(self.batches) == self.after:
            raise OSError("disk full")
        super().write(batch)


_KIND_MARKS = [[0, 1], [1]]  # kind 0 keeps both marks, kind 1 the second only


class _Ent:
    def __init__(self, id, attrs, counts):
        self.id, self.kind, self.source, self.parent, self.group, self.created = id, id % 2, -1, id - 1, id // 3, id / 7
        self.attrs, self.counts = attrs, counts
        self.all_marks = [id / 3, float(counts[1])]
        self.marks = [self.all_marks[j] for j in _KIND_MARKS[self.kind]]
        self.row_marks = [m if j in _KIND_MARKS[self.kind] else "nan" for j, m in enumerate(self.all_marks)]


_row = st.tuples(st.integers(-1, 2**40), st.lists(st.integers(-1, 300), min_size=3, max_size=3),
                 st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 9)))


@given(st.lists(st.tuples(st.booleans(), st.lists(_row, max_size=6)), max_size=8), st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_packed_rows_come_out_as_written_in_order_whichever_way_they_went_in(steps, flush_every):
    """Rows packed one at a time (by their kind's struct) and rows extended as arrays interleave in
    call order; every value comes back in its column and type, across flushes of any size, and a
    mark the row's kind does not keep is NaN."""
    table = EntityTable(["a", "b", "c"], ["files", "incidents"], MemorySink(), ["x.enter", "y.end"], _KIND_MARKS)
    expected = []
    for as_arrays, rows in steps:
        ended = [float(i) for i in range(len(rows))]
        if as_arrays and rows:
            ids = np.array([r[0] for r in rows])
            ents = [_Ent(i, a, c) for i, a, c in rows]
            table.extend(ids, ids % 2, np.full(len(rows), -1), ids - 1, ids // 3, ids / 7,
                         np.array(ended), np.full(len(rows), 2), np.full(len(rows), -1),
                         np.array([c for _, _, c in rows]).reshape(-1, 2), np.array([a for _, a, _ in rows]).reshape(-1, 3),
                         np.array([e.all_marks for e in ents]).reshape(-1, 2))
        else:
            ents = [_Ent(i, a, c) for i, a, c in rows]
            for e, t in zip(ents, ended):
                table.add(e, t, 2, -1)
        expected += [(e.id, e.kind, -1, e.id - 1, e.id // 3, e.id / 7, t, 2, -1, *e.counts, *e.attrs, *e.row_marks)
                     for e, t in zip(ents, ended)]
        table.flush_if_large(flush_every)
    table.flush()
    assert len(table) == 0 and table.rows_written == len(expected)
    got = pa.Table.from_batches(table.sink.batches, schema=table.schema) if table.sink.batches else None
    rows = list(zip(*(got.column(i).to_pylist() for i in range(got.num_columns)))) if got else []
    rows = [tuple("nan" if isinstance(x, float) and x != x else x for x in row) for row in rows]
    assert rows == expected
    if got:
        assert got.schema == table.schema


def _batch(i: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([i])], names=["x"])


def test_writer_thread_keeps_order_and_reports_a_failure():
    inner = MemorySink()
    sink = BackgroundSink(inner, depth=2)
    for i in range(50):
        sink.write(_batch(i))
    sink.close()
    assert [b.column(0)[0].as_py() for b in inner.batches] == list(range(50))
    assert not sink._thread.is_alive()

    failing = BackgroundSink(_Failing(after=3), depth=2)
    with pytest.raises(OSError, match="disk full"):
        for i in range(50):
            failing.write(_batch(i))
        failing.close()
    failing.stop()
    assert not failing._thread.is_alive()


def test_the_collector_and_the_writer_threads_are_back_after_a_run_and_after_a_failed_one(base_config, monkeypatch):
    import threading

    from routing_sim.engine.front import Front

    def writers() -> int:
        return sum(t.name == "routing-sim-writer" for t in threading.enumerate())

    assert gc.isenabled()
    simulate_config(validate_data(base_config))
    assert gc.isenabled() and writers() == 0
    calls = []

    def fail_on_day_two(self, until):
        calls.append(until)
        if len(calls) == 2:
            raise RunError("stopped on purpose")
        return original(self, until)

    original = Front.advance
    monkeypatch.setattr(Front, "advance", fail_on_day_two)
    with pytest.raises(RunError, match="on purpose"):
        simulate_config(validate_data(base_config))
    assert gc.isenabled() and writers() == 0


def _loop_config(base: dict) -> dict:
    """Arrivals meet the uncapacitated stage ``sort`` first in the front; some come back to it
    after the pool stage ``work``, one at a time. Both must route with the same probabilities."""
    cfg = copy.deepcopy(base)
    cfg["time"]["horizon"] = "20d"
    cfg["sources"]["inbox"] = {"kind": "case", "rate": "40/h", "to": "sort"}
    cfg["pools"]["clerks"]["headcount"] = 12
    cfg["stages"] = {
        "sort": {
            "service": {"dist": "exponential", "mean": "5min"},
            "decide": [{"set": "verdict", "cases": [{"when": {"urgency": "high"}, "p": {"accept": 0.9, "reject": 0.1}},
                                                    {"p": {"accept": 0.3, "reject": 0.7}}]}],
            "next": [{"when": {"verdict": "reject"}, "to": "rejected"},
                     {"to": {"work": 0.6, "accepted": 0.4}}],
        },
        "work": {"pool": "clerks", "service": {"dist": "exponential", "mean": "10min"},
                 "next": [{"to": {"sort": 0.5, "accepted": 0.5}}]},
    }
    cfg["deadlines"] = {}
    return cfg


def test_front_and_per_entity_paths_route_with_the_same_probabilities(base_config):
    r = simulate_config(validate_data(_loop_config(base_config)), seed=11)
    codes = r.codes
    v = r.visits.to_pydict()
    e = r.entities.to_pydict()
    urgency = dict(zip(e["entity"], e["attr.urgency"]))
    high = codes.value("urgency", "high")
    sort, work = codes.stages.index("sort"), codes.stages.index("work")
    rejected, accepted = codes.place("rejected"), codes.place("accepted")
    first_seen: set[int] = set()
    tallies = {(path, u): [0, 0, 0] for path in ("front", "after_pool") for u in ("high", "low")}
    order = sorted(range(len(v["entity"])), key=lambda i: v["enter"][i])
    for i in order:
        if v["stage"][i] != sort or v["next"][i] < 0:
            continue
        eid = v["entity"][i]
        path = "after_pool" if eid in first_seen else "front"
        first_seen.add(eid)
        t = tallies[(path, "high" if urgency[eid] == high else "low")]
        t[0] += 1
        t[1] += v["next"][i] == rejected
        t[2] += v["next"][i] == work
    for (path, u), (n, rej, to_work) in tallies.items():
        p_reject = 0.1 if u == "high" else 0.7
        assert n > 300, (path, u, n)
        for share, p in ((rej / n, p_reject), (to_work / n, (1 - p_reject) * 0.6)):
            assert abs(share - p) < 4.5 * np.sqrt(p * (1 - p) / n), (path, u, share, p, n)
    assert any(v["next"][i] == accepted for i in order)


def test_front_period_is_whole_days_from_one_to_seven_and_shrinks_with_volume():
    from routing_sim.engine.front import front_period

    year = 8760.0
    periods = [front_period(n, year) for n in (0, 1e3, 7e5, 2e6, 5e6, 1.7e7, 3.6e7)]
    assert all(p % 24 == 0 and 24 <= p <= 7 * 24 for p in periods)
    assert periods == sorted(periods, reverse=True)
    assert periods[2] == 7 * 24 and periods[-2] == 24  # the EU 2019 volume, the global one


def test_arrivals_do_not_depend_on_how_far_ahead_the_front_generates(base_config, monkeypatch):
    """The period is an implementation detail: the arrival times, sources and counts are the
    same whether the front generates one day or a week at a time (attributes may be changed by
    decisions later, so they are not compared)."""
    import routing_sim.engine.build as build_module

    def arrivals(days: int) -> list[tuple]:
        monkeypatch.setattr(build_module, "front_period", lambda expected, horizon: days * 24.0)
        e = simulate_config(validate_data(base_config), seed=5).entities.to_pydict()
        counts = [name for name in e if name.startswith("count.")]
        return sorted((e["created"][i], e["source"][i], *(e[c][i] for c in counts))
                      for i in range(len(e["entity"])) if e["source"][i] >= 0)

    one, seven = arrivals(1), arrivals(7)
    assert len(one) > 100 and one == seven
