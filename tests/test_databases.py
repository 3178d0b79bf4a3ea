"""Databases that grow from confirmations (the indicator loop): the size changes only by
published additions and stated removals, additions are published after their delay, the share
they drive follows the size, and both executors agree whatever the period length."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from routing_sim.api import simulate_config
from routing_sim.engine import build as build_module
from routing_sim.loader import validate_data

DB = {
    "name": "indicator-loop",
    "seed": 11,
    "time": {"start": "2024-01-01", "horizon": "120d", "timeseries_step": "1d"},
    "attributes": {"report_type": ["known", "new"], "decision": ["forward", "unfounded"]},
    "kinds": {"report": {"attributes": {"report_type": {"p": {"known": 0.5, "new": 0.5}},
                                        "decision": {"decided": True}}}},
    "sources": {
        "provider": {"kind": "report", "rate": "40/day", "to": "matching",
                     "counts": {"files": {"dist": "geometric", "mean": 3}}},
        "public": {"kind": "report", "rate": "5/day", "to": "matching",
                   "counts": {"files": {"dist": "constant", "value": 1}}},
    },
    "pools": {"reviewers": {"headcount": 2, "calendar": {"type": "always"}}},
    "stages": {
        "matching": {"service": {"dist": "fixed", "value": "1min"},
                     "next": [{"when": {"report_type": "known"}, "to": "known_match"}, {"to": "review"}]},
        "review": {"pool": "reviewers", "service": {"dist": "exponential", "mean": "20min"},
                   "decide": [{"set": "decision", "cases": [{"p": {"forward": 0.8, "unfounded": 0.2}}]}],
                   "next": [{"to": "done"}]},
    },
    "outcomes": {"done": "reviewed", "known_match": "matched known material"},
    "databases": {
        "indicators": {
            "initial": 1000,
            "added_by": [{"stage": "review", "when": {"report_type": "new", "decision": "forward"},
                          "items": "files"}],
            "publish_every": "7d",
            "delay": "3d",
            "removed_per_year": 0.1,
            "drives": {"attribute": "report_type", "value": "known", "sources": ["provider"],
                       "ceiling": 0.9, "halving_items": 2000},
        }
    },
}


def config(**changes):
    data = {**DB, **changes}
    return validate_data(data, "indicator-loop.yaml")


def reviewed_additions(run) -> tuple[np.ndarray, np.ndarray]:
    """End times and file counts of the review visits that add indicators, from the tables."""
    v = run.visits
    stage = run.codes.stages.index("review")
    e = run.entities
    ids = e.column("entity").to_numpy()
    files = e.column("count.files").to_numpy()
    rtype = e.column("attr.report_type").to_numpy()
    decision = e.column("attr.decision").to_numpy()
    new, forward = run.codes.value("report_type", "new"), run.codes.value("decision", "forward")
    adds = ids[(rtype == new) & (decision == forward)]
    sel = (v.column("stage").to_numpy() == stage) & np.isin(v.column("entity").to_numpy(), adds) \
        & np.isfinite(v.column("end").to_numpy())
    ends = v.column("end").to_numpy()[sel]
    lookup = dict(zip(ids.tolist(), files.tolist(), strict=True))
    return ends, np.array([lookup[i] for i in v.column("entity").to_numpy()[sel].tolist()], dtype=np.int64)


def test_the_size_changes_only_by_published_additions_and_stated_removals():
    run = simulate_config(config())
    ends, files = reviewed_additions(run)
    assert files.sum() > 500  # the loop is exercised
    db = run.summary.databases[0]
    every, delay = 7 * 24.0, 3 * 24.0
    size = 1000
    removal = 0.1 * every / 8760
    t = run.timeseries.column("t").to_numpy()
    series = run.timeseries.column("database.indicators").to_numpy()
    k = 1
    expected_added = 0
    while k * every <= run.summary.horizon:
        p = k * every
        added = int(files[(ends + delay <= p) & (ends + delay > p - every)].sum())
        removed = int(round(size * removal))
        size = size - removed + added
        expected_added += added
        at = (t >= p) & (t < p + every)
        assert np.all(series[at] == size), f"publication {k}"
        k += 1
    assert np.all(series[t < every] == 1000)
    assert db.final == size and db.added == expected_added
    assert db.pending == files.sum() - expected_added  # confirmed, not yet published at the horizon


def test_the_driven_share_follows_the_size_and_the_other_sources_keep_theirs():
    run = simulate_config(config())
    share = run.timeseries.column("share.indicators").to_numpy()
    size = run.timeseries.column("database.indicators").to_numpy()
    expected = 0.9 - (0.9 - 0.5) * np.exp2(-(size - 1000) / 2000)
    assert np.allclose(share, expected)
    assert share[-1] > 0.7 > 0.5 == share[0]
    e = run.entities
    known = run.codes.value("report_type", "known")
    created = e.column("created").to_numpy()
    rtype = e.column("attr.report_type").to_numpy()
    provider = e.column("source").to_numpy() == run.codes.sources.index("provider")
    late = created > 90 * 24
    assert abs((rtype[provider & late] == known).mean() - share[-1]) < 0.05  # observed vs driven, ~1,200 reports
    public = ~provider
    assert abs((rtype[public] == known).mean() - 0.5) < 0.08  # not driven: 50 % throughout
    kpis = run.kpis["databases"]["indicators"]
    assert kpis["share_start"] == 0.5 and kpis["share_end"] == pytest.approx(share[-1], abs=0.02)


def test_without_growth_the_draws_are_those_of_the_plain_config():
    """With additions that never happen the share stays at its configured value and every
    attribute drawn is the plain config's (the driven value is listed first)."""
    plain = {k: v for k, v in DB.items() if k != "databases"}
    frozen = dict(DB["databases"]["indicators"])
    frozen["added_by"] = [{"stage": "review", "when": {"report_type": "known"}}]  # known never reaches review
    frozen["removed_per_year"] = 0.0
    a = simulate_config(validate_data(plain, "plain.yaml"))
    b = simulate_config(config(databases={"indicators": frozen}))
    assert a.entities.equals(b.entities.select(a.entities.column_names))


@pytest.mark.slow
def test_executors_and_period_lengths_agree(monkeypatch):
    cfg = config()
    runs = [simulate_config(cfg, engine=engine) for engine in ("simpy", "fast")]
    monkeypatch.setattr(build_module, "period_hours", lambda expected, horizon: 24.0)
    runs.append(simulate_config(cfg, engine="fast"))
    for other in runs[1:]:
        assert runs[0].visits.equals(other.visits)
        assert runs[0].entities.equals(other.entities)
        assert runs[0].timeseries.equals(other.timeseries)
        assert runs[0].summary.databases == other.summary.databases
    assert pc.max(runs[0].timeseries.column("database.indicators")).as_py() > 1000


@pytest.mark.parametrize(("change", "message"), [
    ({"delay": "12h"}, "delay must be at least 1d"),
    ({"added_by": [{"stage": "nowhere"}]}, "unknown stage 'nowhere'"),
    ({"added_by": [{"stage": "review", "items": "pages"}]}, "unknown count 'pages'"),
    ({"drives": {**DB["databases"]["indicators"]["drives"], "value": "old"}}, "'old' is not a value"),
    ({"drives": {**DB["databases"]["indicators"]["drives"], "sources": ["hotline"]}}, "unknown source 'hotline'"),
])
def test_a_bad_database_is_a_one_line_error(change, message):
    from routing_sim.errors import ConfigError

    db = {**DB["databases"]["indicators"], **change}
    with pytest.raises(ConfigError) as err:
        config(databases={"indicators": db})
    text = str(err.value)
    assert message in text and "databases" in text and "\n" not in text.strip()
