"""``routing-sim report`` and ``routing-sim export-log``: results people would rather look at."""

from __future__ import annotations

from pathlib import Path

import typer

from routing_sim.cli.common import EXIT_BAD_INPUT, fail_plain
from routing_sim.errors import ConfigError, RunError

FOREIGN = (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError)
"""What reading a hand-edited, truncated or foreign results folder raises past the checks that
name the file (pyarrow's errors are ValueErrors and OSErrors)."""


def report(
    results_dir: Path = typer.Argument(..., help="A run folder, a folder of run folders, or an experiment folder."),
    baseline: str | None = typer.Option(None, help="Variant to compare against (default: the first by name)."),
) -> None:
    """Write RESULTS_DIR/report.html (one offline file) and its figures as PNG and SVG in RESULTS_DIR/figures/."""
    from routing_sim.report import write_report  # here, not at the top: keeps --help fast

    if not results_dir.is_dir():
        fail_plain(EXIT_BAD_INPUT, f"{results_dir}: not a folder")
    try:
        path = write_report(results_dir, baseline)
    except (RunError, ConfigError) as exc:
        fail_plain(EXIT_BAD_INPUT, f"{results_dir}: {exc}")
    except FOREIGN as exc:
        fail_plain(EXIT_BAD_INPUT, f"{results_dir}: results this version cannot read ({type(exc).__name__}: {exc})")
    typer.echo(f"report: {path}")


def export_log(
    results_dir: Path = typer.Argument(..., help="A run folder (with visits.parquet and entities.parquet)."),
    max_cases: int | None = typer.Option(None, "--max-cases", min=1, help="Only the first N cases (by id)."),
    formats: str = typer.Option("csv,xes", "--formats", help="Which files: csv, xes or both (comma-separated)."),
) -> None:
    """Write RESULTS_DIR/events.csv and events.xes: one start and one complete event per stage visit."""
    from routing_sim.report.eventlog import export_log as export  # here, not at the top: keeps --help fast

    wanted = {f.strip() for f in formats.split(",") if f.strip()}
    if not wanted or wanted - {"csv", "xes"}:
        fail_plain(EXIT_BAD_INPUT, f"--formats: give csv, xes or csv,xes (got {formats!r})")
    try:
        written = export(results_dir, max_cases=max_cases, csv="csv" in wanted, xes="xes" in wanted)
    except RunError as exc:
        fail_plain(EXIT_BAD_INPUT, f"{results_dir}: {exc}")
    except FOREIGN as exc:
        fail_plain(EXIT_BAD_INPUT, f"{results_dir}: results this version cannot read ({type(exc).__name__}: {exc})")
    for path in written:
        typer.echo(f"event log: {path}")
