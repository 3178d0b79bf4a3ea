"""The staffing optimiser and sensitivity analysis (routing_sim.optimise).

- on M/M/c queues the optimiser finds the least number of servers that Erlang C gives for a
  mean-wait target;
- it never returns a vector that fails a target in its own evidence (checked again from the stored
  task records), and nothing cheaper passed in that evidence;
- sensitivity ranks a parameter with no effect (a pool's cost) last, in the tornado and in Morris.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from routing_sim.experiments.executors import Serial
from routing_sim.experiments.store import Store
from routing_sim.optimise.drive import optimise_file, sensitivity_file
from routing_sim.optimise.evaluate import Evaluator
from routing_sim.optimise.search import PASS, judge, parse_target
from routing_sim.yamlio import dump_yaml, read_yaml

MMC = Path(__file__).resolve().parents[1] / "configs" / "textbook" / "mmc.yaml"


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (infinite when c mu <= lam)."""
    a = lam / mu
    if c <= a:
        return math.inf
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def least_servers(lam: float, mu: float, limit: float) -> int:
    c = 1
    while erlang_c_wait(lam, mu, c) > limit:
        c += 1
    return c


def mmc_file(tmp_path: Path, rate: str, horizon: str, name: str = "mmc", extra: dict | None = None) -> Path:
    data, _ = read_yaml(MMC)
    data = copy.deepcopy(data)
    data.update(name=name)
    data["time"]["horizon"] = horizon
    data["sources"]["arrivals"]["rate"] = rate
    for key, value in (extra or {}).items():
        data[key].update(value)
    path = tmp_path / f"{name}.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


class NoRuns(Serial):
    def run(self, tasks, on_result):  # noqa: ANN001
        tasks = list(tasks)
        assert not tasks, "the evidence should be in the store"


def check_evidence(out: dict, path: Path, results: Path) -> None:
    """The optimum passes every target when judged again from the stored task records."""
    data, _ = read_yaml(path)
    targets = [parse_target(t) for t in out["targets"]]
    for variant in out["variants"].values():
        best = variant["optimum"]
        assert best is not None and best["verdict"] == PASS and not best["undecided"]
        ev = Evaluator(data, out["seed"], NoRuns(), Store(results / out["name"] / "search"), out["warmup_h"])
        point = {f"pools.{p}.headcount": h for p, h in best["headcount"].items()}
        for t in targets:
            again = judge(ev.values(point, t.kpi, best["n"]), t, variant["level_per_target"])
            assert again["verdict"] == PASS, again
        passing = [e for e in variant["evidence"] if e["verdict"] == PASS]
        assert all(e["cost"] >= best["cost"] for e in passing)
        assert all(j["verdict"] == PASS for e in passing for j in e["targets"])
        for x in variant["cheaper_failing"]:
            assert x["cost"] < best["cost"] and x["failing"]


@pytest.mark.parametrize("rate,limit", [("3/h", 0.5), ("8/h", 0.07)])
def test_optimiser_finds_the_erlang_c_minimum(tmp_path: Path, rate: str, limit: float) -> None:
    lam, mu = float(rate.split("/")[0]), 1.2
    c_min = least_servers(lam, mu, limit)
    # the target is well separated from the waits at c_min - 1 and c_min, so 60 days decide it
    assert erlang_c_wait(lam, mu, c_min - 1) > 1.5 * limit and erlang_c_wait(lam, mu, c_min) < limit / 1.5
    path = mmc_file(tmp_path, rate, "60d")
    out = optimise_file(path, [parse_target(f"stages.service.wait.mean_h <= {limit}")], ["servers"],
                        results=tmp_path / "results", warmup="5d", n0=4, cap=16, max_headcount=[str(c_min + 4)])
    variant = out["variants"]["base"]
    assert variant["optimum"]["headcount"] == {"servers": c_min}
    assert variant["cheaper_failing"][0]["headcount"] == {"servers": c_min - 1}
    assert (tmp_path / "results" / "mmc" / "optimise.json").is_file()
    check_evidence(out, path, tmp_path / "results")


def test_two_pools_cheapest_vector_passes_in_its_own_evidence(tmp_path: Path) -> None:
    """Two stages in tandem with different costs: the optimum passes, nothing cheaper passed."""
    extra = {
        "pools": {"servers": {"headcount": 3, "calendar": {"type": "always"}, "cost_per_fte_year": 2},
                  "checkers": {"headcount": 3, "calendar": {"type": "always"}, "cost_per_fte_year": 1}},
        "stages": {"service": {"pool": "servers", "service": {"dist": "exponential", "mean": "50min"},
                               "next": [{"to": "check"}]},
                   "check": {"pool": "checkers", "service": {"dist": "exponential", "mean": "30min"},
                             "next": [{"to": "done"}]}},
    }
    path = mmc_file(tmp_path, "3/h", "30d", name="tandem", extra=extra)
    targets = [parse_target("stages.service.wait.mean_h <= 0.3"), parse_target("stages.check.wait.mean_h <= 0.2")]
    out = optimise_file(path, targets, ["servers", "checkers"], results=tmp_path / "results", n0=3, cap=12,
                        max_headcount=["6"], workers=1)
    best = out["variants"]["base"]["optimum"]
    assert best["cost"] == 2 * best["headcount"]["servers"] + best["headcount"]["checkers"]
    check_evidence(out, path, tmp_path / "results")


def test_sensitivity_ranks_a_parameter_without_effect_last(tmp_path: Path) -> None:
    path = mmc_file(tmp_path, "3/h", "20d")
    params = ["pools.servers.cost_per_fte_year=0:100000", "pools.servers.headcount=3:5",
              "sources.arrivals.rate=2/h:2.8/h"]
    kwargs = dict(results=tmp_path / "results", replications=2, trajectories=4, levels=4)
    out = sensitivity_file(path, "stages.service.wait.mean_h", params, **kwargs)
    oat, morris = out["one_at_a_time"], out["morris"]
    assert oat["rows"][-1]["param"] == "pools.servers.cost_per_fte_year" and oat["rows"][-1]["swing"] == 0
    assert all(r["swing"] > 0 for r in oat["rows"][:-1])
    assert morris["rows"][-1]["param"] == "pools.servers.cost_per_fte_year" and morris["rows"][-1]["mu_star"] == 0
    assert morris["rows"][0]["mu_star"] > 0
    png = (tmp_path / "results" / "mmc" / "tornado.png").read_bytes()
    again = sensitivity_file(path, "stages.service.wait.mean_h", params, **kwargs)  # from the store
    assert again["tasks_run"] == 0 and again["one_at_a_time"] == oat
    assert (tmp_path / "results" / "mmc" / "tornado.png").read_bytes() == png


def test_one_optimum_per_experiment_variant(tmp_path: Path) -> None:
    """An experiment's variants (two volumes) each get the Erlang C minimum, with common overrides."""
    exp = tmp_path / "exp.yaml"
    exp.write_text(dump_yaml({"name": "mmc-volumes", "base": str(MMC), "seed": 7,
                              "overrides": {"time.horizon": "40d"}, "replications": 3, "warmup": "5d",
                              "variants": {"low": {"sources.arrivals.rate": "3/h"},
                                           "high": {"sources.arrivals.rate": "8/h"}}}), encoding="utf-8")
    out = optimise_file(exp, [parse_target("stages.service.wait.mean_h <= 0.07")], ["servers"],
                        results=tmp_path / "results", n0=4, cap=16, max_headcount=["14"])
    found = {name: v["optimum"]["headcount"]["servers"] for name, v in out["variants"].items()}
    assert found == {"low": least_servers(3.0, 1.2, 0.07), "high": least_servers(8.0, 1.2, 0.07)}
    assert (tmp_path / "results" / "mmc-volumes" / "optimise.json").is_file()


@pytest.mark.slow
def test_sobol_indices_rank_the_inputs_and_give_nothing_to_a_parameter_without_effect(tmp_path: Path) -> None:
    """A pool's cost changes no wait: with common random numbers its first-order and total indices are
    exactly zero; the arrival rate, which moves the load most over its range, ranks first."""
    from routing_sim.report.optimisation import sensitivity as report_section

    path = mmc_file(tmp_path, "3/h", "10d")
    params = ["pools.servers.cost_per_fte_year=0:100000", "pools.servers.headcount=4:5",
              "sources.arrivals.rate=1/h:3.5/h"]
    out = sensitivity_file(path, "stages.service.wait.mean_h", params, results=tmp_path / "results",
                           replications=2, samples=8, methods=("sobol",))
    rows = {r["param"]: r for r in out["sobol"]["rows"]}
    assert out["sobol"]["points"] == 8 * (3 + 2)
    assert rows["pools.servers.cost_per_fte_year"]["ST"] == 0 and rows["pools.servers.cost_per_fte_year"]["S1"] == 0
    assert out["sobol"]["rows"][0]["param"] == "sources.arrivals.rate"
    assert rows["sources.arrivals.rate"]["ST"] > 0.3 and rows["sources.arrivals.rate"]["ST_conf"] > 0
    folder = tmp_path / "results" / "mmc"
    assert (folder / "sobol.png").read_bytes()[:4] == b"\x89PNG"
    html = report_section(folder)
    assert 'id="sobol-table"' in html and 'id="fig-sobol"' in html


def test_a_two_way_split_varied_alone_keeps_summing_to_one() -> None:
    """A relevance share as a sensitivity parameter: varying ``p.forward`` of a two-way decision sets
    ``p.unfounded`` to its complement; a three-way split is left alone (validation then decides)."""
    from routing_sim.optimise.evaluate import complement

    data = {"stages": {"review": {"decide": [{"set": "decision", "cases": [
        {"when": {"truth": "abuse"}, "p": {"forward": 0.98, "unfounded": 0.02}},
        {"p": {"forward": 0.3, "unfounded": 0.7}}]}]}},
        "kinds": {"report": {"attributes": {"kind": {"p": {"a": 0.5, "b": 0.3, "c": 0.2}}}}}}
    data["stages"]["review"]["decide"][0]["cases"][1]["p"]["forward"] = 0.15
    complement(data, "stages.review.decide.0.cases.1.p.forward", 0.15)
    assert data["stages"]["review"]["decide"][0]["cases"][1]["p"] == {"forward": 0.15, "unfounded": 0.85}
    assert data["stages"]["review"]["decide"][0]["cases"][0]["p"] == {"forward": 0.98, "unfounded": 0.02}
    complement(data, "kinds.report.attributes.kind.p.a", 0.6)
    assert data["kinds"]["report"]["attributes"]["kind"]["p"] == {"a": 0.5, "b": 0.3, "c": 0.2}
    complement(data, "stages.nowhere.p.x", 0.2)  # a path that does not exist: nothing happens


def test_the_tornado_does_not_blow_a_negligible_swing_up_to_the_full_width() -> None:
    """A swing of 0.000005 in a share drawn across the whole axis would look like a large effect:
    the axis spans at least 2 points of a share (2 % of the base for other KPIs), and a real swing
    fits inside it."""
    from routing_sim.optimise.sensitivity import tornado_png, tornado_span

    tiny = {"kpi": "pools.reviewers.utilisation", "base": 0.8, "replications": 2,
            "rows": [{"param": "x", "low": 1, "high": 2, "kpi_at_low": 0.799995, "kpi_at_high": 0.800005}]}
    low, high = tornado_span(tiny)
    assert high - low >= 0.04 and low < 0.799995 and high > 0.800005
    hours = {**tiny, "kpi": "deadlines.d.p90_h", "base": 50.0,
             "rows": [{"param": "x", "low": 1, "high": 2, "kpi_at_low": 20.0, "kpi_at_high": 51.0}]}
    low, high = tornado_span(hours)
    assert low <= 20.0 and high >= 51.0 and abs((low + high) / 2 - 50.0) < 1e-9
    assert tornado_png(tiny)[:8] == b"\x89PNG\r\n\x1a\n"
