"""KPIs of one replication, computed from the tables after the run, a chunk of rows at a time.

Pure functions of the visit, entity and time-series tables (no SimPy). Times
are in hours. Censored work is counted, not dropped: visits still open at the
horizon show in the backlogs, and a deadline still pending past its target
counts as missed.

Memory does not grow with the horizon: the tables are read in chunks of
:data:`CHUNK` rows (from Parquet files or from tables in memory, cut at the same
row numbers, so both give the same figures to the last bit), counts and sums
are accumulated, and percentiles are found exactly, as ``numpy.percentile``
gives them, by :class:`Percentiles` in a few more passes over the chunks.
Deadlines need no join of visits with entities: each entity row carries the
first time the entity reached each point a deadline measures (``mark.*``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from routing_sim.codes import Codes
from routing_sim.calendars import headcount_segments
from routing_sim.summary import SimulationSummary
from routing_sim.model.process import Deadline, ProcessConfig
from routing_sim.units import parse_duration

HOURS_PER_YEAR = 8760.0
CHUNK = 1 << 18
"""Rows per chunk of the KPI step (about 10 MB for the visit columns it reads)."""
QUANTILES = np.true_divide(np.array([50.0, 90.0, 99.0]), 100)  # as numpy.percentile divides q


# --- reading tables a chunk at a time -------------------------------------------------------------


class Columns:
    """A table that can be read several times, a chunk of :data:`CHUNK` rows at a time, as numpy
    arrays of the columns asked for. Chunks are cut at the same row numbers whatever the source
    (Parquet row groups, Arrow batches), so sums come out the same to the last bit."""

    def __init__(self, names: list[str], num_rows: int, batches: Callable[[list[str]], Iterable[pa.RecordBatch]]):
        self.names = names
        self.num_rows = num_rows
        self._batches = batches

    @classmethod
    def of_table(cls, table: pa.Table) -> Columns:
        return cls(table.column_names, table.num_rows, lambda names: table.select(names).to_batches())

    @classmethod
    def of_parquet(cls, path: Path) -> Columns:
        """A Parquet file, read a row group at a time: ``iter_batches`` pre-buffers column chunks
        ahead, measured at 680 MB for 20 M visits against 170 MB a row group at a time."""
        file = pq.ParquetFile(path)

        def batches(names: list[str]) -> Iterator[pa.RecordBatch]:
            reader = pq.ParquetFile(path)
            for i in range(reader.num_row_groups):
                yield from reader.read_row_group(i, columns=names).to_batches()

        return cls(file.schema_arrow.names, file.metadata.num_rows, batches)

    def chunks(self, names: list[str]) -> Iterator[dict[str, np.ndarray]]:
        held: list[pa.RecordBatch] = []
        n = 0
        for batch in self._batches(names):
            held.append(batch)
            n += batch.num_rows
            while n >= CHUNK:
                table = pa.Table.from_batches(held)
                yield _arrays(table.slice(0, CHUNK), names)
                rest = table.slice(CHUNK)
                held, n = rest.to_batches(), rest.num_rows
        if n:
            yield _arrays(pa.Table.from_batches(held), names)


def _arrays(table: pa.Table, names: list[str]) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy() for name in names}


# --- exact percentiles in passes ------------------------------------------------------------------


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


SIGN = np.uint64(1 << 63)


def sortable(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit keys in the order of the (non-NaN) float values; -0.0 counts as 0.0."""
    bits = (values + 0.0).view(np.uint64)
    return bits ^ ((np.uint64(0) - (bits >> np.uint64(63))) | SIGN)


def unsortable(keys: np.ndarray) -> np.ndarray:
    """The float values of keys made by :func:`sortable`."""
    keys = np.asarray(keys, dtype=np.uint64)
    return np.where(keys & SIGN, keys ^ SIGN, ~keys).view(np.float64)


def by_group(group: np.ndarray, *columns: np.ndarray) -> tuple[list[int], list[tuple[np.ndarray, ...]]]:
    """The groups present and, for each, its slice of each column (one stable radix sort)."""
    if not group.size:
        return [], []
    order = np.argsort(group.astype(np.int16) if group.max() < 1 << 15 else group, kind="stable")
    group = group[order]
    first = [0, *(np.flatnonzero(group[1:] != group[:-1]) + 1).tolist()]
    bounds = [*first, group.size]
    sorted_columns = [c[order] for c in columns]
    return group[first].tolist(), [tuple(c[lo:hi] for c in sorted_columns) for lo, hi in zip(bounds, bounds[1:])]


class Sums:
    """Sums per group key, as exact as numpy's own: a pairwise ``np.sum`` per group and chunk, and
    the chunks' partial sums added with ``math.fsum``."""

    def __init__(self) -> None:
        self.partials: dict[Any, list[float]] = {}

    def add(self, g: Any, values: np.ndarray) -> None:
        self.partials.setdefault(g, []).append(float(values.sum()))

    def total(self, g: Any) -> float:
        return math.fsum(self.partials.get(g, ()))


class Groups:
    """Count, sum and range of sortable keys of the values of each group (any sortable key), a
    chunk at a time: the first pass of :class:`Percentiles`."""

    EMPTY = {"n": 0, "mean_h": math.nan, "p50_h": math.nan, "p90_h": math.nan, "p99_h": math.nan}

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.sums = Sums()
        self.low: dict[Any, int] = {}
        self.high: dict[Any, int] = {}

    def add(self, g: Any, values: np.ndarray) -> None:
        """The values of group ``g`` in one chunk."""
        if not values.size:
            return
        keys = sortable(values)
        low, high = int(keys.min()), int(keys.max())
        if g in self.counts:
            self.counts[g] += values.size
            self.low[g], self.high[g] = min(self.low[g], low), max(self.high[g], high)
        else:
            self.counts[g], self.low[g], self.high[g] = values.size, low, high
        self.sums.add(g, values)

    def describe(self, g: Any, percentiles: dict[Any, list[float]]) -> dict[str, float | int]:
        """Count, mean and the percentiles users ask for; NaN when the group has no values."""
        n = self.counts.get(g, 0)
        if not n:
            return dict(self.EMPTY)
        p50, p90, p99 = percentiles[g]
        return {"n": n, "mean_h": self.sums.total(g) / n, "p50_h": p50, "p90_h": p90, "p99_h": p99}


class Percentiles:
    """The 50th, 90th and 99th percentiles of many groups of values, exactly as ``numpy.percentile``
    gives them, in memory that does not grow with the number of values.

    ``groups`` holds each group's count and range of sortable keys (:class:`Groups`, the first
    pass). The values come again from ``passes(groups)``, each time it is called, as ``(group,
    values)`` pieces (only the groups asked for are needed). Each order statistic needed is looked
    for in a range of keys that holds it. Small ranges are collected and the statistic picked out
    with ``np.partition``: the smallest first, up to :attr:`BUDGET` values in all, and any range of
    at most :attr:`COLLECT` values. A larger range is split into :attr:`BINS` bins; the bin holding
    the statistic, narrowed to the keys actually in it, is the next range, and settles it when its
    values are all equal. Ranges of one group in one pass are disjoint or the same. A group of a
    few values is settled in the first pass after the counts, a large one usually in the second.
    """

    BINS = 4096
    COLLECT = 1 << 16
    BUDGET = 1 << 22  # 32 MB of collected values

    def __init__(self, groups: Groups):
        self.plan: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.found: dict[tuple[Any, int], float] = {}
        self.state = []  # per order statistic: group, its rank, rank within the range, range low, high, count
        for g, n in groups.counts.items():
            lo, hi, gamma = numpy_ranks(n)
            self.plan[g] = (lo, hi, gamma)
            low, high = groups.low[g], groups.high[g]
            for r in sorted({*lo.tolist(), *hi.tolist()}):
                if low == high:
                    self.found[(g, r)] = float(unsortable(low))
                else:
                    self.state.append((g, r, r, low, high, n))

    def run(self, passes: Callable[[set[Any]], Iterable[tuple[Any, np.ndarray]]]) -> dict[Any, list[float]]:
        state = self.state
        while state:
            state = self._pass(state, passes)
        out = {}
        for g, (lo, hi, gamma) in self.plan.items():
            a = np.array([self.found[(g, r)] for r in lo.tolist()])
            b = np.array([self.found[(g, r)] for r in hi.tolist()])
            out[g] = numpy_lerp(a, b, gamma).tolist()
        return out

    def _pass(self, state: list[tuple], passes: Callable) -> list:
        bins = self.BINS
        cells: dict[tuple, int] = {}  # (group, low key, high key) -> cell number
        shifts: list[int] = []
        sizes: list[int] = []
        for g, _, _, low, high, count in state:
            if (g, low, high) not in cells:
                cells[(g, low, high)] = len(cells)
                sizes.append(count)
                shifts.append(max(0, (high - low).bit_length() - bins.bit_length() + 1))
        sizes_a = np.array(sizes, dtype=np.int64)
        order = np.argsort(sizes_a, kind="stable")
        within_budget = np.zeros(sizes_a.size, dtype=bool)
        within_budget[order] = np.cumsum(sizes_a[order]) <= self.BUDGET
        collect = within_budget | (sizes_a <= self.COLLECT)
        row = np.cumsum(~collect) - 1  # histogram row of each cell that is split
        n_hist = int((~collect).sum())
        hist = np.zeros(n_hist * bins, dtype=np.int64)
        bin_low = np.full(n_hist * bins, np.iinfo(np.uint64).max, dtype=np.uint64)
        bin_high = np.zeros(n_hist * bins, dtype=np.uint64)
        collected: dict[int, list[np.ndarray]] = {c: [] for c in np.flatnonzero(collect).tolist()}
        ranges: dict[int, Any] = {}  # group -> its ranges' low and high keys, and their cells
        for (g, low, high), c in sorted(cells.items()):
            lows, highs, numbers = ranges.get(g, ([], [], []))
            ranges[g] = (lows + [low], highs + [high], numbers + [c])
        ranges = {g: (np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64), np.array(c, dtype=np.int64))
                  for g, (a, b, c) in ranges.items()}
        shift_of = np.array(shifts, dtype=np.uint64)
        low_of = np.array([low for _, low, _ in cells], dtype=np.uint64)
        for g, vals in passes({g for g, _, _ in cells}):
            if g not in ranges or not vals.size:
                continue
            lows, highs, numbers = ranges[g]
            keys = sortable(vals)
            at = np.searchsorted(lows, keys, side="right") - 1
            inside = at >= 0
            inside[inside] = keys[inside] <= highs[at[inside]]
            if not inside.any():
                continue
            at, keys, vals = at[inside], keys[inside], vals[inside]
            for j in np.flatnonzero(np.bincount(at, minlength=numbers.size)).tolist():
                c = int(numbers[j])
                here = at == j
                if collect[c]:
                    collected[c].append(vals[here])
                    continue
                k = keys[here]
                index = int(row[c]) * bins + ((k - low_of[c]) >> shift_of[c]).astype(np.int64)
                hist += np.bincount(index, minlength=hist.size)
                np.minimum.at(bin_low, index, k)
                np.maximum.at(bin_high, index, k)
        following = []
        for g, rank, r, low, high, _ in state:
            c = cells[(g, low, high)]
            if collect[c]:
                self.found[(g, rank)] = float(np.partition(np.concatenate(collected[c]), r)[r])
                continue
            first = int(row[c]) * bins
            counts = hist[first:first + bins]
            cum = np.cumsum(counts)
            b = int(np.searchsorted(cum, r, side="right"))
            within = r - (int(cum[b - 1]) if b else 0)
            new_low, new_high = int(bin_low[first + b]), int(bin_high[first + b])
            if new_low == new_high:
                self.found[(g, rank)] = float(unsortable(new_low))
            else:
                following.append((g, rank, within, new_low, new_high, int(counts[b])))
        return following


# --- the KPI tree ---------------------------------------------------------------------------------


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
    horizon = summary.horizon
    entity_figures = entity_kpis(cfg, codes, summary, entities)
    return {
        "run": {
            "horizon_h": horizon,
            "entities": entities.num_rows,
            "visits": visits.num_rows,
        },
        "stages": stage_kpis(codes, visits, horizon, timeseries),
        "pools": pool_kpis(cfg, summary),
        "deadlines": deadlines_kpis(cfg, codes, entities, horizon),
        **entity_figures,
        "cost": cost_kpis(cfg, summary, horizon),
    }


MEASURES = ("wait", "service", "sojourn")


def _stage_pieces(v: dict[str, np.ndarray], wanted: set[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """The waits, services and sojourns of one chunk of visits, by group ``3 * stage + measure``
    (only of the stages of the ``wanted`` groups, when given)."""
    columns = (v["stage"], v["enter"], v["start"], v["end"])
    if wanted is not None:
        keep = np.isin(v["stage"], sorted({g // 3 for g in wanted}))
        columns = tuple(c[keep] for c in columns)
    for stage, (enter, start, end) in zip(*by_group(*columns)):
        started, done = ~np.isnan(start), ~np.isnan(end)
        yield 3 * stage, start[started] - enter[started]
        yield 3 * stage + 1, end[done] - start[done]
        yield 3 * stage + 2, end[done] - enter[done]


def stage_kpis(codes: Codes, visits: Columns, horizon: float, timeseries: Columns) -> dict[str, Any]:
    n = len(codes.stages)
    entered, completed, queued = (np.zeros(n, dtype=np.int64) for _ in range(3))
    inside_h = Sums()
    measures = Groups()
    columns = ["stage", "enter", "start", "end"]
    for v in visits.chunks(columns):
        stage = v["stage"].astype(np.int64)
        done = ~np.isnan(v["end"])
        entered += np.bincount(stage, minlength=n)
        completed += np.bincount(stage[done], minlength=n)
        queued += np.bincount(stage[np.isnan(v["start"])], minlength=n)
        for index, (inside,) in zip(*by_group(stage, np.where(done, v["end"], horizon) - v["enter"])):
            inside_h.add(index, inside)
        for g, values in _stage_pieces(v):
            measures.add(g, values)
    percentiles = Percentiles(measures).run(
        lambda wanted: (piece for v in visits.chunks(columns) for piece in _stage_pieces(v, wanted)))
    max_queued = _column_maxima(timeseries, [f"queued.{name}" for name in codes.stages])
    out: dict[str, Any] = {}
    for index, name in enumerate(codes.stages):
        out[name] = {
            "entered": int(entered[index]),
            "completed": int(completed[index]),
            **{m: measures.describe(3 * index + k, percentiles) for k, m in enumerate(MEASURES)},
            "backlog_end": {"inside": int(entered[index] - completed[index]), "queued": int(queued[index])},
            "max_queued": max_queued[f"queued.{name}"],
            # time-average number at the stage, from the records (Little's law: L = lambda W)
            "mean_inside": inside_h.total(index) / horizon if horizon > 0 else math.nan,
            "arrival_rate_per_h": float(entered[index] / horizon) if horizon > 0 else math.nan,
        }
    return out


def _column_maxima(table: Columns, names: list[str]) -> dict[str, int]:
    best = dict.fromkeys(names, 0)
    for chunk in table.chunks(names):
        for name in names:
            if chunk[name].size:
                best[name] = max(best[name], int(chunk[name].max()))
    return best


def fte_years(cfg: ProcessConfig, name: str, horizon: float) -> float:
    """Headcount integrated over the horizon, in person-years (follows the pool's schedule)."""
    segments = headcount_segments(cfg.pools[name], cfg.time.start, horizon)
    return sum((hi - lo) * n for lo, hi, n in segments) / HOURS_PER_YEAR


def pool_kpis(cfg: ProcessConfig, summary: SimulationSummary) -> dict[str, Any]:
    out = {}
    for totals in summary.pools:
        pool = cfg.pools[totals.name]
        segments = headcount_segments(pool, cfg.time.start, summary.horizon)
        out[totals.name] = {
            "headcount": pool.headcount,
            "headcount_end": segments[-1][2],
            "fte_years": fte_years(cfg, totals.name, summary.horizon),
            "busy_hours": totals.busy_hours,
            "on_duty_hours": totals.on_duty_hours,
            "utilisation": totals.busy_hours / totals.on_duty_hours if totals.on_duty_hours > 0 else math.nan,
            "staff_cost": fte_years(cfg, totals.name, summary.horizon) * pool.cost_per_fte_year,
        }
    return out


def cost_kpis(cfg: ProcessConfig, summary: SimulationSummary, horizon: float) -> dict[str, float]:
    """Staff cost over the horizon and per year; the yearly cost at the final headcount; the
    comparison with the configured budget's staff share when one is given."""
    years = horizon / HOURS_PER_YEAR
    staff = sum(fte_years(cfg, name, horizon) * p.cost_per_fte_year for name, p in cfg.pools.items())
    at_end = sum(headcount_segments(p, cfg.time.start, horizon)[-1][2] * p.cost_per_fte_year
                 for p in cfg.pools.values())
    arrived = sum(summary.arrived_by_source.values())
    out = {
        "staff_cost": staff,
        "staff_cost_per_year": staff / years if years > 0 else math.nan,
        "staff_cost_per_year_at_end": at_end,
        "arrivals_from_sources": arrived,
        "staff_cost_per_arrival": staff / arrived if arrived else math.nan,
    }
    if cfg.budget is not None:
        staff_budget = cfg.budget.total_per_year * cfg.budget.staff_share
        out["budget_staff_per_year"] = staff_budget
        out["staff_cost_at_end_share_of_staff_budget"] = at_end / staff_budget if staff_budget else math.nan
    return out


def _select(codes: Codes, ents: dict[str, np.ndarray], kind: str, when: dict | None) -> np.ndarray:
    mask = ents["kind"] == codes.kinds.index(kind)
    for attribute, values in (when or {}).items():
        wanted = [codes.value(attribute, x) for x in ([values] if isinstance(values, str) else values)]
        mask &= np.isin(ents[f"attr.{attribute}"], wanted)
    return mask


def _selection_columns(kind_when: Iterable[dict | None]) -> set[str]:
    return {f"attr.{a}" for when in kind_when for a in (when or {})}


def entity_kpis(cfg: ProcessConfig, codes: Codes, summary: SimulationSummary, entities: Columns) -> dict[str, Any]:
    """Tallies, conservation and volumes, in one pass over the entity rows."""
    n_kinds, n_outcomes, n_stages, n_sources = (len(codes.kinds), len(codes.outcomes), len(codes.stages),
                                                len(codes.sources))
    columns = sorted({"entity", "kind", "source", "group", "outcome", "stage",
                      *(f"count.{c}" for c in codes.counts), *_selection_columns(t.when for t in cfg.tallies.values())})
    tallies = dict.fromkeys(cfg.tallies, 0)
    rows = np.zeros(n_kinds, dtype=np.int64)
    finished = np.zeros((n_kinds, n_outcomes), dtype=np.int64)
    in_progress = np.zeros((n_kinds, n_stages), dtype=np.int64)
    by_source = np.zeros(n_sources, dtype=np.int64)
    incidents = np.zeros(n_sources, dtype=np.int64)
    count_sums = np.zeros((n_sources, len(codes.counts)), dtype=np.int64)
    for e in entities.chunks(columns):
        kind, outcome, stage = e["kind"].astype(np.int64), e["outcome"].astype(np.int64), e["stage"].astype(np.int64)
        for name, t in cfg.tallies.items():
            tallies[name] += int(_select(codes, e, t.kind, t.when).sum())
        rows += np.bincount(kind, minlength=n_kinds)
        done = outcome >= 0
        finished += np.bincount(kind[done] * n_outcomes + outcome[done], minlength=n_kinds * n_outcomes).reshape(
            n_kinds, n_outcomes)
        open_ = (outcome == -1) & (stage >= 0)
        in_progress += np.bincount(kind[open_] * n_stages + stage[open_], minlength=n_kinds * n_stages).reshape(
            n_kinds, n_stages)
        source = e["source"].astype(np.int64)
        from_source = source >= 0
        by_source += np.bincount(source[from_source], minlength=n_sources)
        # an incident's entities share the id of its first entity as their group, and all come from one source
        first = from_source & (e["group"] == e["entity"])
        incidents += np.bincount(source[first], minlength=n_sources)
        for j, count in enumerate(codes.counts):
            count_sums[:, j] += np.bincount(source[from_source], weights=e[f"count.{count}"][from_source],
                                            minlength=n_sources).astype(np.int64)
    conservation: dict[str, Any] = {}
    for k, kind in enumerate(codes.kinds):
        created = sum(n for name, n in summary.arrived_by_source.items() if cfg.sources[name].kind == kind)
        created += summary.spawned_by_kind.get(kind, 0)
        done_by = {name: int(finished[k, i]) for i, name in enumerate(codes.outcomes)}
        open_by = {name: int(in_progress[k, i]) for i, name in enumerate(codes.stages)}
        accounted = sum(done_by.values()) + sum(open_by.values())
        conservation[kind] = {
            "created": created,
            "rows": int(rows[k]),
            "finished": {name: n for name, n in done_by.items() if n},
            "in_progress": {name: n for name, n in open_by.items() if n},
            "balanced": created == accounted == int(rows[k]),
        }
    conservation["pending_spawns"] = summary.pending_spawns
    volumes: dict[str, Any] = {}
    for index, name in enumerate(codes.sources):
        row = {"entities": int(by_source[index]), "incidents": int(incidents[index])}
        for j, count in enumerate(codes.counts):
            row[count] = int(count_sums[index, j])
        volumes[name] = row
    return {"tallies": tallies, "conservation": conservation, "volumes": volumes}


def _point(e: dict[str, np.ndarray], point: str) -> np.ndarray:
    """When each entity of the chunk first reached ``point`` (NaN: never)."""
    return e["created"] if point == "arrival" else e[f"mark.{point}"]


class _Path:
    """The entities a deadline looks at (kind, condition) and their times at its two points: one per
    distinct path, shared by its deadlines (the 24 h, 48 h and 3 d targets of one path, its breakdowns)."""

    def __init__(self, d: Deadline, codes: Codes):
        self.d = d
        self.codes = codes
        self.breakdowns: list[tuple[str, ...]] = [()]  # () is the path as a whole

    @staticmethod
    def signature(d: Deadline) -> tuple:
        return d.kind, repr(sorted((d.when or {}).items())), d.start, d.end

    def columns(self) -> set[str]:
        d = self.d
        cols = {"kind", "outcome", "created", *_selection_columns([d.when])}
        cols |= {f"attr.{a}" for by in self.breakdowns for a in by}
        return cols | {f"mark.{p}" for p in (d.start, d.end) if p != "arrival"}

    def rows(self, e: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The chunk's entities that reached the start point: start, end, open, the codes of breakdowns."""
        start = _point(e, self.d.start)
        base = _select(self.codes, e, self.d.kind, self.d.when) & ~np.isnan(start)
        out = {"start": start[base], "end": _point(e, self.d.end)[base], "open": e["outcome"][base] == -1}
        for a in {a for by in self.breakdowns for a in by}:
            out[a] = e[f"attr.{a}"][base]
        return out

    def key(self, rows: dict[str, np.ndarray], by: tuple[str, ...]) -> np.ndarray:
        """One integer per combination of values of ``by`` (-1 for the path as a whole)."""
        if not by:
            return np.full(rows["start"].size, -1, dtype=np.int64)
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


def _by_key(key: np.ndarray, columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct keys and the sum of each column over the rows of each key."""
    values, inverse = np.unique(key, return_inverse=True)
    return values, [np.bincount(inverse, weights=c, minlength=values.size) for c in columns]


def deadlines_kpis(cfg: ProcessConfig, codes: Codes, entities: Columns, horizon: float) -> dict[str, Any]:
    """Share of entities that reach ``end`` within the target after ``start``, with percentiles;
    entities that reached ``start`` but not ``end`` count only while still in progress, as missed
    once the target has passed by the horizon (censored work is not dropped)."""
    if not cfg.deadlines:
        return {}
    paths: dict[tuple, _Path] = {}
    for d in cfg.deadlines.values():
        path = paths.setdefault(_Path.signature(d), _Path(d, codes))
        if tuple(d.by) not in path.breakdowns:
            path.breakdowns.append(tuple(d.by))
    deadlines = [(name, d, paths[_Path.signature(d)], parse_duration(d.within)) for name, d in cfg.deadlines.items()]
    columns = sorted(set().union(*(path.columns() for path in paths.values())))

    def elapsed_by_key(sig: tuple, path: _Path, rows: dict[str, np.ndarray], done: np.ndarray,
                       elapsed: np.ndarray) -> Iterator[tuple[tuple, np.ndarray]]:
        """The elapsed times of the entities that reached the end point, by (path, breakdown, key)."""
        for by in path.breakdowns:
            values, inverse = np.unique(path.key(rows, by)[done], return_inverse=True)
            for i, (gap,) in zip(*by_group(inverse, elapsed[done])):
                yield (sig, by, int(values[i])), gap

    # first pass: per deadline and key, [within, overdue, not yet due, reached]; per path,
    # breakdown and key, the elapsed times' count, sum and key range
    figures: list[dict[int, np.ndarray]] = [{} for _ in deadlines]
    groups = Groups()
    for e in entities.chunks(columns):
        for sig, path in paths.items():
            rows = path.rows(e)
            done = ~np.isnan(rows["end"])
            elapsed = np.where(done, rows["end"] - rows["start"], 0.0)
            pending = ~done & rows["open"]
            for g, gap in elapsed_by_key(sig, path, rows, done, elapsed):
                groups.add(g, gap)
            for by in path.breakdowns:
                key = path.key(rows, by)
                if not key.size:
                    continue
                for i, (_, d, p, target) in enumerate(deadlines):
                    if p is not path or tuple(d.by) != by:
                        continue
                    late = pending & (horizon - rows["start"] > target)
                    columns_ = [done & (elapsed <= target), late, pending & ~late, done]
                    values, sums = _by_key(key, [c.astype(float) for c in columns_])
                    for j, k in enumerate(values.tolist()):
                        add = np.array([c[j] for c in sums])
                        figures[i][k] = figures[i][k] + add if k in figures[i] else add
                    if by:  # the deadline as a whole, too
                        whole = np.array([c.sum() for c in columns_], dtype=float)
                        figures[i][-1] = figures[i][-1] + whole if -1 in figures[i] else whole

    def values(wanted: set[tuple]) -> Iterator[tuple[tuple, np.ndarray]]:
        needed = {sig for sig, _, _ in wanted}
        for e in entities.chunks(columns):
            for sig, path in paths.items():
                if sig in needed:
                    rows = path.rows(e)
                    done = ~np.isnan(rows["end"])
                    yield from elapsed_by_key(sig, path, rows, done, rows["end"] - rows["start"])

    percentiles = Percentiles(groups).run(values)
    out: dict[str, Any] = {}
    for i, (name, d, path, target) in enumerate(deadlines):
        sig, by = _Path.signature(d), tuple(d.by)

        def stats(key: int, group_by: tuple[str, ...]) -> dict[str, Any]:
            within, overdue, not_yet, done = figures[i].get(key, np.zeros(4)).tolist()
            judged = int(done + overdue)
            return {**groups.describe((sig, group_by, key), percentiles), "within": int(within),
                    "share_within": int(within) / judged if judged else math.nan,
                    "pending_overdue": int(overdue), "pending_not_yet_due": int(not_yet)}

        breakdown: dict[str, Any] = {}
        for key in sorted(k for k in figures[i] if k >= 0):
            row = stats(key, by)
            if row["n"] or row["pending_overdue"] or row["pending_not_yet_due"]:
                breakdown[path.label(key, by)] = row
        out[name] = {"target_h": target, **stats(-1, ()), "by": breakdown}
    return out


def point_times(point: str, codes: Codes, v: dict[str, np.ndarray], ents: dict[str, np.ndarray]) -> np.ndarray:
    """Time each entity (row of ``ents``) first reached a point (``arrival`` or
    ``stage.enter|start|end``), from the visit rows (the entity rows carry the deadlines' points
    as ``mark.*``); NaN if never."""
    if point == "arrival":
        return np.asarray(ents["created"], dtype=float).copy()
    stage, which = point.split(".")
    mask = (v["stage"] == codes.stages.index(stage)) & ~np.isnan(v[which])
    by_id = np.argsort(ents["entity"])
    rows = by_id[np.searchsorted(ents["entity"][by_id], v["entity"][mask])]
    times = np.full(ents["entity"].size, np.inf)
    np.minimum.at(times, rows, v[which][mask])
    times[np.isinf(times)] = np.nan
    return times
