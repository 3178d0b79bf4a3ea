"""The ``routing-sim`` command line.

Exit codes, consoles and error printing: :mod:`routing_sim.cli.common`.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional

import structlog
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from routing_sim import logs
from routing_sim.cli import configs
from routing_sim.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, err, out, report_config_error
from routing_sim.errors import ConfigError, RunError
from routing_sim.loader import load_config
from routing_sim.model.process import ProcessConfig

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate case-routing processes (such as the proposed EU Centre's report handling) from YAML configs.",
)

@app.callback()
def main_options(
    log_level: str = typer.Option("warning", help=f"Diagnostics level: {', '.join(logs.LEVELS)}."),
    log_json: bool = typer.Option(False, "--log-json", help="Diagnostics as JSON lines on stderr."),
) -> None:
    if log_level not in logs.LEVELS:
        err.print(f"--log-level: must be one of {', '.join(logs.LEVELS)} (got {log_level!r})")
        raise typer.Exit(EXIT_BAD_INPUT)
    logs.configure(log_level, log_json)


app.command("validate")(configs.validate)
app.command("schema")(configs.schema)


@app.command()
def run(
    config: Path = typer.Argument(..., help="Process config (YAML)."),
    seed: Optional[int] = typer.Option(None, min=0, help="Root seed; defaults to the config's seed."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
    engine: str = typer.Option("auto", "--engine", help="Executor: auto (fast where the pools form no cycle), "
                                                          "simpy (the reference) or fast. Same results."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="PATH=VALUE override, e.g. "
                                                                   "pools.reviewers.headcount=40 (repeat)."),
    horizon: Optional[str] = typer.Option(None, "--horizon", help="Override time.horizon, e.g. 30d."),
) -> None:
    """Run one replication and write results/<name>/<run id>/."""
    from routing_sim.engine.simulate import EngineError
    from routing_sim.runfolder import run_to_folder

    try:
        cfg = _config_with_overrides(config, set_, horizon)
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT)
    effective_seed = cfg.seed if seed is None else seed
    structlog.contextvars.bind_contextvars(config=cfg.name, seed=effective_seed)
    log = logs.get_logger()
    log.info("run_started", config_file=str(config))
    started = time.perf_counter()
    try:
        with _progress(quiet) as update:
            record = run_to_folder(cfg, seed=effective_seed, results=results, config_file=str(config),
                                   progress=update, engine=engine)
    except KeyboardInterrupt:
        log.warning("run_interrupted")
        err.print("interrupted: partial results were discarded; the manifest records the interruption")
        raise typer.Exit(EXIT_INTERRUPTED)
    except EngineError as exc:
        err.print(f"{config}: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    except ConfigError as exc:  # --out is not a usable folder
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT)
    except RunError as exc:
        log.error("run_failed", error=str(exc))
        err.print(f"{config}: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    wall = time.perf_counter() - started
    log.info("run_finished", folder=str(record.folder), wall_time_s=round(wall, 3))
    if not quiet:
        out.print(headline_table(cfg, record.kpis, record.manifest))
    out.print(f"results: {record.folder}", markup=False)


def _config_with_overrides(config: Path, sets: list[str] | None, horizon: str | None) -> Any:
    """The config, with ``--set`` and ``--horizon`` applied before validation (function-level
    imports: they keep ``--help`` fast)."""
    if not sets and horizon is None:
        return load_config(config)
    from routing_sim.experiments.resolve import with_overrides
    from routing_sim.loader import load_data, validate_data
    from routing_sim.optimise.evaluate import parse_sets

    overrides = parse_sets(sets)
    if horizon is not None:
        overrides["time.horizon"] = horizon
    data, origins = load_data(config)
    return validate_data(with_overrides(data, overrides), origins=origins)


class _progress:
    """A rich progress bar over simulated days; a no-op when quiet or not on a terminal."""

    def __init__(self, quiet: bool):
        self.bar = None if quiet else Progress(
            TextColumn("simulating"), BarColumn(), TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(), console=err, transient=True,
        )
        self.task: Any = None

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.__enter__()

        def update(now: float, horizon: float) -> None:
            if self.task is None:
                self.task = self.bar.add_task("run", total=horizon / 24)
            self.bar.update(self.task, completed=now / 24)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _fmt_hours(hours: float) -> str:
    if hours != hours:
        return "-"
    if hours >= 48:
        return f"{hours / 24:.1f} d"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.1f} min"


def headline_table(cfg: ProcessConfig, kpis: dict[str, Any], manifest: dict[str, Any]) -> Table:
    table = Table(title=f"{cfg.name}: headline KPIs (seed {manifest['seed']})", show_lines=False)
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name, d in kpis["deadlines"].items():
        share = d["share_within"]
        table.add_row(f"{name} (target {_fmt_hours(d['target_h'])})",
                      f"{share:.1%}  p90 {_fmt_hours(d['p90_h'])}" if share == share else "-")
    for name, p in kpis["pools"].items():
        table.add_row(f"utilisation {name} ({p['headcount']} staff)", f"{p['utilisation']:.1%}")
    for name, s in kpis["stages"].items():
        if s["backlog_end"]["queued"]:
            table.add_row(f"backlog at end: {name}", f"{s['backlog_end']['queued']:,} waiting")
    for name, n in kpis["tallies"].items():
        table.add_row(name, f"{n:,}")
    cost = kpis["cost"]
    table.add_row("staff cost per year", f"EUR {cost['staff_cost_per_year']:,.0f}")
    table.add_row("staff cost per arrival", f"EUR {cost['staff_cost_per_arrival']:,.2f}")
    counts = manifest.get("counts", {})
    table.add_row("arrivals from sources", f"{counts.get('arrivals_from_sources', 0):,}")
    table.add_row("simulation time", f"{manifest.get('simulation_seconds')} s "
                  f"({manifest.get('arrivals_per_second', 0):,.0f} arrivals/s)")
    return table


from routing_sim.experiments.cli import register as _register_experiments  # noqa: E402

_register_experiments(app)  # experiment files in `run`, and `compare`

from routing_sim.report.commands import register as _register_report  # noqa: E402

_register_report(app)  # `report` (HTML with figures) and `export-log` (CSV and XES)

from routing_sim.optimise.cli import register as _register_optimise  # noqa: E402

_register_optimise(app)  # `optimise` (cheapest staffing meeting targets) and `sensitivity`


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (what timeout, docker stop, systemd and batch schedulers send) ends a run as Ctrl-C
    does: the run's folder records the interruption and the exit code is 130."""
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
