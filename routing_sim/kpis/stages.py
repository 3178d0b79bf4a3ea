"""Per stage: visits entered and completed, waits, services and sojourns, backlogs, time inside."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from routing_sim.codes import Codes
from routing_sim.kpis.breakdown import StageTimes
from routing_sim.kpis.columns import Columns
from routing_sim.kpis.percentiles import Groups, describe_all

MEASURES = ("wait", "service", "sojourn")
COLUMNS = ["stage", "enter", "start", "end"]


def measures(v: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The waits, services and sojourns of one chunk of visits, as group ``3 * stage + measure``
    and value: a wait once the visit started, a service and a sojourn once it ended."""
    from routing_sim.kpis.kernels import stage_measures  # numba on first use: importing it costs 0.25 s

    return stage_measures(*(np.ascontiguousarray(v[name]) for name in COLUMNS))


def stage_kpis(codes: Codes, visits: Columns, horizon: float, timeseries: Columns,
               also: StageTimes | None = None) -> dict[str, Any]:
    """Per stage; ``also`` gets every chunk of the first pass (which then reads its columns too)."""
    n = len(codes.stages)
    entered, completed, queued = (np.zeros(n, dtype=np.int64) for _ in range(3))
    inside_h: list[np.ndarray] = []
    groups = Groups(3 * n)
    for v in visits.chunks(COLUMNS + list(also.visit_columns) if also else COLUMNS):
        if also:
            also.add_visits(v)
        stage = v["stage"].astype(np.int64)
        done = ~np.isnan(v["end"])
        entered += np.bincount(stage, minlength=n)
        completed += np.bincount(stage[done], minlength=n)
        queued += np.bincount(stage[np.isnan(v["start"])], minlength=n)
        inside_h.append(np.bincount(stage, weights=np.where(done, v["end"], horizon) - v["enter"], minlength=n))
        groups.add(*measures(v))

    def again(wanted: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (measures(v) for v in visits.chunks(COLUMNS))

    describe = describe_all(groups, again)
    inside = [math.fsum(column) for column in np.stack(inside_h, axis=1).tolist()] if inside_h else [0.0] * n
    max_queued = column_maxima(timeseries, [f"queued.{name}" for name in codes.stages])
    out: dict[str, Any] = {}
    for index, name in enumerate(codes.stages):
        out[name] = {
            "entered": int(entered[index]),
            "completed": int(completed[index]),
            **{m: describe(3 * index + k) for k, m in enumerate(MEASURES)},
            "backlog_end": {"inside": int(entered[index] - completed[index]), "queued": int(queued[index])},
            "max_queued": max_queued[f"queued.{name}"],
            # time-average number at the stage, from the records (Little's law: L = lambda W)
            "mean_inside": inside[index] / horizon if horizon > 0 else math.nan,
            "arrival_rate_per_h": float(entered[index] / horizon) if horizon > 0 else math.nan,
        }
    return out


def column_maxima(table: Columns, names: list[str]) -> dict[str, int]:
    best = dict.fromkeys(names, 0)
    for chunk in table.chunks(names):
        for name in names:
            if chunk[name].size:
                best[name] = max(best[name], int(chunk[name].max()))
    return best
