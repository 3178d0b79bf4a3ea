"""KPIs of one replication, computed from the tables after the run, a chunk of rows at a time.

Pure functions of the visit, entity and time-series tables (no engine, no SimPy). Times are in
hours. Censored work is counted, not dropped: visits still open at the horizon show in the
backlogs, and a deadline still pending past its target counts as missed.

Memory does not grow with the horizon: the tables are read in chunks (:mod:`.columns`, cut at the
same rows from Parquet files and from tables in memory, so both give the same figures to the last
bit); counts and sums are accumulated; percentiles are exact, as ``numpy.percentile`` gives them
(:mod:`.percentiles`), found in one more pass over the values in most cases.

One module per job: :mod:`.stages` (waits, services, backlogs), :mod:`.deadlines`,
:mod:`.tallies` (tallies, conservation, volumes), :mod:`.money` (pools and cost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from routing_sim.codes import Codes
from routing_sim.kpis.breakdown import StageTimes, windows_bound
from routing_sim.kpis.columns import Columns
from routing_sim.kpis.deadlines import deadlines_kpis
from routing_sim.kpis.money import HOURS_PER_YEAR, cost_kpis, fte_years, pool_kpis
from routing_sim.kpis.points import point_times
from routing_sim.kpis.stages import stage_kpis
from routing_sim.kpis.tallies import EntityFigures
from routing_sim.model.process import ProcessConfig
from routing_sim.summary import SimulationSummary

__all__ = ["HOURS_PER_YEAR", "compute_kpis", "fte_years", "kpis_from_columns", "kpis_from_files", "point_times"]


def compute_kpis(
    cfg: ProcessConfig,
    codes: Codes,
    summary: SimulationSummary,
    visits: pa.Table,
    entities: pa.Table,
    timeseries: pa.Table,
) -> dict[str, Any]:
    """The KPIs of tables held in memory."""
    return kpis_from_columns(cfg, codes, summary, Columns.of_table(visits), Columns.of_table(entities),
                             Columns.of_table(timeseries))


def kpis_from_files(cfg: ProcessConfig, codes: Codes, summary: SimulationSummary, folder: Path) -> dict[str, Any]:
    """The KPIs of a run folder's Parquet tables, read a chunk at a time."""
    return kpis_from_columns(cfg, codes, summary, Columns.of_parquet(folder / "visits.parquet"),
                             Columns.of_parquet(folder / "entities.parquet"),
                             Columns.of_parquet(folder / "timeseries.parquet"))


def kpis_from_columns(cfg: ProcessConfig, codes: Codes, summary: SimulationSummary, visits: Columns,
                      entities: Columns, timeseries: Columns) -> dict[str, Any]:
    """The KPI tree. (The two tables one after the other: on two threads the global year's KPIs
    took 18 s instead of 24 s, but the EU year's run peaked 120 MB higher.)"""
    horizon = summary.horizon
    entity_figures = EntityFigures(cfg, codes, summary)
    kind_of = {name: src.kind for name, src in cfg.sources.items()}
    by_kind: dict[str, int] = dict(summary.spawned_by_kind)
    for source, n in summary.arrived_by_source.items():
        by_kind[kind_of[source]] = by_kind.get(kind_of[source], 0) + n
    times = StageTimes(cfg, codes, windows_bound(cfg, by_kind))
    # one read of the entity rows serves the deadlines, the tallies and the windows of the breakdown
    deadlines = deadlines_kpis(cfg, codes, entities, horizon, also=[entity_figures, *([times] if times else [])])
    stages = stage_kpis(codes, visits, horizon, timeseries, also=times if times else None)  # and one of the visits
    for name, parts in times.result().items():
        deadlines[name]["time_by_stage"] = parts
        if times.stride > 1:  # a fixed subset of the entities: one in ``stride``
            deadlines[name]["time_by_stage_one_in"] = times.stride
    return {
        "run": {
            "horizon_h": horizon,
            "entities": entities.num_rows,
            "visits": visits.num_rows,
        },
        "stages": stages,
        "pools": pool_kpis(cfg, summary),
        "deadlines": deadlines,
        **entity_figures.result(),
        "cost": cost_kpis(cfg, summary, horizon),
        **database_kpis(summary),
        **content_key_kpis(summary),
        **retention_kpis(summary),
    }


def database_kpis(summary: SimulationSummary) -> dict[str, Any]:
    """Each database's size (at the start, published additions and removals, at the end) and the
    share it drives at the start and at the end; its course over time is in the time series."""
    if not summary.databases:
        return {}
    out: dict[str, Any] = {}
    for d in summary.databases:
        figures: dict[str, Any] = {"initial": d.initial, "added": d.added, "removed": d.removed, "final": d.final,
                                   "publications": d.publications, "not_yet_published": d.pending}
        if d.drives:
            figures |= {"share_start": d.share_start, "share_end": d.share_end}
        out[d.name] = figures
    return {"databases": out}


def content_key_kpis(summary: SimulationSummary) -> dict[str, Any]:
    """Each content-key space: arrivals that drew a key, how many were first reports and repeats
    (the repeat share), and the distinct items reported out of the items in the space."""
    if not summary.content_keys:
        return {}
    return {"content_keys": {c.name: {
        "arrivals": c.arrivals, "first": c.arrivals - c.repeats, "repeats": c.repeats,
        "repeat_share": c.repeats / c.arrivals if c.arrivals else float("nan"),
        "items_seen": c.items_seen, "items": c.items} for c in summary.content_keys}}


def retention_kpis(summary: SimulationSummary) -> dict[str, Any]:
    """Each retention rule: entities, items and megabytes stored at their peak (on the time-series
    grid, or at the horizon) and at the horizon; the course over time is in the time series."""
    if not summary.retention:
        return {}
    return {"retention": {r.name: {
        "stored_ever": r.stored_ever,
        "peak_entities": r.peak_entities, "peak_entities_at_h": r.peak_entities_at,
        "peak_items": r.peak_items, "peak_items_at_h": r.peak_items_at, "peak_mb": r.peak_mb,
        "end_entities": r.end_entities, "end_items": r.end_items, "end_mb": r.end_mb} for r in summary.retention}}
