"""Headline KPIs per variant with 95 % t-intervals, and paired differences against the baseline.

Replications are paired by (seed, replication): runs of different variants with
the same seed share every random stream whose name they share (common random
numbers), so the difference of paired results has a much narrower interval than
the difference of two independent means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing_sim.kpilabels import Estimate, estimate_parts, label, unit
from routing_sim.kpis.deadlines import headline_deadlines
from routing_sim.report.study import Study, Variant
from routing_sim.stats import t_interval
from routing_sim.verdicts import target_of


@dataclass(frozen=True)
class KpiRow:
    kpi: str
    label: str
    unit: str  # share, hours, count, money, ratio
    values: dict[str, Estimate]  # per variant
    diffs: dict[str, Estimate]  # per non-baseline variant: paired difference against the baseline
    verdicts: dict[str, tuple[str, str | None]]  # per variant with a target: (target, met / missed / uncertain)


def estimate(values: list[float]) -> Estimate:
    mean, low, high = t_interval(values)
    return Estimate(len(values), mean, low, high)


def paired(variant: Variant, baseline: Variant, kpi: str) -> Estimate:
    a, b = variant.values(kpi), baseline.values(kpi)
    common = sorted(set(a) & set(b))
    return estimate([a[k] - b[k] for k in common])


def headline_kpis(study: Study) -> list[tuple[str, str, str]]:
    """``(flat KPI name, label, unit)`` in the order shown, labelled by :mod:`routing_sim.kpilabels`:
    the baseline's KPIs, then those only other variants have (an option's own deadlines and pools)."""
    cfgs = [study.base.cfg] + [v.cfg for v in study.variants if v is not study.base]
    flat: dict[str, float] = {}  # for the labels (a deadline's target time): every variant's first run
    for v in [study.base, *study.variants]:
        if v.runs:
            flat = v.runs[0].flat | flat
    names = [f"deadlines.{n}.share_within" for cfg in cfgs for n in headline_deadlines(cfg)]
    first = next((next(iter(cfg.deadlines)) for cfg in cfgs if cfg.deadlines), None)
    if first is not None:
        names += [f"deadlines.{first}.mean_h", f"deadlines.{first}.p90_h"]
    # a split pool's copies (one per member state) are in the report's Split pools section, not here
    for cfg in cfgs:
        copy_stages = {c for sp in cfg.splits.values() for cs in sp.stages.values() for c in cs.values()}
        pooled = [s for s, st in cfg.stages.items() if st.pool and s not in copy_stages]
        names += [f"stages.{s}.wait.mean_h" for s in pooled] + [f"stages.{s}.max_queued" for s in pooled]
    for cfg in cfgs:
        copy_pools = {p for sp in cfg.splits.values() for p in sp.pools.values()}
        names += [f"pools.{p}.utilisation" for p in cfg.pools if p not in copy_pools]
    for cfg in cfgs:
        for t, tally in cfg.tallies.items():  # a share: the mean over runs with its t-interval, and its count
            names += [f"tallies.{t}"] if tally.of is None else [f"tallies.{t}.share", f"tallies.{t}.count"]
    names += ["cost.staff_cost_per_year", "cost.staff_cost_per_arrival", "cost.arrivals_from_sources"]
    names += [k for k in study.report_kpis if k not in names]
    return [(k, label(k, flat), unit(k)) for k in dict.fromkeys(names)]


def kpi_rows(study: Study) -> list[KpiRow]:
    rows = (kpi_row(study, kpi, label, unit) for kpi, label, unit in headline_kpis(study))
    return [r for r in rows if any(e.n for e in r.values.values())]


def kpi_row(study: Study, kpi: str, label: str, unit: str, against: Variant | None = None) -> KpiRow:
    """One KPI in every variant: its estimate, the paired difference against ``against`` (default:
    the baseline) and, where the variant's runs carry a target for it, the target's verdict."""
    base = against or study.base
    values = {v.name: estimate(list(v.values(kpi).values())) for v in study.variants}
    diffs = {v.name: paired(v, base, kpi) for v in study.variants if v is not base}
    verdicts = {}
    for v in study.variants:
        target = target_of(kpi, v.runs[0].flat) if v.runs else None
        if target is not None:
            e = values[v.name]
            verdicts[v.name] = (target.text(), target.verdict(e.mean, e.low, e.high))
    return KpiRow(kpi, label, unit, values, diffs, verdicts)


def compliance_rows(study: Study) -> list[tuple[str, str, float, float, float]]:
    """``(deadline, variant, mean share, low, high)`` for every deadline and variant with data."""
    rows = []
    for name in study.base.cfg.deadlines:
        for v in study.variants:
            e = estimate(list(v.values(f"deadlines.{name}.share_within").values()))
            if e.n:
                rows.append((name, v.name, e.mean, e.low, e.high))
    return rows


def say_estimate(e: Estimate, unit: str) -> str:
    """The mean and its interval for a sentence: ``84.2 % (83.9 to 84.5 %)``; ``-`` without a value."""
    parts = estimate_parts(e, unit)
    if parts is None:
        return "-"
    mean, low, high, name = parts
    return mean + name + (f" ({low} to {high}{name})" if low else "")


DIRECTION = {"hours": ("longer", "shorter"), "count": ("more", "fewer"), "ratio": ("higher", "lower")}
"""Words for a difference above and below the comparison, by unit (default: more, less)."""


def say_difference(d: Estimate, unit: str, against: str, words: tuple[str, str] | None = None) -> str:
    """A paired difference for a sentence: ``12.1 points (11.8 to 12.4) more than status_quo`` where
    its interval excludes zero; signed, and said to show no clear difference, where it does not."""
    more, less = words or DIRECTION.get(unit, ("more", "less"))
    if d.n == 0:
        return f"no replication in common with {against} to pair"
    varies = math.isfinite(d.low) and math.isfinite(d.high) and d.low != d.high
    if not varies and d.mean == 0:
        return f"the same as {against}" + (" in every replication" if d.n > 1 else "")
    if varies and d.low <= 0 <= d.high:
        parts = estimate_parts(d, unit, signed=True, share_unit=" points")
        assert parts is not None
        mean, low, high, name = parts
        return f"{mean}{name} ({low} to {high}) against {against}: no clear difference (the interval includes 0)"
    ends = sorted((abs(d.low), abs(d.high))) if varies else [math.nan, math.nan]
    parts = estimate_parts(Estimate(d.n, abs(d.mean), ends[0], ends[1]), unit, share_unit=" points")
    assert parts is not None
    mean, low, high, name = parts
    return mean + name + (f" ({low} to {high})" if low else "") + f" {more if d.mean > 0 else less} than {against}"
