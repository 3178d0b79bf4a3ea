"""The ``routing-sim`` command line: the app, its global options and :func:`main`.

One module per command group, each a set of plain functions registered below:
:mod:`~routing_sim.cli.configs` (validate, schema), :mod:`~routing_sim.cli.run` (run),
:mod:`~routing_sim.cli.experiments` (compare), :mod:`~routing_sim.cli.report` (report,
export-log), :mod:`~routing_sim.cli.optimise` (optimise, sensitivity). Exit codes, consoles and
error printing: :mod:`routing_sim.cli.common`.
"""

from __future__ import annotations

import signal
import sys

import typer

from routing_sim import logs
from routing_sim.cli import configs, experiments, optimise, report, run
from routing_sim.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, err

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


# the order here is the order of `routing-sim --help`
app.command("validate")(configs.validate)
app.command("schema")(configs.schema)
app.command("run")(run.run)  # a process config or an experiment file
app.command("compare")(experiments.compare)
app.command("report")(report.report)  # HTML with figures
app.command("export-log")(report.export_log)  # CSV and XES
app.command("optimise")(optimise.optimise)  # the cheapest staffing that meets the targets
app.command("sensitivity")(optimise.sensitivity)


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
