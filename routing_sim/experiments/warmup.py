"""Warm-up: KPIs of the part of a run after a warm-up period, and MSER-5 to choose that period.

``kpis_after`` keeps what happened after the warm-up ``w`` and computes the
usual KPIs (``routing_sim.kpis.compute_kpis``, unchanged) on it, as if the run
had started at ``w``: visits that entered at or after ``w``, entities created
at or after ``w`` (a spawned one keeps its origin, which may be before ``w``: a
deadline from ``origin`` still measures from its first ancestor's arrival),
time-series samples from ``w``, times shifted by ``-w``, the
start date moved by ``w`` (so the warm-up is whole days) and the horizon
shortened to ``H - w``. Busy and on-duty hours of each pool over ``[w, H]``
are integrated exactly from the visits and the on-duty calendar (on duty =
max(busy, scheduled), as in the engine). Arrivals and spawns are counted from
the entities created after ``w``; the event count and pending spawns stay
whole-run figures.

MSER-5 (White 1997; Hoad, Robinson and Davies 2011): batch a series into means
of 5, and truncate the ``d`` batches that minimise the squared standard error of
the remaining mean, ``sum((z_i - mean)^2) / (k - d)^2``. A minimum in the second
half of the series means no steady state was found in the run (it is flagged).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from routing_sim.api import RunResult
from routing_sim.errors import RunError
from routing_sim.kpis import compute_kpis
from routing_sim.model.common import Hours

BATCH = 5


def kpis_after(result: RunResult, warmup_h: float) -> dict[str, Any]:
    """The KPI tree of ``result`` over ``[warmup_h, horizon]``; the plain KPIs when there is no warm-up."""
    if warmup_h <= 0:
        return result.kpis
    horizon = result.summary.horizon
    if warmup_h % 24 or warmup_h >= horizon:
        raise RunError(f"warm-up {warmup_h} h must be whole days and shorter than the horizon {horizon} h")
    window = horizon - warmup_h
    cfg = result.cfg
    time = cfg.time.model_copy(update={"start": cfg.time.start + dt.timedelta(days=int(warmup_h // 24)),
                                       "horizon": Hours(f"{window!r}h")})
    visits = _after(result.visits, "enter", ("enter", "start", "end"), warmup_h)
    marks = [name for name in result.entities.column_names if name.startswith("mark.")]
    entities = _after(result.entities, "created", ("created", "origin", "ended", *marks), warmup_h)
    series = _after(result.timeseries, "t", ("t",), warmup_h)
    source = entities.column("source").to_numpy()
    kind = entities.column("kind").to_numpy()
    pools = []
    for i, p in enumerate(result.summary.pools):
        busy, duty = pool_hours(result, i, warmup_h)
        pools.append(dataclasses.replace(p, busy_hours=busy, on_duty_hours=duty))
    summary = dataclasses.replace(
        result.summary,
        horizon=window,
        arrived_by_source={name: int((source == i).sum()) for i, name in enumerate(result.codes.sources)},
        spawned_by_kind={name: int(((source < 0) & (kind == i)).sum()) for i, name in enumerate(result.codes.kinds)},
        pools=pools,
    )
    return compute_kpis(cfg.model_copy(update={"time": time}), result.codes, summary, visits, entities, series)


def _after(table: pa.Table, column: str, times: Sequence[str], warmup_h: float) -> pa.Table:
    kept = table.filter(pa.array(table.column(column).to_numpy() >= warmup_h - 1e-9))
    for name in times:
        index = kept.schema.get_field_index(name)
        kept = kept.set_column(index, kept.schema.field(index), pa.array(kept.column(name).to_numpy() - warmup_h))
    return kept


def pool_hours(result: RunResult, pool: int, lo: float, hi: float | None = None) -> tuple[float, float]:
    """Busy and on-duty hours of pool number ``pool`` over ``[lo, hi]`` (default: to the horizon)."""
    hi = result.summary.horizon if hi is None else hi
    name = result.codes.pools[pool]
    stages = [i for i, s in enumerate(result.cfg.stages.values()) if s.pool == name]
    stage = result.visits.column("stage").to_numpy()
    start, end = result.visits.column("start").to_numpy(), result.visits.column("end").to_numpy()
    served = np.isin(stage, stages) & ~np.isnan(start)
    start, end = np.sort(start[served]), np.sort(np.where(np.isnan(end[served]), result.summary.horizon, end[served]))
    busy_hours = float((np.clip(end, lo, hi) - np.clip(start, lo, hi)).sum())
    calendar = result.calendars[pool]
    cal_t = np.array([t for t, _ in calendar], dtype=float)
    cal_n = np.array([n for _, n in calendar], dtype=float)
    points = np.unique(np.concatenate([start, end, cal_t, [lo, hi]]))
    points = points[(points >= lo) & (points <= hi)]
    left = points[:-1]
    busy = np.searchsorted(start, left, side="right") - np.searchsorted(end, left, side="right")
    scheduled = cal_n[np.maximum(np.searchsorted(cal_t, left, side="right") - 1, 0)]
    on_duty_hours = float((np.maximum(busy, scheduled) * np.diff(points)).sum())
    return busy_hours, on_duty_hours


@dataclass(frozen=True)
class Truncation:
    windows: int  # series values to drop (5 x batches)
    batches: int  # batches dropped (d*)
    of_batches: int  # batches in the series (k)
    flagged: bool  # the minimum lies in the second half: no steady state found


def mser5(series: Sequence[float]) -> Truncation:
    """MSER-5 truncation point of ``series`` (at least 10 values; the last 5 batches are always kept)."""
    y = np.asarray(series, dtype=float)
    k = y.size // BATCH
    if k < 2:
        raise ValueError(f"MSER-5 needs at least {2 * BATCH} values (got {y.size})")
    z = y[: k * BATCH].reshape(k, BATCH).mean(axis=1)
    tail_n = np.arange(k, 0, -1, dtype=float)  # batches left after dropping d = 0 .. k-1
    tail_sum = np.cumsum(z[::-1])[::-1]
    tail_sq = np.cumsum((z * z)[::-1])[::-1]
    sse = np.maximum(tail_sq - tail_sum * tail_sum / tail_n, 0.0)
    stat = sse / tail_n**2
    last = max(1, k - BATCH) if k > BATCH else max(1, k - 1)
    d = int(np.argmin(stat[:last]))
    return Truncation(BATCH * d, d, k, d > k // 2)


def choose_warmup(series: dict[str, list[list[float]]], every_h: float, horizon_h: float) -> dict[str, Any]:
    """One warm-up for all variants: MSER-5 on each variant's mean pilot series, the longest unflagged
    truncation, rounded up to whole days (so every variant is compared over the same window)."""
    per_variant: dict[str, Any] = {}
    for name, runs in series.items():
        n = min(len(r) for r in runs)
        cut = mser5(np.mean([r[:n] for r in runs], axis=0))
        per_variant[name] = {"truncation_h": cut.windows * every_h, "batches_dropped": cut.batches,
                             "batches": cut.of_batches, "no_steady_state": cut.flagged, "pilot_runs": len(runs)}
    unflagged = [v["truncation_h"] for v in per_variant.values() if not v["no_steady_state"]]
    cap = math.floor(horizon_h / 2 / 24) * 24
    chosen = max(unflagged) if unflagged else cap
    hours = min(math.ceil(chosen / 24 - 1e-9) * 24, cap)
    return {"method": "mser5", "hours": float(hours), "every_h": every_h, "variants": per_variant,
            "note": None if unflagged else "no variant reached a steady state; warm-up set to half the horizon"}
