"""`routing-sim compare` on plain run folders: configs side by side, differences paired where the
runs share seeds and of two means (Welch) where they do not, with the reason stated."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from routing_sim.experiments.runsummary import summarise_runs, welch

ROOT = Path(__file__).resolve().parents[1]


def test_paired_over_shared_seeds_and_welch_without_them():
    base = {(1, 0): {"x": 10.0}, (2, 0): {"x": 12.0}, (3, 0): {"x": 11.0}}
    same = {(1, 0): {"x": 11.0}, (2, 0): {"x": 13.5}, (3, 0): {"x": 11.5}}
    other = {(7, 0): {"x": 11.0}, (8, 0): {"x": 14.0}}
    s = summarise_runs({"base": base, "same": same, "other": other}, "base")
    d = s["variants"]["same"]["vs_baseline"]["x"]
    assert s["variants"]["same"]["paired"] and d["n"] == 3
    assert d["mean"] == pytest.approx(1.0)  # mean of 1.0, 1.5, 0.5
    assert d["low"] < 1.0 < d["high"]
    assert s["variants"]["other"]["paired"] is False
    w = s["variants"]["other"]["vs_baseline"]["x"]
    assert w["mean"] == pytest.approx(12.5 - 11.0)
    assert w == welch([11.0, 14.0], [10.0, 12.0, 11.0])
    assert s["variants"]["base"]["vs_baseline"] is None


def test_welch_interval_by_hand():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    va, vb = (5 / 3) / 4, 4.0 / 3  # sample variances over n
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    w = welch(a, b)
    assert w["mean"] == pytest.approx(2.5 - 4.0)
    from routing_sim.stats import t_quantile

    assert w["half_width"] == pytest.approx(t_quantile(0.975, df) * math.sqrt(va + vb))
    assert math.isnan(welch([1.0], [2.0, 3.0])["low"])  # one run a side: no interval


def _run(tmp_path: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "run", str(ROOT / "configs/textbook/mm1.yaml"),
                           "-q", "--horizon", "5d", "--out", str(tmp_path), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "routing_sim.cli", "compare", *args], capture_output=True, text=True,
                          env={"COLUMNS": "120", "PATH": ""})


@pytest.mark.slow
def test_compare_takes_two_run_folders_and_pairs_them_by_seed(tmp_path):
    _run(tmp_path)
    _run(tmp_path, "--set", "name=two_servers", "--set", "pools.server.headcount=2")
    done = _compare(str(tmp_path / "mm1"), str(tmp_path / "two_servers"), "--kpi", "stages.service.wait.mean_h")
    assert done.returncode == 0, done.stderr
    assert "two_servers" in done.stdout and "baseline" in done.stdout
    assert "differences paired with the baseline run for run" in done.stdout
    # the same folder holding both runs gives the same comparison
    assert _compare(str(tmp_path), "--kpi", "stages.service.wait.mean_h").stdout == done.stdout


@pytest.mark.slow
def test_runs_with_other_seeds_are_compared_unpaired_with_the_reason(tmp_path):
    _run(tmp_path)
    _run(tmp_path, "--seed", "99", "--set", "name=two_servers", "--set", "pools.server.headcount=2")
    done = _compare(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "NOT paired" in done.stdout and "same --seed" in done.stdout


def test_compare_of_a_folder_without_runs_is_one_line_and_exit_2(tmp_path):
    done = _compare(str(tmp_path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    bad = _compare(str(tmp_path), str(tmp_path / "missing"))
    assert bad.returncode == 2 and "missing" in bad.stderr


def test_the_binding_pool_is_named_and_a_move_of_the_bottleneck_flagged():
    from routing_sim.experiments.summary import bottlenecks

    def util(**pools):
        return {f"pools.{p}.utilisation": {"mean": u} for p, u in pools.items()}

    summary = {"baseline": "a", "variants": {"a": {"kpis": util(review=0.8, police=0.7)},
                                             "b": {"kpis": util(review=0.6, police=0.99)}}}
    assert bottlenecks(summary) == ["binding pool in a: review (80.0 % utilised)",
                                    "binding pool in b: police (99.0 % utilised): the bottleneck moves from review"]


def test_at_80_columns_the_comparison_is_stacked_with_every_name_whole():
    from rich.console import Console

    from routing_sim.experiments.summary import stacked

    name = "volume_2019 headcount=31 with a long name"
    summary = {"baseline": name, "variants": {
        name: {"kpis": {"deadlines.d.share_within": {"n": 3, "mean": 0.934, "low": 0.93, "high": 0.94,
                                                     "target": ">= 95 %", "verdict": "missed"}},
               "vs_baseline": None},
        "other": {"kpis": {"deadlines.d.share_within": {"n": 3, "mean": 0.96, "low": 0.955, "high": 0.965}},
                  "vs_baseline": {"deadlines.d.share_within": {"n": 3, "mean": 0.026, "low": 0.02, "high": 0.03}}}}}
    console = Console(width=80, record=True, color_system=None)
    for line in stacked(summary, ["deadlines.d.share_within"]):
        console.print(line, soft_wrap=True)
    text = console.export_text()
    assert f"  {name}: 93.4 % [93.0, 94.0]; baseline; >= 95 %: missed" in text
    assert "  other: 96.0 % [95.5, 96.5]; difference +2.6 pp [+2.0, +3.0] *" in text


def test_a_deadline_row_equal_to_an_earlier_one_in_every_config_is_shown_once():
    """forwarded_by_priority (24 h, a breakdown of forwarded_within_24h) repeats its whole row; the
    48 h deadline's share differs, its p90 does not: only the differing row stays."""
    from routing_sim.experiments.runsummary import default_kpis

    def stat(mean: float, verdict: str | None = None) -> dict:
        return {"n": 1, "mean": mean, "low": math.nan, "high": math.nan, **({"verdict": verdict} if verdict else {})}

    def kpis(shift: float) -> dict:
        return {"deadlines.d24.share_within": stat(0.9 + shift, "met"), "deadlines.d24.p90_h": stat(3.0 + shift),
                "deadlines.d48.share_within": stat(0.95 + shift), "deadlines.d48.p90_h": stat(3.0 + shift),
                "deadlines.by_priority.share_within": stat(0.9 + shift), "deadlines.by_priority.p90_h": stat(3.0 + shift),
                "pools.p.utilisation": stat(0.5), "pools.q.utilisation": stat(0.5)}

    summary = {"variants": {"a": {"kpis": kpis(0.0)}, "b": {"kpis": kpis(0.01)}}}
    assert default_kpis(summary) == ["deadlines.d24.share_within", "deadlines.d24.p90_h", "deadlines.d48.share_within",
                                     "pools.p.utilisation", "pools.q.utilisation"]
