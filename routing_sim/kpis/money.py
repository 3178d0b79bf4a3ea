"""Pools and cost: headcount over the horizon, utilisation, staff cost against the budget."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from routing_sim.calendars import headcount_segments
from routing_sim.model.process import ProcessConfig
from routing_sim.summary import SimulationSummary

HOURS_PER_YEAR = 8760.0


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
            "max_utilisation": pool.max_utilisation,
            "staff_cost": fte_years(cfg, totals.name, summary.horizon) * pool.cost_per_fte_year,
        }
    return out


def cost_kpis(cfg: ProcessConfig, summary: SimulationSummary, horizon: float) -> dict[str, Any]:
    """Staff cost over the horizon and per year; the yearly cost at the final headcount; the
    comparison with the configured budget's staff share when one is given."""
    years = horizon / HOURS_PER_YEAR
    staff = sum(fte_years(cfg, name, horizon) * p.cost_per_fte_year for name, p in cfg.pools.items())
    at_end = sum(headcount_segments(p, cfg.time.start, horizon)[-1][2] * p.cost_per_fte_year
                 for p in cfg.pools.values())
    arrived = sum(summary.arrived_by_source.values())
    out: dict[str, Any] = {
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
    out["by_year"] = budget_path(cfg, horizon)
    return out


def budget_path(cfg: ProcessConfig, horizon: float) -> dict[str, Any]:
    """Per calendar year the run covers: the staff cost of each pool (its headcount, schedule
    included, over the hours of that year in the run, times its cost per FTE-year), their total,
    and beside it the budget's staff and other shares for the same hours, so that a partial year
    compares like with like. A year is its own length here (8,784 hours in a leap year), so a full
    year costs exactly one year of pay and of budget."""
    start = cfg.time.start
    last = start + dt.timedelta(hours=horizon)
    segments = {name: headcount_segments(p, start, horizon) for name, p in cfg.pools.items()}
    out: dict[str, Any] = {}
    for year in range(start.year, last.year + 1):
        lo = max(0.0, (dt.date(year, 1, 1) - start).days * 24.0)
        hi = min(horizon, (dt.date(year + 1, 1, 1) - start).days * 24.0)
        if hi <= lo:
            continue
        length = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days * 24.0
        staff = {name: sum(max(0.0, min(b, hi) - max(a, lo)) * n for a, b, n in segments[name]) / length
                 * cfg.pools[name].cost_per_fte_year for name in cfg.pools}
        part = (hi - lo) / length
        row: dict[str, Any] = {"share_of_year": part, "staff_cost": staff, "staff_cost_total": sum(staff.values())}
        if cfg.budget is not None:
            row["budget_staff"] = cfg.budget.total_per_year * cfg.budget.staff_share * part
            row["budget_other"] = cfg.budget.total_per_year * (1 - cfg.budget.staff_share) * part
            row["staff_share_of_staff_budget"] = (row["staff_cost_total"] / row["budget_staff"]
                                                  if row["budget_staff"] else math.nan)
        out[str(year)] = row
    return out
