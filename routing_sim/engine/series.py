"""Time series on a fixed grid, computed from the visit records (not sampled live).

At grid time g a visit counts as *inside* its stage if ``enter <= g < end``,
as *queued* if ``enter <= g < start``, and as *busy* in its stage's pool if
``start <= g < end``; open visits (NaN end or start) count until the horizon.
Each batch of visits adds +1/-1 to difference arrays over the grid, so the
series cost nothing on the simulation's hot path, stay exact whatever order
the records arrive in, and memory is bounded by the grid, not the records.
On-duty staff at g is the calendar's count, or the busy count when staff
finishing work in hand exceed it (overtime).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pyarrow as pa


def grid_index(times: np.ndarray, step: float, n: int, padded: np.ndarray) -> np.ndarray:
    """Index of the first grid time >= each time (``n`` for NaN or beyond the grid).

    The grid is uniform, so the index is ``ceil(t / step)``, corrected by one where
    rounding put it next to the grid point that ``searchsorted`` would give.
    """
    raw = np.ceil(times / step)
    np.nan_to_num(raw, copy=False, nan=n, posinf=n, neginf=0)
    idx = np.clip(raw, 0, n).astype(np.int64)
    # grid[k] is padded[k + 1]; -inf before, +inf after
    idx -= (idx > 0) & (padded[idx] >= times)  # the grid point before is already >= t
    idx += padded[idx + 1] < times  # the grid point found is still < t
    return idx


class SeriesAccumulator:
    def __init__(self, stage_names: list[str], stage_pool: list[int], pool_names: list[str],
                 calendars: list[list[tuple[float, int]]], horizon: float, step: float):
        self.stage_names, self.pool_names = stage_names, pool_names
        self.stage_pool = np.array(stage_pool, dtype=np.int64)
        self.calendars = calendars
        self.step = step
        self.n = max(1, math.ceil(horizon / step - 1e-9))
        self.width = self.n + 1
        self.grid = np.arange(self.n) * step
        self.padded = np.concatenate([[-np.inf], self.grid, [np.inf]])
        self.inside = np.zeros(len(stage_names) * self.width, dtype=np.int64)
        self.queued = np.zeros_like(self.inside)
        self.busy = np.zeros(max(1, len(pool_names)) * self.width, dtype=np.int64)

    def _index(self, times: np.ndarray) -> np.ndarray:
        return grid_index(times, self.step, self.n, self.padded)

    def _add(self, target: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        keep = lo < hi
        rows, lo, hi = rows[keep], lo[keep], hi[keep]
        size = target.size
        target += np.bincount(rows * self.width + lo, minlength=size)[:size]
        target -= np.bincount(rows * self.width + hi, minlength=size)[:size]

    def add(self, batch: pa.RecordBatch) -> None:
        stage = batch.column("stage").to_numpy().astype(np.int64)
        enter = self._index(batch.column("enter").to_numpy())
        start = self._index(batch.column("start").to_numpy())
        end = self._index(batch.column("end").to_numpy())
        self._add(self.inside, stage, enter, end)
        self._add(self.queued, stage, enter, start)
        pool = self.stage_pool[stage]
        served = pool >= 0
        self._add(self.busy, pool[served], start[served], end[served])

    def table(self) -> pa.Table:
        grid = self.grid
        columns: dict[str, np.ndarray] = {"t": grid}
        inside = np.cumsum(self.inside.reshape(-1, self.width), axis=1)[:, : self.n]
        queued = np.cumsum(self.queued.reshape(-1, self.width), axis=1)[:, : self.n]
        for i, name in enumerate(self.stage_names):
            columns[f"inside.{name}"] = inside[i].astype(np.int32)
            columns[f"queued.{name}"] = queued[i].astype(np.int32)
        busy = np.cumsum(self.busy.reshape(-1, self.width), axis=1)[:, : self.n]
        for i, name in enumerate(self.pool_names):
            times = np.array([t for t, _ in self.calendars[i]])
            counts = np.array([n for _, n in self.calendars[i]])
            scheduled = counts[np.searchsorted(times, grid, side="right") - 1]
            columns[f"busy.{name}"] = busy[i].astype(np.int32)
            columns[f"on_duty.{name}"] = np.maximum(scheduled, busy[i]).astype(np.int32)
        return pa.table(columns)


class Observer(Protocol):
    def add(self, batch: pa.RecordBatch) -> None: ...


class ObservedSink:
    """Passes every batch to an accumulator, then on to the real sink."""

    def __init__(self, sink, accumulator: Observer):
        self.sink = sink
        self.accumulator = accumulator

    def write(self, batch: pa.RecordBatch) -> None:
        self.accumulator.add(batch)
        self.sink.write(batch)

    def close(self) -> None:
        self.sink.close()
