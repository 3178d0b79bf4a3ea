"""Experiment files: validation with one-line problems (exit 2), dispatch of `run`, and `compare`.

- Unknown fields, unknown override paths, bad overridden values and unknown KPIs are each one line
  naming the experiment file (and line) and the path, with exit code 2.
- `run` still runs a process config; `--workers` on a process config is refused.
- The shipped experiment resolves: 3 staffing levels x 2 volumes, one baseline, one root seed.
- `compare` prints the table from a results folder or the experiment file and writes summaries.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from routing_sim import logs
from routing_sim.cli import app
from routing_sim.experiments.resolve import load_experiment

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "configs" / "textbook" / "mmc.yaml"


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


def spec(**changes) -> dict:
    base = {"name": "mmc-staff", "base": str(MMC), "seed": 3, "overrides": {"time.horizon": "2d"},
            "variants": {"three": {}, "four": {"pools.servers.headcount": 4}}, "replications": 3}
    base.update(changes)
    return base


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def one_line_error(tmp_path: Path, data: dict | str, problems: int = 1) -> str:
    """Run the file, expect exit 2 and one line per problem, each naming the file; return the last."""
    path = tmp_path / "exp.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = run_cli("run", str(path), "--out", str(tmp_path / "results"))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == problems, result.output
    assert all(line.startswith(f"{path}:") for line in lines)
    return lines[-1]


def test_unknown_override_path_is_one_line_naming_file_and_path(tmp_path):
    line = one_line_error(tmp_path, spec(variants={"more": {"pools.server.headcount": 4}}))
    assert "pools.server.headcount" in line and "unknown path" in line and "did you mean 'servers'" in line
    line = one_line_error(tmp_path, spec(sweep={"stages.service.next.5.to": ["done"]}))
    assert "stages.service.next.5.to" in line and "not an index" in line


def test_bad_values_and_fields_point_at_the_experiment_file(tmp_path):
    line = one_line_error(tmp_path, spec(variants={"none": {"pools.servers.headcount": -1}}))
    assert "pools.servers.headcount: must be >= 0" in line
    line = one_line_error(tmp_path, spec(variants={"typo": {"pools.servers.headcont": 4}}))
    assert "unknown field 'headcont'" in line and "headcount" in line
    text = yaml.safe_dump(spec(), sort_keys=False).replace("replications:", "replicatons:")
    line = one_line_error(tmp_path, text, problems=2)  # the typo, and the field it should have been
    assert "replicatons: unknown field" in line and "did you mean 'replications'" in line
    line = one_line_error(tmp_path, spec(report=["stages.service.wait.mean"]))
    assert "unknown KPI 'stages.service.wait.mean'" in line and "mean_h" in line
    line = one_line_error(tmp_path, spec(warmup="12h"))
    assert "warmup: must be whole days" in line
    line = one_line_error(tmp_path, spec(baseline="five"))
    assert "no variant named 'five'" in line


def test_run_still_runs_process_configs(tmp_path, base_config, write_yaml):
    config = write_yaml(base_config)
    result = run_cli("run", str(config), "--out", str(tmp_path / "results"), "-q")
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "results" / "small").iterdir())
    refused = run_cli("run", str(config), "--workers", "2", "--out", str(tmp_path / "results"))
    assert refused.exit_code == 2 and "experiment files only" in refused.output


def test_shipped_experiment_resolves():
    exp = load_experiment(ROOT / "scenarios" / "eu-centre-staffing.yaml")
    headcounts = {v.cfg.pools["reviewers"].headcount for v in exp.variants}
    rates = {v.cfg.sources["dominant_provider"].rate for v in exp.variants}
    assert len(exp.variants) == 6 and len(headcounts) == 3 and len(rates) == 2
    assert len({v.config_hash for v in exp.variants}) == 6
    assert exp.baseline == "volume_2019 headcount=39" and exp.seed == 2019
    assert all(v.cfg.time.horizon.text == "60d" for v in exp.variants)


def test_compare_from_folder_or_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec(), sort_keys=False), encoding="utf-8")
    out = tmp_path / "results"
    assert run_cli("run", str(path), "--out", str(out), "-q").exit_code == 0
    folder = out / "mmc-staff"
    result = run_cli("compare", str(folder), "--kpi", "pools.servers.utilisation")
    assert result.exit_code == 0, result.output
    assert "four" in result.output and "baseline" in result.output and " pp [" in result.output
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert {r["variant"] for r in rows} == {"three", "four"}
    other = run_cli("compare", str(path), "--out", str(out), "--baseline", "four")
    assert other.exit_code == 0, other.output
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["baseline"] == "four" and summary["variants"]["four"]["vs_baseline"] is None
    assert run_cli("compare", str(folder), "--baseline", "five").exit_code == 2
    assert run_cli("compare", str(folder), "--kpi", "nope").exit_code == 2
    assert run_cli("compare", str(tmp_path)).exit_code == 2


def test_a_variant_can_start_from_another_config_and_is_paired_by_seed(tmp_path):
    """``bases:`` lets today's route and the options run as one experiment: the variant starts from
    its own config, the common overrides still apply, and the shared streams give the same arrivals."""
    other = tmp_path / "mm1-copy.yaml"
    other.write_text((ROOT / "configs" / "textbook" / "mm1.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "exp.yaml"
    variants = {"three": {}, "four": {}}
    path.write_text(yaml.safe_dump(spec(variants=variants, bases={"four": str(other)}), sort_keys=False),
                    encoding="utf-8")
    exp = load_experiment(path)
    by_name = {v.name: v for v in exp.variants}
    assert by_name["three"].cfg.name == "mmc" and by_name["four"].cfg.name == "mm1"
    assert by_name["four"].cfg.time.horizon.text == "2d"  # the common override applied to it too
    line = one_line_error(tmp_path, spec(variants=variants, bases={"five": str(other)}))
    assert "bases: no variant named 'five'" in line
    line = one_line_error(tmp_path, spec(variants=variants, bases={"four": "nowhere.yaml"}))
    assert "bases.four" in line and "no such config file: nowhere.yaml" in line


def test_the_impact_assessment_experiment_resolves():
    exp = load_experiment(ROOT / "scenarios" / "impact-assessment.yaml")
    by_name = {v.name: v for v in exp.variants}
    assert list(by_name) == ["status_quo", "option_a", "option_b", "option_c", "option_d", "option_e"]
    assert exp.baseline == "status_quo"
    assert "relevance_review" in by_name["option_b"].cfg.stages and "forwarding" not in by_name["status_quo"].cfg.stages
    extra = [sorted(set(v.cfg.sources) - set(by_name["option_b"].cfg.sources)) for v in exp.variants[3:]]
    assert extra == [["detection_known"], ["detection_known", "detection_new"],
                     ["detection_grooming", "detection_known", "detection_new"]]
