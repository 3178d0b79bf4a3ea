"""Bad input: every class of malformed config yields one-line errors naming the
file, the field path and the reason, and exit code 2; never a traceback."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import yaml
from typer.testing import CliRunner

from routing_sim.cli import app
from routing_sim.errors import ConfigError
from routing_sim.loader import load_config


def mutate(config: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


CASES = [
    # (description, field path to change, new value, expected field path in message, expected words)
    ("typo in a field name", "pools.clerks.headcont", 3, "pools.clerks.headcont", "did you mean 'headcount'"),
    ("negative headcount", "pools.clerks.headcount", -3, "pools.clerks.headcount", "must be >= 0 (got -3)"),
    ("negative rate", "sources.inbox.rate", "-5/h", "sources.inbox.rate", "not a rate"),
    ("rate without unit", "sources.inbox.rate", 5, "sources.inbox.rate", "needs a unit"),
    ("duration without unit", "stages.handover.service.value", 15, "stages.handover.service.value", "needs a unit"),
    ("unknown stage in to", "stages.handover.next.0.to", "nowhere", "stages.handover.next.0.to", "neither a stage"),
    ("unknown pool", "stages.triage.pool", "judges", "stages.triage.pool", "unknown pool 'judges'"),
    ("probabilities not summing to 1", "kinds.case.attributes.urgency.p.high", 0.5,
     "kinds.case.attributes.urgency.p", "sum to 1"),
    ("unknown distribution", "stages.triage.service.dist", "weibul", "stages.triage.service", "unknown dist"),
    ("wrong type", "pools.clerks.headcount", "many", "pools.clerks.headcount", "whole number"),
    ("missing field", "sources.inbox.kind", KeyError, "sources.inbox.kind", "required field is missing"),
    ("unknown attribute value", "stages.triage.priority.0.urgency", "urgent", "stages.triage.priority.0.urgency",
     "not a value of 'urgency'"),
    ("unreachable stage", "stages.triage.next.0.to", "accepted", "stages.handover", "unreachable"),
    ("probability above 1", "stages.triage.decide.0.cases.0.p.accept", 1.7,
     "stages.triage.decide.0.cases.0.p.accept", "<= 1"),
    ("bad calendar type", "pools.clerks.calendar.type", "sometimes", "pools.clerks.calendar", "unknown type"),
    ("infinite number", "pools.clerks.cost_per_fte_year", float("inf"), "pools.clerks.cost_per_fte_year", "finite"),
    ("unknown deadline point", "deadlines.handover_within_4h.to", "handoff.end", "deadlines.handover_within_4h.to",
     "unknown stage 'handoff'"),
    ("longest_of names no count", "stages.handover.longest_of", "copies", "stages.handover.longest_of",
     "unknown count 'copies' (counts: none)"),
    ("tally of with an unknown value", "tallies", {"accept_rate": {"kind": "case", "when": {"verdict": "accept"},
                                                   "of": {"verdict": ["accept", "rejected"]}}},
     "tallies.accept_rate.of.verdict", "'rejected' is not a value of 'verdict'"),
    ("tally of an attribute the kind lacks", "tallies", {"accept_rate": {"kind": "case", "when": {"verdict": "accept"},
                                                         "of": {"region": "north"}}},
     "tallies.accept_rate.of.region", "unknown attribute 'region'"),
    ("deadline point that is not one", "deadlines.handover_within_4h.from", "received",
     "deadlines.handover_within_4h.from", "not a point (got 'received'; use arrival, origin or <stage>.enter"),
]


@pytest.mark.parametrize("description,path,value,field,words", CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_one_line_with_file_field_and_reason(
    base_config, write_yaml, description, path, value, field, words
):
    cfg_file = write_yaml(mutate(base_config, path, value))
    result = CliRunner().invoke(app, ["validate", str(cfg_file)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines, "no error printed"
    assert "Traceback" not in result.output + result.stderr
    matching = [line for line in lines if f": {field}:" in line]
    assert matching, f"no line names {field}: {lines}"
    assert words in matching[0]
    assert all(line.startswith(str(cfg_file)) for line in lines)


def test_error_carries_the_line_number(write_yaml, base_config):
    text = yaml.safe_dump(base_config, sort_keys=False).replace("headcount: 2", "headcount: -3")
    cfg_file = write_yaml(text)
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "headcount: -3" in line)
    with pytest.raises(ConfigError) as info:
        load_config(cfg_file)
    assert str(info.value) == f"{cfg_file}:{line_no}: pools.clerks.headcount: must be >= 0 (got -3)"


@pytest.mark.parametrize(
    "text,words",
    [
        ("", "file is empty"),
        ("name: [unclosed\n", "invalid YAML"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("name: a\nname: b\n", "duplicate key"),
        ("a: &x [1, 2]\nb: *x\n", "anchors and aliases are not allowed"),
        ("name: \"\\xZZ\"\n", "invalid YAML"),
        ("cost: .nan\n", "finite"),
        ("\ufeff\u00e9\u00e8: \u2603\n", "unknown field"),
    ],
)
def test_malformed_files(write_yaml, text, words):
    cfg_file = write_yaml(text)
    result = CliRunner().invoke(app, ["validate", str(cfg_file)])
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_bad_input(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read file" in result.stderr


def test_alias_bomb_and_oversized_file_are_rejected_fast(write_yaml):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    big = "name: big\n" + "# padding\n" * 150_000
    for text, words in ((bomb, "anchors and aliases"), (big, "over the")):
        path = write_yaml(text, name=f"{words[:4]}.yaml")
        t0 = time.perf_counter()
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert time.perf_counter() - t0 < 10.0  # a hang guard (the bomb expands to 9^9 nodes), not a speed goal
        assert words in str(info.value)


def test_run_with_bad_config_exits_2_from_the_real_command(write_yaml, base_config, tmp_path):
    cfg_file = write_yaml(mutate(base_config, "pools.clerks.headcount", -1))
    proc = subprocess.run(
        [sys.executable, "-m", "routing_sim.cli", "run", str(cfg_file), "--out", str(tmp_path / "res")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{cfg_file}:{_line_of(cfg_file, 'headcount')}: pools.clerks.headcount: must be >= 0 (got -1)"
    assert not (tmp_path / "res").exists()


def _line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_validate_checks_experiment_files_variant_by_variant(tmp_path):
    from tests.conftest import ROOT

    scenario = ROOT / "scenarios" / "eu-centre-staffing.yaml"
    ok = CliRunner().invoke(app, ["validate", str(scenario)])
    assert ok.exit_code == 0 and "experiment, 6 variants" in ok.stdout
    text = scenario.read_text(encoding="utf-8").replace("[31, 39, 50]", "[31, -40, 50]")
    text = text.replace("base: ../configs/", f"base: {ROOT / 'configs'}/")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"{bad}:")
    assert "pools.reviewers.headcount: must be >= 0 (got -40)" in result.stderr


def test_schema_command_prints_the_json_schema_of_configs(tmp_path):
    import json

    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"stages", "pools", "sources", "kinds", "outcomes", "deadlines"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False  # unknown keys are errors, editors can flag them
    out = tmp_path / "schema.json"
    assert CliRunner().invoke(app, ["schema", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema
