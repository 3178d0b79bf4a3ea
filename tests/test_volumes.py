"""Volumes that move: time-varying arrivals, shocks, steps, batches, duplicates,
staffing schedules, and config layering."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from routing_sim.api import simulate_config
from routing_sim.cli import app
from routing_sim.engine.arrivals import hourly_intensity
from routing_sim.errors import ConfigError
from routing_sim.loader import load_config, validate_data


def two_sources(base: dict) -> dict:
    cfg = copy.deepcopy(base)
    cfg["time"] = {"start": "2024-01-01", "horizon": "28d", "timeseries_step": "1d"}
    cfg["pools"]["clerks"]["headcount"] = 50
    inbox = cfg["sources"]["inbox"]
    cfg["sources"] = {
        "big": {**inbox, "rate": "20/h", "growth_per_year": 2.0,
                "weekly": {"mon": 2, "tue": 2, "wed": 2, "thu": 2, "fri": 2, "sat": 1, "sun": 1},
                "daily": [0.5] * 8 + [2.0] * 10 + [0.5] * 6},
        "small": {**inbox, "rate": "4/h"},
    }
    return cfg


def arrivals(result, source: str) -> np.ndarray:
    ents = result.entities
    index = result.codes.sources.index(source)
    mask = ents.column("source").to_numpy() == index
    return np.sort(ents.column("created").to_numpy()[mask])


def test_realised_counts_match_the_integral_of_the_intensity(base_config):
    cfg = validate_data(two_sources(base_config))
    intensity = hourly_intensity(cfg, "big", 28 * 24)
    expected = intensity.sum()
    hours = np.arange(28 * 24)
    day_share = intensity[(hours % 24 >= 8) & (hours % 24 < 18)].sum() / expected
    totals = []
    for seed in range(5):
        times = arrivals(simulate_config(cfg, seed=seed), "big")
        assert abs(times.size - expected) < 4 * math.sqrt(expected), (times.size, expected)
        totals.append(times.size)
        in_day = ((times % 24 >= 8) & (times % 24 < 18)).mean()
        assert in_day == pytest.approx(day_share, abs=0.03)
    assert abs(np.mean(totals) - expected) < 3 * math.sqrt(expected / 5)
    # the profile really moves: weekday daytime hours carry four times the night rate, growth lifts the end
    assert intensity[24 * 2 + 12] / intensity[24 * 2 + 3] == pytest.approx(4.0, rel=0.01)


def test_a_shock_window_shows_its_multiplier(base_config):
    data = two_sources(base_config)
    data["sources"]["big"].pop("weekly"), data["sources"]["big"].pop("daily"), data["sources"]["big"].pop("growth_per_year")
    data["shocks"] = {"surge": {"from": "2024-01-10", "to": "2024-01-16", "multiplier": 4, "sources": ["big"]}}
    cfg = validate_data(data)
    times = arrivals(simulate_config(cfg, seed=3), "big")
    daily = np.bincount((times // 24).astype(int), minlength=28)
    inside, outside = daily[9:16].mean(), np.r_[daily[:9], daily[16:]].mean()
    assert inside / outside == pytest.approx(4.0, rel=0.08)
    assert daily[8] < 1.5 * outside and daily[16] < 1.5 * outside  # the window ends where it says


def test_a_step_changes_only_the_named_stream(base_config):
    data = two_sources(base_config)
    before = simulate_config(validate_data(data), seed=5)
    data["steps"] = {"encryption": {"from": "2024-01-08", "multiplier": 0.33, "sources": ["big"]}}
    after = simulate_config(validate_data(data), seed=5)
    assert np.array_equal(arrivals(before, "small"), arrivals(after, "small"))
    big_before, big_after = arrivals(before, "big"), arrivals(after, "big")
    assert np.array_equal(big_before[big_before < 7 * 24], big_after[big_after < 7 * 24])
    late_ratio = (big_after >= 7 * 24).sum() / (big_before >= 7 * 24).sum()
    assert late_ratio == pytest.approx(0.33, rel=0.1)


def test_batches_and_duplicates_preserve_conservation(base_config):
    data = copy.deepcopy(base_config)
    data["time"]["horizon"] = "5d"
    data["pools"]["clerks"]["headcount"] = 20
    data["sources"]["inbox"]["duplicates"] = {"dist": "table", "values": [1, 2, 3], "weights": [0.6, 0.3, 0.1]}
    data["sources"]["inbox"]["batches"] = {"rate": "1/d", "size": {"dist": "poisson", "mean": 40, "offset": 1}}
    data["sources"]["inbox"]["counts"] = {"files": {"dist": "geometric", "mean": 4.1}}
    result = simulate_config(validate_data(data), seed=2)
    kpis = result.kpis
    assert kpis["conservation"]["case"]["balanced"]
    volumes = kpis["volumes"]["inbox"]
    assert volumes["entities"] == result.summary.arrived_by_source["inbox"] == result.entities.num_rows
    ents = result.entities.to_pydict()
    groups: dict[int, list[int]] = {}
    for g, u in zip(ents["group"], ents["attr.urgency"], strict=True):
        groups.setdefault(g, []).append(u)
    assert volumes["incidents"] == len(groups) < volumes["entities"]
    # duplicates of one incident share their attributes; batch members are separate incidents
    assert all(len(set(members)) == 1 for members in groups.values() if len(members) <= 3)
    assert max(len(m) for m in groups.values()) <= 3
    assert volumes["files"] == sum(ents["count.files"]) and min(ents["count.files"]) >= 1
    assert volumes["files"] / volumes["entities"] == pytest.approx(4.1, rel=0.15)
    created = np.array(ents["created"])
    assert (np.bincount(np.unique(created, return_counts=True)[1]) [20:]).sum() >= 1, "a batch arrives at one instant"


def test_headcount_schedule_absence_and_exposure_cap(base_config):
    data = copy.deepcopy(base_config)
    data["time"]["horizon"] = "10d"
    data["pools"]["clerks"].update(headcount=2, schedule=[{"from": "2024-01-04", "headcount": 10}], absence=0.2,
                                   exposure_cap={"hours_per_day": "12h"})
    result = simulate_config(validate_data(data))
    # always on duty: 2 x 0.8 x 0.5 = 0.8 -> 1 person; from day 3: 10 x 0.8 x 0.5 = 4 people
    assert result.calendars[0] == [(0.0, 1), (72.0, 4)]
    pools = result.kpis["pools"]["clerks"]
    assert pools["fte_years"] == pytest.approx((2 * 72 + 10 * 168) / 8760)
    assert pools["staff_cost"] == pytest.approx(pools["fte_years"] * 50000)


def _write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_layering_merges_and_errors_name_the_file_that_set_the_value(base_config, tmp_path):
    parent = _write(tmp_path / "parent.yaml", base_config)
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: child\npools:\n  clerks:\n    headcount: 5\n", encoding="utf-8")
    cfg = load_config(child)
    assert cfg.name == "child" and cfg.pools["clerks"].headcount == 5
    assert cfg.pools["clerks"].calendar.type == "always"  # kept from the parent

    child.write_text("extends: parent.yaml\npools:\n  clerks:\n    headcount: -4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    assert str(info.value) == f"{child}:4: pools.clerks.headcount: must be >= 0 (got -4)"

    bad_parent = copy.deepcopy(base_config)
    bad_parent["stages"]["handover"]["next"] = [{"to": "nowhere"}]
    _write(parent, bad_parent)
    child.write_text("extends: parent.yaml\nname: child\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    assert str(info.value).startswith(f"{parent}:")
    assert "stages.handover.next.0.to" in str(info.value)


def test_layering_refuses_cycles_and_missing_parents(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\n", encoding="utf-8")
    b.write_text("extends: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="circular"):
        load_config(a)
    a.write_text("extends: missing.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a.yaml:1: extends: no such file"):
        load_config(a)


def test_validate_show_prints_the_resolved_config(base_config, tmp_path):
    _write(tmp_path / "parent.yaml", base_config)
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: child\nseed: 99\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--show", str(child)])
    assert result.exit_code == 0
    shown = yaml.safe_load(result.stdout)
    assert shown["name"] == "child" and shown["seed"] == 99 and "extends" not in shown
    assert shown["pools"]["clerks"]["headcount"] == 2
