"""Pools split by an attribute: checks, the expansion, both executors, deadline points, overrides, report."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from routing_sim.api import simulate_config
from routing_sim.cli import app
from routing_sim.errors import ConfigError
from routing_sim.experiments.resolve import with_overrides
from routing_sim.loader import load_config, validate_data
from routing_sim.model.checks import check_process
from routing_sim.report import write_report
from routing_sim.report.study import drop_nulls
from routing_sim.runfolder import config_hash, resolved_config
from tests.test_bad_input import mutate
from tests.test_executors import same

SPLIT: dict[str, Any] = {
    "name": "split-small",
    "seed": 11,
    "time": {"start": "2024-01-01", "horizon": "7d", "timeseries_step": "1h"},
    "attributes": {"region": ["north", "south", "east", "unclear"], "urgency": ["high", "low"],
                   "verdict": ["accept", "reject"]},
    "kinds": {
        "case": {"attributes": {"region": {"p": {"north": 0.3, "south": 0.4, "east": 0.2, "unclear": 0.1}},
                                "urgency": {"p": {"high": 0.2, "low": 0.8}}, "verdict": {"decided": True}}},
        "followup": {"attributes": {"region": {"inherit": True}, "urgency": {"inherit": True}}},
    },
    "sources": {"inbox": {"kind": "case", "rate": "8/h", "to": "triage"}},
    "pools": {
        "clerks": {"headcount": 2, "calendar": {"type": "always"}, "cost_per_fte_year": 50000},
        "offices": {"by": "region", "headcount": {"north": 2, "south": 3, "east": 1},
                    "schedule": [{"from": "2024-01-04", "headcount": {"east": 2}}],
                    "calendar": {"type": "office_hours", "days": ["mon", "tue", "wed", "thu", "fri"],
                                 "start": "08:00", "end": "18:00"},
                    "cost_per_fte_year": 40000, "max_utilisation": 0.85},
    },
    "stages": {
        "triage": {
            "pool": "clerks", "service": {"dist": "exponential", "mean": "10min"},
            "decide": [{"set": "verdict", "cases": [{"p": {"accept": 0.8, "reject": 0.2}}]}],
            "spawn": [{"kind": "followup", "to": "desk", "p": 0.1, "when": {"region": ["north", "south", "east"]},
                       "after": {"dist": "fixed", "value": "1d"}}],
            "next": [{"when": {"region": "unclear"}, "to": "central"}, {"when": {"verdict": "reject"}, "to": "rejected"},
                     {"to": "desk"}],
        },
        "central": {"service": {"dist": "fixed", "value": "2h"}, "next": [{"to": "closed_central"}]},
        "desk": {"pool": "offices", "service": {"dist": "lognormal", "mean": "20min", "cv": 1.0},
                 "priority": [{"urgency": "high"}], "next": [{"to": "accepted"}]},
    },
    "outcomes": {"accepted": "handled", "rejected": "closed", "closed_central": "handled centrally"},
    "deadlines": {
        "desk_within_8h": {"kind": "case", "from": "triage.end", "to": "desk.end", "within": "8h", "share": 0.9,
                           "by": ["region"]},
        "desk_started_within_1d": {"kind": "case", "from": "arrival", "to": "desk.start", "within": "1d"},
    },
}


def split(**changes: Any) -> dict[str, Any]:
    """The split config with ``changes`` (keyword paths with ``__`` for the dots; KeyError deletes)."""
    data = copy.deepcopy(SPLIT)
    for dotted, value in changes.items():
        mutate(data, dotted.replace("__", "."), value)
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_data(data, source="split.yaml")
    return [str(p) for p in info.value.problems]


# --- checks ---------------------------------------------------------------------------------

def test_a_route_that_could_send_an_unlisted_value_is_one_line_naming_the_stage_and_values():
    data = split()
    data["stages"]["triage"]["next"] = [{"when": {"verdict": "reject"}, "to": "rejected"}, {"to": "desk"}]
    data["stages"]["central"]["next"] = [{"to": "closed_central"}]
    data["sources"]["other"] = {"kind": "case", "rate": "1/h", "to": "central"}  # keep central reachable
    found = problems(data)
    assert len(found) == 1
    assert re.fullmatch(r"split\.yaml: stages\.triage\.next\.1\.to: may send region unclear to 'desk', whose "
                        r"pool 'offices' has no pool for it: .*earlier 'when' of 'triage''s next.*", found[0])


def test_an_earlier_route_on_another_attribute_does_not_take_the_unlisted_value():
    data = split()
    data["stages"]["triage"]["next"][0] = {"when": {"region": "unclear", "urgency": "high"}, "to": "central"}
    assert any("may send region unclear to 'desk'" in p for p in problems(data))


def test_a_spawn_without_a_when_on_the_attribute_is_refused():
    data = split(stages__triage__spawn__0__when=KeyError)
    found = problems(data)
    assert any("stages.triage.spawn.0.to: may send region unclear to 'desk'" in p and "spawn's 'when'" in p
               for p in found)


def test_a_decided_attribute_may_be_unset():
    data = split()
    data["kinds"]["case"]["attributes"]["region"] = {"decided": True}
    data["stages"]["triage"]["next"][0] = {"when": {"region": ["unclear"]}, "to": "central"}
    found = problems(data)
    assert any("may send region unset to 'desk'" in p for p in found)
    data["stages"]["triage"]["decide"].append(
        {"set": "region", "cases": [{"p": {"north": 0.3, "south": 0.4, "east": 0.2, "unclear": 0.1}}]})
    assert validate_data(data).pools["offices_east"].staff == 1  # decided before the route: set


@pytest.mark.parametrize("change,field,words", [
    ({"pools__offices__by": "county"}, "pools.offices.by", "unknown attribute 'county'"),
    ({"pools__offices__headcount": {"north": 2, "west": 1}}, "pools.offices.headcount.west",
     "'west' is not a value of 'region'"),
    ({"pools__offices__headcount": 6}, "pools.offices.headcount", "needs a headcount per value"),
    ({"pools__offices__by": KeyError}, "pools.offices.headcount", "a headcount per value needs 'by'"),
    ({"pools__offices__schedule": [{"from": "2024-01-04", "headcount": 3}]}, "pools.offices.schedule.0.headcount",
     "changes its headcount per value"),
    ({"pools__offices__schedule": [{"from": "2024-01-04", "headcount": {"unclear": 3}}]},
     "pools.offices.schedule.0.headcount.unclear", "has no pool here"),
    ({"pools__offices__headcount": {"north": 2, "south": 3, "east": 1, "unclear": 1}}, "pools.offices.headcount",
     "no source, route or spawn brings region unclear to 'desk'"),
    ({"stages__central__pool": "offices"}, "stages.triage.next.0.to", "may send region unclear to 'central'"),
])
def test_bad_split_pools_are_one_line_problems(change, field, words):
    data = split(**change)
    if "stages__central__pool" in change:
        data["stages"]["central"]["service"] = {"dist": "fixed", "value": "20min"}
    found = problems(data)
    assert any(f"split.yaml: {field}: " in p and words in p for p in found), found
    assert all("\n" not in p for p in found)


def test_copy_names_must_be_free_and_valid():
    data = split()
    data["stages"]["desk_north"] = {"service": {"dist": "fixed", "value": "1h"}, "next": [{"to": "accepted"}]}
    data["sources"]["more"] = {"kind": "case", "rate": "1/h", "to": "desk_north"}
    assert any("pools.offices.headcount.north: value 'north' gives stage name 'desk_north', which is taken" in p
               for p in problems(data))


# --- expansion ------------------------------------------------------------------------------

def test_the_expansion_gives_a_pool_and_a_stage_per_value_and_routes_by_value():
    cfg = validate_data(split())
    assert list(cfg.pools) == ["clerks", "offices_north", "offices_south", "offices_east"]
    assert [cfg.pools[p].staff for p in list(cfg.pools)[1:]] == [2, 3, 1]
    assert [(c.start.isoformat(), c.headcount) for c in cfg.pools["offices_east"].schedule] == [("2024-01-04", 2)]
    assert cfg.pools["offices_north"].schedule == []
    assert all(cfg.pools[p].max_utilisation == 0.85 and cfg.pools[p].calendar.type == "office_hours"
               for p in ("offices_north", "offices_south", "offices_east"))
    assert list(cfg.stages) == ["triage", "central", "desk_north", "desk_south", "desk_east"]
    assert cfg.stages["desk_south"].pool == "offices_south" and cfg.stages["desk_south"].priority == [{"urgency": "high"}]
    routes = [(r.when, r.to) for r in cfg.stages["triage"].next]
    assert routes == [({"region": "unclear"}, "central"), ({"verdict": "reject"}, "rejected"),
                      ({"region": "north"}, "desk_north"), ({"region": "south"}, "desk_south"), (None, "desk_east")]
    assert [(s.to, s.when) for s in cfg.stages["triage"].spawn] == [
        ("desk_north", {"region": "north"}), ("desk_south", {"region": "south"}), ("desk_east", {"region": "east"})]
    assert cfg.splits["offices"].stages == {"desk": {"north": "desk_north", "south": "desk_south", "east": "desk_east"}}
    assert check_process(cfg) == []
    # a resolved config (as a run folder keeps it) validates to the same expanded config
    again = validate_data(drop_nulls(resolved_config(cfg, 11)))
    assert again == cfg


def test_without_by_everything_is_as_before(base_config):
    cfg = validate_data(base_config)
    assert cfg.splits == {}
    resolved = resolved_config(cfg, 7)
    assert "splits" not in resolved and "by" not in resolved["pools"]["clerks"]


def test_set_overrides_a_headcount_per_value():
    data = with_overrides(split(), {"pools.offices.headcount.east": 4})
    assert validate_data(data).pools["offices_east"].staff == 4
    with pytest.raises(ConfigError, match="pools.offices.headcount.west: 'west' is not a value"):
        validate_data(with_overrides(split(), {"pools.offices.headcount.west": 4}), source="split.yaml")


def test_the_cli_run_takes_a_set_on_a_split_pool(tmp_path: Path):
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(split(time__horizon="2d")), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                                      "--set", "pools.offices.headcount.north=5"])
    assert result.exit_code == 0, result.output
    [kpis] = list((tmp_path / "out").glob("*/*/kpis.json"))
    assert json.loads(kpis.read_text())["pools"]["offices_north"]["headcount"] == 5


# --- runs -----------------------------------------------------------------------------------

def test_both_executors_give_identical_tables_and_kpis_on_a_split_pool():
    cfg = validate_data(split())
    simpy = simulate_config(cfg, engine="simpy")
    fast = simulate_config(cfg, engine="fast")
    assert simpy.visits.num_rows > 500
    assert same(simpy, fast) == []


def test_deadline_points_on_a_split_stage_are_reached_at_any_copy():
    run = simulate_config(validate_data(split()), engine="fast")
    kpis = run.kpis
    visits = run.visits.to_pydict()
    copies = {run.codes.stages.index(s) for s in ("desk_north", "desk_south", "desk_east")}
    first_end: dict[int, float] = {}  # per entity, the first end of a visit at any desk copy
    for entity, stage, end in zip(visits["entity"], visits["stage"], visits["end"], strict=True):
        if stage in copies and end == end:
            first_end[entity] = min(end, first_end.get(entity, end))
    ents = run.entities.to_pydict()
    marks = {e: m for e, m in zip(ents["entity"], ents["mark.desk.end"], strict=True) if m == m}
    cases = {e for e, k in zip(ents["entity"], ents["kind"], strict=True) if k == run.codes.kinds.index("case")}
    assert marks == {e: t for e, t in first_end.items() if e in cases}
    d = kpis["deadlines"]["desk_within_8h"]
    assert d["n"] == len(marks) > 100
    for value in ("north", "south", "east"):
        assert d["by"][value]["n"] > 20, value
    assert d["by"]["unclear"]["n"] == 0  # the unclear go to central and never reach a desk
    assert kpis["deadlines"]["desk_started_within_1d"]["n"] >= d["n"]


def test_report_has_the_split_pool_pressure_table_and_figure(tmp_path: Path):
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(split(time__horizon="3d")), encoding="utf-8")
    from routing_sim.runfolder import run_to_folder

    folder = run_to_folder(load_config(path), results=tmp_path / "results", config_file=str(path),
                           records="entities").folder
    html = write_report(folder).read_text(encoding="utf-8")
    assert 'id="split-pools"' in html and 'id="pressure-offices"' in html and 'id="fig-pressure_offices"' in html
    table = html[html.index('id="pressure-offices"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr[^>]*><td>(\w+)</td><td>(\w+)</td><td class=\"num\">(\d+)</td><td class=\"num\">([\d.]+) %",
                      table)
    assert {r[0] for r in rows} == {"north", "south", "east"}
    utilisation = [float(r[3]) for r in rows]
    assert utilisation == sorted(utilisation, reverse=True)
    kpis = json.loads((folder / "kpis.json").read_text())
    for value, pool, _, util in rows:
        assert pool == f"offices_{value}"
        assert abs(kpis["pools"][pool]["utilisation"] * 100 - float(util)) < 0.06
    assert (folder / "figures" / "pressure_offices.png").is_file()


def test_the_resolved_config_hash_of_a_split_config_is_stable():
    a, b = validate_data(split()), validate_data(split())
    assert config_hash(resolved_config(a, 1)) == config_hash(resolved_config(b, 1))


def test_a_source_enters_a_split_stage_only_with_the_value_fixed():
    data = split()
    data["sources"]["east_desk"] = {"kind": "case", "rate": "1/h", "to": "desk", "attributes": {"region": "east"}}
    assert validate_data(data).sources["east_desk"].to == "desk_east"
    data["sources"]["east_desk"]["attributes"] = {}
    assert any("sources.east_desk.to: enters 'desk', whose pool 'offices' is split by 'region'" in p
               for p in problems(data))


def test_a_spawned_kind_must_inherit_the_attribute():
    data = split()
    data["kinds"]["followup"]["attributes"]["region"] = {"p": {"north": 0.5, "south": 0.5}}
    assert any("stages.triage.spawn.0.to: spawns 'followup' into 'desk'" in p and "must inherit 'region'" in p
               for p in problems(data))


def test_the_optimiser_sets_a_copy_s_headcount_through_the_split_pool():
    from routing_sim.model.splits import headcount_paths
    from routing_sim.optimise.search import Search, parse_target

    cfg = validate_data(split())
    search = Search(None, ["offices_east", "clerks"], [parse_target("pools.offices_east.utilisation<=0.9")],
                    {"offices_east": 1.0, "clerks": 1.0}, paths=headcount_paths(cfg))
    point = search.point((4, 3))
    assert point == {"pools.offices.headcount.east": 4, "pools.clerks.headcount": 3}
    again = validate_data(with_overrides(split(), point))
    assert (again.pools["offices_east"].staff, again.pools["clerks"].staff) == (4, 3)


def test_at_a_split_stage_the_value_is_known_so_its_own_routes_and_spawns_need_no_when():
    data = split()
    data["stages"]["desk"]["spawn"] = [{"kind": "followup", "to": "desk", "p": 0.1,
                                        "after": {"dist": "fixed", "value": "1d"}}]
    cfg = validate_data(data)
    assert [(s.to, s.when) for s in cfg.stages["desk_south"].spawn] == [("desk_south", {"region": "south"})]
    data["stages"]["desk"]["decide"] = [{"set": "region", "cases": [{"p": {"north": 0.5, "unclear": 0.5}}]}]
    assert any("stages.desk.spawn.0.to: may send region unclear to 'desk'" in p for p in problems(data))


def test_a_database_fed_by_a_split_stage_is_fed_by_every_copy():
    from tests.test_databases import DB

    data = copy.deepcopy(DB)
    data["attributes"]["desk"] = ["a", "b"]
    data["kinds"]["report"]["attributes"]["desk"] = {"p": {"a": 0.5, "b": 0.5}}
    data["pools"]["reviewers"] = {"by": "desk", "headcount": {"a": 1, "b": 1}, "calendar": {"type": "always"}}
    cfg = validate_data(data, "indicator-loop.yaml")
    assert [r.stage for r in cfg.databases["indicators"].added_by] == ["review_a", "review_b"]
    run = simulate_config(cfg)
    e = run.entities
    new, forward = run.codes.value("report_type", "new"), run.codes.value("decision", "forward")
    v = run.visits.to_pydict()
    reviews = {run.codes.stages.index("review_a"), run.codes.stages.index("review_b")}
    ids, files = e.column("entity").to_pylist(), e.column("count.files").to_pylist()
    adds = {i: f for i, f, t, d in zip(ids, files, e.column("attr.report_type").to_pylist(),
                                        e.column("attr.decision").to_pylist(), strict=True) if t == new and d == forward}
    confirmed = sum(adds[i] for i, s, t in zip(v["entity"], v["stage"], v["end"], strict=True)
                    if s in reviews and t == t and i in adds)
    db = run.summary.databases[0]
    assert confirmed > 300 and db.added + db.pending == confirmed


def test_the_answers_sum_up_a_split_pools_copies_against_their_ceiling(tmp_path: Path):
    """One row for the split pool's copies in the report's answers: with a ceiling no copy keeps,
    every copy is named with its verdict ('3 of 3 not met'); with one every copy keeps, 'all 3 met'."""
    from routing_sim.runfolder import run_to_folder

    for ceiling, expected in ((0.001, "3 of 3 not met:"), (0.999, "all 3")):
        path = tmp_path / f"split-{ceiling}.yaml"
        path.write_text(yaml.safe_dump(split(time__horizon="2d", pools__offices__max_utilisation=ceiling,
                                             name=f"split-{ceiling}".replace(".", "-"))), encoding="utf-8")
        folder = run_to_folder(load_config(path), results=tmp_path / "results", config_file=str(path)).folder
        html = write_report(folder).read_text(encoding="utf-8")
        answers = html[html.index('id="answers-table"'):]
        row = answers[answers.index("utilisation of the pools of offices"):]
        row = re.sub(r"<[^>]+>", " ", row[:row.index("</tr>")])
        assert expected in row, row
        if ceiling < 0.5:
            assert all(f"{value} missed" in row for value in ("north", "south", "east")), row
