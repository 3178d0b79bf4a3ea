"""Content keys: a report is a repeat when an earlier arrival of any source of its key space
concerned the same item. The share of first reports matches the occupancy expectation for
uniform keys, every entity's mark matches a pass over the arrivals in (time, id) order, routing
reads the mark, and neither the period length nor the executor changes anything."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from routing_sim.api import simulate_config
from routing_sim.engine import build as build_module
from routing_sim.engine.rules.randomness import stream_key, uniforms
from routing_sim.errors import ConfigError
from routing_sim.loader import validate_data
from tests.test_executors import same

KEYS = {
    "name": "content-keys",
    "seed": 17,
    "time": {"start": "2024-01-01", "horizon": "40d", "timeseries_step": "1d"},
    "attributes": {"duplicate": ["no", "yes"], "report_type": ["known", "new"]},
    "kinds": {"report": {"attributes": {"report_type": {"p": {"known": 0.6, "new": 0.4}}}},
              "takedown": {"attributes": {"duplicate": {"inherit": True}}}},
    "content_keys": {"material": {"items": 3000, "attribute": "duplicate", "first": "no", "repeat": "yes"}},
    "sources": {
        "provider": {"kind": "report", "rate": "120/day", "to": "intake", "content_key": "material",
                     "duplicates": {"dist": "table", "values": [1, 2, 3], "weights": [0.6, 0.3, 0.1]},
                     "batches": {"rate": "2/week", "size": {"dist": "poisson", "mean": 40}}},
        "hotline": {"kind": "report", "rate": "15/day", "to": "intake", "content_key": "material"},
        "public": {"kind": "report", "rate": "5/day", "to": "intake"},
    },
    "pools": {"reviewers": {"headcount": 2, "calendar": {"type": "always"}}},
    "stages": {
        "intake": {"service": {"dist": "fixed", "value": "2min"},
                   "next": [{"when": {"duplicate": "yes"}, "to": "bundled"}, {"to": "review"}]},
        "review": {"pool": "reviewers", "service": {"dist": "exponential", "mean": "30min"},
                   "spawn": [{"kind": "takedown", "to": "notice", "p": 0.2, "after": {"dist": "fixed", "value": "1h"}}],
                   "next": [{"to": "done"}]},
        "notice": {"service": {"dist": "fixed", "value": "1h"}, "next": [{"to": "sent"}]},
    },
    "outcomes": {"done": "reviewed", "bundled": "bundled with an earlier report of the item", "sent": "notice sent"},
    "tallies": {"repeats": {"kind": "report", "when": {"duplicate": "yes"}}},
}


def config(data=None, **space):
    data = copy.deepcopy(data or KEYS)
    data["content_keys"]["material"].update(space)
    return validate_data(data, "content-keys.yaml")


def single_source(items: int, rate: str, days: int) -> dict:
    data = copy.deepcopy(KEYS)
    data["sources"] = {"provider": {"kind": "report", "rate": rate, "to": "intake", "content_key": "material"}}
    data["content_keys"]["material"]["items"] = items
    data["time"]["horizon"] = f"{days}d"
    return data


def brute_force(run, sources: dict[str, list[str]], items: int, window: float | None) -> np.ndarray:
    """Each entity's mark (True: repeat), found by walking the keyed arrivals in (time, id) order."""
    e = run.entities
    ids = e.column("entity").to_numpy()
    source = e.column("source").to_numpy()
    created = e.column("created").to_numpy()
    group = e.column("group").to_numpy()
    expected = np.zeros(ids.size, dtype=bool)
    keyed = np.zeros(ids.size, dtype=bool)
    keys = np.zeros(ids.size, dtype=np.int64)
    slot_streams = []  # (source code, first id of the stream's slot, stream name)
    slot = 1
    for name in run.codes.sources:
        for stream in sources.get(name, []):
            slot_streams.append((run.codes.sources.index(name), slot, stream))
            slot += 1
        if name not in sources:
            slot += 1  # a source without a key still takes its slot
    for code, s, stream in slot_streams:
        mine = (source == code) & (ids >> 40 == s)
        key = stream_key(run.seed, 0, stream)
        keys[mine] = np.minimum((uniforms(key, group[mine]) * items).astype(np.int64), items - 1)
        keyed |= mine
    opened: dict[int, float] = {}
    for row in sorted(np.flatnonzero(keyed).tolist(), key=lambda r: (created[r], ids[r])):
        k, t = int(keys[row]), float(created[row])
        if k in opened and (window is None or t - opened[k] <= window):
            expected[row] = True
        else:
            opened[k] = t
    return expected


def marks(run) -> np.ndarray:
    return run.entities.column("attr.duplicate").to_numpy() == run.codes.value("duplicate", "yes")


@pytest.mark.parametrize("window", [None, "5d"])
def test_every_mark_is_that_of_one_pass_in_arrival_order(window):
    """Incidents share one key (their later reports are repeats), a bulk batch's reports draw one
    each, two sources share the space, a source without a key is never marked."""
    cfg = config(window=window) if window else config()
    run = simulate_config(cfg)
    keyed = {"provider": ["content_key.provider", "content_key.provider.batches"], "hotline": ["content_key.hotline"]}
    expected = brute_force(run, keyed, 3000, None if window is None else 120.0)
    kind = run.entities.column("kind").to_numpy()
    reports = kind == run.codes.kinds.index("report")
    source = run.entities.column("source").to_numpy()
    public = source == run.codes.sources.index("public")
    attr = run.entities.column("attr.duplicate").to_numpy()
    assert np.all(attr[public] == -1)
    assert np.array_equal(marks(run)[reports], expected[reports])
    assert 1000 < expected.sum() < reports.sum() - 1000  # both marks are common
    totals = run.summary.content_keys[0]
    assert totals.arrivals == int((reports & ~public).sum()) and totals.repeats == int(expected.sum())
    kpis = run.kpis["content_keys"]["material"]
    assert kpis["repeats"] == kpis["arrivals"] - kpis["first"] == run.kpis["tallies"]["repeats"]
    # routing reads the mark: every repeat is bundled at intake, no first report is
    outcome = run.entities.column("outcome").to_numpy()
    bundled = outcome == run.codes.outcomes.index("bundled")
    assert np.array_equal(bundled[reports], expected[reports] & (outcome[reports] >= 0))
    # an incident's first report (smallest id) is first unless its item was seen before; the others repeat
    group = run.entities.column("group").to_numpy()
    ids = run.entities.column("entity").to_numpy()
    later = reports & (group != ids) & ~public
    assert later.sum() > 500 and np.all(expected[later])
    # a spawned takedown inherits its report's mark
    takedown = kind == run.codes.kinds.index("takedown")
    parent_mark = dict(zip(ids.tolist(), attr.tolist(), strict=True))
    parents = run.entities.column("parent").to_numpy()[takedown]
    assert takedown.sum() > 50 and attr[takedown].tolist() == [parent_mark[p] for p in parents.tolist()]


def test_a_window_only_makes_fewer_repeats_and_an_endless_one_none_fewer():
    plain = simulate_config(config()).summary.content_keys[0]
    week = simulate_config(config(window="7d")).summary.content_keys[0]
    endless = simulate_config(config(window="1000d")).summary.content_keys[0]
    assert endless.repeats == plain.repeats and week.repeats < plain.repeats - 200
    assert plain.items_seen == endless.items_seen <= 3000


@pytest.mark.parametrize(("items", "rate", "days"), [(2000, "100/day", 30), (50000, "1000/day", 60)])
def test_first_reports_match_the_occupancy_expectation_for_uniform_keys(items, rate, days):
    """n arrivals into K items give K (1 - (1 - 1/K)^n) distinct items in expectation; the figure
    of each seed lies within four standard deviations of it."""
    cfg = validate_data(single_source(items, rate, days), "uniform.yaml")
    for seed in (1, 2, 3):
        c = simulate_config(cfg, seed=seed).summary.content_keys[0]
        n, k = c.arrivals, items
        q, q2 = (1 - 1 / k) ** n, (1 - 2 / k) ** n
        mean = k * (1 - q)
        sd = math.sqrt(k * q + k * (k - 1) * q2 - k * k * q * q)
        first = c.arrivals - c.repeats
        assert first == c.items_seen
        assert abs(first - mean) < 4 * sd, (seed, first, mean, sd)


@pytest.mark.slow
def test_executors_and_period_lengths_agree(monkeypatch):
    cfg = config(window="3d")
    runs = [simulate_config(cfg, engine=engine) for engine in ("simpy", "fast")]
    assert build_module.build(cfg).period > 24.0
    monkeypatch.setattr(build_module, "period_hours", lambda expected, horizon: 24.0)
    assert build_module.build(cfg).period == 24.0
    runs.append(simulate_config(cfg, engine="fast"))
    for other in runs[1:]:
        assert same(runs[0], other) == []
        assert runs[0].summary.content_keys == other.summary.content_keys


def test_the_mark_does_not_depend_on_the_period_length(monkeypatch):
    """The day-long and the default periods split the arrivals differently; the marks are the same."""
    cfg = config(window="2d")
    default = simulate_config(cfg, engine="fast")
    monkeypatch.setattr(build_module, "period_hours", lambda expected, horizon: 24.0)
    daily = simulate_config(cfg, engine="fast")
    assert same(default, daily) == []
    assert default.summary.content_keys == daily.summary.content_keys


def bad(path: str, value) -> dict:
    data = copy.deepcopy(KEYS)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(("path", "value", "field", "message"), [
    ("sources.hotline.content_key", "files", "sources.hotline.content_key",
     "unknown content key space 'files' (content_keys: material)"),
    ("content_keys.material.attribute", "dup", "content_keys.material.attribute", "unknown attribute 'dup'"),
    ("content_keys.material.attribute", KeyError, "content_keys.material.attribute", "required"),
    ("content_keys.material.repeat", "maybe", "content_keys.material.repeat", "'maybe' is not a value of 'duplicate'"),
    ("content_keys.material.first", KeyError, "content_keys.material.first", "required"),
    ("content_keys.material.first", "yes", "content_keys.material", "two different values"),
    ("content_keys.material.items", 0, "content_keys.material.items", ">= 1"),
    ("content_keys.material.window", "0h", "content_keys.material.window", "longer than zero"),
    ("kinds.report.attributes.duplicate", {"p": {"no": 0.9, "yes": 0.1}}, "kinds.report.attributes.duplicate",
     "set at arrival by content_keys.material"),
    ("sources.hotline.attributes", {"duplicate": "no"}, "sources.hotline.attributes.duplicate",
     "set at arrival by content_keys.material"),
    ("content_keys.chats", {"items": 10, "attribute": "duplicate", "first": "no", "repeat": "yes"},
     "content_keys.chats", "listed by no source"),
])
def test_a_bad_content_key_is_a_one_line_error(path, value, field, message):
    with pytest.raises(ConfigError) as err:
        validate_data(bad(path, value), "content-keys.yaml")
    lines = [line for line in str(err.value).splitlines() if f"{field}:" in line]
    assert lines and message in lines[0], str(err.value)
    assert all(line.startswith("content-keys.yaml") for line in str(err.value).splitlines())
