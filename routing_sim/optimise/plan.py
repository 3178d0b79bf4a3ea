"""A staffing plan over time: the cheapest headcount per pool for each year (or quarter).

The horizon from ``time.start`` is cut into calendar years or quarters (the first and last may be
partial). The periods are searched in time order: for period k the headcounts of the periods
before it are fixed as found, and a candidate holds from the first day of period k to the end of
the evaluation, which runs from the start of the horizon to the end of period k. The targets are
judged on the KPIs of period k alone: the KPIs after a warm-up that ends where period k starts
(deadlines of the entities created in the period, utilisation over its hours), exactly as
``--warmup`` restricts them. Each period is one :class:`~routing_sim.optimise.search.Search`
(joint confidence, common random numbers, offered-load bound) over the box the hiring limits
leave, ``[previous - leavers, previous + hires]``, started at the previous period's headcounts.
When nothing in that box meets the targets, the plan takes its upper end for the period, marks it
``targets missed within the hiring limit`` (or ``at the most --max-headcount allows`` when no
hiring limit cut the box) and goes on.

The plan is written as ``plan.json`` and as ``plan.yaml``, a ``pools:`` block with a headcount
and a ``schedule:`` that a config can take as it is (paste it, or ``extends:`` the config from a
file holding it): the period configs above are the config with that block, cut at each period's
end, so the block reproduces the plan's verdicts.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from routing_sim.errors import ConfigError, Problem
from routing_sim.experiments.stats import interval
from routing_sim.optimise.evaluate import Evaluator
from routing_sim.optimise.search import PASS, Search, Target

PERIODS = ("year", "quarter")
MISSED = "targets missed within the hiring limit"
MISSED_AT_MOST = "targets missed at the most --max-headcount allows"


@dataclass(frozen=True)
class Period:
    label: str  # "2025" or "2025-Q1"
    start: dt.date
    end: dt.date  # exclusive: the first day of the next period (or the horizon's end)
    start_h: float  # hours from time.start
    end_h: float

    @property
    def hours(self) -> float:
        return self.end_h - self.start_h

    def calendar_year_hours(self) -> float:
        """The hours of the calendar year the period lies in (8,784 in a leap year)."""
        return (dt.date(self.start.year + 1, 1, 1) - dt.date(self.start.year, 1, 1)).days * 24.0


def periods(start: dt.date, horizon_h: float, per: str) -> list[Period]:
    """The calendar years or quarters of ``[start, start + horizon)``; the first and last may be partial."""
    if per not in PERIODS:
        raise ConfigError([Problem("<command line>", (), f"--per: year or quarter (got {per!r})")])
    if horizon_h < 24 or horizon_h % 24:
        raise ConfigError([Problem("<command line>", (), f"--per: a plan needs a horizon of whole days "
                                   f"(got {horizon_h:g} h)")])
    end = start + dt.timedelta(hours=horizon_h)
    out: list[Period] = []
    lo = start
    while lo < end:
        if per == "year":
            hi, label = dt.date(lo.year + 1, 1, 1), str(lo.year)
        else:
            q = (lo.month - 1) // 3
            hi = dt.date(lo.year + 1, 1, 1) if q == 3 else dt.date(lo.year, 3 * q + 4, 1)
            label = f"{lo.year}-Q{q + 1}"
        hi = min(hi, end)
        out.append(Period(label, lo, hi, (lo - start).days * 24.0, (hi - start).days * 24.0))
        lo = hi
    return out


def period_data(data: dict[str, Any], pools: list[str], plan: list[dict[str, int]], spans: list[Period],
                k: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The config of period ``k``'s evaluation: the horizon cut at the period's end, each planned
    pool's headcount and schedule set from ``plan`` (the periods before ``k``; period ``k``'s own
    entry a placeholder), and the dotted path of the candidate headcount of each pool."""
    out = copy.deepcopy(data)
    out["time"]["horizon"] = f"{int(spans[k].end_h // 24)}d"
    paths = {}
    for p in pools:
        pool = out["pools"][p]
        if k > 0:
            pool["headcount"] = plan[0][p]
        pool["schedule"] = [{"from": spans[j].start.isoformat(), "headcount": plan[j][p]} for j in range(1, k)]
        if k > 0:
            pool["schedule"].append({"from": spans[k].start.isoformat(), "headcount": plan[k - 1][p]})
        paths[p] = f"pools.{p}.schedule.{k - 1}.headcount" if k > 0 else f"pools.{p}.headcount"
    return out, paths


def period_cost(headcount: dict[str, int], costs: dict[str, float], span: Period) -> float:
    """Staff cost of the period: headcount x cost per FTE-year x the period's share of its calendar year."""
    return float(sum(h * costs[p] for p, h in headcount.items()) * span.hours / span.calendar_year_hours())


def period_bounds(pools: list[str], before: dict[str, int] | None, least: dict[str, int], most: dict[str, int],
                  hires: dict[str, int], leavers: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """The box of a period: ``[before - leavers, before + hires]`` within ``[least, most]`` (no
    hiring limit without a headcount before the period)."""
    low, high = {}, {}
    for p in pools:
        hi = most[p] if before is None or p not in hires else min(most[p], before[p] + hires[p])
        lo = least[p] if before is None or p not in leavers else max(least[p], before[p] - leavers[p])
        high[p] = max(hi, 0)
        low[p] = min(max(lo, 0), high[p])
    return low, high


def plan_search(data: dict[str, Any], pools: list[str], targets: list[Target], costs: dict[str, float],
                spans: list[Period], *, seed: int, executor: Any, store: Any, least: dict[str, int],
                most: dict[str, int], hires: dict[str, int], leavers: dict[str, int],
                before: dict[str, int] | None = None, warmup_h: float = 0.0, level: float = 0.95, n0: int = 5,
                cap: int = 40, batch: int = 1, load_bound: bool = True) -> dict[str, Any]:
    """Search the periods in time order; one row per period, and the plan."""
    if warmup_h and warmup_h >= spans[0].hours:
        raise ConfigError([Problem("<command line>", (), f"--warmup: {warmup_h:g} h is not shorter than the first "
                                   f"period ({spans[0].label}, {spans[0].hours:g} h)")])
    plan: list[dict[str, int]] = []
    rows: list[dict[str, Any]] = []
    tasks = 0
    for k, span in enumerate(spans):
        prev = plan[-1] if plan else before
        low, high = period_bounds(pools, prev, least, most, hires, leavers)
        period, paths = period_data(data, pools, plan, spans, k)
        ev = Evaluator(period, seed, executor, store, span.start_h if k > 0 else warmup_h)
        search = Search(ev, pools, targets, costs, level, n0, cap, batch=batch, paths=paths)
        found = search.run(low, high, load_bound, guess=prev)
        tasks += ev.tasks_run
        if found["optimum"] is not None:
            chosen, status, best = found["optimum"]["headcount"], "optimum", found["optimum"]
        else:
            chosen = dict(high)
            best = search.decide([tuple(high[p] for p in pools)])[0]
            status = MISSED if any(high[p] < most[p] for p in pools) else MISSED_AT_MOST
        plan.append({p: int(chosen[p]) for p in pools})
        kpis = [t.kpi for t in targets] + [f"pools.{p}.utilisation" for p in pools]
        point = search.point(tuple(plan[-1][p] for p in pools))
        rows.append({
            "period": span.label, "from": span.start.isoformat(), "to": span.end.isoformat(),
            "warmup_h": ev.warmup_h, "horizon_h": span.end_h, "status": status, "headcount": plan[-1],
            "bounds": found["bounds"], "cost": period_cost(plan[-1], costs, span),
            "cost_per_year": float(sum(plan[-1][p] * costs[p] for p in pools)), "n": best["n"],
            "verdict": best["verdict"], "undecided": best["undecided"], "targets": best["targets"],
            "kpis": {name: interval(ev.values(point, name, best["n"]), level) for name in dict.fromkeys(kpis)},
            "config_hash": ev.variant(point)[2],
            "cheaper_failing": [{"headcount": x["headcount"], "cost": x["cost"],
                                 "failing": [j for j in x["targets"] if j["verdict"] != PASS]}
                                for x in found["cheaper_failing"][:3]],
            "candidates": len(found["evidence"]), "tasks_run": ev.tasks_run,
        })
    return {"periods": rows, "plan": plan, "tasks_run": tasks,
            "met": all(r["status"] == "optimum" for r in rows)}


def schedule_block(pools: list[str], spans: list[Period], plan: list[dict[str, int]]) -> dict[str, Any]:
    """``{pools: {p: {headcount: N0, schedule: [{from: date, headcount: Nk}, ...]}}}`` of a plan."""
    return {"pools": {p: {"headcount": plan[0][p],
                          "schedule": [{"from": spans[k].start, "headcount": plan[k][p]} for k in range(1, len(plan))]}
                      for p in pools}}


def schedule_yaml(block: dict[str, Any], header: list[str]) -> str:
    """The block as YAML, each schedule entry on one line, under a comment that says where it came from."""
    lines = [f"# {line}" if line else "#" for line in header] + ["pools:"]
    for p, pool in block["pools"].items():
        lines += [f"  {p}:", f"    headcount: {pool['headcount']}"]
        if pool["schedule"]:
            lines.append("    schedule:")
            lines += [f"      - {{from: {c['from'].isoformat()}, headcount: {c['headcount']}}}" for c in pool["schedule"]]
        else:
            lines.append("    schedule: []")
    return "\n".join(lines) + "\n"


def limits(spec: list[str] | None, pools: list[str], what: str) -> dict[str, int]:
    """``--max-hires 15`` (every pool) or ``reviewers=15`` (repeat): a count per period, per pool."""
    out: dict[str, int] = {}
    for item in spec or []:
        name, sep, value = item.rpartition("=")
        if not value.strip().isdigit():
            raise ConfigError([Problem("<command line>", (), f"{what} {item!r}: write N or POOL=N (N a whole number)")])
        for p in ([name.strip()] if sep else pools):
            if p not in pools:
                raise ConfigError([Problem("<command line>", (), f"{what} {item!r}: no pool {p!r} chosen "
                                           f"(--pools {','.join(pools)})")])
            out[p] = int(value)
    return out
