"""``routing-sim validate`` and ``routing-sim schema``: checking config files and describing them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from routing_sim.cli.common import EXIT_BAD_INPUT, out, report_config_error
from routing_sim.errors import ConfigError
from routing_sim.loader import load_config
from routing_sim.model.process import ProcessConfig
from routing_sim.yamlio import dump_yaml


def validate(
    files: list[Path] = typer.Argument(..., help="Config files to check."),
    show: bool = typer.Option(False, "--show", help="Print each resolved config as YAML."),
) -> None:
    """Check config or experiment files; print every problem on one line; exit 2 if any file has one."""
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.resolve import load_experiment
    from routing_sim.experiments.spec import is_experiment_file
    from routing_sim.runfolder import resolved_config

    failed = False
    for path in files:
        try:
            if is_experiment_file(path):  # an experiment: every variant must resolve to a valid config
                experiment = load_experiment(path)
                out.print(f"{path}: ok (experiment, {len(experiment.variants)} variants)", markup=False)
                continue
            cfg = load_config(path)
        except ConfigError as exc:
            report_config_error(exc)
            failed = True
            continue
        if show:
            out.print(dump_yaml(resolved_config(cfg, cfg.seed)), markup=False, soft_wrap=True)
        else:
            out.print(f"{path}: ok ({len(cfg.stages)} stages, {len(cfg.pools)} pools, {len(cfg.sources)} sources)",
                      markup=False)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def schema(output: Path | None = typer.Option(None, "--out", help="Write to this file instead of stdout.")) -> None:
    """Print the JSON schema of config files (for editor completion)."""
    text = json.dumps(ProcessConfig.model_json_schema(by_alias=True), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
