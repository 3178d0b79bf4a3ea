"""Numbers behind the figures, from the run tables: fans across replications, times to a deadline's end point.

Pure functions of pyarrow tables and numpy arrays (no plotting here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from routing_sim.codes import Codes
from routing_sim.kpis import point_times
from routing_sim.model.process import ENTITY_POINTS, Deadline, ProcessConfig, point_column
from routing_sim.report.study import Run, Variant

FAN = (5.0, 50.0, 95.0)
QUANTILE_POINTS = 401  # an empirical CDF is drawn through this many quantiles
LONG_H = 60 * 24.0  # above this horizon, series are drawn per day (backlog) or per week (staff)


def staff_period(horizon_h: float) -> float:
    """Hours per point of the staff figures: a day, or a week for long runs (weekends would hide the trend)."""
    return 24.0 if horizon_h <= LONG_H else 168.0


@dataclass(frozen=True)
class Fan:
    """A time series across replications: its median and 5-95 % band (equal when there is one)."""

    t: np.ndarray
    low: np.ndarray
    mid: np.ndarray
    high: np.ndarray
    n: int


def fan(series: list[np.ndarray], t: np.ndarray) -> Fan:
    length = min(len(s) for s in series)
    stacked = np.vstack([s[:length] for s in series]).astype(float)
    low, mid, high = np.percentile(stacked, FAN, axis=0)
    return Fan(t[:length], low, mid, high, len(series))


def column_fan(variant: Variant, column: str, daily_max: bool = False) -> Fan:
    """A time-series column across replications; with ``daily_max``, each day's maximum first."""
    tables = [run.table("timeseries", ["t", column]) for run in variant.runs]
    t = tables[0].column("t").to_numpy()
    series = [tab.column(column).to_numpy() for tab in tables]
    if daily_max and t.size:
        day = np.floor(t / 24.0 + 1e-9).astype(np.int64)
        firsts = np.flatnonzero(np.r_[True, np.diff(day) > 0])
        series = [np.maximum.reduceat(s, firsts) for s in series]
        t = day[firsts] * 24.0
    return fan(series, t)


def daily(t: np.ndarray, values: np.ndarray, period_h: float = 24.0) -> np.ndarray:
    """Sums over whole periods (a partial last period is dropped)."""
    day = np.floor(t / period_h + 1e-9).astype(np.int64)
    sums = np.bincount(day, weights=values.astype(float))
    counts = np.bincount(day)
    return sums[: int((counts == counts.max()).nonzero()[0].max()) + 1] if counts.size else sums


def utilisation_fan(variant: Variant, pool: str, period_h: float = 24.0) -> Fan:
    """Utilisation per period (busy staff-hours over on-duty staff-hours); NaN when nobody is on duty."""
    series = []
    for run in variant.runs:
        tab = run.table("timeseries", ["t", f"busy.{pool}", f"on_duty.{pool}"])
        t = tab.column("t").to_numpy()
        busy = daily(t, tab.column(f"busy.{pool}").to_numpy(), period_h)
        duty = daily(t, tab.column(f"on_duty.{pool}").to_numpy(), period_h)
        with np.errstate(invalid="ignore", divide="ignore"):
            series.append(np.where(duty > 0, busy / np.where(duty > 0, duty, 1), np.nan))
    length = min(len(s) for s in series)
    stacked = np.vstack([s[:length] for s in series])
    low, mid, high = np.full((3, length), np.nan)
    some = ~np.isnan(stacked).all(axis=0)
    if some.any():
        low[some], mid[some], high[some] = np.nanpercentile(stacked[:, some], FAN, axis=0)
    return Fan(np.arange(length, dtype=float) * period_h, low, mid, high, len(series))


def staffing(run: Run, pool: str, period_h: float = 24.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means per period of on-duty and busy staff of one replication: ``(start hour, on_duty, busy)``."""
    tab = run.table("timeseries", ["t", f"busy.{pool}", f"on_duty.{pool}"])
    t = tab.column("t").to_numpy()
    samples = np.maximum(daily(t, np.ones_like(t), period_h), 1)
    duty = daily(t, tab.column(f"on_duty.{pool}").to_numpy(), period_h) / samples
    busy = daily(t, tab.column(f"busy.{pool}").to_numpy(), period_h) / samples
    return np.arange(duty.size, dtype=float) * period_h, duty, busy


def priority_attributes(cfg: ProcessConfig) -> list[str]:
    """Attributes that order a queue somewhere (``priority:`` rules), in config order."""
    seen: list[str] = []
    for stage in cfg.stages.values():
        for rule in stage.priority:
            seen += [a for a in rule if a not in seen]
    return seen


def distribution_deadline(cfg: ProcessConfig) -> tuple[str, Deadline] | None:
    """The deadline whose times the distribution figure shows: one broken down ``by`` a priority
    attribute (ending at forwarding if there is such), else one broken down by anything, else the first."""
    named = list(cfg.deadlines.items())
    if not named:
        return None
    prio = priority_attributes(cfg)
    for wanted in (lambda d: d.by and d.by[0] in prio and "forward" in d.end,
                   lambda d: d.by and d.by[0] in prio, lambda d: bool(d.by), lambda d: True):
        for name, d in named:
            if wanted(d):
                return name, d
    return None


def targets_for(cfg: ProcessConfig, chosen: Deadline) -> list[tuple[str, float, str]]:
    """Every target between the same two points: ``(deadline name, hours, group it applies to or '')``."""
    out = []
    for name, d in cfg.deadlines.items():
        if (d.kind, d.start, d.end) != (chosen.kind, chosen.start, chosen.end):
            continue
        group = ""
        if d.when and chosen.by and set(d.when) == {chosen.by[0]}:
            value = d.when[chosen.by[0]]
            group = value if isinstance(value, str) else ",".join(value)
        elif d.when:
            continue
        out.append((name, float(d.within), group))
    return out


def elapsed_by_group(run: Run, cfg: ProcessConfig, deadline: Deadline) -> dict[str, np.ndarray]:
    """Hours from the deadline's start point to its end point per entity that reached both, by the
    value of its first ``by`` attribute (one group ``all`` without ``by``)."""
    codes = Codes.of(cfg)
    by = deadline.by[0] if deadline.by else None
    attributes = sorted(set(deadline.when or {}) | ({by} if by else set()))
    own = sorted({ENTITY_POINTS[p] for p in (deadline.start, deadline.end) if p in ENTITY_POINTS})
    marks = [point_column(p) for p in (deadline.start, deadline.end) if p not in ENTITY_POINTS]
    columns = ["entity", "kind", *own] + [f"attr.{a}" for a in attributes]
    if run.folder is not None and set(marks) <= set(pq.read_schema(run.folder / "entities.parquet").names):
        ents_tab = run.table("entities", columns + marks)  # the entity rows carry the points' times
        ents = {c: ents_tab.column(c).to_numpy() for c in columns + marks}
        start, end = (ents[point_column(p)] for p in (deadline.start, deadline.end))
    else:  # a folder written before entity rows carried marks: from the visits
        ents_tab = run.table("entities", columns)
        ents = {c: ents_tab.column(c).to_numpy() for c in columns}
        stages = {p.split(".")[0] for p in (deadline.start, deadline.end) if p not in ENTITY_POINTS}
        visits = run.table("visits", ["entity", "stage", "enter", "start", "end"])
        if stages:
            wanted = [code for s in stages for code in codes.point_stages(s)]
            visits = visits.filter(pc.is_in(visits.column("stage"), value_set=pa.array(wanted, pa.int32())))
        v = {c: visits.column(c).to_numpy() for c in visits.column_names}
        start = point_times(deadline.start, codes, v, ents)
        end = point_times(deadline.end, codes, v, ents)
    mask = (ents["kind"] == codes.kinds.index(deadline.kind)) & ~np.isnan(start) & ~np.isnan(end)
    for attribute, values in (deadline.when or {}).items():
        allowed = [codes.value(attribute, x) for x in ([values] if isinstance(values, str) else values)]
        mask &= np.isin(ents[f"attr.{attribute}"], allowed)
    elapsed = end - start
    if by is None:
        return {"all": elapsed[mask]}
    labels = codes.values[by]
    return {label: elapsed[mask & (ents[f"attr.{by}"] == i)] for i, label in enumerate(labels)
            if (mask & (ents[f"attr.{by}"] == i)).any()}


def quantile_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, F(x))`` of the empirical CDF through a fixed number of quantiles (bounded figure size)."""
    probs = np.linspace(0.0, 1.0, QUANTILE_POINTS)
    return np.quantile(values, probs), probs


@dataclass(frozen=True)
class Pressure:
    """One pool of a split pool (one value of its attribute): mean KPIs over the variant's replications."""

    value: str
    pool: str
    headcount: int
    utilisation: float
    max_utilisation: float | None
    peak_backlog: float  # the most waiting at its stages at a time-series point
    end_backlog: float  # waiting at its stages at the horizon
    share_within: float  # of the split's deadline, for this value (NaN: no such deadline or no entity)


def split_deadline(cfg: ProcessConfig, split: str) -> str | None:
    """The first deadline broken down by the split's attribute that measures a point on one of its
    stages (``national_intake_within_48h``, by member_state, to ``national_intake.end``)."""
    s = cfg.splits[split]
    for name, d in cfg.deadlines.items():
        points = {p.split(".")[0] for p in (d.start, d.end)}
        if d.by == [s.by] and points & set(s.stages):
            return name
    return None


def split_pressure(variant: Variant, split: str) -> list[Pressure]:
    """The pools of a split pool, under most pressure first: by utilisation (to 0.1 %), then by the
    backlog at the end, then at its peak. Each figure is the mean over the variant's replications."""
    cfg = variant.cfg
    s = cfg.splits[split]
    deadline = split_deadline(cfg, split)

    def mean(kpi: str) -> float:
        values = list(variant.values(kpi).values())
        return float(np.mean(values)) if values else float("nan")

    rows = []
    for value, pool in s.pools.items():
        stages = [copies[value] for copies in s.stages.values() if value in copies]
        share = mean(f"deadlines.{deadline}.by.{value}.share_within") if deadline else float("nan")
        rows.append(Pressure(value, pool, cfg.pools[pool].staff, mean(f"pools.{pool}.utilisation"),
                             cfg.pools[pool].max_utilisation, sum(mean(f"stages.{st}.max_queued") for st in stages),
                             sum(mean(f"stages.{st}.backlog_end.queued") for st in stages), share))

    def key(r: Pressure) -> tuple:
        util = round(r.utilisation, 3) if np.isfinite(r.utilisation) else -1.0
        return (-util, -r.end_backlog, -r.peak_backlog, r.value)

    return sorted(rows, key=key)
