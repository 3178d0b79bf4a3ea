"""The run folder: complete outputs, atomic publication, failures that lose nothing."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from routing_sim import runfolder
from routing_sim.cli import app
from routing_sim.errors import RunError
from routing_sim.loader import validate_data
from routing_sim.runfolder import run_to_folder, safe_child

FILES = {"config.resolved.yaml", "manifest.json", "kpis.json", "visits.parquet", "entities.parquet",
         "timeseries.parquet"}


def test_run_writes_every_output(base_config, tmp_path):
    cfg = validate_data(base_config)
    record = run_to_folder(cfg, results=tmp_path, records="visits")
    assert set(os.listdir(record.folder)) == FILES
    manifest = json.loads((record.folder / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["seed"] == 7
    assert manifest["environment"]["packages"]["simpy"]
    assert len(manifest["config_hash"]) == 64
    assert manifest["counts"]["arrivals_from_sources"] > 0
    kpis = json.loads((record.folder / "kpis.json").read_text())
    assert kpis["conservation"]["case"]["balanced"] is True
    assert set(kpis) >= {"stages", "pools", "deadlines", "tallies", "conservation", "cost"}
    visits = pq.read_table(record.folder / "visits.parquet")
    assert visits.num_rows == manifest["counts"]["visits"]
    # nothing hidden left behind
    assert [p.name for p in record.folder.parent.iterdir()] == [record.folder.name]


def test_same_config_and_seed_give_identical_tables_and_kpis(base_config, tmp_path):
    cfg = validate_data(base_config)
    a = run_to_folder(cfg, results=tmp_path / "a", records="visits")
    b = run_to_folder(cfg, results=tmp_path / "b", records="visits")
    assert a.folder.name == b.folder.name
    for name in ("visits.parquet", "entities.parquet", "timeseries.parquet", "config.resolved.yaml"):
        assert (a.folder / name).read_bytes() == (b.folder / name).read_bytes()
    assert (a.folder / "kpis.json").read_text() == (b.folder / "kpis.json").read_text()
    c = run_to_folder(cfg, seed=8, results=tmp_path / "a", records="visits")
    assert c.folder.name != a.folder.name
    assert (a.folder / "visits.parquet").read_bytes() != (c.folder / "visits.parquet").read_bytes()


@pytest.mark.parametrize(("records", "tables"), [("summary", {"timeseries.parquet"}),
                                                 ("entities", {"entities.parquet", "timeseries.parquet"})])
def test_a_record_level_keeps_its_tables_and_the_same_kpis(base_config, tmp_path, records, tables):
    """Every level computes the KPIs from all the tables, then keeps only its own: the KPIs are the
    same bytes at every level, the manifest lists and checks only what was kept."""
    cfg = validate_data(base_config)
    full = run_to_folder(cfg, results=tmp_path / "full", records="visits")
    kept = run_to_folder(cfg, results=tmp_path / records, records=records)
    assert set(os.listdir(kept.folder)) == {"config.resolved.yaml", "manifest.json", "kpis.json"} | tables
    assert (kept.folder / "kpis.json").read_bytes() == (full.folder / "kpis.json").read_bytes()
    manifest = json.loads((kept.folder / "manifest.json").read_text())
    assert manifest["records"] == records and set(manifest["files"]) == {"config.resolved.yaml", "kpis.json"} | tables
    assert manifest["bytes_written"] == sum((kept.folder / n).stat().st_size for n in manifest["files"])
    with pytest.raises(RunError, match="--records: one of summary, entities, visits"):
        run_to_folder(cfg, results=tmp_path, records="all")


def test_failed_run_writes_manifest_and_no_data_under_final_names(base_config, tmp_path, monkeypatch):
    cfg = validate_data(base_config)

    def broken(*args, **kwargs):
        raise ValueError("summary exploded")

    monkeypatch.setattr(runfolder, "kpis_from_files", broken)
    with pytest.raises(RunError, match="summary exploded"):
        run_to_folder(cfg, results=tmp_path)
    (folder,) = (tmp_path / "small").iterdir()
    assert sorted(os.listdir(folder)) == ["config.resolved.yaml", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "summary exploded" in manifest["error"]


def test_failure_never_replaces_an_earlier_complete_run(base_config, tmp_path, monkeypatch):
    cfg = validate_data(base_config)
    good = run_to_folder(cfg, results=tmp_path, records="visits")
    before = (good.folder / "visits.parquet").read_bytes()

    def interrupt(now, horizon):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_to_folder(cfg, results=tmp_path, progress=interrupt)
    assert (good.folder / "visits.parquet").read_bytes() == before
    assert json.loads((good.folder / "manifest.json").read_text())["status"] == "ok"
    interrupted = good.folder.with_name(good.folder.name + ".interrupted")
    assert json.loads((interrupted / "manifest.json").read_text())["status"] == "interrupted"
    assert not [p for p in (tmp_path / "small").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["..", "../x", "/etc", "a/b", ""])
def test_output_names_cannot_leave_the_results_folder(tmp_path, name):
    with pytest.raises(RunError):
        safe_child(tmp_path, name)


def test_config_names_that_would_escape_are_rejected(base_config):
    from routing_sim.errors import ConfigError

    for bad in ("../escape", "/abs", "a/b", ".hidden"):
        base_config["name"] = bad
        with pytest.raises(ConfigError, match="name"):
            validate_data(base_config)


def test_cli_run_prints_table_and_folder(base_config, write_yaml, tmp_path):
    cfg_file = write_yaml(base_config)
    result = CliRunner().invoke(app, ["run", str(cfg_file), "--out", str(tmp_path / "res"), "--seed", "3"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "headline KPIs" in result.stdout
    assert "results:" in result.stdout
    (folder,) = (tmp_path / "res" / "small").iterdir()
    assert folder.name.endswith("-s3")


def test_cli_logs_json_with_bound_context(base_config, write_yaml, tmp_path):
    cfg_file = write_yaml(base_config)
    result = CliRunner().invoke(
        app, ["--log-level", "info", "--log-json", "run", str(cfg_file), "--out", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names == ["run_started", "run_finished"]
    assert all(e["config"] == "small" and e["seed"] == 7 for e in events)


@pytest.mark.slow
def test_sigterm_ends_a_run_like_ctrl_c(tmp_path):
    """timeout, docker stop and batch schedulers send SIGTERM: the run stops with exit code 130, no
    traceback, and its folder's manifest records the interruption; nothing half-written is left."""
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "long.yaml"
    base = Path(__file__).resolve().parent.parent / "configs" / "eu-centre-2019.yaml"
    config.write_text(f"extends: {base}\nname: long\ntime: {{start: 2019-01-01, horizon: 5y}}\n", encoding="utf-8")
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "routing_sim.cli", "run", str(config), "-q", "--out", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list((results / "long").glob(".*.partial-*/.visits.parquet.partial")):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(1.0)  # well inside the simulation
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    folders = [p for p in (results / "long").iterdir()]
    assert len(folders) == 1 and not folders[0].name.startswith(".")
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert sorted(p.name for p in folders[0].iterdir()) == ["config.resolved.yaml", "manifest.json"]


@pytest.mark.slow
def test_a_killed_runs_staging_folder_is_swept_by_the_next_run(tmp_path):
    """SIGKILL leaves the hidden staging folder (hundreds of MB for a year); the next run in the same
    config's folder removes it, since its process no longer exists."""
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "long.yaml"
    base = Path(__file__).resolve().parent.parent / "configs" / "eu-centre-2019.yaml"
    config.write_text(f"extends: {base}\nname: long\ntime: {{start: 2019-01-01, horizon: 5y}}\n", encoding="utf-8")
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "routing_sim.cli", "run", str(config), "-q", "--out", str(results)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list((results / "long").glob(".*.partial-*/.visits.parquet.partial")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    left = list((results / "long").glob(".*.partial-*"))
    assert len(left) == 1
    short = tmp_path / "short.yaml"
    short.write_text(f"extends: {base}\nname: long\ntime: {{start: 2019-01-01, horizon: 2d}}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(short), "-q", "--out", str(results)])
    assert result.exit_code == 0, result.output
    assert not left[0].exists()
    assert [p.name.startswith(".") for p in (results / "long").iterdir()] == [False]


def test_json_files_are_standard_json_with_null_for_missing_figures(tmp_path):
    """kpis.json held bare NaN tokens, which strict parsers (browsers, Go, serde) reject: an undefined
    figure (a percentile of a stage nobody reached) is now null, and the report reads it as missing."""
    from routing_sim.loader import load_data
    from routing_sim.report.load import load_study

    data, _ = load_data(Path(__file__).resolve().parent.parent / "configs" / "eu-centre-2019.yaml")
    data["time"]["horizon"] = "2d"  # no complaint about a removal is decided in two days: its figures are undefined
    del data["sources"]["user_complaints"]  # (the complaints that arrive from users are)
    record = run_to_folder(validate_data(data), results=tmp_path)

    def strict(token):
        raise ValueError(f"non-standard JSON token {token}")

    for name in ("kpis.json", "manifest.json"):
        json.loads((record.folder / name).read_text(), parse_constant=strict)
    kpis = json.loads((record.folder / "kpis.json").read_text())
    assert kpis["stages"]["complaint_review"]["wait"]["mean_h"] is None
    read_back = load_study(record.folder).variants[0].runs[0].kpis  # what the report computes with
    assert math.isnan(read_back["stages"]["complaint_review"]["wait"]["mean_h"])


def test_publishing_survives_another_run_publishing_the_same_folder_at_the_same_moment(tmp_path, monkeypatch):
    """Two runs of one config and seed (the same bytes) finishing together: a check-then-rename
    failed the second with 'Directory not empty' after its work was done. Now whichever lands last
    stays, and no hidden folder is left."""
    final = tmp_path / "run"
    staging = tmp_path / ".run.partial-1"
    staging.mkdir()
    (staging / "kpis.json").write_text("new")
    real = os.replace
    calls = []

    def racing(src, dst):
        if not calls:  # the other run lands its folder just before this one's first rename
            final.mkdir()
            (final / "kpis.json").write_text("other")
        calls.append((src, dst))
        return real(src, dst)

    monkeypatch.setattr(runfolder.os, "replace", racing)
    runfolder._publish(staging, final)
    assert (final / "kpis.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_full_disk_ends_in_one_line_naming_the_cause(tmp_path, monkeypatch):
    """A full disk while the tables are written, and again while the failure is recorded, ended in
    chained tracebacks that hid the cause; now one line says it, and no staging folder is left."""
    import errno

    from routing_sim.engine.records import ParquetSink

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ParquetSink, "write", full)
    monkeypatch.setattr(runfolder, "write_atomic", full)
    config = Path(__file__).resolve().parent.parent / "configs" / "textbook" / "mm1.yaml"
    result = CliRunner().invoke(app, ["run", str(config), "-q", "--out", str(tmp_path)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "run_failed" not in line]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "could not be recorded" in lines[0], lines
    assert "Traceback" not in result.output + result.stderr
    assert list((tmp_path / "mm1").iterdir()) == []
