"""Output meant for pipes and files: one line per message, whatever the path's length or the
terminal's absence (a checkout in a long folder once made `validate` wrap its ok line at 80
characters, and a test read the wrapped line)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_validate_prints_one_unwrapped_line_per_file_in_a_long_path(tmp_path: Path) -> None:
    deep = tmp_path / ("long-folder-name-" * 8) / ("x" * 60)
    deep.mkdir(parents=True)
    config = deep / "mm1.yaml"
    shutil.copy(ROOT / "configs" / "textbook" / "mm1.yaml", config)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "validate", str(config)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(str(config)) > 200
    assert done.stdout.splitlines() == [f"{config}: ok (1 stages, 1 pools, 1 sources)"]


def test_a_config_problem_in_a_long_path_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("another-long-folder-" * 8)
    deep.mkdir(parents=True)
    config = deep / "bad.yaml"
    config.write_text((ROOT / "configs" / "textbook" / "mm1.yaml").read_text().replace("seed:", "seed: -5 #"))
    done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "validate", str(config)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{config}:") and "seed" in lines[0]


def test_run_takes_set_and_horizon_overrides_and_names_an_unknown_path(tmp_path: Path) -> None:
    """`run --set PATH=VALUE --horizon 5d`, as optimise and sensitivity take them: the run folder's
    config holds the new values (and so has its own run id); a misspelt path is one line, exit 2."""
    import yaml
    from typer.testing import CliRunner

    from routing_sim.cli import app

    config = ROOT / "configs" / "textbook" / "mmc.yaml"
    runner = CliRunner()
    plain = runner.invoke(app, ["run", str(config), "-q", "--out", str(tmp_path), "--horizon", "2d"])
    changed = runner.invoke(app, ["run", str(config), "-q", "--out", str(tmp_path), "--horizon", "2d",
                                  "--set", "pools.servers.headcount=9"])
    assert plain.exit_code == 0 and changed.exit_code == 0, changed.output
    folders = sorted((tmp_path / "mmc").iterdir())
    assert len(folders) == 2
    resolved = [yaml.safe_load((f / "config.resolved.yaml").read_text()) for f in folders]
    assert sorted(r["pools"]["servers"]["headcount"] for r in resolved) == [3, 9]
    assert {r["time"]["horizon"] for r in resolved} == {"2d"}
    wrong = runner.invoke(app, ["run", str(config), "-q", "--out", str(tmp_path), "--set", "pools.server.headcount=9"])
    assert wrong.exit_code == 2
    assert wrong.stderr.strip().splitlines() == [
        "<--set>: pools.server.headcount: unknown path 'pools.server.headcount': no 'server' in pools "
        "(did you mean 'servers'?)"]


def test_the_headline_shows_a_split_pools_most_utilised_copies_and_sums_up_the_rest(tmp_path: Path) -> None:
    """The 27 member states' pools would fill the terminal: the headline lists the three most
    utilised and one line for the other 24 (lowest to highest utilisation)."""
    import json

    from rich.console import Console

    from routing_sim.cli.run import SPLIT_SHOWN, headline_table
    from routing_sim.loader import load_config
    from routing_sim.runfolder import run_to_folder

    cfg = load_config(ROOT / "configs" / "eu-centre-2019.yaml")
    cfg = cfg.model_copy(update={"time": cfg.time.model_copy(update={"horizon": type(cfg.time.horizon)("3d")})})
    record = run_to_folder(cfg, results=tmp_path)
    kpis = json.loads((record.folder / "kpis.json").read_text())
    manifest = json.loads((record.folder / "manifest.json").read_text())
    console = Console(width=200, record=True)
    console.print(headline_table(cfg, kpis, manifest))
    text = console.export_text()
    copies = [p for p in kpis["pools"] if p.startswith("national_authorities_")]
    top = sorted(copies, key=lambda p: -kpis["pools"][p]["utilisation"])[:SPLIT_SHOWN]
    listed = [p for p in copies if f"utilisation of {p.replace('_', ' ')} (" in text]
    assert sorted(listed) == sorted(top)
    assert f"the other {len(copies) - SPLIT_SHOWN} pools of national authorities" in text
