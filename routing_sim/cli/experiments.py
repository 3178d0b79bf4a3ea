"""``routing-sim compare``: the variants of an experiment that has run, or the configs of plain
runs (run folders), side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from routing_sim.cli.common import EXIT_BAD_INPUT, fail, out, report_config_error
from routing_sim.errors import ConfigError, RunError


def compare(
    targets: list[Path] = typer.Argument(..., help="An experiment's results folder or its experiment file; or "
                                         "run folders (or folders holding them) to compare config by config."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder (for an experiment file)."),
    baseline: str | None = typer.Option(None, help="Compare against this variant (or config) instead."),
    kpi: list[str] | None = typer.Option(None, "--kpi", help="KPIs to show (repeat); default: the report."),
) -> None:
    """Compare variants: means with t-intervals, differences against the baseline.

    An experiment: paired differences (common random numbers); also writes summary.json and
    summary.csv to its folder. Run folders: one row per config, paired where the runs share seeds."""
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.spec import read_spec
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import NARROW, comparison_table, notes, stacked, summarise, write_summary

    target = targets[0]
    if len(targets) > 1 or (target.is_dir() and not (target / "experiment.json").is_file()):
        compare_runs(targets, baseline, kpi or None)
        return
    kpis = kpi or None
    if target.is_dir():
        store = Store(target)
    else:
        try:
            spec, _, _ = read_spec(target)
        except ConfigError as exc:
            report_config_error(exc)
            raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
        store = Store.under(results, spec.name)
    if not (store.folder / "experiment.json").is_file():
        fail(EXIT_BAD_INPUT, f"{store.folder}: no experiment results here (run the experiment first)")
    try:
        plan = store.read_plan()
        summary = summarise(store, plan, baseline)
    except KeyError as exc:
        if baseline is not None and baseline in str(exc):
            fail(EXIT_BAD_INPUT, f"--baseline: {exc.args[0]}")
        fail(EXIT_BAD_INPUT, f"{store.folder}: results this version cannot read (missing {exc})")
    except RunError as exc:
        fail(EXIT_BAD_INPUT, str(exc))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:  # a foreign or hand-edited folder
        fail(EXIT_BAD_INPUT, f"{store.folder}: results this version cannot read ({type(exc).__name__}: {exc})")
    unknown = [k for k in kpis or [] if not any(k in v["kpis"] for v in summary["variants"].values())]
    if unknown:
        fail(EXIT_BAD_INPUT, f"--kpi: no such KPI in the results: {', '.join(unknown)}")
    write_summary(store, summary)
    if out.width < NARROW:  # stacked: a table of five columns folds every name at 80 columns
        for line in [comparison_table(summary, kpis).title or "", *stacked(summary, kpis or summary["report"])]:
            out.print(line, soft_wrap=True)
    else:
        out.print(comparison_table(summary, kpis))
    for line in notes(summary):
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"summary: {store.folder / 'summary.json'}", markup=False, soft_wrap=True)


def compare_runs(targets: list[Path], baseline: str | None, kpis: list[str] | None) -> None:
    """Plain runs, grouped by config: each config's mean over its runs, the difference against the
    baseline config (the first found unless named), paired where the seeds allow."""
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.runsummary import default_kpis, runs_notes, runs_table, summarise_runs
    from routing_sim.experiments.summary import NARROW, stacked
    from routing_sim.jsonio import flatten
    from routing_sim.report.study import load_run_study

    groups: dict[str, dict[tuple[int, int], dict[str, float | int]]] = {}
    configs: dict[str, str] = {}
    for folder in targets:
        if not folder.is_dir():
            fail(EXIT_BAD_INPUT, f"{folder}: not a folder (compare takes run folders, folders holding them, or one "
                                 "experiment)")
    for folder in targets:
        try:
            study = load_run_study(folder)
        except RunError as exc:
            fail(EXIT_BAD_INPUT, str(exc))
        for v in study.variants:
            digest = str(v.runs[0].manifest.get("config_hash", ""))
            name = v.name if configs.get(v.name, digest) == digest else f"{v.name}#{digest[:8]}"
            configs[name] = digest
            for run in v.runs:
                groups.setdefault(name, {})[run.key] = flatten(run.kpis)
    chosen = baseline or next(iter(groups))
    try:
        summary = summarise_runs(groups, chosen)
    except KeyError as exc:
        fail(EXIT_BAD_INPUT, f"--baseline: {exc.args[0]}")
    shown = kpis or default_kpis(summary)
    unknown = [k for k in shown if not any(k in v["kpis"] for v in summary["variants"].values())]
    if unknown:
        fail(EXIT_BAD_INPUT, f"--kpi: no such KPI in the results: {', '.join(unknown)}")
    if out.width < NARROW:  # stacked: a table of five columns folds every name at 80 columns
        for line in [runs_table(summary, shown).title or "", *stacked(summary, shown)]:
            out.print(line, soft_wrap=True)
    else:
        out.print(runs_table(summary, shown))
    for line in runs_notes(summary):
        out.print(line, markup=False, soft_wrap=True)
