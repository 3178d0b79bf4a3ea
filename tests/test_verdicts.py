"""Targets in the config and their verdicts: met, missed, or uncertain when the interval
straddles the target; the same in the terminal, in compare and in the report."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from routing_sim.verdicts import MET, MISSED, UNCERTAIN, Target, target_of


@pytest.mark.parametrize(("mean", "low", "high", "expected"), [
    (0.96, math.nan, math.nan, MET), (0.94, math.nan, math.nan, MISSED), (0.95, math.nan, math.nan, MET),
    (0.97, 0.955, 0.99, MET), (0.96, 0.94, 0.98, UNCERTAIN), (0.90, 0.85, 0.94, MISSED)])
def test_a_share_target_is_met_only_when_the_whole_interval_reaches_it(mean, low, high, expected):
    assert Target(0.95, at_least=True).verdict(mean, low, high) == expected


@pytest.mark.parametrize(("mean", "low", "high", "expected"), [
    (0.80, math.nan, math.nan, MET), (0.90, math.nan, math.nan, MISSED),
    (0.80, 0.75, 0.84, MET), (0.84, 0.80, 0.88, UNCERTAIN), (0.90, 0.86, 0.93, MISSED)])
def test_a_utilisation_ceiling_is_met_only_when_the_whole_interval_stays_under_it(mean, low, high, expected):
    assert Target(0.85, at_least=False).verdict(mean, low, high) == expected


def test_targets_are_read_beside_the_kpis_they_judge():
    flat = {"deadlines.d.share_within": 0.9, "deadlines.d.target_share": 0.95, "pools.p.utilisation": 0.7,
            "pools.p.max_utilisation": 0.85, "pools.q.utilisation": 0.5}
    assert target_of("deadlines.d.share_within", flat) == Target(0.95, True)
    assert target_of("pools.p.utilisation", flat) == Target(0.85, False)
    assert target_of("pools.q.utilisation", flat) is None  # no ceiling set
    assert target_of("deadlines.d.p90_h", flat) is None
    assert Target(0.95, True).verdict(math.nan) is None


def _config(base_config, write_yaml, share: float, ceiling: float):
    base_config["deadlines"]["handover_within_4h"]["share"] = share
    base_config["deadlines"]["handover_within_4h"]["within"] = "70min"  # the handover alone takes 1 h
    base_config["pools"]["clerks"]["max_utilisation"] = ceiling
    return write_yaml(base_config)


@pytest.mark.slow
def test_the_terminal_compare_and_report_judge_the_targets(base_config, write_yaml, tmp_path):
    path = _config(base_config, write_yaml, share=0.999, ceiling=0.99)
    env = {"COLUMNS": "150", "PATH": ""}
    done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "run", str(path), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("handover within 4h" in line and ">= 99.9 %: missed" in line for line in lines), done.stdout
    assert any("utilisation of clerks" in line and "<= 99 %: met" in line for line in lines), done.stdout
    compared = subprocess.run([sys.executable, "-m", "routing_sim.cli", "compare", str(tmp_path / "r"), "--kpi",
                               "deadlines.handover_within_4h.share_within"], capture_output=True, text=True, env=env)
    assert compared.returncode == 0, compared.stderr
    assert ">= 99.9 %: missed" in compared.stdout
    reported = subprocess.run([sys.executable, "-m", "routing_sim.cli", "report", str(tmp_path / "r")],
                              capture_output=True, text=True, env=env)
    assert reported.returncode == 0, reported.stderr
    html = next((tmp_path / "r").rglob("report.html")).read_text(encoding="utf-8")
    assert '<span class="verdict missed">missed</span>' in html and '<span class="verdict met">met</span>' in html


def test_a_target_share_outside_0_to_1_is_a_config_error(base_config, write_yaml):
    path = _config(base_config, write_yaml, share=95, ceiling=0.9)
    done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "validate", str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "share" in done.stderr and len(done.stderr.strip().splitlines()) == 1
