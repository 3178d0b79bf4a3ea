"""Where a deadline's time goes: the mean hours its entities spent waiting and in service at each
stage between the deadline's two points.

For every deadline with a target share, the entities that reached both points are read from the
entity rows (their times at the two points); then each visit of those entities adds the part of
its wait (enter to start) and of its service (start to end) that lies inside the entity's window
to its stage. It rides on the reads the other KPIs make: the deadlines' pass over the entity rows
and the stages' pass over the visits, which match visits to entities by id (sorted ids and a
binary search). An entity's visits follow each other without gaps (one ends where the next
enters), so the stages' means add up to the deadline's mean time, a check the tests make; for a
deadline from ``origin``, the time before the entity existed is one more part,
``before_creation``. A split pool's copies of a stage count as that stage. Memory is an id and
two times per (entity, deadline), at most :data:`BUDGET` of them (bounded by the entities of each
deadline's kind): a larger run (the global year) uses a fixed subset of its entities and says so
(``deadlines.<name>.time_by_stage_one_in``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from routing_sim.codes import Codes
from routing_sim.kpis.columns import Columns
from routing_sim.kpis.tallies import select, selection_columns
from routing_sim.model.process import ProcessConfig, point_column

BUDGET = 5_000_000
"""Windows (entity, deadline) held at most, 24 bytes each: beyond, a fixed subset of the entities is
used (those whose mixed id is 0 modulo a stride), the same subset in every run and variant."""


def stride_for(windows: int) -> int:
    return max(1, math.ceil(windows / BUDGET))


def sampled(ids: np.ndarray, stride: int) -> np.ndarray:
    """Which ids belong to the subset kept with ``stride`` (all of them with stride 1)."""
    if stride == 1:
        return np.ones(ids.size, dtype=bool)
    mixed = (ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    return mixed % np.uint64(stride) == 0


class StageTimes:
    """The accumulator: entity chunks first (:meth:`add`, in the deadlines' pass over the entity rows),
    then visit chunks (:meth:`add_visits`, in the stages' pass over the visits), then :meth:`result`.
    ``windows`` is an upper bound of the (entity, deadline) windows, which sets the subset's stride."""

    visit_columns = ("entity",)  # beyond the stages' own columns: stage, enter, start, end

    def __init__(self, cfg: ProcessConfig, codes: Codes, windows: int):
        self.cfg, self.codes = cfg, codes
        self.chosen = {name: d for name, d in cfg.deadlines.items() if d.share is not None}
        self.stride = stride_for(windows)
        chosen = self.chosen.values()
        self.columns = {"entity", "kind", "created", *selection_columns([d.when for d in chosen])}
        self.columns |= {point_column(p) for d in chosen for p in (d.start, d.end)}
        self._ids: dict[str, list[np.ndarray]] = {name: [] for name in self.chosen}
        self._lo: dict[str, list[np.ndarray]] = {name: [] for name in self.chosen}
        self._hi: dict[str, list[np.ndarray]] = {name: [] for name in self.chosen}
        self._before = dict.fromkeys(self.chosen, 0.0)  # window time before the entity existed (from origin)
        self._windows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        n = len(codes.stages)
        self._wait = {name: np.zeros(n) for name in self.chosen}
        self._service = {name: np.zeros(n) for name in self.chosen}

    def __bool__(self) -> bool:
        return bool(self.chosen)

    def add(self, e: dict[str, np.ndarray]) -> None:
        """One chunk of entity rows: the windows of the entities that reached both points."""
        for name, d in self.chosen.items():
            start, end = e[point_column(d.start)], e[point_column(d.end)]
            keep = select(self.codes, e, d.kind, d.when) & ~np.isnan(start) & ~np.isnan(end)
            keep &= sampled(e["entity"], self.stride)
            self._ids[name].append(e["entity"][keep])
            self._lo[name].append(start[keep])
            self._hi[name].append(end[keep])
            self._before[name] += float(np.sum(np.clip(e["created"][keep], start[keep], end[keep]) - start[keep]))

    def _sorted_windows(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._windows is None:
            self._windows = {}
            for name in self.chosen:
                entity = np.concatenate(self._ids[name]) if self._ids[name] else np.empty(0, dtype=np.int64)
                order = np.argsort(entity, kind="stable")
                lo = np.concatenate(self._lo[name]) if self._lo[name] else np.empty(0)
                hi = np.concatenate(self._hi[name]) if self._hi[name] else np.empty(0)
                self._windows[name] = (entity[order], lo[order], hi[order])
            self._ids, self._lo, self._hi = {}, {}, {}
        return self._windows

    def add_visits(self, v: dict[str, np.ndarray]) -> None:
        """One chunk of visit rows: the wait and service of each inside its entity's windows."""
        n_stages = len(self.codes.stages)
        for name, (entity, start_at, end_at) in self._sorted_windows().items():
            if not entity.size:
                continue
            at = np.minimum(np.searchsorted(entity, v["entity"]), entity.size - 1)
            mine = entity[at] == v["entity"]
            if not mine.any():
                continue
            a, b = start_at[at[mine]], end_at[at[mine]]
            enter = np.clip(v["enter"][mine], a, b)
            begun = np.clip(np.where(np.isnan(v["start"][mine]), b, v["start"][mine]), a, b)
            ended = np.clip(np.where(np.isnan(v["end"][mine]), b, v["end"][mine]), a, b)
            stage = v["stage"][mine]
            self._wait[name] += np.bincount(stage, weights=np.maximum(begun - enter, 0.0), minlength=n_stages)
            self._service[name] += np.bincount(stage, weights=np.maximum(ended - begun, 0.0), minlength=n_stages)

    def result(self) -> dict[str, Any]:
        """``{deadline: {stage: {"wait_h": mean, "service_h": mean}}}`` (a split pool's copies of a stage
        count as that stage)."""
        codes = self.codes
        original = {c: stage for sp in self.cfg.splits.values() for stage, copies in sp.stages.items()
                    for c in copies.values()}
        out: dict[str, Any] = {}
        for name, (entity, _, _) in self._sorted_windows().items():
            n = entity.size
            if not n:
                continue
            stages: dict[str, dict[str, float]] = {}
            if self._before[name] > 0:
                stages[BEFORE] = {"wait_h": 0.0, "service_h": self._before[name] / n}
            wait, service = self._wait[name], self._service[name]
            for s in range(len(codes.stages)):
                if wait[s] + service[s] > 0:
                    row = stages.setdefault(original.get(codes.stages[s], codes.stages[s]),
                                            {"wait_h": 0.0, "service_h": 0.0})
                    row["wait_h"] += float(wait[s] / n)
                    row["service_h"] += float(service[s] / n)
            out[name] = stages
        return out


def windows_bound(cfg: ProcessConfig, entities_by_kind: dict[str, int]) -> int:
    """At most this many (entity, deadline) windows: each targeted deadline's kind's entities."""
    return sum(entities_by_kind.get(d.kind, 0) for d in cfg.deadlines.values() if d.share is not None)


def time_by_stage(cfg: ProcessConfig, codes: Codes, visits: Columns, entities: Columns,
                  reached: dict[str, int] | None = None) -> tuple[dict[str, Any], int]:
    """The accumulator on its own, with a read of each table: the parts and the subset's stride
    (``reached``, deadline -> windows, sets it; none: all entities)."""
    times = StageTimes(cfg, codes, sum((reached or {}).values()))
    if not times:
        return {}, 1
    for chunk in entities.chunks(sorted(times.columns & set(entities.names))):
        times.add(chunk)
    for chunk in visits.chunks(["entity", "stage", "enter", "start", "end"]):
        times.add_visits(chunk)
    return times.result(), times.stride


BEFORE = "before_creation"
"""The part of a window before the entity existed: for a deadline from ``origin``, its ancestors' path
(a notice's report being reviewed and forwarded), counted as service time."""
