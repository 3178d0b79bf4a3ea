"""Staffing plans over time (``routing-sim optimise --per year|quarter``).

- on a queue whose volume steps up each quarter, each period gets the least number of servers
  Erlang C gives for its rate; the number below fails and the number chosen passes when both are
  run again from scratch (a brute-force check of the neighbours), and no period goes below its
  offered-load bound;
- hiring and leaving limits bind: a period that needs more than the limit allows is marked and
  takes the most the limit allows, and the plan goes on from there;
- the schedule block validates when a config ``extends:`` it, and the config it makes, cut at
  each period's end, gives exactly the KPIs the plan judged;
- on the shipped EU config (a pool split by member state), a plan over ordinary pools runs, and
  a split pool named in --pools is one clear line.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routing_sim.cli import app
from routing_sim.errors import ConfigError
from routing_sim.experiments.executors import Serial
from routing_sim.loader import load_config, load_data
from routing_sim.optimise.drive import plan_file
from routing_sim.optimise.evaluate import Evaluator
from routing_sim.optimise.plan import MISSED, periods
from routing_sim.optimise.search import FAIL, PASS, judge, parse_target
from routing_sim.yamlio import dump_yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LIMIT = 0.3
TARGET = f"stages.service.wait.mean_h <= {LIMIT}"


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    if c <= a:
        return math.inf
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


def least_servers(lam: float, limit: float) -> int:
    c = 1
    while erlang_c_wait(lam, 1.0, c) > limit:
        c += 1
    return c


def toy(tmp_path: Path, steps: dict[str, float], horizon: str = "273d", rate: float = 3.0) -> Path:
    """One pool, exponential service of 1 h, Poisson arrivals at ``rate`` from 2025-01-01 times the steps."""
    data = {
        "name": "toy-plan", "description": "a queue whose volume steps", "question": "servers per quarter?",
        "seed": 11, "time": {"start": "2025-01-01", "horizon": horizon, "timeseries_step": "1d"},
        "kinds": {"job": {}},
        "sources": {"arrivals": {"kind": "job", "rate": f"{rate:g}/h", "to": "service"}},
        "steps": {f"s{i}": {"from": day, "multiplier": m} for i, (day, m) in enumerate(steps.items())},
        "pools": {"servers": {"headcount": 4, "calendar": {"type": "always"}, "cost_per_fte_year": 50000,
                              "schedule": [{"from": "2025-06-01", "headcount": 5}]}},
        "stages": {"service": {"pool": "servers", "service": {"dist": "exponential", "mean": "1h"},
                               "next": [{"to": "done"}]}},
        "outcomes": {"done": "served"},
    }
    path = tmp_path / "toy.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


def rates(steps: dict[str, float], rate: float = 3.0) -> list[float]:
    """The rate of each quarter of 2025 (steps start on a quarter's first day)."""
    out, r = [], rate
    for q in range(3):
        r *= steps.get(dt.date(2025, 3 * q + 1, 1).isoformat(), 1.0)
        out.append(r)
    return out


def test_periods_are_calendar_years_or_quarters() -> None:
    years = periods(dt.date(2024, 10, 1), 182 * 24.0, "year")
    assert [(p.label, p.start, p.end) for p in years] == [("2024", dt.date(2024, 10, 1), dt.date(2025, 1, 1)),
                                                          ("2025", dt.date(2025, 1, 1), dt.date(2025, 4, 1))]
    quarters = periods(dt.date(2025, 1, 1), 2191 * 24.0, "quarter")
    assert len(quarters) == 24 and quarters[-1].label == "2030-Q4" and quarters[-1].end == dt.date(2031, 1, 1)
    assert all(a.end == b.start and a.end_h == b.start_h for a, b in zip(quarters, quarters[1:], strict=False))


def test_each_quarter_gets_the_erlang_c_least_and_its_neighbour_below_fails(tmp_path: Path) -> None:
    steps = {"2025-04-01": 4 / 3, "2025-07-01": 1.5}  # 3/h, 4/h, 6/h
    lam = rates(steps)
    need = [least_servers(r, LIMIT) for r in lam]
    for r, c in zip(lam, need, strict=True):  # well separated, so a quarter decides it
        assert erlang_c_wait(r, 1.0, c - 1) > 1.6 * LIMIT and erlang_c_wait(r, 1.0, c) < LIMIT / 1.6
    path = toy(tmp_path, steps)
    results = tmp_path / "results"
    out = plan_file(path, [parse_target(TARGET)], ["servers"], "quarter", results=results, n0=3, cap=12)
    v = out["variants"]["base"]
    assert v["plan"] == [{"servers": c} for c in need] and v["met"]
    rows = v["periods"]
    assert [r["period"] for r in rows] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    for row in rows:
        assert row["status"] == "optimum" and row["verdict"] == PASS
        assert row["headcount"]["servers"] >= row["bounds"]["servers"].get("load_bound", 0)
        days = (dt.date.fromisoformat(row["to"]) - dt.date.fromisoformat(row["from"])).days
        assert row["cost"] == pytest.approx(row["headcount"]["servers"] * 50000 * days / 365)
    # brute force, from scratch (no store): in each period the plan's number passes and one less fails
    data, _ = load_data(path)
    spans = periods(dt.date(2025, 1, 1), 273 * 24.0, "quarter")
    target = parse_target(TARGET)
    for k, span in enumerate(spans):
        cut = copy.deepcopy(data)
        cut["time"]["horizon"] = f"{int(span.end_h // 24)}d"
        cut["pools"]["servers"]["headcount"] = need[0]
        cut["pools"]["servers"]["schedule"] = [{"from": s.start.isoformat(), "headcount": need[j + 1]}
                                               for j, s in enumerate(spans[1:k + 1])]
        ev = Evaluator(cut, out["seed"], Serial(), None, span.start_h)
        where = "pools.servers.headcount" if k == 0 else f"pools.servers.schedule.{k - 1}.headcount"
        for c, verdict in ((need[k], PASS), (need[k] - 1, FAIL)):
            assert judge(ev.values({where: c}, target.kpi, rows[k]["n"]), target, 0.95)["verdict"] == verdict
    assert (results / "toy-plan" / "plan.json").is_file()


def test_hiring_and_leaving_limits_bind(tmp_path: Path) -> None:
    steps = {"2025-04-01": 2.0, "2025-07-01": 0.5}  # 3/h, 6/h, 3/h
    need = [least_servers(r, LIMIT) for r in rates(steps)]
    assert need[1] - need[0] > 2 and need[1] - need[2] > 1
    path = toy(tmp_path, steps)
    out = plan_file(path, [parse_target(TARGET)], ["servers"], "quarter", results=tmp_path / "results", n0=3,
                    cap=12, max_hires=["servers=2"], max_leavers=["1"])
    v = out["variants"]["base"]
    first, second, third = v["periods"]
    assert first["headcount"] == {"servers": need[0]} and first["status"] == "optimum"
    assert second["headcount"] == {"servers": need[0] + 2} and second["status"] == MISSED
    assert second["verdict"] == FAIL and any(j["verdict"] == FAIL for j in second["targets"])
    assert second["bounds"]["servers"]["max"] == need[0] + 2
    # from need[0] + 2, at most one leaves: the least the box allows passes (the need is lower still)
    assert third["headcount"] == {"servers": need[0] + 1} and third["status"] == "optimum"
    assert third["bounds"]["servers"]["min"] == need[0] + 1
    assert v["periods_missed"] == ["2025-Q2"] and not v["met"]
    text = (tmp_path / "results" / "toy-plan" / "plan.yaml").read_text(encoding="utf-8")
    assert "missed within the hiring limit: 2025-Q2" in text


def test_headcount_before_binds_the_first_period(tmp_path: Path) -> None:
    path = toy(tmp_path, {}, horizon="90d")
    out = plan_file(path, [parse_target(TARGET)], ["servers"], "quarter", results=tmp_path / "results", n0=3,
                    cap=6, max_hires=["servers=1"], headcount_before=["servers=2"])
    row = out["variants"]["base"]["periods"][0]
    assert row["headcount"] == {"servers": 3} and row["status"] == MISSED


def test_schedule_block_validates_in_the_config_and_reproduces_the_verdicts(tmp_path: Path) -> None:
    steps = {"2025-04-01": 2.0}
    path = toy(tmp_path, steps, horizon="181d")
    results = tmp_path / "results"
    out = plan_file(path, [parse_target(TARGET)], ["servers"], "quarter", results=results, n0=3, cap=12,
                    command="routing-sim optimise toy.yaml --per quarter")
    v = out["variants"]["base"]
    text = (results / "toy-plan" / "plan.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Staffing plan of toy-plan per quarter") and "command: routing-sim optimise" in text
    planned = tmp_path / "planned.yaml"
    planned.write_text(f"extends: toy.yaml\n{text}", encoding="utf-8")
    cfg = load_config(planned)
    assert cfg.pools["servers"].headcount == v["plan"][0]["servers"]
    assert [(c.start, c.headcount) for c in cfg.pools["servers"].schedule] == [(dt.date(2025, 4, 1),
                                                                               v["plan"][1]["servers"])]
    data, _ = load_data(planned)
    target = parse_target(TARGET)
    for span, row in zip(periods(cfg.time.start, 181 * 24.0, "quarter"), v["periods"], strict=True):
        cut = copy.deepcopy(data)
        cut["time"]["horizon"] = f"{int(span.end_h // 24)}d"
        ev = Evaluator(cut, out["seed"], Serial(), None, span.start_h)
        again = ev.values({}, target.kpi, row["n"])
        assert judge(again, target, v["periods"][0]["targets"][0]["level"]) == row["targets"][0]
        assert sum(again) / len(again) == row["kpis"][target.kpi]["mean"]


def test_plan_on_the_eu_config_with_a_split_pool(tmp_path: Path) -> None:
    """Ten days either side of new year on the EU baseline (national authorities split by member state):
    the reviewers' plan runs; naming the split pool, or a copy of it, is one line, exit 2."""
    path = CONFIGS / "eu-centre-2019.yaml"
    sets = {"time.start": "2019-12-22", "time.horizon": "20d"}
    out = plan_file(path, [parse_target("pools.reviewers.utilisation <= 0.95")], ["reviewers"], "year",
                    results=tmp_path / "results", overrides=sets, n0=2, cap=2, min_headcount=["39"],
                    max_headcount=["39"])
    rows = out["variants"]["base"]["periods"]
    assert [r["period"] for r in rows] == ["2019", "2020"] and all(r["headcount"] == {"reviewers": 39} for r in rows)
    assert "national_authorities" not in out["variants"]["base"]["schedule"]
    for pool in ("national_authorities", "national_authorities_de"):
        with pytest.raises(ConfigError, match="split by 'member_state'; leave it out of --pools"):
            plan_file(path, [parse_target("pools.reviewers.utilisation <= 0.95")], [pool], "year",
                      results=tmp_path / "results", overrides=sets)


@pytest.mark.parametrize("args,words", [
    (["--max-hires", "3"], "--max-hires: only with --per year or --per quarter"),
    (["--per", "month"], "--per: year or quarter (got 'month')"),
    (["--per", "year", "--max-hires", "servers=x"], "--max-hires 'servers=x': write N or POOL=N"),
    (["--per", "year", "--max-leavers", "clerks=1"], "no pool 'clerks' chosen"),
])
def test_bad_plan_options_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    path = toy(tmp_path, {}, horizon="30d")
    result = CliRunner().invoke(app, ["optimise", str(path), "--pools", "servers", "--target", TARGET,
                                      "--out", str(tmp_path / "results"), *args])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
