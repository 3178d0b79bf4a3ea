"""Command-line entry points for experiments: ``run`` (dispatching on the file) and ``compare``.

``register(app)`` replaces the ``run`` command with one that runs an
experiment file (a YAML file with a top-level ``base:`` or ``variants:``) and
hands any other file to the original ``run`` unchanged, and adds ``compare``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from routing_sim.errors import ConfigError, RunError

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def register(app: typer.Typer) -> None:
    original = _take_command(app, "run")

    @app.command("run")
    def run(
        config: Path = typer.Argument(..., help="A process config, or an experiment file (scenarios/*.yaml)."),
        seed: int | None = typer.Option(None, min=0, help="Root seed; defaults to the file's seed."),
        results: Path = typer.Option(Path("results"), "--out", help="Results folder."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
        workers: int = typer.Option(1, "--workers", min=1, help="Experiments: worker processes (1: serial)."),
        dask: str | None = typer.Option(None, "--dask", help="Experiments: 'local' or a scheduler address "
                                                                 "such as tcp://host:8786."),
        engine: str = typer.Option("auto", "--engine", help="Single runs: auto, simpy or fast (same results)."),
        set_: list[str] | None = typer.Option(None, "--set", help="Single runs: PATH=VALUE override (repeat)."),
        horizon: str | None = typer.Option(None, "--horizon", help="Single runs: override time.horizon, e.g. 30d."),
    ) -> None:
        """Run one replication of a process config, or every task of an experiment file (rerun to resume)."""
        from routing_sim.experiments.spec import is_experiment_file

        if not is_experiment_file(config):
            if workers != 1 or dask is not None:
                _fail(EXIT_BAD_INPUT, f"{config}: --workers and --dask apply to experiment files only")
            original(config=config, seed=seed, results=results, quiet=quiet, engine=engine, set_=set_,
                     horizon=horizon)
            return
        if set_ or horizon is not None:
            _fail(EXIT_BAD_INPUT, f"{config}: --set and --horizon apply to single runs; an experiment file "
                                  "states its overrides")
        run_experiment_command(config, seed, results, quiet, workers, dask)

    @app.command("compare")
    def compare(
        target: Path = typer.Argument(..., help="An experiment's results folder, or its experiment file."),
        results: Path = typer.Option(Path("results"), "--out", help="Results folder (for an experiment file)."),
        baseline: str | None = typer.Option(None, help="Compare against this variant instead."),
        kpi: list[str] | None = typer.Option(None, "--kpi", help="KPIs to show (repeat); default: the report."),
    ) -> None:
        """Compare variants: means with t-intervals, paired differences against the baseline.

        Also writes summary.json and summary.csv to the experiment's folder."""
        compare_command(target, results, baseline, kpi or None)


def _take_command(app: typer.Typer, name: str) -> Any:
    for info in list(app.registered_commands):
        if (info.name or getattr(info.callback, "__name__", "")) == name:
            app.registered_commands.remove(info)
            return info.callback
    raise RuntimeError(f"no command {name!r} to extend")


def _fail(code: int, message: str) -> None:
    from routing_sim.cli.common import err

    err.print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def run_experiment_command(path: Path, seed: int | None, results: Path, quiet: bool, workers: int,
                           dask: str | None) -> None:
    from routing_sim.cli.common import out, report_config_error as _report_config_error
    from routing_sim.experiments.resolve import load_experiment
    from routing_sim.experiments.runner import run_experiment
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import comparison_table, notes

    if dask is not None and dask != "local" and "://" not in dask:
        _fail(EXIT_BAD_INPUT, f"--dask: 'local' or a scheduler address such as tcp://host:8786 (got {dask!r})")
    try:
        exp = load_experiment(path, seed=seed)
    except ConfigError as exc:
        _report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT)
    folder = Store.under(results, exp.name).folder
    try:
        with TaskProgress(quiet) as progress:
            summary = run_experiment(exp, results, workers=workers, dask=dask, progress=progress)
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, f"interrupted: finished tasks are kept in {folder}; run the same command to resume")
    except ConfigError as exc:  # --out is not a usable folder
        _report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT)
    except RunError as exc:
        _fail(EXIT_FAILED, f"{path}: {exc}")
    if not quiet:
        out.print(comparison_table(summary))
    for line in notes(summary):
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"results: {folder}", markup=False, soft_wrap=True)
    if summary["tasks"]["failed"] or summary["tasks"]["missing"]:
        raise typer.Exit(EXIT_FAILED)


def compare_command(target: Path, results: Path, baseline: str | None, kpis: list[str] | None) -> None:
    from routing_sim.cli.common import out, report_config_error as _report_config_error
    from routing_sim.experiments.spec import read_spec
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import comparison_table, notes, summarise, write_summary

    if target.is_dir():
        store = Store(target)
    else:
        try:
            spec, _, _ = read_spec(target)
        except ConfigError as exc:
            _report_config_error(exc)
            raise typer.Exit(EXIT_BAD_INPUT)
        store = Store.under(results, spec.name)
    if not (store.folder / "experiment.json").is_file():
        _fail(EXIT_BAD_INPUT, f"{store.folder}: no experiment results here (run the experiment first)")
    try:
        plan = store.read_plan()
        summary = summarise(store, plan, baseline)
    except KeyError as exc:
        if baseline is not None and baseline in str(exc):
            _fail(EXIT_BAD_INPUT, f"--baseline: {exc.args[0]}")
        _fail(EXIT_BAD_INPUT, f"{store.folder}: results this version cannot read (missing {exc})")
    except RunError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:  # a foreign or hand-edited folder
        _fail(EXIT_BAD_INPUT, f"{store.folder}: results this version cannot read ({type(exc).__name__}: {exc})")
    unknown = [k for k in kpis or [] if not any(k in v["kpis"] for v in summary["variants"].values())]
    if unknown:
        _fail(EXIT_BAD_INPUT, f"--kpi: no such KPI in the results: {', '.join(unknown)}")
    write_summary(store, summary)
    out.print(comparison_table(summary, kpis))
    for line in notes(summary):
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"summary: {store.folder / 'summary.json'}", markup=False, soft_wrap=True)


class TaskProgress:
    """A rich progress bar on stderr over the tasks of the current round, with its ETA; a no-op when
    quiet. An experiment adds rounds as the replications algorithm asks for more (the warm-up
    pilots, then one round per number of replications), so the whole total is not known ahead:
    each round gets its own bar and estimate instead of a total that jumps and an ETA that lies."""

    def __init__(self, quiet: bool, console: Any = None):
        from routing_sim.cli.common import err

        self.err = console or err
        self.bar = None if quiet else Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("round ETA"),
            TimeRemainingColumn(), console=self.err, transient=True,
        )
        self.task: Any = None
        self.failed = 0
        self.rounds = 0

    def __enter__(self) -> TaskProgress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def add(self, tasks: int, skipped: int, stale: int = 0) -> None:
        if skipped:
            self.err.print(f"{skipped} tasks already done by an earlier run (skipped), {tasks} to run", markup=False)
        if stale:
            self.err.print(f"{stale} tasks were computed by another version of routing_sim: run again", markup=False)
        if self.bar is None or not tasks:
            return
        self.rounds += 1
        description = f"round {self.rounds}: tasks"
        if self.task is None:
            self.task = self.bar.add_task(description, total=tasks, failed=self.failed)
        else:
            self.bar.reset(self.task, total=tasks, description=description, failed=self.failed)

    def advance(self, record: dict[str, Any]) -> None:
        if record.get("status") != "ok":
            self.failed += 1
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, failed=self.failed)
