"""Statistics of the experiment layer, checked against cases whose answer is known.

- The 95 % t-intervals of the summary cover a mean known exactly (an M/M/inf delay stage) about
  95 % of the time, and so do the paired intervals of a known difference.
- Under common random numbers, paired differences vary much less than differences of
  independently seeded runs.
- The replications algorithm (Hoad, Robinson and Davies 2010) stops once the precision holds
  through its look-ahead, reports that precision, and reports failure at its cap.
- MSER-5 finds a known initial transient; warm-up KPIs are consistent with the whole-run ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from routing_sim import logs
from routing_sim.api import simulate_config
from routing_sim.experiments.runner import run_experiment
from routing_sim.experiments.stats import interval, lookahead, paired, replications_algorithm
from routing_sim.experiments.store import Store
from routing_sim.experiments.summary import variant_values
from routing_sim.experiments.warmup import choose_warmup, kpis_after, mser5, pool_hours
from routing_sim.loader import validate_data

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "configs" / "textbook" / "mmc.yaml"

# A pure delay (M/M/inf): Poisson arrivals at rate lam, exponential stays of mean 1 h, empty at 0.
# The time-average number inside over [0, H] has expectation lam * (H - 1 + exp(-H)) / H exactly.
DELAY = {
    "name": "delay",
    "seed": 1,
    "time": {"start": "2024-01-01", "horizon": "24h", "timeseries_step": "1h"},
    "kinds": {"job": {}},
    "sources": {"arrivals": {"kind": "job", "rate": "2/h", "to": "delay"}},
    "stages": {"delay": {"service": {"dist": "exponential", "mean": "1h"}, "next": [{"to": "done"}]}},
    "outcomes": {"done": "left"},
}


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


def mean_inside(rate_per_h: float, horizon_h: float = 24.0) -> float:
    return rate_per_h * (horizon_h - 1 + math.exp(-horizon_h)) / horizon_h


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def values(folder: Path, kpi: str) -> dict[str, list[float]]:
    store = Store(folder)
    plan = store.read_plan()
    return {v["name"]: [rec["kpis"][kpi] for _, rec in sorted(variant_values(store, plan, v).items())]
            for v in plan["variants"]}


@pytest.mark.slow
def test_intervals_cover_a_known_mean_and_a_known_difference(tmp_path):
    """300 replications of two arrival rates, cut into 60 experiments of 5: each 95 % interval
    (mean, and paired difference) should cover the exact value about 57 times in 60."""
    write(tmp_path / "delay.yaml", DELAY)
    exp = write(tmp_path / "exp.yaml", {
        "name": "coverage", "base": "delay.yaml", "seed": 5, "replications": 300,
        "variants": {"a": {}, "b": {"sources.arrivals.rate": "3/h"}}, "report": ["stages.delay.mean_inside"]})
    summary = run_experiment(exp, tmp_path / "results")
    assert summary["tasks"]["ok"] == 600
    got = values(tmp_path / "results" / "coverage", "stages.delay.mean_inside")
    truth = {"a": mean_inside(2.0), "b": mean_inside(3.0)}
    diffs = [b - a for a, b in zip(got["a"], got["b"], strict=True)]
    checks = [(got["a"], truth["a"]), (got["b"], truth["b"]), (diffs, truth["b"] - truth["a"])]
    covered = total = 0
    for series, exact in checks:
        for start in range(0, 300, 5):
            ci = interval(series[start:start + 5])
            covered += ci["low"] <= exact <= ci["high"]
            total += 1
    assert 0.89 <= covered / total <= 0.99, f"coverage {covered}/{total}"
    # and the summary's own interval over all 300 covers the truth
    for name in "ab":
        s = summary["variants"][name]["kpis"]["stages.delay.mean_inside"]
        assert s["n"] == 300 and s["low"] <= truth[name] <= s["high"]
    d = summary["variants"]["b"]["vs_baseline"]["stages.delay.mean_inside"]
    assert d["low"] <= truth["b"] - truth["a"] <= d["high"]


def test_common_random_numbers_make_paired_differences_less_variable(tmp_path):
    """The M/M/c config against a variant with 10 % faster service: the same replications paired
    (same streams) against the faster variant run with another root seed (independent streams)."""
    base = {"base": str(MMC), "replications": 12, "overrides": {"time.horizon": "4d"},
            "variants": {"three": {}, "four": {"stages.service.service.mean": "45min"}},
            "report": ["stages.service.wait.mean_h"]}
    crn = run_experiment(write(tmp_path / "crn.yaml", {"name": "crn", "seed": 1, **base}), tmp_path / "r")
    other = run_experiment(write(tmp_path / "ind.yaml", {"name": "ind", "seed": 999, **base}), tmp_path / "r")
    kpi = "stages.service.wait.mean_h"
    same = values(tmp_path / "r" / "crn", kpi)
    indep = values(tmp_path / "r" / "ind", kpi)
    paired_diffs = np.subtract(same["four"], same["three"])
    unpaired_diffs = np.subtract(indep["four"], same["three"])
    assert np.var(paired_diffs, ddof=1) < 0.5 * np.var(unpaired_diffs, ddof=1)
    assert np.var(paired_diffs, ddof=1) < 0.5 * (np.var(same["four"], ddof=1) + np.var(same["three"], ddof=1))
    # the summary's paired interval is the narrower one, and both agree on the sign
    d = crn["variants"]["four"]["vs_baseline"][kpi]
    unpaired = interval(list(unpaired_diffs))
    assert d["half_width"] < unpaired["half_width"] and d["high"] < 0
    assert other["variants"]["four"]["vs_baseline"][kpi]["n"] == 12


def test_paired_uses_only_common_replications():
    d = paired({0: 2.0, 1: 3.0, 2: 5.0}, {0: 1.0, 1: 1.0, 3: 9.0})
    assert d["n"] == 2 and d["mean"] == 1.5


def test_replications_algorithm_on_known_sequences():
    flat = [10.0] * 20
    result = replications_algorithm(flat[:7], target=0.05, n_min=3, k_limit=5)
    assert not result.done and result.n_solution == 3 and result.needed == 8
    result = replications_algorithm(flat[:8], target=0.05, n_min=3, k_limit=5)
    assert result.done and result.n_solution == 3 and result.precision == 0.0
    # an outlier inside the look-ahead resets the solution
    noisy = [10.0, 10.1, 9.9, 10.0, 30.0] + [10.0] * 100
    result = replications_algorithm(noisy, target=0.05, n_min=3, k_limit=5)
    assert result.done and 5 < result.n_solution < 100 and result.precision <= 0.05
    assert replications_algorithm(noisy[:20], target=0.05, n_min=3, k_limit=5).needed > 20
    assert lookahead(50, 5) == 5 and lookahead(400, 5) == 20


def test_replications_algorithm_stops_and_reports_precision(tmp_path):
    write(tmp_path / "delay.yaml", DELAY)
    kpi = "stages.delay.mean_inside"
    spec = {"name": "until", "base": "delay.yaml", "seed": 3, "report": [kpi],
            "replications": {"min": 3, "max": 200, "precision": 0.08, "kpis": [kpi], "lookahead": 4}}
    summary = run_experiment(write(tmp_path / "until.yaml", spec), tmp_path / "results")
    reps = summary["replications"]
    assert reps["done"] and not reps["capped"]
    n_sol = reps["n_solution"]
    assert 3 <= n_sol <= reps["n"] <= 200
    # what was reported holds: from n_solution through its look-ahead the CI is within 8 % of the mean
    series = values(tmp_path / "results" / "until", kpi)["base"]

    def precision(m: int) -> float:
        ci = interval(series[:m])
        return ci["half_width"] / abs(ci["mean"])

    assert all(precision(m) <= 0.08 for m in range(n_sol, n_sol + 5))
    assert n_sol == 3 or precision(n_sol - 1) > 0.08
    assert reps["sequences"]["base"][kpi]["precision"] <= 0.08
    assert len(series) == reps["n"] == summary["variants"]["base"]["kpis"][kpi]["n"]

    spec.update(name="capped", replications={"min": 3, "max": 6, "precision": 1e-6, "kpis": [kpi]})
    capped = run_experiment(write(tmp_path / "capped.yaml", spec), tmp_path / "results")
    assert capped["replications"]["capped"] and not capped["replications"]["done"]
    assert capped["replications"]["n"] == 6 and capped["replications"]["sequences"]["base"][kpi]["precision"] > 1e-6


def test_mser5_finds_a_known_transient():
    rng = np.random.default_rng(7)
    transient = 20.0 * np.exp(-np.arange(60) / 12.0)
    series = np.concatenate([transient, np.zeros(440)]) + rng.normal(0, 1, 500)
    cut = mser5(series)
    assert 25 <= cut.windows <= 80 and not cut.flagged
    assert mser5(rng.normal(0, 1, 500)).windows <= 100
    trend = mser5(np.arange(500, dtype=float))  # no steady state: the minimum sits in the second half
    assert trend.flagged
    choice = choose_warmup({"v": [list(series)]}, every_h=6.0, horizon_h=3000.0)
    assert choice["hours"] % 24 == 0 and choice["hours"] >= cut.windows * 6.0


def test_kpis_after_warm_up_are_consistent():
    cfg = validate_data({**DELAY, "pools": {}, "time": {**DELAY["time"], "horizon": "5d"}})
    mmc = simulate_config(MMC, seed=4)
    for i, pool in enumerate(mmc.summary.pools):  # exact integration of busy and on-duty hours
        busy, on_duty = pool_hours(mmc, i, 0.0)
        assert busy == pytest.approx(pool.busy_hours, rel=1e-9)
        assert on_duty == pytest.approx(pool.on_duty_hours, rel=1e-9)
    result = simulate_config(cfg, seed=2)
    after = kpis_after(result, 48.0)
    created = result.entities.column("created").to_numpy()
    assert after["run"]["horizon_h"] == 72.0
    assert after["run"]["entities"] == int((created >= 48.0).sum())
    assert after["conservation"]["job"]["balanced"]
    assert after["stages"]["delay"]["mean_inside"] == pytest.approx(2.0, rel=0.25)  # steady state: lam * E[S]
    assert kpis_after(result, 0.0) is result.kpis
