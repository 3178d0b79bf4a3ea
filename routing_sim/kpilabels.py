"""How a KPI is named and written, for the terminal, ``compare`` and the report alike.

A flat KPI name (``deadlines.forwarded_within_24h.p90_h``, ``pools.reviewers.utilisation``) has a
human label (``forwarded within 24h: 90th percentile time``) and a unit (share, hours, count,
money, MB, per hour). :func:`label` and :func:`unit` read both from the name alone, by the KPI
families of :mod:`routing_sim.kpis`, so a config's own names (stages, pools, deadlines, tallies)
become words without a table per config. An estimate (a mean and its interval) is written in one
unit, chosen by its largest number: ``-0.4 h [-3.5, 2.7]``, never ``-23.2 min [-3.5 h, 2.7 h]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

UNITS = ("share", "hours", "count", "money", "MB", "per hour")

STATISTIC = {"n": "count", "mean_h": "mean", "p50_h": "median", "p90_h": "90th percentile", "p99_h": "99th percentile"}
DEADLINE = {"mean_h": "mean time", "p50_h": "median time", "p90_h": "90th percentile time",
            "p99_h": "99th percentile time", "n": "reached", "within": "reached within the target",
            "pending_overdue": "pending past the target", "pending_not_yet_due": "pending, not yet due",
            "target_h": "target time", "target_share": "target share",
            "time_by_stage_one_in": "time per stage: one entity in"}
STAGE_TIMES = {"wait": "waiting at", "service": "service at", "sojourn": "time at"}
STAGE = {"entered": "entered {}", "completed": "completed {}", "backlog_end.inside": "inside {} at the end",
         "backlog_end.queued": "waiting at {} at the end", "max_queued": "waiting at {}: most at once",
         "mean_inside": "inside {}: mean", "arrival_rate_per_h": "arrivals at {}"}
POOL = {"headcount": "headcount of {}", "headcount_end": "headcount of {} at the end", "fte_years": "FTE-years of {}",
        "busy_hours": "busy hours of {}", "on_duty_hours": "on-duty hours of {}", "utilisation": "utilisation of {}",
        "max_utilisation": "utilisation ceiling of {}", "staff_cost": "staff cost of {}"}
TALLY = {"share": "{}: share", "count": "{}", "denominator": "{}: out of", "share_low": "{}: share, interval low",
         "share_high": "{}: share, interval high"}
COST = {"staff_cost": "staff cost over the run", "staff_cost_per_year": "staff cost per year",
        "staff_cost_per_year_at_end": "staff cost per year at the end", "arrivals_from_sources": "arrivals from sources",
        "staff_cost_per_arrival": "staff cost per arrival"}
STORE = {"databases": "database", "content_keys": "content keys", "retention": "stored"}
RUN = {"horizon_h": "simulated time", "entities": "entities simulated", "visits": "stage visits simulated"}


def words(identifier: str) -> str:
    """A config's identifier as words: ``forwarded_within_24h`` -> ``forwarded within 24h``."""
    return identifier.replace("_", " ")


def label(kpi: str, flat: Mapping[str, object] | None = None) -> str:
    """The human label of a flat KPI name; with the run's flat KPIs, a deadline's share names its target time."""
    parts = kpi.split(".")
    head, rest = parts[0], parts[1:]
    if head == "deadlines" and len(rest) >= 2:
        return _deadline(rest[0], rest[1:], flat)
    if head == "stages" and len(rest) >= 2:
        stage, figure = words(rest[0]), ".".join(rest[1:])
        if rest[1] in STAGE_TIMES and len(rest) == 3 and rest[2] in STATISTIC:
            return f"{STAGE_TIMES[rest[1]]} {stage}: {STATISTIC[rest[2]]}"
        if figure in STAGE:
            return STAGE[figure].format(stage)
    if head == "pools" and len(rest) == 2 and rest[1] in POOL:
        return POOL[rest[1]].format(words(rest[0]))
    if head == "tallies" and rest:
        return TALLY.get(rest[1] if len(rest) == 2 else "count", "{}").format(words(rest[0]))
    if head == "cost" and rest:
        if rest[0] in COST and len(rest) == 1:
            return COST[rest[0]]
        if rest[0] == "by_year" and len(rest) >= 3:
            year, what = rest[1], rest[2:]
            if what[0] == "staff_cost" and len(what) == 2:
                return f"staff cost of {words(what[1])} in {year}"
            return f"{words(what[0])} in {year}".replace("staff cost total", "staff cost")
    if kpi == "conservation.pending_spawns":
        return "spawns not yet made at the end"
    if head == "conservation" and len(rest) >= 2:
        kind, state = words(rest[0]), rest[1]
        if state in ("finished", "in_progress") and len(rest) == 3:
            return f"{kind}s {'finished as' if state == 'finished' else 'in progress at'} {words(rest[2])}"
        return f"{kind}s {words(state)}"
    if head in STORE and len(rest) == 2:
        return f"{STORE[head]} {words(rest[0])}: {words(rest[1]).removesuffix(' h').replace(' mb', ' (MB)')}"
    if head == "volumes" and len(rest) == 2:
        return f"{words(rest[1])} from {words(rest[0])}"
    if head == "run" and len(rest) == 1 and rest[0] in RUN:
        return RUN[rest[0]]
    return " / ".join(words(p) for p in parts)


def _deadline(name: str, rest: list[str], flat: Mapping[str, object] | None) -> str:
    who = words(name)
    if rest[0] == "by" and len(rest) == 3:
        who, rest = f"{who}, {words(rest[1]).replace(',', ' & ')}", rest[2:]
    if rest[0] == "share_within" and len(rest) == 1:
        target = (flat or {}).get(f"deadlines.{name}.target_h")
        when = short_hours(float(target)) if isinstance(target, (int, float)) else "the target"
        return f"{who}: share within {when}"
    if rest[0] == "reached_within" and len(rest) == 2:
        return f"{who}: share reached within {rest[1]}"
    if rest[0] == "time_by_stage" and len(rest) == 3:
        return f"{who}: {'waiting at' if rest[2] == 'wait_h' else 'service at'} {words(rest[1])}"
    if len(rest) == 1 and rest[0] in DEADLINE:
        return f"{who}: {DEADLINE[rest[0]]}"
    return f"{who}: {' / '.join(words(p) for p in rest)}"


_SHARE = re.compile(r"(^|_)share($|_)|^utilisation$|^max_utilisation$")


def unit(kpi: str) -> str:
    """One of :data:`UNITS`, from the name: shares, times in hours (``_h``), MB, rates, money, counts."""
    parts = kpi.split(".")
    last = parts[-1]
    if last == "arrival_rate_per_h":
        return "per hour"
    if "reached_within" in parts[:-1] or _SHARE.search(last):
        return "share"
    if last.endswith("_h"):
        return "hours"
    if last.endswith("_mb"):
        return "MB"
    if "cost" in last or "staff_cost" in parts[:-1]:
        return "money"
    return "count"


@dataclass(frozen=True)
class Estimate:
    """A KPI over replications: their number, the mean and its interval (NaN ends with fewer than two)."""

    n: int
    mean: float
    low: float
    high: float


def fmt(value: float, unit: str) -> str:
    """A single value in its unit: ``96.7 %``, ``34.5 min``, ``EUR 5,335,000``, ``633,116``."""
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "share":
        return f"{value:.1%}".replace("%", " %")
    if unit == "hours":
        return fmt_hours(value)
    if unit == "money":
        return f"EUR {value:,.0f}" if abs(value) >= 100 else f"EUR {value:,.2f}"
    if unit == "MB":
        return f"{value:,.0f} MB" if abs(value) >= 10 else f"{value:.3g} MB"
    if unit == "per hour":
        return f"{value:,.1f} per hour"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:.3g}"


HOUR_UNITS = ((48.0, 24.0, "d"), (1.0, 1.0, "h"), (0.0, 1 / 60, "min"))
"""Above 48 h in days, above 1 h in hours, else minutes."""


def fmt_hours(hours: float) -> str:
    scale, name = hours_unit(hours)
    return f"{hours / scale:.1f} {name}"


def short_hours(hours: float) -> str:
    """A target time as a config would say it: ``24 h``, ``3 d``, ``15 min``."""
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} d"
    return f"{hours:g} h" if hours >= 1 else f"{hours * 60:g} min"


def hours_unit(*hours: float) -> tuple[float, str]:
    """One unit for several times: the one the largest of them would be shown in."""
    largest = max((abs(h) for h in hours if math.isfinite(h)), default=0.0)
    return next((scale, name) for floor, scale, name in HOUR_UNITS if largest >= floor)


def estimate_parts(e: Estimate, unit: str, signed: bool = False,
                   share_unit: str | None = None) -> tuple[str, str, str, str] | None:
    """An estimate's numbers as written, in one unit: the mean, the interval's ends (empty where the
    runs do not vary) and the unit to write after them (empty where each number carries its own, as
    money does); None without a value. A count's interval stops at zero (a count is never negative).
    A share is written in ``share_unit`` (default: `` %``, `` pp`` when signed, as a difference is)."""
    if e.n == 0 or not math.isfinite(e.mean):
        return None
    varies = math.isfinite(e.low) and math.isfinite(e.high) and e.low != e.high
    low = max(e.low, 0.0) if unit in ("count", "MB", "money") and not signed and varies else e.low
    sign = "+" if signed else ""
    if unit == "share":
        scale, digits, name = 100.0, 1, share_unit or (" pp" if signed else " %")
    elif unit == "hours":
        scale_h, name = hours_unit(e.mean, *((low, e.high) if varies else ()))
        scale, digits, name = 1 / scale_h, 1, f" {name}"
    else:
        text = ("+" if signed and e.mean > 0 else "") + fmt(e.mean, unit)
        return (text, fmt(low, unit), fmt(e.high, unit), "") if varies else (text, "", "", "")

    def num(x: float) -> str:
        return f"{x * scale:{sign},.{digits}f}"

    return (num(e.mean), num(low), num(e.high), name) if varies else (num(e.mean), "", "", name)


def fmt_estimate(e: Estimate, unit: str, signed: bool = False) -> str:
    """The mean and, where the runs vary, its interval, in one unit written once: ``-0.4 h [-3.5, 2.7]``."""
    parts = estimate_parts(e, unit, signed)
    if parts is None:
        return "-"
    mean, low, high, name = parts
    return mean + name + (f" [{low}, {high}]" if low else "")
