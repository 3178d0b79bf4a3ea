"""Deadlines: the share of entities that reach one point within a target time of another.

Each entity row carries the first time the entity reached each point a deadline measures
(``mark.*``), its creation (``created``) and its first ancestor's arrival (``origin``), so no join
of visits with entities is needed. Censored work is counted: an entity
that reached the start but not the end counts while still in progress, as missed once the target
has passed by the horizon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from routing_sim.codes import Codes
from routing_sim.kpis.columns import Columns
from routing_sim.kpis.percentiles import Groups, describe_all
from routing_sim.kpis.tallies import select, selection_columns
from routing_sim.model.process import Deadline, ProcessConfig, point_column
from routing_sim.units import parse_duration

FIGURES = ("within", "pending_overdue", "pending_not_yet_due", "reached")
REACHED_GRID = ("5min", "15min", "30min", "1h", "2h", "4h", "8h", "12h", "1d", "2d", "3d", "5d", "7d", "10d",
                "14d", "21d", "30d", "45d", "60d", "90d", "180d", "365d")
"""The times at which each deadline's curve ``reached_within`` is kept: the share of its entities
that reached the end point within each of them, judged as ``share_within`` is judged at the target.
A fixed grid, so the curve is a KPI like any other (averaged over replications, paired across
variants) and needs no entity rows to draw."""
GRID_H = np.array([parse_duration(t) for t in REACHED_GRID])


class EntityConsumer(Protocol):
    """Something that reads the entity rows in the deadlines' pass: the columns it needs, and each chunk."""

    columns: set[str]

    def add(self, e: dict[str, np.ndarray]) -> None: ...


def _point(e: dict[str, np.ndarray], point: str) -> np.ndarray:
    """When each entity of the chunk first reached ``point`` (NaN: never)."""
    return e[point_column(point)]


class Path:
    """The entities a deadline looks at (kind, condition) and their times at its two points: one per
    distinct path, shared by its deadlines (the 24 h, 48 h and 3 d targets of one path, their
    breakdowns). Each breakdown (``()`` is the path as a whole) has a block of groups, one per
    combination of its attributes' values."""

    def __init__(self, d: Deadline, codes: Codes):
        self.d = d
        self.codes = codes
        self.breakdowns: list[tuple[str, ...]] = [()]
        self.offset: dict[tuple[str, ...], int] = {}

    @staticmethod
    def signature(d: Deadline) -> tuple:
        return d.kind, repr(sorted((d.when or {}).items())), d.start, d.end

    def columns(self) -> set[str]:
        d = self.d
        cols = {"kind", "outcome", *selection_columns([d.when])}
        cols |= {f"attr.{a}" for by in self.breakdowns for a in by}
        return cols | {point_column(p) for p in (d.start, d.end)}

    def keys(self, by: tuple[str, ...]) -> int:
        """How many combinations of values (``unset`` included) a breakdown has."""
        return math.prod(len(self.codes.values[a]) + 1 for a in by)

    def rows(self, e: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The chunk's entities that reached the start point: start, end, open, the codes of breakdowns."""
        start = _point(e, self.d.start)
        base = select(self.codes, e, self.d.kind, self.d.when) & ~np.isnan(start)
        out = {"start": start[base], "end": _point(e, self.d.end)[base], "open": e["outcome"][base] == -1}
        for a in {a for by in self.breakdowns for a in by}:
            out[a] = e[f"attr.{a}"][base]
        return out

    def key(self, rows: dict[str, np.ndarray], by: tuple[str, ...]) -> np.ndarray:
        """One integer per combination of values of ``by``, from 0 (0 for the path as a whole)."""
        key = np.zeros(rows["start"].size, dtype=np.int64)
        for a in by:
            key = key * (len(self.codes.values[a]) + 1) + (rows[a].astype(np.int64) + 1)
        return key

    def label(self, key: int, by: tuple[str, ...]) -> str:
        parts = []
        for a in reversed(by):
            key, code = divmod(key, len(self.codes.values[a]) + 1)
            parts.append("unset" if code - 1 < 0 else self.codes.values[a][code - 1])
        return ",".join(reversed(parts))


def deadlines_kpis(cfg: ProcessConfig, codes: Codes, entities: Columns, horizon: float,
                   also: Sequence[EntityConsumer] = ()) -> dict[str, Any]:
    """Share of entities that reach ``end`` within the target after ``start``, with percentiles of
    the time taken, for each deadline as a whole and by its breakdown. Each of ``also`` gets every
    chunk of the first pass (which then reads its columns too): one read of the table serves all."""
    wanted = set().union(*(a.columns for a in also)) if also else set()
    if not cfg.deadlines:
        if also:
            for chunk in entities.chunks(sorted(wanted)):
                for consumer in also:
                    consumer.add(chunk)
        return {}
    paths: dict[tuple, Path] = {}
    for d in cfg.deadlines.values():
        path = paths.setdefault(Path.signature(d), Path(d, codes))
        if tuple(d.by) not in path.breakdowns:
            path.breakdowns.append(tuple(d.by))
    size = 0
    for path in paths.values():
        for by in path.breakdowns:
            path.offset[by] = size
            size += path.keys(by)
    deadlines = [(name, d, paths[Path.signature(d)], float(d.within)) for name, d in cfg.deadlines.items()]
    figures = [np.zeros((path.keys(tuple(d.by)), len(FIGURES)), dtype=np.int64) for _, d, path, _ in deadlines]
    columns = sorted(set().union(*(path.columns() for path in paths.values())))
    first_columns = sorted(set(columns) | wanted)

    def elapsed(chunk: dict[str, np.ndarray]) -> Iterator[tuple[Path, dict, np.ndarray, np.ndarray]]:
        for path in paths.values():
            rows = path.rows(chunk)
            done = ~np.isnan(rows["end"])
            yield path, rows, done, np.where(done, rows["end"] - rows["start"], 0.0)

    def pieces(chunks: Iterable[dict[str, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for chunk in chunks:
            group, values = [], []
            for path, rows, done, gap in elapsed(chunk):
                for by in path.breakdowns:
                    group.append(path.offset[by] + path.key(rows, by)[done])
                    values.append(gap[done])
            yield np.concatenate(group), np.concatenate(values)

    groups = Groups(size)
    # per path, over the grid: entities reached within each time, and pending entities no older than it
    curve = {id(path): np.zeros((2, GRID_H.size), dtype=np.int64) for path in paths.values()}

    def first_pass() -> Iterator[dict[str, np.ndarray]]:
        for chunk in entities.chunks(first_columns):
            for consumer in also:
                consumer.add(chunk)
            for path, rows, done, gap in elapsed(chunk):
                pending = ~done & rows["open"]
                counts = curve[id(path)]
                counts[0] += np.bincount(np.searchsorted(GRID_H, gap[done], side="left"),
                                         minlength=GRID_H.size + 1)[: GRID_H.size]
                counts[1] += np.bincount(np.searchsorted(GRID_H, horizon - rows["start"][pending], side="left"),
                                         minlength=GRID_H.size + 1)[: GRID_H.size]
                for i, (_, d, p, target) in enumerate(deadlines):
                    if p is not path:
                        continue
                    key = path.key(rows, tuple(d.by))
                    late = pending & (horizon - rows["start"] > target)
                    for j, column in enumerate((done & (gap <= target), late, pending & ~late, done)):
                        figures[i][:, j] += np.bincount(key[column], minlength=figures[i].shape[0])
            yield chunk

    for group, values in pieces(first_pass()):
        groups.add(group, values)
    describe = describe_all(groups, lambda wanted: pieces(entities.chunks(columns)))

    out: dict[str, Any] = {}
    for i, (name, d, path, target) in enumerate(deadlines):
        by = tuple(d.by)

        def stats(group: int, counts: np.ndarray) -> dict[str, Any]:
            within, overdue, not_yet, reached = counts.tolist()
            judged = reached + overdue
            return {**describe(group), "within": within, "share_within": within / judged if judged else math.nan,
                    "pending_overdue": overdue, "pending_not_yet_due": not_yet}

        breakdown: dict[str, Any] = {}
        if by:
            for key in range(figures[i].shape[0]):
                row = stats(path.offset[by] + key, figures[i][key])
                if row["n"] or row["pending_overdue"] or row["pending_not_yet_due"]:
                    breakdown[path.label(key, by)] = row
        whole = figures[i].sum(axis=0)
        out[name] = {"target_h": target, "target_share": d.share, **stats(path.offset[()], whole),
                     "reached_within": reached_within(curve[id(path)], int(whole[3]), int(whole[1] + whole[2])),
                     "by": breakdown}
    return out


def reached_within(counts: np.ndarray, reached: int, pending: int) -> dict[str, float]:
    """The curve over :data:`REACHED_GRID` from per-bin counts (row 0: reached, by the bin of their
    time taken; row 1: pending, by the bin of their age at the horizon). At each time ``t``, the
    entities reached within ``t`` over those reached plus those pending for longer than ``t``."""
    within = np.cumsum(counts[0])
    judged = reached + pending - np.cumsum(counts[1])
    return {t: (int(w) / int(j) if j else math.nan) for t, w, j in zip(REACHED_GRID, within, judged, strict=True)}


def headline_deadlines(cfg: ProcessConfig) -> list[str]:
    """The deadlines worth a headline row: each target once; a deadline that only adds a breakdown
    (by priority, by type) of a path and time already shown repeats its whole value, so it is left
    to the detail tables."""
    seen: set[tuple] = set()
    out = []
    for name, d in cfg.deadlines.items():
        key = (*Path.signature(d), float(d.within))
        if key in seen and d.share is None:
            continue
        seen.add(key)
        out.append(name)
    return out
