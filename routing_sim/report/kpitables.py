"""Headline KPIs per variant with 95 % t-intervals, and paired differences against the baseline.

Replications are paired by (seed, replication): runs of different variants with
the same seed share every random stream whose name they share (common random
numbers), so the difference of paired results has a much narrower interval than
the difference of two independent means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing_sim.report.study import Study, Variant
from routing_sim.stats import t_interval
from routing_sim.verdicts import target_of


@dataclass(frozen=True)
class Estimate:
    n: int
    mean: float
    low: float
    high: float


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
    """``(flat KPI name, label, unit)`` in the order shown."""
    cfg = study.base.cfg
    rows = [(f"deadlines.{n}.share_within", f"{n}: share within {d.within}", "share") for n, d in cfg.deadlines.items()]
    if cfg.deadlines:
        first = next(iter(cfg.deadlines))
        rows += [(f"deadlines.{first}.mean_h", f"{first}: mean time", "hours"),
                 (f"deadlines.{first}.p90_h", f"{first}: 90th percentile", "hours")]
    # a split pool's copies (one per member state) are in the report's Split pools section, not here
    copy_pools = {p for sp in cfg.splits.values() for p in sp.pools.values()}
    copy_stages = {c for sp in cfg.splits.values() for cs in sp.stages.values() for c in cs.values()}
    pooled = [s for s, st in cfg.stages.items() if st.pool and s not in copy_stages]
    rows += [(f"stages.{s}.wait.mean_h", f"wait at {s}: mean", "hours") for s in pooled]
    rows += [(f"stages.{s}.backlog_end.queued", f"backlog at the end: {s}", "count") for s in pooled]
    rows += [(f"pools.{p}.utilisation", f"utilisation {p}", "share") for p in cfg.pools if p not in copy_pools]
    for t, tally in cfg.tallies.items():
        label = t.replace("_", " ")
        if tally.of is None:
            rows.append((f"tallies.{t}", label, "count"))
        else:  # a share: the mean over runs with its t-interval, and the count it is of
            rows += [(f"tallies.{t}.share", f"{label}: share", "share"), (f"tallies.{t}.count", label, "count")]
    rows += [("cost.staff_cost_per_year", "staff cost per year", "money"),
             ("cost.staff_cost_per_arrival", "staff cost per arrival", "money"),
             ("cost.arrivals_from_sources", "arrivals from sources", "count")]
    listed = {r[0] for r in rows}
    return rows + [(k, k, unit_of(k)) for k in study.report_kpis if k not in listed]


def unit_of(kpi: str) -> str:
    last = kpi.rsplit(".", 1)[-1]
    if last.startswith("share") or last == "utilisation":
        return "share"
    if last.endswith("_h"):
        return "hours"
    return "money" if "cost" in kpi else "count"


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


def fmt(value: float, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "hours":
        return fmt_hours(value)
    if unit == "money":
        return f"EUR {value:,.0f}" if abs(value) >= 100 else f"EUR {value:,.2f}"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:.3g}"


def fmt_hours(hours: float) -> str:
    sign, h = ("-" if hours < 0 else ""), abs(hours)
    if h >= 48:
        return f"{sign}{h / 24:.1f} d"
    if h >= 1:
        return f"{sign}{h:.1f} h"
    return f"{sign}{h * 60:.1f} min"


HOUR_UNITS = ((48.0, 24.0, "d"), (1.0, 1.0, "h"), (0.0, 1 / 60, "min"))
"""Above 48 h in days, above 1 h in hours, else minutes."""


def _hours_unit(*hours: float) -> tuple[float, str]:
    """One unit for several times: the one the largest of them would be shown in."""
    largest = max((abs(h) for h in hours if math.isfinite(h)), default=0.0)
    return next((scale, name) for floor, scale, name in HOUR_UNITS if largest >= floor)


def fmt_estimate(e: Estimate, unit: str, signed: bool = False) -> str:
    """The mean and, where the runs vary, its interval, in one unit written once:
    ``-0.4 h [-3.5, 2.7]``. A count's interval stops at zero (a count is never negative)."""
    parts = estimate_parts(e, unit, signed)
    if parts is None:
        return "-"
    mean, low, high, name = parts
    return mean + name + (f" [{low}, {high}]" if low else "")


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


def estimate_parts(e: Estimate, unit: str, signed: bool = False,
                   share_unit: str | None = None) -> tuple[str, str, str, str] | None:
    """An estimate's numbers as the report writes them, in one unit: the mean, the interval's ends
    (empty where the runs do not vary) and the unit to write after them (empty where each number
    carries its own, as money does); None without a value. A share is written in ``share_unit``
    (default: `` %``, `` pp`` when signed, as a difference is)."""
    if e.n == 0:
        return None
    varies = math.isfinite(e.low) and math.isfinite(e.high) and e.low != e.high
    low = max(e.low, 0.0) if unit == "count" and not signed and varies else e.low
    sign = "+" if signed else ""
    if unit == "share":
        scale, digits, name = 100.0, 1, share_unit or (" pp" if signed else " %")
    elif unit == "hours":
        scale_h, name = _hours_unit(e.mean, *((low, e.high) if varies else ()))
        scale, digits, name = 1 / scale_h, 1, f" {name}"
    else:
        text = ("+" if signed and e.mean > 0 else "") + fmt(e.mean, unit)
        return (text, fmt(low, unit), fmt(e.high, unit), "") if varies else (text, "", "", "")

    def num(x: float) -> str:
        return f"{x * scale:{sign},.{digits}f}"

    return (num(e.mean), num(low), num(e.high), name) if varies else (num(e.mean), "", "", name)
