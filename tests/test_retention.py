"""Retention: the entities, items and megabytes stored on the time-series grid equal a brute-force
count over the entity rows, the KPIs give the peaks and the figures at the horizon, both
executors agree, and a run that keeps no tables (``--records summary``) still has them."""

from __future__ import annotations

import copy
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from routing_sim.api import simulate_config
from routing_sim.errors import ConfigError
from routing_sim.loader import validate_data
from routing_sim.runfolder import run_to_folder
from tests.test_executors import same

KEEP = {
    "name": "retention",
    "seed": 23,
    "time": {"start": "2024-01-01", "horizon": "60d", "timeseries_step": "6h"},
    "attributes": {"decision": ["forward", "unfounded"]},
    "kinds": {"report": {"attributes": {"decision": {"decided": True}}},
              "complaint": {}},
    "sources": {
        "provider": {"kind": "report", "rate": "40/day", "to": "review",
                     "counts": {"files": {"dist": "geometric", "mean": 4}}},
        "public": {"kind": "report", "rate": "6/day", "to": "review"},  # carries no files: 0 items
    },
    "pools": {"reviewers": {"headcount": 1, "calendar": {"type": "always"}}},
    "stages": {
        "review": {"pool": "reviewers", "service": {"dist": "exponential", "mean": "30min"},
                   "decide": [{"set": "decision", "cases": [{"p": {"forward": 0.7, "unfounded": 0.3}}]}],
                   "spawn": [{"kind": "complaint", "to": "appeal", "p": 0.1,
                              "after": {"dist": "exponential", "mean": "5d"}}],
                   "next": [{"to": "pause"}]},
        "pause": {"service": {"dist": "exponential", "mean": "3d"}, "next": [{"to": "closed"}]},
        "appeal": {"service": {"dist": "exponential", "mean": "20d"}, "next": [{"to": "decided"}]},
    },
    "outcomes": {"closed": "closed", "decided": "appeal decided"},
    "retention": {
        "forwarded": {"kind": "report", "when": {"decision": "forward"}, "keep": "10d", "items": "files",
                      "size_per_item_mb": 2.5},
        "received": {"kind": "report", "keep": "20d", "from": "arrival", "size_per_item_mb": 0.1},
        "appeals": {"kind": "complaint", "keep": "15d", "size_per_item_mb": 1},
    },
}


def config(data=None):
    return validate_data(copy.deepcopy(data or KEEP), "retention.yaml")


def brute_force(run, rule: dict, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entities and items stored at each time ``t``, counted one time at a time from the entity rows."""
    e = run.entities
    hit = e.column("kind").to_numpy() == run.codes.kinds.index(rule["kind"])
    for attribute, value in rule.get("when", {}).items():
        hit &= e.column(f"attr.{attribute}").to_numpy() == run.codes.value(attribute, value)
    created = e.column("created").to_numpy()[hit]
    anchor = e.column("ended").to_numpy()[hit] if rule.get("from", "end") == "end" else created
    until = np.where(np.isnan(anchor), np.inf, anchor + float(rule["keep"][:-1]) * 24)
    items = e.column(f"count.{rule['items']}").to_numpy()[hit] if "items" in rule else np.ones(created.size, int)
    stored = (created[None, :] <= t[:, None]) & (until[None, :] > t[:, None])
    return stored.sum(axis=1), (stored * items[None, :]).sum(axis=1)


def test_the_stored_series_and_kpis_equal_a_brute_force_count():
    run = simulate_config(config())
    t = run.timeseries.column("t").to_numpy()
    horizon = run.summary.horizon
    for name, rule in KEEP["retention"].items():
        entities, items = brute_force(run, rule, t)
        assert np.array_equal(run.timeseries.column(f"stored.{name}").to_numpy(), entities), name
        assert np.array_equal(run.timeseries.column(f"stored_items.{name}").to_numpy(), items), name
        assert np.allclose(run.timeseries.column(f"stored_mb.{name}").to_numpy(), items * rule["size_per_item_mb"])
        end_entities, end_items = (a[0] for a in brute_force(run, rule, np.array([horizon])))
        k = run.kpis["retention"][name]
        assert (k["end_entities"], k["end_items"]) == (end_entities, end_items), name
        assert k["peak_entities"] == max(entities.max(), end_entities)
        assert k["peak_items"] == max(items.max(), end_items)
        assert k["peak_mb"] == pytest.approx(k["peak_items"] * rule["size_per_item_mb"])
        assert k["end_mb"] == pytest.approx(end_items * rule["size_per_item_mb"])
        assert entities.max() > 30 and 0 < end_entities < k["stored_ever"]  # stored, and some already deleted
    # the rules differ as configured: items are files (public reports carry none), or one per entity
    forwarded = run.kpis["retention"]["forwarded"]
    assert forwarded["peak_items"] > 2.5 * forwarded["peak_entities"]
    received = run.kpis["retention"]["received"]
    assert received["peak_items"] == received["peak_entities"]
    # from arrival: 20 days of arrivals once the run is past 20 days, about 46 a day
    late = t >= 25 * 24
    stored = run.timeseries.column("stored.received").to_numpy()[late]
    assert np.all(np.abs(stored - 46 * 20) < 4 * np.sqrt(46 * 20))


def test_both_executors_store_the_same():
    a = simulate_config(config(), engine="simpy")
    b = simulate_config(config(), engine="fast")
    assert same(a, b) == []
    assert a.summary.retention == b.summary.retention


def test_a_run_that_keeps_no_tables_still_has_the_stored_series_and_kpis(tmp_path):
    cfg = config()
    record = run_to_folder(cfg, results=tmp_path, records="summary")
    assert not (record.folder / "entities.parquet").exists()
    series = pq.read_table(record.folder / "timeseries.parquet")
    memory = simulate_config(cfg)
    for name in KEEP["retention"]:
        assert np.array_equal(series.column(f"stored.{name}").to_numpy(),
                              memory.timeseries.column(f"stored.{name}").to_numpy())
    kpis = json.loads((record.folder / "kpis.json").read_text())
    assert kpis["retention"] == memory.kpis["retention"]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"kind": "case"}, "retention.forwarded.kind", "unknown kind 'case'"),
    ({"items": "pages"}, "retention.forwarded.items", "no source of kind 'report' draws the count 'pages'"),
    ({"when": {"decision": "maybe"}}, "retention.forwarded.when.decision", "'maybe' is not a value of 'decision'"),
    ({"keep": "10"}, "retention.forwarded.keep", "not a duration"),
    ({"from": "decision"}, "retention.forwarded.from", "'end' or 'arrival'"),
    ({"size_per_item_mb": None}, "retention.forwarded.size_per_item_mb", ""),
])
def test_a_bad_retention_rule_is_a_one_line_error(change, field, message):
    data = copy.deepcopy(KEEP)
    data["retention"]["forwarded"].update(change)
    with pytest.raises(ConfigError) as err:
        config(data)
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"retention.yaml: {field}:") and message in lines[0], lines


def test_an_attribute_the_kind_does_not_carry_is_refused():
    data = copy.deepcopy(KEEP)
    data["retention"]["appeals"]["when"] = {"decision": "forward"}
    with pytest.raises(ConfigError) as err:
        config(data)
    assert "retention.appeals.when.decision: attribute 'decision' is not available here" in str(err.value)
