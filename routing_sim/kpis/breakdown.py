"""Where a deadline's time goes: the mean hours its entities spent waiting and in service at each
stage between the deadline's two points.

For every deadline with a target share, the entities that reached both points are read from the
entity rows (their times at the two points); then each visit of those entities adds the part of
its wait (enter to start) and of its service (start to end) that lies inside the entity's window
to its stage. An entity's visits follow each other without gaps (one ends where the next
enters), so the stages' means add up to the deadline's mean time, a check the tests make; for a
deadline from ``origin``, the time before the entity existed is one more part, ``before_creation``.
A split pool's copies of a stage count as that stage. The
visits are matched to their entities by id (sorted ids and a binary search), one read of each
table; memory is an id and two times per (entity, deadline), at most :data:`BUDGET` of them: a
larger run (the global year) uses a fixed subset of its entities and says so
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


def time_by_stage(cfg: ProcessConfig, codes: Codes, visits: Columns, entities: Columns,
                  reached: dict[str, int] | None = None) -> tuple[dict[str, Any], int]:
    """``{deadline: {stage: {"wait_h": mean, "service_h": mean}}}`` for the deadlines with a share, and
    the stride of the subset of entities used (1: all); ``reached`` (deadline -> entities that reached
    both points) sets the stride."""
    chosen = {name: d for name, d in cfg.deadlines.items() if d.share is not None}
    if not chosen:
        return {}, 1
    stride = stride_for(sum((reached or {}).values()))
    columns = {"entity", "kind", "created", *selection_columns([d.when for d in chosen.values()])}
    columns |= {point_column(p) for d in chosen.values() for p in (d.start, d.end)}
    ids: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    lo: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    hi: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    before = dict.fromkeys(chosen, 0.0)  # window time before the entity existed (a spawned entity's origin)
    for e in entities.chunks(sorted(columns & set(entities.names))):
        for name, d in chosen.items():
            start, end = e[point_column(d.start)], e[point_column(d.end)]
            keep = select(codes, e, d.kind, d.when) & ~np.isnan(start) & ~np.isnan(end) & sampled(e["entity"], stride)
            ids[name].append(e["entity"][keep])
            lo[name].append(start[keep])
            hi[name].append(end[keep])
            before[name] += float(np.sum(np.clip(e["created"][keep], start[keep], end[keep]) - start[keep]))
    windows = {}
    for name in chosen:
        entity = np.concatenate(ids[name]) if ids[name] else np.empty(0, dtype=np.int64)
        order = np.argsort(entity, kind="stable")
        windows[name] = (entity[order], np.concatenate(lo[name])[order] if lo[name] else np.empty(0),
                         np.concatenate(hi[name])[order] if hi[name] else np.empty(0))
    n_stages = len(codes.stages)
    wait = {name: np.zeros(n_stages) for name in chosen}
    service = {name: np.zeros(n_stages) for name in chosen}
    for v in visits.chunks(["entity", "stage", "enter", "start", "end"]):
        for name, (entity, start_at, end_at) in windows.items():
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
            wait[name] += np.bincount(stage, weights=np.maximum(begun - enter, 0.0), minlength=n_stages)
            service[name] += np.bincount(stage, weights=np.maximum(ended - begun, 0.0), minlength=n_stages)
    # a split pool's copies of a stage count as that stage (the per-copy detail is in the stage KPIs)
    original = {c: stage for sp in cfg.splits.values() for stage, copies in sp.stages.items() for c in copies.values()}
    out: dict[str, Any] = {}
    for name, (entity, _, _) in windows.items():
        n = entity.size
        if not n:
            continue
        stages: dict[str, dict[str, float]] = {}
        if before[name] > 0:
            stages[BEFORE] = {"wait_h": 0.0, "service_h": before[name] / n}
        for s in range(n_stages):
            if wait[name][s] + service[name][s] > 0:
                row = stages.setdefault(original.get(codes.stages[s], codes.stages[s]), {"wait_h": 0.0, "service_h": 0.0})
                row["wait_h"] += float(wait[name][s] / n)
                row["service_h"] += float(service[name][s] / n)
        out[name] = stages
    return out, stride


BEFORE = "before_creation"
"""The part of a window before the entity existed: for a deadline from ``origin``, its ancestors' path
(a notice's report being reviewed and forwarded), counted as service time."""
