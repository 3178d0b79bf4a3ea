"""Metamorphic tests under common random numbers (marker ``validation``).

Every random stream is named (``arrivals.<source>``, ``service.<stage>``, ...)
and seeded from the root seed, the replication and the name, so two runs with
the same seed and replication share every stream a change does not touch.

- One more server never raises the wait: pathwise (per customer) where that is a
  theorem (one FCFS multi-server stage fed by one Poisson source, always on
  duty); in networks, for means over replications, with a paired t-interval.
- Scaling every arrival rate by k and every service time (and the horizon and the
  time-series step) by 1/k gives the same sample path on a faster clock: the
  same routing decisions, visit times equal up to floating point, and the same
  utilisation.
- Switching off a stage's errors (probabilities of wrong decisions set to 0)
  leaves no wrong decisions in the EU config.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing_sim.api import RunResult, simulate_config
from routing_sim.loader import validate_data
from routing_sim.stats import t_interval
from routing_sim.yamlio import read_yaml
from tests.conftest import CONFIGS

pytestmark = pytest.mark.validation


def run(data: dict[str, Any], replication: int = 0) -> RunResult:
    return simulate_config(validate_data(data), replication=replication)


def textbook(name: str) -> dict[str, Any]:
    data, _ = read_yaml(CONFIGS / "textbook" / name)
    return data


def eu(horizon: str) -> dict[str, Any]:
    data, _ = read_yaml(CONFIGS / "eu-centre-2019.yaml")
    data["time"]["horizon"] = horizon
    return data


def column(r: RunResult, table: str, name: str) -> np.ndarray:
    return np.asarray(getattr(r, table).column(name).to_numpy())


def by_creation(r: RunResult) -> np.ndarray:
    """The visits' entities, each named by its rank in the order of creation (ties by id)."""
    ids, created = column(r, "entities", "entity"), column(r, "entities", "created")
    order = np.lexsort((ids, created))
    by_id = np.argsort(ids)
    rank = np.empty(ids.size, dtype=np.int64)
    rank[order] = np.arange(ids.size)
    return rank[by_id[np.searchsorted(ids[by_id], column(r, "visits", "entity"))]]


# --------------------------------------------------------------------------- one more server


def single_stage(c: int, rate_per_h: float, service: dict, horizon: str) -> dict[str, Any]:
    return {
        "name": "staffing",
        "seed": 11,
        "time": {"start": "2024-01-01", "horizon": horizon, "timeseries_step": "1h"},
        "kinds": {"job": {}},
        "sources": {"arrivals": {"kind": "job", "rate": f"{rate_per_h!r}/h", "to": "service"}},
        "pools": {"servers": {"headcount": c, "calendar": {"type": "always"}}},
        "stages": {"service": {"pool": "servers", "service": service, "next": [{"to": "done"}]}},
        "outcomes": {"done": "left"},
    }


def waits_so_far(r: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """Per entity (one visit each): enter time, and wait (up to the horizon if still waiting)."""
    entity, enter, start = (column(r, "visits", n) for n in ("entity", "enter", "start"))
    order = np.argsort(entity)
    wait = np.where(np.isnan(start), r.summary.horizon - enter, start - enter)
    return enter[order], wait[order]


SERVICES = st.one_of(
    st.builds(lambda m: {"dist": "exponential", "mean": f"{m}min"}, st.integers(5, 60)),
    st.builds(lambda m, cv: {"dist": "lognormal", "mean": f"{m}min", "cv": cv}, st.integers(5, 60),
              st.sampled_from([0.3, 1.0, 2.0])),
    st.builds(lambda m, cv: {"dist": "gamma", "mean": f"{m}min", "cv": cv}, st.integers(5, 60),
              st.sampled_from([0.5, 1.5])),
    st.builds(lambda lo, w: {"dist": "uniform", "low": f"{lo}min", "high": f"{lo + w}min"}, st.integers(0, 20),
              st.integers(1, 60)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=st.integers(1, 4), load=st.floats(0.3, 1.4), service=SERVICES, replication=st.integers(0, 1000))
def test_one_more_server_never_raises_any_customers_wait(c, load, service, replication):
    """FCFS, one stage, always on duty: the k-th customer to start draws the k-th service
    time, and starts follow arrival order, so both runs give every customer the same service
    time; the workload recursion is then monotone in the number of servers (overload included)."""
    probe = validate_data(single_stage(c, 1.0, service, "1d"))
    mean_h = probe.stages["service"].service.mean_hours
    rate = load * c / mean_h
    base = run(single_stage(c, rate, service, "3d"), replication)
    more = run(single_stage(c + 1, rate, service, "3d"), replication)
    enter_c, wait_c = waits_so_far(base)
    enter_more, wait_more = waits_so_far(more)
    np.testing.assert_array_equal(enter_c, enter_more)  # same arrival stream, same entities
    assert (wait_more <= wait_c + 1e-9).all(), np.max(wait_more - wait_c)
    assert wait_more.mean() <= wait_c.mean() + 1e-12
    assert base.kpis["pools"]["servers"]["busy_hours"] <= more.kpis["pools"]["servers"]["busy_hours"] + 1e-6


def paired_increase(data: dict, pool: str, stage: str, replications: int) -> tuple[float, float, float]:
    """Paired differences (one more member minus baseline) of the stage's mean wait, as a 99 % t-interval."""
    more = copy.deepcopy(data)
    more["pools"][pool]["headcount"] += 1
    diffs = []
    for r in range(replications):
        base_w = run(data, r).kpis["stages"][stage]["wait"]["mean_h"]
        more_w = run(more, r).kpis["stages"][stage]["wait"]["mean_h"]
        diffs.append(more_w - base_w)
    return t_interval(diffs, 0.99)


@pytest.mark.parametrize("pool,stage", [("a_servers", "a"), ("b_servers", "b"), ("c_servers", "c")])
def test_one_more_server_in_a_network_does_not_raise_the_mean_wait(pool, stage):
    """In a network with feedback the arrival order at a station changes with its staffing,
    so the statement holds for means: the increase must not be significantly positive."""
    data = textbook("jackson.yaml")
    data["time"]["horizon"] = "5d"
    mean, low, high = paired_increase(data, pool, stage, replications=6)
    assert low <= 0, (mean, low, high)
    assert mean < 0


def test_one_more_reviewer_in_the_eu_pipeline_does_not_raise_the_review_wait():
    """Priorities and a 24/7 rota: not pathwise; compared over paired replications."""
    mean, low, high = paired_increase(eu("10d"), "reviewers", "relevance_review", replications=3)
    assert low <= 0, (mean, low, high)


# --------------------------------------------------------------------------- time scaling

_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]+)\s*$")
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*/\s*([a-z]+)\s*$")


def _duration_over(text: str, k: float) -> str:
    number, unit = _NUMBER_UNIT.match(text).groups()
    return f"{float(number) / k!r}{unit}"


def _scale_distribution(dist: dict, k: float) -> dict:
    out = dict(dist)
    if "by" in dist:
        out["cases"] = {v: _scale_distribution(d, k) for v, d in dist["cases"].items()}
        if dist.get("default"):
            out["default"] = _scale_distribution(dist["default"], k)
        return out
    for key in ("value", "mean", "low", "high"):
        if key in out:
            out[key] = _duration_over(out[key], k)
    if "values" in out:
        out["values"] = [_duration_over(v, k) for v in out["values"]]
    return out


def time_scaled(data: dict, k: float) -> dict:
    """Arrival rates x k; service times, delays, horizon and time-series step / k."""
    out = copy.deepcopy(data)
    for src in out["sources"].values():
        number, unit = _RATE.match(src["rate"]).groups()
        src["rate"] = f"{float(number) * k!r}/{unit}"
    for stage in out["stages"].values():
        stage["service"] = _scale_distribution(stage["service"], k)
        for spawn in stage.get("spawn", []):
            spawn["after"] = _scale_distribution(spawn["after"], k)
    for key in ("horizon", "timeseries_step"):
        out["time"][key] = _duration_over(out["time"][key], k)
    assert all(p["calendar"]["type"] == "always" for p in out.get("pools", {}).values())
    return out


def reference_network() -> dict:
    data = textbook("reference-network.yaml")
    data["time"]["horizon"] = "3d"
    return data


@pytest.mark.parametrize("k", [2.0, 3.0, 0.25])
@pytest.mark.parametrize("config", ["jackson", "mg1", "reference"])
def test_scaling_rates_by_k_and_times_by_1_over_k_is_the_same_path_on_a_faster_clock(config, k):
    data = reference_network() if config == "reference" else textbook(f"{config}.yaml")
    if config != "reference":
        data["time"]["horizon"] = "5d"
    base, fast = run(data, 3), run(time_scaled(data, k), 3)
    # the same visits, in the same order, routed the same way, by the same entities (named by the
    # order of their creation: ids are handed out a simulated day at a time, and a day is not
    # the same stretch of the path on the faster clock)
    np.testing.assert_array_equal(by_creation(base), by_creation(fast))
    for name in ("stage", "next"):
        np.testing.assert_array_equal(column(base, "visits", name), column(fast, "visits", name))
    for name in ("enter", "start", "end"):
        np.testing.assert_allclose(column(fast, "visits", name) * k, column(base, "visits", name),
                                   rtol=1e-12, atol=1e-12)
    for pool, figures in base.kpis["pools"].items():
        assert fast.kpis["pools"][pool]["utilisation"] == pytest.approx(figures["utilisation"], rel=1e-12, abs=1e-15)
    assert fast.kpis["run"]["entities"] == base.kpis["run"]["entities"]


# --------------------------------------------------------------------------- no errors in, no wrong decisions out

WRONG_DECISIONS = (
    "wrong_forwards", "wrong_forwards_fast_path", "wrong_unfounded",
    "audits_flagged", "audit_found_wrong_forward", "audit_found_wrong_unfounded",
    "audit_false_alarm_forward", "audit_false_alarm_unfounded",
    "complaints_upheld_of_abuse", "complaints_rejected_of_non_abuse",
)


def review_without_errors(data: dict) -> dict:
    data["stages"]["relevance_review"]["decide"] = [{"set": "decision", "cases": [
        {"when": {"truth": "abuse"}, "p": {"forward": 1.0, "unfounded": 0.0}},
        {"p": {"forward": 0.0, "unfounded": 1.0}},
    ]}]
    return data


def no_errors_anywhere(data: dict) -> dict:
    data = review_without_errors(data)
    stages = data["stages"]
    # the fast path forwards every hash hit; without errors it must also route what it finds unfounded
    stages["fast_path"]["decide"] = [{"set": "decision", "cases": [
        {"when": {"truth": "abuse"}, "p": {"forward": 1.0}}, {"p": {"unfounded": 1.0}}]}]
    stages["fast_path"]["next"] = [{"when": {"decision": "unfounded"}, "to": "provider_feedback"},
                                   {"to": "jurisdiction"}]
    stages["complaint_review"]["decide"] = [{"set": "complaint_outcome", "cases": [
        {"when": {"truth": "no_abuse"}, "p": {"upheld": 1.0, "rejected": 0.0}},
        {"p": {"upheld": 0.0, "rejected": 1.0}}]}]
    stages["audit"]["decide"] = [{"set": "audit_result", "cases": [
        {"when": {"decision": "forward", "truth": "no_abuse"}, "p": {"error_found": 1.0}},
        {"when": {"decision": "unfounded", "truth": "abuse"}, "p": {"error_found": 1.0}},
        {"p": {"error_found": 0.0, "confirmed": 1.0}}]}]
    return data


@pytest.fixture(scope="module")
def eu_runs() -> dict[str, RunResult]:
    data = eu("21d")
    return {
        "baseline": run(copy.deepcopy(data)),
        "review_only": run(review_without_errors(copy.deepcopy(data))),
        "none": run(no_errors_anywhere(copy.deepcopy(data))),
    }


def report_arrivals(r: RunResult) -> tuple[np.ndarray, np.ndarray]:
    kind = column(r, "entities", "kind")
    created = column(r, "entities", "created")
    truth = column(r, "entities", "attr.truth")
    mask = kind == r.codes.kinds.index("report")
    order = np.argsort(created[mask], kind="stable")
    return created[mask][order], truth[mask][order]


def test_switching_off_every_error_leaves_no_wrong_decision(eu_runs):
    base, clean = eu_runs["baseline"].kpis["tallies"], eu_runs["none"].kpis["tallies"]
    for name in ("wrong_forwards", "wrong_unfounded", "audits_flagged"):
        assert base[name] > 0, f"the baseline should make {name} errors (test power)"
    assert {name: clean[name] for name in WRONG_DECISIONS} == dict.fromkeys(WRONG_DECISIONS, 0)
    # and no report that is not abuse reaches forwarding at all
    r = eu_runs["none"]
    truth = dict(zip(column(r, "entities", "entity").tolist(), column(r, "entities", "attr.truth").tolist(), strict=True))
    stage, entity = column(r, "visits", "stage"), column(r, "visits", "entity")
    forwarded = entity[stage == r.codes.stages.index("forwarding")]
    no_abuse = r.codes.value("truth", "no_abuse")
    assert forwarded.size > 1000
    assert not any(truth[e] == no_abuse for e in forwarded.tolist())


def test_switching_off_the_review_errors_leaves_only_the_fast_path_errors(eu_runs):
    base, review = eu_runs["baseline"].kpis["tallies"], eu_runs["review_only"].kpis["tallies"]
    assert base["wrong_forwards"] > base["wrong_forwards_fast_path"]
    assert review["wrong_unfounded"] == 0
    assert review["wrong_forwards"] == review["wrong_forwards_fast_path"]
    # the fast path's own decisions do not use the review's streams: they are unchanged
    assert review["wrong_forwards_fast_path"] == base["wrong_forwards_fast_path"]


def test_the_error_switch_leaves_the_report_arrivals_unchanged(eu_runs):
    created, truth = report_arrivals(eu_runs["baseline"])
    for variant in ("review_only", "none"):
        other_created, other_truth = report_arrivals(eu_runs[variant])
        np.testing.assert_array_equal(created, other_created)
        np.testing.assert_array_equal(truth, other_truth)
