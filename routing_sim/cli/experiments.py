"""``routing-sim compare``: the variants of an experiment that has run, side by side."""

from __future__ import annotations

from pathlib import Path

import typer

from routing_sim.cli.common import EXIT_BAD_INPUT, fail, out, report_config_error
from routing_sim.errors import ConfigError, RunError


def compare(
    target: Path = typer.Argument(..., help="An experiment's results folder, or its experiment file."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder (for an experiment file)."),
    baseline: str | None = typer.Option(None, help="Compare against this variant instead."),
    kpi: list[str] | None = typer.Option(None, "--kpi", help="KPIs to show (repeat); default: the report."),
) -> None:
    """Compare variants: means with t-intervals, paired differences against the baseline.

    Also writes summary.json and summary.csv to the experiment's folder."""
    # here, not at the top: keeps --help fast
    from routing_sim.experiments.spec import read_spec
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import comparison_table, notes, summarise, write_summary

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
    out.print(comparison_table(summary, kpis))
    for line in notes(summary):
        out.print(line, markup=False, soft_wrap=True)
    out.print(f"summary: {store.folder / 'summary.json'}", markup=False, soft_wrap=True)
