"""The two loops of the percentile passes that touch every value, compiled with numba.

Each is one loop over a chunk's values that numpy would do in a dozen whole-array steps, each
with its own temporary array; the global year's KPI step passes about 280 M values through them.
Compiled code is cached beside this module, so only a first run pays for compiling.
"""

from __future__ import annotations

import numba
import numpy as np

SIGN = np.uint64(1 << 63)
NEGATIVE_ZERO = np.uint64(1 << 63)


@numba.njit(cache=True, inline="always")
def _key(bits: np.uint64) -> np.uint64:
    """The sortable key of a float's bits (see :func:`routing_sim.kpis.percentiles.sortable`)."""
    if bits == NEGATIVE_ZERO:
        bits = np.uint64(0)
    if bits & SIGN:
        return ~bits
    return bits | SIGN


@numba.njit(cache=True, inline="always")
def _first_bin(key: np.uint64, top: int, first: int, bins: int) -> int | np.int64:
    b = np.int64(key >> np.uint64(top)) - first
    return 0 if b < 0 else (bins - 1 if b >= bins else b)


@numba.njit(cache=True, nogil=True)
def accumulate(group: np.ndarray, bits: np.ndarray, values: np.ndarray, counts: np.ndarray, sums: np.ndarray,
               low: np.ndarray, high: np.ndarray, hist: np.ndarray, top: int, first: int, bins: int) -> None:
    """Add one chunk to each group's count, sum (in value order), key range and first-pass bins."""
    for i in range(values.size):
        g = group[i]
        key = _key(bits[i])
        counts[g] += 1
        sums[g] += values[i]
        if key < low[g]:
            low[g] = key
        if key > high[g]:
            high[g] = key
        hist[g * bins + _first_bin(key, top, first, bins)] += 1


@numba.njit(cache=True, nogil=True)
def locate(group: np.ndarray, bits: np.ndarray, table: np.ndarray, first_cell: np.ndarray, in_slot: np.ndarray,
           cell_low: np.ndarray, cell_high: np.ndarray, collect: np.ndarray, row: np.ndarray, shift: np.ndarray,
           split: int, hist: np.ndarray, bin_low: np.ndarray, bin_high: np.ndarray, top: int, first: int,
           bins: int) -> np.ndarray:
    """One pass of the percentile search over a chunk. Each value's first-pass bin is looked up in
    ``table`` (the slot of the cells in that bin, -1: none), whose cells are tried in turn. A value
    in a cell that is split is counted in the cell's histogram row (and the bin's key range); the
    cell of a value to collect is returned (-1 for every other value)."""
    n = bits.size
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        key = _key(bits[i])
        at = table[np.int64(group[i]) * bins + _first_bin(key, top, first, bins)]
        if at < 0:
            continue
        for c in range(first_cell[at], first_cell[at] + in_slot[at]):
            if cell_low[c] <= key <= cell_high[c]:
                if collect[c]:
                    out[i] = c
                else:
                    index = row[c] * split + np.int64((key - cell_low[c]) >> shift[c])
                    hist[index] += 1
                    if key < bin_low[index]:
                        bin_low[index] = key
                    if key > bin_high[index]:
                        bin_high[index] = key
                break
    return out


@numba.njit(cache=True, nogil=True)
def stage_measures(stage: np.ndarray, enter: np.ndarray, start: np.ndarray,
                   end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each visit's wait (once started), service and sojourn (once ended), as group
    ``3 * stage + measure`` and value: :func:`routing_sim.kpis.stages.measures` in one loop."""
    n = stage.size
    group = np.empty(3 * n, dtype=np.int32)
    values = np.empty(3 * n, dtype=np.float64)
    k = 0
    for i in range(n):
        g = 3 * np.int32(stage[i])
        if start[i] == start[i]:
            group[k] = g
            values[k] = start[i] - enter[i]
            k += 1
        if end[i] == end[i]:
            group[k] = g + 1
            values[k] = end[i] - start[i]
            group[k + 1] = g + 2
            values[k + 1] = end[i] - enter[i]
            k += 2
    return group[:k], values[:k]
