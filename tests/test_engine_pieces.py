"""The pieces the engine rests on: order-free draws, arrival times handed out by period, the
arithmetic grid index, the writer thread, routes drawn alike on first and later visits, and the
period that is an implementation detail."""

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
from routing_sim.engine.records import BackgroundSink, MemorySink
from routing_sim.engine.rules.randomness import stream_key, uniforms
from routing_sim.engine.series import SeriesAccumulator
from routing_sim.errors import RunError
from routing_sim.loader import validate_data


@given(st.lists(st.integers(0, 2**62), min_size=1, max_size=50, unique=True), st.integers(0, 2**64 - 1),
       st.integers(0, 10**6), st.randoms(use_true_random=False))
def test_a_draw_depends_on_its_key_id_and_counter_only(ids, key, counter, rnd):
    """Whatever else is drawn in the same call, and in whatever order, an entity's uniform is the
    same: the property that makes draws independent of the executor and of event order."""
    ids = np.array(ids, dtype=np.int64)
    whole = uniforms(key, ids, counter)
    shuffled = list(range(ids.size))
    rnd.shuffle(shuffled)
    assert np.array_equal(uniforms(key, ids[shuffled], counter), whole[shuffled])
    one = np.array([uniforms(key, ids[i:i + 1], counter)[0] for i in range(ids.size)])
    assert np.array_equal(one, whole)
    assert np.all((whole > 0) & (whole < 1))


def test_draws_are_uniform_and_independent_across_keys_ids_and_counters():
    ids = np.arange(200_000)
    u = uniforms(stream_key(1, 0, "a"), ids, 0)
    hist = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = ids.size / 20
    assert ((hist - expected) ** 2 / expected).sum() < 50  # chi-square, 19 degrees of freedom (p ~ 1e-4)
    for other in (uniforms(stream_key(1, 0, "b"), ids, 0), uniforms(stream_key(1, 0, "a"), ids, 1),
                  uniforms(stream_key(1, 1, "a"), ids, 0), uniforms(stream_key(1, 0, "a"), ids + 1, 0)):
        assert abs(np.corrcoef(u, other)[0, 1]) < 0.01
    assert uniforms(stream_key(1, 0, "a"), ids[:5], 0).tolist() != uniforms(stream_key(2, 0, "a"), ids[:5], 0).tolist()


@settings(max_examples=30)
@given(st.lists(st.floats(0.0, 80.0), max_size=12), st.integers(0, 2**32))
def test_arrival_times_by_period_are_the_whole_sequence_cut_at_the_boundaries(cuts, seed):
    intensity = np.concatenate([np.full(24, 30.0), np.zeros(12), np.full(36, 5.0)])  # a quiet gap
    whole = ArrivalTimes(intensity, seed).until(np.inf)
    periods = ArrivalTimes(intensity, seed)
    bounds = sorted(cuts) + [np.inf]
    parts = [periods.until(b) for b in bounds]
    assert np.array_equal(np.concatenate(parts), whole)
    lo = -np.inf
    for part, hi in zip(parts, bounds, strict=True):
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

    from routing_sim.engine.build import Model

    def writers() -> int:
        return sum(t.name == "routing-sim-writer" for t in threading.enumerate())

    assert gc.isenabled()
    simulate_config(validate_data(base_config))
    assert gc.isenabled() and writers() == 0
    calls = []

    def fail_in_the_first_period(self, until):
        calls.append(until)
        if len(calls) == 1:
            raise RunError("stopped on purpose")
        return original(self, until)

    original = Model.arrivals_until
    monkeypatch.setattr(Model, "arrivals_until", fail_in_the_first_period)
    with pytest.raises(RunError, match="on purpose"):
        simulate_config(validate_data(base_config))
    assert gc.isenabled() and writers() == 0


def _loop_config(base: dict) -> dict:
    """Arrivals meet the uncapacitated stage ``sort`` first; some come back to it after the pool
    stage ``work``. Both visits must route with the same probabilities."""
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


def test_first_and_later_visits_route_with_the_same_probabilities(base_config):
    r = simulate_config(validate_data(_loop_config(base_config)), seed=11)
    codes = r.codes
    v = r.visits.to_pydict()
    e = r.entities.to_pydict()
    urgency = dict(zip(e["entity"], e["attr.urgency"], strict=True))
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


def test_period_is_whole_days_from_one_to_seven_and_shrinks_with_volume():
    from routing_sim.engine.build import period_hours

    year = 8760.0
    periods = [period_hours(n, year) for n in (0, 1e3, 7e5, 2e6, 5e6, 1.7e7, 3.6e7)]
    assert all(p % 24 == 0 and 24 <= p <= 7 * 24 for p in periods)
    assert periods == sorted(periods, reverse=True)
    assert periods[2] == 7 * 24 and periods[-2] == 24  # the EU 2019 volume, the global one


def test_results_do_not_depend_on_how_far_ahead_arrivals_are_generated(base_config, monkeypatch):
    """The period is an implementation detail: every entity's times, outcome, attributes and counts
    are the same whether arrivals are generated and planned one day or a week at a time."""
    import routing_sim.engine.build as build_module

    def arrivals(days: int) -> list[tuple]:
        monkeypatch.setattr(build_module, "period_hours", lambda expected, horizon: days * 24.0)
        e = simulate_config(validate_data(base_config), seed=5).entities.to_pydict()
        return sorted(tuple(-1.0 if x != x else x for x in row) for row in zip(*e.values(), strict=True))

    one, seven = arrivals(1), arrivals(7)
    assert len(one) > 100 and one == seven


def test_per_item_time_adds_the_same_time_for_each_counted_item(base_config, write_yaml):
    """A stage's ``per_item`` adds its time once per item the entity carries: with a fixed service
    of 10 min and 2 min a file, every triage takes 10 + 2 x files minutes, files as drawn."""
    from routing_sim.api import simulate_config
    from routing_sim.loader import load_config

    base_config["sources"]["inbox"]["counts"] = {"files": {"dist": "poisson", "mean": 3.0}}
    base_config["stages"]["triage"]["service"] = {"dist": "fixed", "value": "10min"}
    base_config["stages"]["triage"]["per_item"] = {"files": "2min"}
    result = simulate_config(load_config(write_yaml(base_config)), engine="fast")
    v, e = result.visits, result.entities
    triage = result.codes.stages.index("triage")
    mask = (v.column("stage").to_numpy() == triage) & ~np.isnan(v.column("end").to_numpy())
    files = dict(zip(e.column("entity").to_numpy().tolist(), e.column("count.files").to_numpy().tolist(), strict=True))
    ids = v.column("entity").to_numpy()[mask]
    took = (v.column("end").to_numpy() - v.column("start").to_numpy())[mask]
    expected = np.array([10 / 60 + files[i] * (2 / 60) for i in ids.tolist()])
    assert mask.sum() > 50 and len(set(files.values())) > 3
    np.testing.assert_allclose(took, expected, rtol=1e-9)
    # the same run on the reference executor agrees to the bit
    reference = simulate_config(load_config(write_yaml(base_config)), engine="simpy")
    for name in v.column_names:
        assert np.array_equal(reference.visits.column(name).to_numpy(), v.column(name).to_numpy(), equal_nan=True)


def test_per_item_time_adds_to_a_service_by_attribute(base_config):
    """Per-item time adds to the draw of the entity's own case of a service by attribute (the
    per-item time used to read the counts through the last case's mask, and failed)."""
    from routing_sim.api import simulate_config
    from routing_sim.loader import validate_data

    base_config["sources"]["inbox"]["counts"] = {"files": {"dist": "poisson", "mean": 2.0}}
    base_config["stages"]["handover"]["service"] = {"by": "urgency", "cases": {"high": {"dist": "fixed", "value": "1h"}},
                                                    "default": {"dist": "fixed", "value": "2h"}}
    base_config["stages"]["handover"]["per_item"] = {"files": "10min"}
    result = simulate_config(validate_data(base_config), engine="simpy")
    e = {name: result.entities.column(name).to_numpy() for name in result.entities.column_names}
    row = {int(i): j for j, i in enumerate(e["entity"].tolist())}
    v = {name: result.visits.column(name).to_numpy() for name in result.visits.column_names}
    done = (v["stage"] == result.codes.stages.index("handover")) & ~np.isnan(v["end"])
    rows = np.array([row[int(i)] for i in v["entity"][done].tolist()])
    high = e["attr.urgency"][rows] == result.codes.value("urgency", "high")
    expected = np.where(high, 1.0, 2.0) + e["count.files"][rows] * (10 / 60)
    np.testing.assert_allclose((v["end"] - v["start"])[done], expected, rtol=1e-12)
    assert high.sum() > 5 and (~high).sum() > 5


def test_per_item_names_a_count_some_source_draws(base_config, write_yaml):
    from routing_sim.errors import ConfigError
    from routing_sim.loader import load_config

    base_config["stages"]["triage"]["per_item"] = {"pages": "1min"}
    with pytest.raises(ConfigError, match=r"stages\.triage\.per_item\.pages.*unknown count 'pages'"):
        load_config(write_yaml(base_config))


def _notice_chain(base: dict) -> dict:
    """Cases spawn a notice after triage (2 h later), each notice a removal (after 1-3 h): a
    grandchild whose clock can run from its own arrival or from its first ancestor's."""
    cfg = copy.deepcopy(base)
    cfg["kinds"]["notice"] = {"attributes": {"urgency": {"inherit": True}}}
    cfg["kinds"]["removal"] = {"attributes": {"urgency": {"inherit": True}}}
    cfg["stages"]["triage"]["spawn"] = [{"kind": "notice", "to": "notice_prep", "p": 1.0,
                                         "after": {"dist": "fixed", "value": "2h"}}]
    cfg["stages"]["notice_prep"] = {"service": {"dist": "fixed", "value": "30min"}, "next": [{"to": "sent"}],
                                    "spawn": [{"kind": "removal", "to": "removal", "p": 1.0,
                                               "after": {"dist": "uniform", "low": "1h", "high": "3h"}}]}
    cfg["stages"]["removal"] = {"service": {"dist": "exponential", "mean": "5h"}, "next": [{"to": "removed"}]}
    cfg["outcomes"] |= {"sent": "notice sent", "removed": "material removed"}
    cfg["time"]["horizon"] = "4d"
    cfg["deadlines"] = {
        "removed_within_12h_of_report": {"kind": "removal", "from": "origin", "to": "removal.end", "within": "12h"},
        "removed_within_12h_of_notice": {"kind": "removal", "from": "arrival", "to": "removal.end", "within": "12h"},
    }
    return cfg


def test_origin_is_the_first_ancestors_arrival_and_deadlines_measure_from_it(base_config):
    """Every entity row carries ``origin``: an arrival its own creation time, a spawned entity its
    first ancestor's (a removal, spawned by a notice spawned by a case, the case's arrival). A
    deadline ``from: origin`` measures from there; ``from: arrival`` from the entity's own creation."""
    cfg = validate_data(_notice_chain(base_config))
    result = simulate_config(cfg, engine="fast")
    e = {name: result.entities.column(name).to_numpy() for name in result.entities.column_names}
    row = {int(i): j for j, i in enumerate(e["entity"].tolist())}
    kinds = result.codes.kinds
    removals = np.flatnonzero(e["kind"] == kinds.index("removal"))
    assert removals.size > 100
    arrived = e["source"] >= 0
    np.testing.assert_array_equal(e["origin"][arrived], e["created"][arrived])
    for j in removals.tolist():
        notice = row[int(e["parent"][j])]
        case = row[int(e["parent"][notice])]
        assert e["kind"][notice] == kinds.index("notice") and e["source"][case] >= 0
        assert e["origin"][j] == e["origin"][notice] == e["created"][case]
        # the case was created at least 2 h + 30 min + 1 h before the removal
        assert e["created"][j] - e["origin"][j] >= 3.5 - 1e-9
    # the deadline from origin: the time from the case's arrival to the removal's end
    ends = result.visits.column("end").to_numpy()
    stage = result.visits.column("stage").to_numpy()
    ids = result.visits.column("entity").to_numpy()
    done = (stage == result.codes.stages.index("removal")) & ~np.isnan(ends)
    done_rows = np.array([row[int(i)] for i in ids[done].tolist()])
    from_origin = ends[done] - e["origin"][done_rows]
    from_arrival = ends[done] - e["created"][done_rows]
    kpi_origin = result.kpis["deadlines"]["removed_within_12h_of_report"]
    kpi_arrival = result.kpis["deadlines"]["removed_within_12h_of_notice"]
    assert kpi_origin["n"] == kpi_arrival["n"] == done.sum()
    assert kpi_origin["within"] == int((from_origin <= 12).sum()) < kpi_arrival["within"] == int((from_arrival <= 12).sum())
    assert kpi_origin["mean_h"] == pytest.approx(from_origin.mean()) and kpi_origin["mean_h"] > kpi_arrival["mean_h"] + 3.5
    # the reference executor writes the same tables, origin included
    reference = simulate_config(cfg, engine="simpy")
    for name in result.entities.column_names:
        assert np.array_equal(reference.entities.column(name).to_numpy(), e[name], equal_nan=True), name
    assert reference.kpis["deadlines"] == result.kpis["deadlines"]


def _copies_config(base: dict, counts: dict, stage: dict) -> dict:
    """Requests arrive with ``copies`` (and ``files``) and wait at ``removal`` (given by ``stage``)."""
    cfg = copy.deepcopy(base)
    cfg["sources"]["inbox"] = {"kind": "case", "rate": "40/h", "to": "removal", "counts": counts}
    cfg["stages"] = {"removal": {**stage, "next": [{"to": "accepted"}]}}
    cfg["outcomes"] = {"accepted": "all copies removed"}
    cfg["pools"] = {"clerks": base["pools"]["clerks"]} if stage.get("pool") else {}
    cfg["deadlines"] = {}
    cfg["time"]["horizon"] = "10d"
    return cfg


def _visit_hours(result) -> tuple[np.ndarray, np.ndarray]:
    """(service hours, copies) of every visit entered at least two days before the horizon (all
    finished: no sample censored by the horizon), in the visits' order."""
    v, e = result.visits, result.entities
    done = v.column("enter").to_numpy() < result.summary.horizon - 48
    assert not np.isnan(v.column("end").to_numpy()[done]).any()
    copies = dict(zip(e.column("entity").to_numpy().tolist(), e.column("count.copies").to_numpy().tolist(),
                      strict=True))
    took = (v.column("end").to_numpy() - v.column("start").to_numpy())[done]
    return took, np.array([copies[i] for i in v.column("entity").to_numpy()[done].tolist()])


def _ks(sample: np.ndarray, cdf) -> float:
    """The Kolmogorov-Smirnov statistic of ``sample`` against a continuous ``cdf``."""
    x = np.sort(sample)
    f = cdf(x)
    n = x.size
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max()))


def test_longest_of_is_distributed_as_the_maximum_of_n_draws():
    """With ``longest_of: copies`` and an exponential service of mean 1 h, a request with n copies
    takes the longest of n draws: its time has the CDF (1 - exp(-x))^n (Kolmogorov-Smirnov at the
    0.1 % level, fixed seed), and the test tells n = 4 from a single draw. n = 0 takes no time."""
    from tests.conftest import BASE

    cfg = validate_data(_copies_config(BASE, {"copies": {"dist": "table", "values": [0, 1, 2, 4],
                                                         "weights": [0.1, 0.3, 0.3, 0.3]}},
                                       {"service": {"dist": "exponential", "mean": "1h"}, "longest_of": "copies"}))
    took, copies = _visit_hours(simulate_config(cfg, engine="simpy"))
    assert (took[copies == 0] == 0).all() and (copies == 0).sum() > 500
    for n in (1, 2, 4):
        sample = took[copies == n]
        assert sample.size > 2000
        critical = 1.95 / np.sqrt(sample.size)  # the asymptotic 0.1 % point of sqrt(N) D
        assert _ks(sample, lambda x, n=n: (1 - np.exp(-x)) ** n) < critical, n
    assert _ks(took[copies == 4], lambda x: 1 - np.exp(-x)) > 5 * 1.95 / np.sqrt((copies == 4).sum())


def test_longest_of_one_is_the_plain_draw_and_each_extra_draw_only_lengthens(base_config):
    """The first of a visit's draws is the plain service draw: with one copy each the tables equal
    those of the stage without ``longest_of``, and adding copies never shortens a visit."""
    service = {"dist": "lognormal", "mean": "1h", "cv": 1.0}
    plain = simulate_config(validate_data(_copies_config(base_config, {"copies": {"dist": "constant", "value": 1}},
                                                         {"service": service})), engine="fast")
    one = simulate_config(validate_data(_copies_config(base_config, {"copies": {"dist": "constant", "value": 1}},
                                                       {"service": service, "longest_of": "copies"})), engine="fast")
    three = simulate_config(validate_data(_copies_config(base_config, {"copies": {"dist": "constant", "value": 3}},
                                                         {"service": service, "longest_of": "copies"})), engine="fast")
    for name in ("entity", "enter", "start", "end"):
        assert np.array_equal(plain.visits.column(name).to_numpy(), one.visits.column(name).to_numpy(),
                              equal_nan=True), name
    # the stage is a delay: a finished visit takes its draw (compared where both runs finished it)
    took_one = _durations_by_entity(one)
    took_three = _durations_by_entity(three)
    common = sorted(set(took_one) & set(took_three))
    assert len(common) > 1000
    longer = np.array([took_three[i] - took_one[i] for i in common])
    assert (longer >= 0).all() and (longer > 0).mean() > 0.5


def _durations_by_entity(result) -> dict[int, float]:
    v = result.visits
    end, start = v.column("end").to_numpy(), v.column("start").to_numpy()
    done = ~np.isnan(end)
    return dict(zip(v.column("entity").to_numpy()[done].tolist(), (end - start)[done].tolist(), strict=True))


def test_draws_of_one_visit_use_counters_no_other_draw_uses():
    """Draw j of visit k starts at ``draw_counter(k, j)`` and uses SUBDRAWS counters from there: the
    ranges of all (visit, draw) pairs are disjoint, draw 0 is the visit's own counter, and every
    other draw lies above the counters of every visit."""
    from routing_sim.engine.rules.randomness import MAX_VISITS, SUBDRAWS, draw_counter
    from routing_sim.model.process import LONGEST_OF_MAX

    visits = np.array([0, 1, 2, 7, MAX_VISITS - 1])
    draws = np.array([0, 1, 2, 3, LONGEST_OF_MAX - 2, LONGEST_OF_MAX - 1])
    k, j = (a.ravel() for a in np.meshgrid(visits, draws))
    start = draw_counter(k, j, LONGEST_OF_MAX)
    assert start.dtype == np.int64 and (start >= 0).all() and (start % SUBDRAWS == 0).all()
    assert np.unique(start).size == start.size  # distinct starts, each a multiple of SUBDRAWS: disjoint ranges
    np.testing.assert_array_equal(start[j == 0], k[j == 0] * SUBDRAWS)
    assert (start[j > 0] >= MAX_VISITS * SUBDRAWS).all()
    # consecutive draws and the last draw of one visit against the first extra draw of the next
    assert draw_counter(3, 2, LONGEST_OF_MAX) - draw_counter(3, 1, LONGEST_OF_MAX) == SUBDRAWS
    assert draw_counter(4, 1, LONGEST_OF_MAX) - draw_counter(3, LONGEST_OF_MAX - 1, LONGEST_OF_MAX) == SUBDRAWS


def test_longest_of_with_a_service_by_attribute_and_per_item_time(base_config):
    """Each draw comes from the entity's own case of a service by attribute, and per-item time adds
    after the longest draw (also to a request with no copies)."""
    stage = {"service": {"by": "urgency", "cases": {"high": {"dist": "fixed", "value": "1h"}},
                         "default": {"dist": "fixed", "value": "2h"}},
             "longest_of": "copies", "per_item": {"files": "10min"}}
    counts = {"copies": {"dist": "poisson", "mean": 1.0}, "files": {"dist": "poisson", "mean": 2.0}}
    cfg = validate_data(_copies_config(base_config, counts, stage))
    from routing_sim.report.diagram import stage_rows
    assert stage_rows(cfg)[0][2] == ("longest of one draw per copies (by urgency: high: dist=fixed value=1h, "
                                     "otherwise dist=fixed value=2h; none: 0) + 10min per files")
    result = simulate_config(cfg, engine="simpy")
    e = {name: result.entities.column(name).to_numpy() for name in result.entities.column_names}
    row = {int(i): j for j, i in enumerate(e["entity"].tolist())}
    v = result.visits
    done = ~np.isnan(v.column("end").to_numpy())
    rows = np.array([row[int(i)] for i in v.column("entity").to_numpy()[done].tolist()])
    high = e["attr.urgency"][rows] == result.codes.value("urgency", "high")
    base = np.where(e["count.copies"][rows] > 0, np.where(high, 1.0, 2.0), 0.0)
    expected = base + e["count.files"][rows] * (10 / 60)
    took = (v.column("end").to_numpy() - v.column("start").to_numpy())[done]
    np.testing.assert_allclose(took, expected, rtol=1e-12, atol=1e-12)
    assert high.sum() > 100 and (e["count.copies"][rows] == 0).sum() > 100


def test_longest_of_on_a_pool_runs_on_both_executors_alike(base_config):
    """On a pool stage the longest of a geometric number (>= 1) of draws never takes zero time, so
    the fast executor applies and writes the tables the reference one writes; a count that can be
    0 makes a zero service possible, and the fast executor stands aside."""
    from routing_sim.engine.build import build
    from routing_sim.engine.topology import fast_applies
    from tests.test_executors import both, same

    stage = {"pool": "clerks", "service": {"dist": "exponential", "mean": "2min"}, "longest_of": "copies"}
    cfg = validate_data(_copies_config(base_config, {"copies": {"dist": "geometric", "mean": 2.0}}, stage))
    assert fast_applies(build(cfg))[0]
    simpy, fast = both(cfg, seed=11)
    assert simpy.visits.num_rows > 5000 and same(simpy, fast) == []
    cfg = validate_data(_copies_config(base_config, {"copies": {"dist": "poisson", "mean": 2.0}}, stage))
    assert fast_applies(build(cfg)) == (False, "the service of pool stage 'removal' can take zero time")


def test_longest_of_names_a_count_that_stays_under_the_cap(base_config, write_yaml):
    from routing_sim.errors import ConfigError
    from routing_sim.loader import load_config

    stage = {"service": {"dist": "exponential", "mean": "1h"}, "longest_of": "copiez"}
    with pytest.raises(ConfigError, match=r"stages\.removal\.longest_of: unknown count 'copiez' \(counts: copies\)"):
        load_config(write_yaml(_copies_config(base_config, {"copies": {"dist": "constant", "value": 2}}, stage)))
    stage["longest_of"] = "copies"
    with pytest.raises(ConfigError, match=r"stages\.removal\.longest_of: count 'copies' of source 'inbox' can "
                                          r"reach 183,\d{3}, more than the 100,000 draws longest_of takes"):
        load_config(write_yaml(_copies_config(base_config, {"copies": {"dist": "geometric", "mean": 5000}}, stage)))


def test_the_largest_and_smallest_count_a_distribution_can_draw():
    """The bounds ``longest_of`` is checked against are those of the samplers: the geometric's at
    the smallest uniform the engine supplies (2**-53), the Poisson's at the end of its table."""
    from routing_sim.model.volumes import Constant, Geometric, Poisson, Table

    class Extreme:
        shape = (1,)

        def __init__(self, u: float):
            self.u = u

        def __call__(self, k, rows=None):
            return np.full(1, self.u)

    for mean in (1.0, 1.5, 4.14, 5000.0):
        g = Geometric(dist="geometric", mean=mean)
        assert g.sample(Extreme(2.0**-53))[0] == g.largest and g.sample(Extreme(1 - 2.0**-53))[0] == g.smallest == 1
    for mean, offset in ((0.5, 0), (1.5, 1), (3.0, 3), (400.0, 2)):
        p = Poisson(dist="poisson", mean=mean, offset=offset)
        assert p.sample(Extreme(1 - 2.0**-53))[0] == p.largest and p.sample(Extreme(2.0**-53))[0] == p.smallest
    t = Table(dist="table", values=[0, 3, 9], weights=[0.0, 1.0, 2.0])
    assert (t.smallest, t.largest) == (3, 9)
    assert Constant(dist="constant", value=4).largest == Constant(dist="constant", value=4).smallest == 4


def test_which_longest_of_stages_an_entity_without_items_may_visit(base_config):
    """An entity with none of the counted items reaches a ``longest_of`` stage from a source that
    does not draw the count or can draw 0, or as any spawned entity (which carries no counts)."""
    from routing_sim.model.checks import may_carry_none

    stage = {"service": {"dist": "exponential", "mean": "1h"}, "longest_of": "copies"}
    data = _copies_config(base_config, {"copies": {"dist": "geometric", "mean": 2.0}}, stage)
    assert not may_carry_none(validate_data(data), "removal")
    data["sources"]["inbox"]["counts"]["copies"] = {"dist": "table", "values": [0, 2], "weights": [0.0, 1.0]}
    assert not may_carry_none(validate_data(data), "removal")
    data["sources"]["inbox"]["counts"]["copies"] = {"dist": "poisson", "mean": 2.0, "offset": 0}
    assert may_carry_none(validate_data(data), "removal")
    data["sources"]["inbox"]["counts"]["copies"] = {"dist": "geometric", "mean": 2.0}
    data["sources"]["other"] = {"kind": "case", "rate": "1/h", "to": "removal"}  # draws no copies
    assert may_carry_none(validate_data(data), "removal")
    del data["sources"]["other"]
    data["stages"]["check"] = {"service": {"dist": "fixed", "value": "1h"}, "next": [{"to": "removal"}]}
    data["stages"]["removal"]["spawn"] = [{"kind": "case", "to": "check", "p": 0.1,
                                           "after": {"dist": "fixed", "value": "1d"}}]
    assert may_carry_none(validate_data(data), "removal")  # a spawned case reaches it through check
