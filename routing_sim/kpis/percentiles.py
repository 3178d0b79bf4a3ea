"""Count, mean and exact percentiles of many groups of values, a chunk at a time.

The values arrive as chunks of ``(group, value)`` pairs: two arrays, the group a dense integer in
``[0, size)``. :class:`Groups` takes each chunk once and keeps, per group, the count, the sum, the
range and a histogram over the leading bits of each value's sortable key (sign, exponent and four
bits of mantissa: bins 1/256 of an octave wide). :class:`Percentiles` then finds the 50th,
90th and 99th percentiles exactly as ``numpy.percentile`` gives them: the histogram says which bin
holds each order statistic, and further passes over the values (usually one) collect the values of
that bin, or split it again when it holds too many.

Every step is a whole-chunk numpy operation (no per-group loop), and the results depend only on the
values and where the chunks are cut, never on the order of groups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

QUANTILES = np.true_divide(np.array([50.0, 90.0, 99.0]), 100)  # as numpy.percentile divides q
SIGN = np.uint64(1 << 63)
TOP = 44
"""Sortable keys are binned by their leading 20 bits: sign, 11 bits of exponent, 8 of mantissa."""
FIRST = (1 << 19) + (983 << 8)
"""The leading bits of the first bin: 2^-40 (values below, zero and negatives share bin 0)."""
BINS = 1 << 14
"""Bins per group in the first pass, each 1/256 of an octave wide: up to 2^24 (values above
share the last bin)."""


def numpy_ranks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order statistics (0-based) and weights ``numpy.percentile`` (method ``linear``) combines
    for the 50th, 90th and 99th percentiles of ``n`` values: the same float operations."""
    virtual = (n - 1) * QUANTILES
    lo = np.floor(virtual)
    hi = lo + 1
    above = virtual >= n - 1
    lo[above] = -1
    hi[above] = -1
    lo, hi = lo.astype(np.intp), hi.astype(np.intp)
    gamma = np.asanyarray(virtual - lo, dtype=virtual.dtype)
    return lo % n, hi % n, gamma


def numpy_lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``numpy.percentile``'s interpolation between two order statistics, operation for operation."""
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


def sortable(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit keys in the order of the (non-NaN) float values; -0.0 counts as 0.0."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64)
    return bits ^ ((np.uint64(0) - (bits >> np.uint64(63))) | SIGN)


def unsortable(keys: np.ndarray | int) -> np.ndarray:
    """The float values of keys made by :func:`sortable`."""
    keys = np.asarray(keys, dtype=np.uint64)
    return np.where(keys & SIGN, keys ^ SIGN, ~keys).view(np.float64)


def first_bin(keys: np.ndarray) -> np.ndarray:
    """The first pass's bin of each key (0 to :data:`BINS` - 1)."""
    return np.clip((keys >> np.uint64(TOP)).astype(np.int64) - FIRST, 0, BINS - 1)


def bin_range(b: int) -> tuple[int, int]:
    """The lowest and highest key of a first-pass bin."""
    low = 0 if b == 0 else (b + FIRST) << TOP
    high = (1 << 64) - 1 if b == BINS - 1 else ((b + 1 + FIRST) << TOP) - 1
    return low, high


class Groups:
    """Count, sum, range of sortable keys and first-pass histogram of each of ``size`` groups."""

    EMPTY = {"n": 0, "mean_h": math.nan, "p50_h": math.nan, "p90_h": math.nan, "p99_h": math.nan}

    def __init__(self, size: int):
        self.size = size
        self.counts = np.zeros(size, dtype=np.int64)
        self.partial_sums: list[np.ndarray] = []
        self.low = np.full(size, np.iinfo(np.uint64).max, dtype=np.uint64)
        self.high = np.zeros(size, dtype=np.uint64)
        self.hist = np.zeros(size * BINS, dtype=np.int64)

    def add(self, group: np.ndarray, values: np.ndarray) -> None:
        """One chunk's values and the group of each."""
        if not values.size:
            return
        from routing_sim.kpis.kernels import accumulate  # numba on first use: importing it costs 0.25 s

        values = np.ascontiguousarray(values, dtype=np.float64)
        sums = np.zeros(self.size)
        accumulate(np.ascontiguousarray(group), values.view(np.uint64), values, self.counts, sums,
                   self.low, self.high, self.hist, TOP, FIRST, BINS)
        self.partial_sums.append(sums)

    def totals(self) -> np.ndarray:
        """Each group's sum: the chunks' sums added with ``math.fsum``."""
        if not self.partial_sums:
            return np.zeros(self.size)
        stacked = np.stack(self.partial_sums, axis=1)
        return np.array([math.fsum(row) for row in stacked.tolist()])

    def describe(self, g: int, percentiles: dict[int, list[float]], totals: np.ndarray) -> dict[str, float | int]:
        """Count, mean and the percentiles users ask for; NaN when the group has no values."""
        n = int(self.counts[g])
        if not n:
            return dict(self.EMPTY)
        p50, p90, p99 = percentiles[g]
        return {"n": n, "mean_h": float(totals[g]) / n, "p50_h": p50, "p90_h": p90, "p99_h": p99}


Pieces = Callable[[np.ndarray], Iterable[tuple[np.ndarray, np.ndarray]]]
"""Given a mask of the groups wanted, the values again: ``(group, values)`` chunks (values of
other groups may come too; they are ignored)."""


class Percentiles:
    """The 50th, 90th and 99th percentiles of each group of a :class:`Groups`, exactly as
    ``numpy.percentile`` gives them, in memory that does not grow with the number of values.

    Each order statistic needed starts in the first-pass bin that holds it (narrowed to the group's
    range). Each further pass over the values settles or narrows every range still open: the
    smallest ranges, up to :attr:`BUDGET` values in all, are collected and the statistic picked
    with ``np.partition``; any other range is split into :attr:`SPLIT` bins, and the bin holding
    the statistic, narrowed to the keys actually in it, is the next range (settled when its keys
    are all equal). Ranges of one group are disjoint or the same. Memory stays bounded by the
    budget, whatever the number of values."""

    SPLIT = 4096
    BUDGET = 1 << 20  # 48 MB of collected values and their cells

    def __init__(self, groups: Groups):
        self.plan: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.found: dict[tuple[int, int], float] = {}
        self.state: list[tuple[int, int, int, int, int, int]] = []  # group, rank, rank in range, low, high, count
        for g in np.flatnonzero(groups.counts).tolist():
            n = int(groups.counts[g])
            lo, hi, gamma = numpy_ranks(n)
            self.plan[g] = (lo, hi, gamma)
            low, high = int(groups.low[g]), int(groups.high[g])
            hist = groups.hist[g * BINS:(g + 1) * BINS]
            cum = np.cumsum(hist)
            for r in sorted({*lo.tolist(), *hi.tolist()}):
                if low == high:
                    self.found[(g, r)] = float(unsortable(low))
                    continue
                b = int(np.searchsorted(cum, r, side="right"))
                below = int(cum[b - 1]) if b else 0
                b_low, b_high = bin_range(b)
                self.state.append((g, r, r - below, max(low, b_low), min(high, b_high), int(hist[b])))

    def run(self, pieces: Pieces) -> dict[int, list[float]]:
        state = self.state
        while state:
            state = self._pass(state, pieces)
        out = {}
        for g, (lo, hi, gamma) in self.plan.items():
            a = np.array([self.found[(g, r)] for r in lo.tolist()])
            b = np.array([self.found[(g, r)] for r in hi.tolist()])
            out[g] = numpy_lerp(a, b, gamma).tolist()
        return out

    def _pass(self, state: list[tuple[int, int, int, int, int, int]], pieces: Pieces) -> list:
        from routing_sim.kpis.kernels import locate  # numba on first use: importing it costs 0.25 s

        cells: dict[tuple[int, int, int], int] = {}  # (group, low key, high key) -> cell number
        counts: list[int] = []
        for g, _, _, low, high, count in sorted(state, key=lambda s: (s[0], s[3])):
            if (g, low, high) not in cells:
                cells[(g, low, high)] = len(cells)
                counts.append(count)
        n_cells = len(cells)
        cell_group = np.array([g for g, _, _ in cells], dtype=np.int64)
        cell_low = np.array([low for _, low, _ in cells], dtype=np.uint64)
        cell_high = np.array([high for _, _, high in cells], dtype=np.uint64)
        sizes = np.array(counts, dtype=np.int64)
        order = np.argsort(sizes, kind="stable")
        collect = np.zeros(n_cells, dtype=bool)
        collect[order] = np.cumsum(sizes[order]) <= self.BUDGET
        split = self.SPLIT
        shift = np.array([max(0, (high - low).bit_length() - split.bit_length() + 1) for _, low, high in cells],
                         dtype=np.uint64)
        row = np.cumsum(~collect) - 1  # histogram row of each cell that is split
        hist = np.zeros(int((~collect).sum()) * split, dtype=np.int64)
        bin_low = np.full(hist.size, np.iinfo(np.uint64).max, dtype=np.uint64)
        bin_high = np.zeros(hist.size, dtype=np.uint64)
        # each cell lies inside one first-pass bin: a value's bin finds the cells it may fall in
        slots = cell_group * BINS + first_bin(cell_low)
        slot, first_cell, in_slot = np.unique(slots, return_index=True, return_counts=True)
        table = np.full((int(cell_group.max()) + 1) * BINS, -1, dtype=np.int64)
        table[slot] = np.arange(slot.size)
        wanted = np.zeros(int(cell_group.max()) + 1, dtype=bool)
        wanted[cell_group] = True
        taken_cells: list[np.ndarray] = []
        taken_values: list[np.ndarray] = []
        for group, vals in pieces(wanted):
            group = np.ascontiguousarray(group)
            vals = np.ascontiguousarray(vals, dtype=np.float64)
            keep = group < wanted.size  # values of groups above the last one wanted
            if not keep.all():
                group, vals = group[keep], vals[keep]
            cell = locate(group, vals.view(np.uint64), table, first_cell, in_slot, cell_low, cell_high, collect,
                          row, shift, split, hist, bin_low, bin_high, TOP, FIRST, BINS)
            gather = cell >= 0
            taken_cells.append(cell[gather])
            taken_values.append(vals[gather])
        collected = self._collected(taken_cells, taken_values, n_cells)
        following = []
        for g, rank, r, low, high, _ in state:
            c = cells[(g, low, high)]
            if collect[c]:
                self.found[(g, rank)] = float(np.partition(collected[c], r)[r])
                continue
            at = int(row[c]) * split
            counts_c = hist[at:at + split]
            cum = np.cumsum(counts_c)
            b = int(np.searchsorted(cum, r, side="right"))
            within = r - (int(cum[b - 1]) if b else 0)
            new_low, new_high = int(bin_low[at + b]), int(bin_high[at + b])
            if new_low == new_high:
                self.found[(g, rank)] = float(unsortable(new_low))
            else:
                following.append((g, rank, within, new_low, new_high, int(counts_c[b])))
        return following

    @staticmethod
    def _collected(cells: list[np.ndarray], values: list[np.ndarray], n_cells: int) -> dict[int, np.ndarray]:
        """The values collected for each cell (in one stable sort by cell)."""
        cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        vals = np.concatenate(values) if values else np.zeros(0)
        order = np.argsort(cell, kind="stable")
        cell, vals = cell[order], vals[order]
        bounds = np.searchsorted(cell, np.arange(n_cells + 1))
        return {c: vals[bounds[c]:bounds[c + 1]] for c in range(n_cells)}


def describe_all(groups: Groups, pieces: Pieces) -> Callable[[int], dict[str, Any]]:
    """A function from group to its count, mean and percentiles, after the passes they need."""
    found = Percentiles(groups).run(pieces)
    totals = groups.totals()
    return lambda g: groups.describe(g, found, totals)
