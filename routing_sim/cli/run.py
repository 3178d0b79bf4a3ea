"""``routing-sim run``: one replication of a process config, or every task of an experiment file.

One command, dispatching on the file: an experiment file (a YAML file with a top-level
``base:`` or ``variants:``) runs all its tasks; any other file is a process config, run once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from routing_sim import logs
from routing_sim.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, err, fail, out, report_config_error
from routing_sim.errors import ConfigError, RunError
from routing_sim.jsonio import flatten
from routing_sim.kpilabels import fmt, fmt_hours, label, unit, words
from routing_sim.loader import load_config, load_data, validate_data
from routing_sim.model.process import ProcessConfig
from routing_sim.verdicts import STYLE, Target, target_of


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
    records: str = typer.Option("summary", "--records", help="Single runs: the tables kept beside the KPIs: "
                                "summary (time series), entities (+ a row per entity: time-to-target curves) or "
                                "visits (+ a row per visit: the event log)."),
) -> None:
    """Run one replication of a process config, or every task of an experiment file (rerun to resume)."""
    from routing_sim.experiments.spec import is_experiment_file  # here, not at the top: keeps --help fast

    if not is_experiment_file(config):
        if workers != 1 or dask is not None:
            fail(EXIT_BAD_INPUT, f"{config}: --workers and --dask apply to experiment files only")
        _run_config(config, seed, results, quiet, engine, set_, horizon, records)
        return
    if set_ or horizon is not None or records != "summary":
        fail(EXIT_BAD_INPUT, f"{config}: --set, --horizon and --records apply to single runs; an experiment file "
                             "states its overrides and keeps task records")
    _run_experiment(config, seed, results, quiet, workers, dask)


def _run_config(config: Path, seed: int | None, results: Path, quiet: bool, engine: str, set_: list[str] | None,
                horizon: str | None, records: str = "summary") -> None:
    """``run`` with a process config: one replication, written to results/<name>/<run id>/."""
    # here, not at the top: keeps --help fast
    from routing_sim.engine.simulate import EngineError
    from routing_sim.runfolder import RECORDS, run_to_folder

    if records not in RECORDS:
        fail(EXIT_BAD_INPUT, f"--records: one of {', '.join(RECORDS)} (got {records!r})")

    try:
        cfg = _config_with_overrides(config, set_, horizon)
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
    effective_seed = cfg.seed if seed is None else seed
    structlog.contextvars.bind_contextvars(config=cfg.name, seed=effective_seed)
    log = logs.get_logger()
    log.info("run_started", config_file=str(config))
    started = time.perf_counter()
    try:
        with _progress(quiet) as update:
            record = run_to_folder(cfg, seed=effective_seed, results=results, config_file=str(config),
                                   progress=update, engine=engine, records=records)
    except KeyboardInterrupt:
        log.warning("run_interrupted")
        fail(EXIT_INTERRUPTED, "interrupted: partial results were discarded; the manifest records the interruption")
    except EngineError as exc:
        fail(EXIT_BAD_INPUT, f"{config}: {exc}")
    except ConfigError as exc:  # --out is not a usable folder
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
    except RunError as exc:
        log.error("run_failed", error=str(exc))
        fail(EXIT_FAILED, f"{config}: {exc}")
    wall = time.perf_counter() - started
    log.info("run_finished", folder=str(record.folder), wall_time_s=round(wall, 3))
    if not quiet:
        out.print(headline_table(cfg, record.kpis, record.manifest))
        m = record.manifest
        out.print(f"simulated {m.get('counts', {}).get('arrivals_from_sources', 0):,} arrivals in "
                  f"{m.get('simulation_seconds')} s ({m.get('arrivals_per_second', 0):,.0f} arrivals/s)", markup=False)
        size = record.manifest.get("bytes_written", 0) / 1e6
        more = {"summary": "; --records entities or visits keeps the tables", "entities": "; --records visits keeps "
                "every visit"}.get(records, "")
        out.print(f"wrote {size:.1f} MB (records: {records}: {', '.join(RECORDS[records])}, kpis.json{more})",
                  markup=False, soft_wrap=True)
    out.print(f"results: {record.folder}", markup=False)


def _config_with_overrides(config: Path, sets: list[str] | None, horizon: str | None) -> Any:
    """The config, with ``--set`` and ``--horizon`` applied before validation."""
    if not sets and horizon is None:
        return load_config(config)
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.resolve import with_overrides
    from routing_sim.optimise.evaluate import parse_sets

    overrides = parse_sets(sets)
    if horizon is not None:
        overrides["time.horizon"] = horizon
    data, origins = load_data(config)
    return validate_data(with_overrides(data, overrides), origins=origins)


def _run_experiment(path: Path, seed: int | None, results: Path, quiet: bool, workers: int,
                    dask: str | None) -> None:
    """``run`` with an experiment file: every task not yet done, then the comparison table."""
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.resolve import load_experiment
    from routing_sim.experiments.runner import run_experiment
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import comparison_table, notes

    if dask is not None and dask != "local" and "://" not in dask:
        fail(EXIT_BAD_INPUT, f"--dask: 'local' or a scheduler address such as tcp://host:8786 (got {dask!r})")
    try:
        exp = load_experiment(path, seed=seed)
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
    folder = Store.under(results, exp.name).folder
    try:
        with TaskProgress(quiet) as progress:
            summary = run_experiment(exp, results, workers=workers, dask=dask, progress=progress)
    except KeyboardInterrupt:
        fail(EXIT_INTERRUPTED, f"interrupted: finished tasks are kept in {folder}; run the same command to resume")
    except ConfigError as exc:  # --out is not a usable folder
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
    except RunError as exc:
        fail(EXIT_FAILED, f"{path}: {exc}")
    if not quiet:
        out.print(comparison_table(summary))
    for line in notes(summary):
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"results: {folder}", markup=False, soft_wrap=True)
    if summary["tasks"]["failed"] or summary["tasks"]["missing"]:
        raise typer.Exit(EXIT_FAILED)


class _progress:
    """A rich progress bar over simulated days; a no-op when quiet or not on a terminal."""

    def __init__(self, quiet: bool):
        self.bar = None if quiet else Progress(
            TextColumn("simulating"), BarColumn(), TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(), console=err, transient=True,
        )
        self.task: Any = None

    def __enter__(self) -> Callable[[float, float], None] | None:
        bar = self.bar
        if bar is None:
            return None
        bar.__enter__()

        def update(now: float, horizon: float) -> None:
            if self.task is None:
                self.task = bar.add_task("run", total=horizon / 24)
            bar.update(self.task, completed=now / 24)

        return update

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(exc_type, exc, tb)


class TaskProgress:
    """A rich progress bar on stderr over the tasks of the current round, with its ETA; a no-op when
    quiet. An experiment adds rounds as the replications algorithm asks for more (the warm-up
    pilots, then one round per number of replications), so the whole total is not known ahead:
    each round gets its own bar and estimate instead of a total that jumps and an ETA that lies."""

    def __init__(self, quiet: bool, console: Any = None):
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(exc_type, exc, tb)

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


def _judged(target: Target | None, value: float) -> str:
    """``>= 95 %: met`` in the verdict's colour; empty without a target."""
    if target is None:
        return ""
    verdict = target.verdict(value)
    return f"{target.text()}: [{STYLE[verdict]}]{verdict}[/]" if verdict else f"{target.text()}: -"


def _tally_text(tally: int | dict[str, Any]) -> str:
    """A count as it is; a share as ``12 of 40: 30.0 % [17.9, 45.6]`` (its 95 % Wilson interval, in %)."""
    if not isinstance(tally, dict):
        return f"{tally:,}"
    count, n, share = tally["count"], tally["denominator"], tally["share"]
    if not n or share != share:
        return f"{count:,} of {n:,}: -"
    return f"{count:,} of {n:,}: {fmt(share, 'share')} [{tally['share_low'] * 100:.1f}, {tally['share_high'] * 100:.1f}]"


SPLIT_SHOWN = 3
"""Of a split pool's copies, the headline shows this many (the most utilised, the longest backlogs)."""


def _most(values: dict[str, float], group: dict[str, str]) -> set[str]:
    """Every name outside a group, and of each group (a split pool's copies) the SPLIT_SHOWN with the
    largest values."""
    out = {name for name in values if name not in group}
    for g in set(group.values()):
        members = sorted((name for name in values if group.get(name) == g), key=lambda name: -values[name])
        out.update(members[:SPLIT_SHOWN])
    return out


def headline_table(cfg: ProcessConfig, kpis: dict[str, Any], manifest: dict[str, Any]) -> Table:
    """The run's headline KPIs, labelled and written as the report writes them (:mod:`routing_sim.kpilabels`),
    with each target's verdict; a deadline that only breaks another down, and a split pool's less
    utilised copies, are left to the report."""
    from routing_sim.kpis.deadlines import headline_deadlines  # here, not at the top: keeps --help fast

    table = Table(title=f"{cfg.name}: headline KPIs (seed {manifest['seed']})", show_lines=False)
    table.add_column("KPI", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("target", justify="right", overflow="fold")
    flat = flatten(kpis)  # the targets sit beside the KPIs they judge, as for compare and the report
    for name in headline_deadlines(cfg):
        d = kpis["deadlines"].get(name)
        if d is None:
            continue
        share = math.nan if d["share_within"] is None else d["share_within"]  # null in a kpis.json read back
        kpi = f"deadlines.{name}.share_within"
        value = f"{fmt(share, 'share')}, p90 {fmt_hours(d['p90_h'])}" if share == share else "-"
        table.add_row(label(kpi, flat), value, _judged(target_of(kpi, flat), share))
    # a split pool's copies (27 member states) would fill the screen: the SPLIT_SHOWN most utilised, then a summary
    copies = {p: split for split, sp in cfg.splits.items() for p in sp.pools.values()}
    copy_stages = {c: split for split, sp in cfg.splits.items() for cs in sp.stages.values() for c in cs.values()}
    shown = _most({name: p["utilisation"] for name, p in kpis["pools"].items()}, copies)
    for name, p in kpis["pools"].items():
        if name not in shown:
            continue
        kpi = f"pools.{name}.utilisation"
        table.add_row(f"{label(kpi)} ({p['headcount']} staff)", fmt(p["utilisation"], "share"),
                      _judged(target_of(kpi, flat), p["utilisation"]))
    for split, sp in cfg.splits.items():
        rest = [kpis["pools"][p] for p in sp.pools.values() if p not in shown and p in kpis["pools"]]
        if rest:
            table.add_row(f"utilisation of the other {len(rest)} pools of {words(split)}",
                          f"{fmt(min(r['utilisation'] for r in rest), 'share')} to "
                          f"{fmt(max(r['utilisation'] for r in rest), 'share')}")
    backlogs = {name: s["max_queued"] for name, s in kpis["stages"].items() if s.get("max_queued")}
    longest = _most(backlogs, copy_stages)
    for name, queued in backlogs.items():
        if name in longest and cfg.stages.get(name) is not None and cfg.stages[name].pool:
            table.add_row(label(f"stages.{name}.max_queued"), f"{queued:,}")
    for name, n in kpis["tallies"].items():
        table.add_row(words(name), _tally_text(n))
    cost = kpis["cost"]
    for key in ("staff_cost_per_year", "staff_cost_per_arrival", "arrivals_from_sources"):
        table.add_row(label(f"cost.{key}"), fmt(cost[key], unit(f"cost.{key}")))
    return table
