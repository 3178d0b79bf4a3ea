"""The KPI code before the KPI step streamed its tables: a test oracle, not used by the package.

It holds the whole visit and entity tables as arrays and joins visits to entities for deadlines;
``tests/test_properties.py`` checks the streamed KPIs against it.

KPIs of one replication, computed from the tables after the run.

Pure functions of the visit, entity and time-series tables (no SimPy). Times
are in hours. Censored work is counted, not dropped: visits still open at the
horizon show in the backlogs, and a deadline still pending past its target
counts as missed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from routing_sim.engine.build import Codes
from routing_sim.kpis.deadlines import REACHED_GRID
from routing_sim.kpis.money import cost_kpis, pool_kpis
from routing_sim.kpis.points import point_times
from routing_sim.kpis.tallies import select as _select  # unchanged by the streaming
from routing_sim.model.process import Deadline, ProcessConfig, Tally
from routing_sim.stats import wilson_interval
from routing_sim.summary import SimulationSummary
from routing_sim.units import parse_duration


def _tally(codes: Codes, ents: dict[str, np.ndarray], t: Tally) -> Any:
    """A count, or with ``of`` a share of the ``of`` entities with its Wilson interval."""
    when = _select(codes, ents, t.kind, t.when)
    if t.of is None:
        return int(when.sum())
    of = _select(codes, ents, t.kind, t.of)
    count, n = int((when & of).sum()), int(of.sum())
    share, low, high = wilson_interval(count, n)
    return {"count": count, "denominator": n, "share": share, "share_low": low, "share_high": high}


def describe(values: np.ndarray) -> dict[str, float | int]:
    """Count, mean and the percentiles users ask for; NaN when there is nothing to describe."""
    if values.size == 0:
        return {"n": 0, "mean_h": math.nan, "p50_h": math.nan, "p90_h": math.nan, "p99_h": math.nan}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"n": int(values.size), "mean_h": float(values.mean()), "p50_h": float(p50),
            "p90_h": float(p90), "p99_h": float(p99)}


def compute_kpis(
    cfg: ProcessConfig,
    codes: Codes,
    summary: SimulationSummary,
    visits: pa.Table,
    entities: pa.Table,
    timeseries: pa.Table,
) -> dict[str, Any]:
    v = {name: visits.column(name).to_numpy() for name in visits.column_names}
    ents = {name: entities.column(name).to_numpy() for name in entities.column_names}
    return kpis_from_arrays(cfg, codes, summary, v, ents, timeseries)


def kpis_from_arrays(
    cfg: ProcessConfig,
    codes: Codes,
    summary: SimulationSummary,
    v: dict[str, np.ndarray],
    ents: dict[str, np.ndarray],
    timeseries: pa.Table,
) -> dict[str, Any]:
    """The KPIs from the tables' columns as numpy arrays (callers can load them one column at a
    time). ``ents`` is put in entity order in place, so that the caller's arrays are not kept twice."""
    order = _id_order(ents["entity"])
    if order is not None:  # in place, one column at a time: only one is ever held twice
        for k in ents:
            ents[k] = ents[k][order]
        del order
    horizon = summary.horizon
    return {
        "run": {
            "horizon_h": horizon,
            "entities": int(ents["entity"].size),
            "visits": int(v["entity"].size),
        },
        "stages": stage_kpis(codes, v, horizon, timeseries),
        "pools": pool_kpis(cfg, summary),
        "deadlines": deadlines_kpis(cfg, codes, v, ents, horizon),
        "tallies": {name: _tally(codes, ents, t) for name, t in cfg.tallies.items()},
        "conservation": conservation(cfg, codes, summary, ents),
        "volumes": volume_kpis(codes, ents),
        "cost": cost_kpis(cfg, summary, horizon),
    }


def _id_order(ids: np.ndarray) -> np.ndarray | None:
    """The row order that sorts ``ids`` (None if already sorted). Ids are normally a permutation
    of 0..n-1, whose inverse is found in one pass; anything else is sorted."""
    n = ids.size
    if n and ids.min() == 0 and ids.max() == n - 1:
        order = np.empty(n, dtype=np.int64)
        order[ids] = np.arange(n)
        if np.array_equal(ids[order], np.arange(n)):  # a permutation: no id twice, none missing
            return None if np.array_equal(order, np.arange(n)) else order
    order = np.argsort(ids, kind="stable")
    return None if np.array_equal(order, np.arange(n)) else order


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of non-negative integer codes (``np.unique`` without the sort
    when they fit a small table)."""
    if values.size and values.min() >= 0 and values.max() < max(1 << 24, 4 * values.size):
        return np.flatnonzero(np.bincount(values))
    return np.unique(values)


def stage_kpis(codes: Codes, v: dict[str, np.ndarray], horizon: float, timeseries: pa.Table) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, name in enumerate(codes.stages):
        mask = v["stage"] == index
        enter, start, end = v["enter"][mask], v["start"][mask], v["end"][mask]
        started = ~np.isnan(start)
        done = ~np.isnan(end)
        clipped_end = np.where(done, end, horizon)
        queued_series = timeseries.column(f"queued.{name}").to_numpy() if timeseries.num_rows else np.zeros(1)
        out[name] = {
            "entered": int(mask.sum()),
            "completed": int(done.sum()),
            "wait": describe(start[started] - enter[started]),
            "service": describe(end[done] - start[done]),
            "sojourn": describe(end[done] - enter[done]),
            "backlog_end": {"inside": int((~done).sum()), "queued": int((~started).sum())},
            "max_queued": int(queued_series.max()) if queued_series.size else 0,
            # time-average number at the stage, from the records (Little's law: L = lambda W)
            "mean_inside": float((clipped_end - enter).sum() / horizon) if horizon > 0 else math.nan,
            "arrival_rate_per_h": float(mask.sum() / horizon) if horizon > 0 else math.nan,
        }
    return out












def deadlines_kpis(cfg: ProcessConfig, codes: Codes, v: dict[str, np.ndarray], ents: dict[str, np.ndarray],
                   horizon: float) -> dict[str, Any]:
    cache: dict[str, np.ndarray] = {}

    def times(point: str) -> np.ndarray:
        if point not in cache:
            cache[point] = point_times(point, codes, v, ents)
        return cache[point]

    return {name: deadline_kpis(d, codes, times(d.start), times(d.end), ents, horizon)
            for name, d in cfg.deadlines.items()}


def deadline_kpis(d: Deadline, codes: Codes, start: np.ndarray, end: np.ndarray, ents: dict[str, np.ndarray],
                  horizon: float) -> dict[str, Any]:
    """Share of entities that reach ``end`` within the target after ``start``, with percentiles;
    entities that reached ``start`` but not ``end`` count only while still in progress, as missed
    once the target has passed by the horizon (censored work is not dropped)."""
    target = float(d.within)
    selected = _select(codes, ents, d.kind, d.when)
    open_ = ents["outcome"] == -1
    base = selected & ~np.isnan(start)
    rows = np.flatnonzero(base)
    groups: dict[str, Any] = {}
    if d.by:
        key = np.zeros(rows.size, dtype=np.int64)  # one integer per combination of values
        for a in d.by:
            key = key * (len(codes.values[a]) + 1) + (ents[f"attr.{a}"][rows].astype(np.int64) + 1)
        order = np.argsort(key, kind="stable")  # by group, rows in their order within a group
        key, grouped = key[order], rows[order]
        cuts = np.flatnonzero(np.diff(key)) + 1
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), key.size], strict=True):
            stats = _deadline_stats(grouped[lo:hi], start, end, open_, target, horizon)
            if stats["n"] or stats["pending_overdue"] or stats["pending_not_yet_due"]:
                parts, rest = [], int(key[lo])
                for a in reversed(d.by):
                    rest, code = divmod(rest, len(codes.values[a]) + 1)
                    parts.append(_label(codes, a, code - 1))
                groups[",".join(reversed(parts))] = stats
    curve = {t: _deadline_stats(rows, start, end, open_, parse_duration(t), horizon)["share_within"]
             for t in REACHED_GRID}  # the share within each time of the grid, judged as at the target
    return {"target_h": target, "target_share": d.share, **_deadline_stats(rows, start, end, open_, target, horizon),
            "reached_within": curve, "by": groups}


def _label(codes: Codes, attribute: str, code: int) -> str:
    return "unset" if code < 0 else codes.values[attribute][code]


def _deadline_stats(rows: np.ndarray, start: np.ndarray, end: np.ndarray, open_: np.ndarray, target: float,
                    horizon: float) -> dict[str, Any]:
    """Figures over the entities ``rows`` (ascending row indices) that reached the start point."""
    done = ~np.isnan(end[rows])
    reached = rows[done]
    elapsed = end[reached] - start[reached]
    pending = rows[~done & open_[rows]]
    overdue = horizon - start[pending] > target
    within = int((elapsed <= target).sum())
    judged = int(reached.size + overdue.sum())
    return {
        **describe(elapsed),
        "within": within,
        "share_within": within / judged if judged else math.nan,
        "pending_overdue": int(overdue.sum()),
        "pending_not_yet_due": int((~overdue).sum()),
    }


def conservation(cfg: ProcessConfig, codes: Codes, summary: SimulationSummary,
                 ents: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per kind: created = finished by outcome + in progress by stage."""
    out: dict[str, Any] = {}
    for k, kind in enumerate(codes.kinds):
        mask = ents["kind"] == k
        created = sum(n for name, n in summary.arrived_by_source.items() if cfg.sources[name].kind == kind)
        created += summary.spawned_by_kind.get(kind, 0)
        outcome, stage = ents["outcome"][mask], ents["stage"][mask]
        finished = {name: int((outcome == i).sum()) for i, name in enumerate(codes.outcomes)}
        in_progress = {name: int(((outcome == -1) & (stage == i)).sum()) for i, name in enumerate(codes.stages)}
        accounted = sum(finished.values()) + sum(in_progress.values())
        out[kind] = {
            "created": created,
            "rows": int(mask.sum()),
            "finished": {k2: n for k2, n in finished.items() if n},
            "in_progress": {k2: n for k2, n in in_progress.items() if n},
            "balanced": created == accounted == int(mask.sum()),
        }
    out["pending_spawns"] = summary.pending_spawns
    return out


def volume_kpis(codes: Codes, ents: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per source: entities (reports), incidents (distinct groups) and the sum of each count (files...)."""
    out: dict[str, Any] = {}
    for index, name in enumerate(codes.sources):
        mask = ents["source"] == index
        row = {"entities": int(mask.sum()), "incidents": int(distinct(ents["group"][mask]).size)}
        for count in codes.counts:
            row[count] = int(ents[f"count.{count}"][mask].sum())
        out[name] = row
    return out
