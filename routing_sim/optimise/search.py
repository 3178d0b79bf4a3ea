"""The cheapest headcount vector whose targets all hold, with statistical evidence.

Decision for one candidate (a headcount per pool): replications 0..n-1 with common random numbers;
for every target a one-sided t bound at level ``1 - (1 - level) / k`` (Bonferroni over the k
targets, so all hold jointly with at least ``level`` confidence): lower bound for ``>=``, upper
bound for ``<=``. The candidate passes when every bound is on the right side of its threshold,
fails when some target's opposite bound is on the wrong side; otherwise replications are doubled
up to ``cap``, after which the candidate counts as failing (``undecided``).

Search (assumes more staff never makes a target worse, used only to skip candidates, never to
accept one): a lower bound per pool from the offered load (``floor(busy hours / on-duty hours per
head)`` at the largest vector: below it the pool cannot keep up); a bisection per pool with the
other pools at their maximum (the least headcount each pool needs); then every vector of the
remaining box in order of cost, skipping vectors at or below a failing one, until one passes.
Only a vector that passed on its own evidence is ever returned.

With a guess (a staffing plan gives the previous period's headcounts), the guess is decided
first; when it passes it stands in for the largest vector (its runs give the load bound, and no
pool needs more than its guess), and each pool's least headcount is found by a search that
starts at the guess and doubles its steps away from it, then bisects: when the answer is the
guess, one candidate per pool shows it (none when the box allows nothing lower).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from routing_sim.errors import ConfigError, Problem
from routing_sim.experiments.stats import interval
from routing_sim.optimise.evaluate import Evaluator, Point
from routing_sim.stats import t_quantile

MAX_BOX = 200_000
PASS, FAIL, UNCLEAR = "pass", "fail", "unclear"


@dataclass(frozen=True)
class Target:
    kpi: str
    op: str  # ">=" or "<="
    threshold: float

    def __str__(self) -> str:
        return f"{self.kpi} {self.op} {self.threshold:g}"


def parse_target(text: str) -> Target:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.,+-]+)\s*(>=|<=)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*", text)
    if not match:
        raise ConfigError([Problem("<command line>", (), f"--target {text!r}: write KPI >= NUMBER or KPI <= NUMBER")])
    return Target(match[1], match[2], float(match[3]))


def judge(values: list[float], target: Target, level: float) -> dict[str, Any]:
    """One-sided t bounds of the mean at ``level``; the verdict for the target."""
    finite = [v for v in values if math.isfinite(v)]
    out: dict[str, Any] = {"target": str(target), "kpi": target.kpi, "n": len(values)}
    if len(finite) < len(values) or len(finite) < 2:
        return {**out, "verdict": FAIL, "mean": math.nan, "bound": math.nan,
                "reason": f"KPI undefined in {len(values) - len(finite)} of {len(values)} replications"}
    ci = interval(finite)
    se = ci["sd"] / math.sqrt(len(finite))
    q = t_quantile(level, len(finite) - 1)
    low, high = ci["mean"] - q * se, ci["mean"] + q * se
    bound, other = (low, high) if target.op == ">=" else (high, low)
    ok = bound >= target.threshold if target.op == ">=" else bound <= target.threshold
    bad = other < target.threshold if target.op == ">=" else other > target.threshold
    verdict = PASS if ok else FAIL if bad else UNCLEAR
    return {**out, "verdict": verdict, "mean": ci["mean"], "bound": bound, "one_sided_low": low,
            "one_sided_high": high, "level": level}


class Search:
    def __init__(self, ev: Evaluator, pools: list[str], targets: list[Target], costs: dict[str, float],
                 level: float = 0.95, n0: int = 5, cap: int = 40, batch: int = 1, paths: dict[str, str] | None = None):
        self.ev, self.pools, self.targets, self.costs = ev, pools, targets, costs
        self.paths = paths or {}  # where a pool's headcount is set, when not pools.<pool>.headcount (split pools)
        self.level_each = 1 - (1 - level) / len(targets)
        self.level, self.n0, self.cap, self.batch = level, n0, cap, max(1, batch)
        self.evidence: dict[tuple[int, ...], dict[str, Any]] = {}

    def point(self, vec: tuple[int, ...]) -> Point:
        return {self.paths.get(p, f"pools.{p}.headcount"): int(h) for p, h in zip(self.pools, vec, strict=True)}

    def cost(self, vec: tuple[int, ...]) -> float:
        return float(sum(h * self.costs[p] for p, h in zip(self.pools, vec, strict=True)))

    def decide(self, vecs: list[tuple[int, ...]]) -> list[dict[str, Any]]:
        """Decide every vector, adding replications (doubling, to ``cap``) until each is clear."""
        n = {v: self.n0 for v in vecs if v not in self.evidence}
        while n:
            self.ev.ensure([(self.point(v), k) for v, k in n.items()])
            for v in list(n):
                judged = [judge(self.ev.values(self.point(v), t.kpi, n[v]), t, self.level_each) for t in self.targets]
                verdicts = {j["verdict"] for j in judged}
                if FAIL in verdicts or verdicts == {PASS} or n[v] >= self.cap:
                    self.evidence[v] = {"headcount": dict(zip(self.pools, v, strict=True)), "cost": self.cost(v), "n": n[v],
                                        "verdict": PASS if verdicts == {PASS} else FAIL,
                                        "undecided": verdicts == {PASS, UNCLEAR} or verdicts == {UNCLEAR},
                                        "targets": judged}
                    del n[v]
                else:
                    n[v] = min(self.cap, 2 * n[v])
        return [self.evidence[v] for v in vecs]

    def passes(self, vec: tuple[int, ...]) -> bool:
        return self.decide([vec])[0]["verdict"] == PASS

    def load_bounds(self, top: tuple[int, ...]) -> dict[str, int]:
        """floor(offered load in heads) per pool, from the replications of a passing vector (the
        largest, or the guess that passed)."""
        out = {}
        for p, h in zip(self.pools, top, strict=True):
            busy = interval(self.ev.values(self.point(top), f"pools.{p}.busy_hours", self.n0))["mean"]
            duty = interval(self.ev.values(self.point(top), f"pools.{p}.on_duty_hours", self.n0))["mean"]
            out[p] = int(math.floor(busy / (duty / h) * (1 - 1e-9))) if duty > 0 and h > 0 else 0
        return out

    def run(self, low: dict[str, int], high: dict[str, int], use_load_bound: bool = True,
            guess: dict[str, int] | None = None) -> dict[str, Any]:
        top = tuple(high[p] for p in self.pools)
        bounds: dict[str, Any] = {p: {"min": low[p], "max": high[p]} for p in self.pools}
        near = None if guess is None else tuple(min(high[p], max(low[p], guess[p])) for p in self.pools)
        if near is not None and near != top and self.passes(near):
            passing = near  # every vector at or above it passes too: it bounds each pool from above
        elif self.passes(top):
            passing = top
        else:
            return self._result(None, bounds, "infeasible: the largest vector fails a target")
        if use_load_bound:
            for p, lb in self.load_bounds(passing).items():
                bounds[p]["load_bound"] = lb
                low = {**low, p: min(passing[self.pools.index(p)], max(low[p], lb))}
        least = {}
        for i, p in enumerate(self.pools):  # least headcount of p with the others at their maximum
            start = None if near is None else near[i]
            least[p] = bounds[p]["least_with_others_at_max"] = self._least(top, i, low[p] - 1, passing[i], start)
        axes = [range(least[p], high[p] + 1) for p in self.pools]
        size = math.prod(len(a) for a in axes)
        if size > MAX_BOX:
            raise ConfigError([Problem("<command line>", (), f"--max-headcount: a box of {size:,} vectors; "
                                       f"narrow it to at most {MAX_BOX:,}")])
        order = sorted(itertools.product(*axes), key=lambda v: (self.cost(v), v))
        i = 0
        while i < len(order):
            batch: list[tuple[int, ...]] = []
            while i < len(order) and len(batch) < self.batch:
                vec, i = order[i], i + 1
                if not self._dominated(vec):  # a failing vector dominates itself
                    batch.append(vec)
            self.decide(batch)
            found = next((v for v in batch if self.evidence[v]["verdict"] == PASS), None)
            if found is not None:
                return self._result(found, bounds, "optimum")
        return self._result(None, bounds, "no vector passed (should not happen: the largest one did)")

    def _least(self, top: tuple[int, ...], i: int, fail: int, ok: int, start: int | None) -> int:
        """The least headcount of pool ``i`` (the others at ``top``) above ``fail`` and at most ``ok``,
        which passes: from ``start`` outwards in doubling steps when given, then by bisection."""
        def passes(h: int) -> bool:
            return self.passes(top[:i] + (h,) + top[i + 1:])

        if start is not None and fail < start < ok:
            if passes(start):
                ok = start
            else:
                fail = start
        if start is not None:
            step = 1
            if ok == start:  # downwards: start passed (or is the most allowed)
                while ok - step > fail:
                    if not passes(ok - step):
                        fail = ok - step
                        break
                    ok, step = ok - step, 2 * step
            else:  # upwards: start failed
                while fail + step < ok:
                    if passes(fail + step):
                        ok = fail + step
                        break
                    fail, step = fail + step, 2 * step
        while ok - fail > 1:
            mid = (fail + ok) // 2
            if passes(mid):
                ok = mid
            else:
                fail = mid
        return ok

    def _dominated(self, vec: tuple[int, ...]) -> bool:
        return any(e["verdict"] == FAIL and all(a <= b for a, b in zip(vec, key, strict=True))
                   for key, e in self.evidence.items())

    def _result(self, best: tuple[int, ...] | None, bounds: dict[str, Any], status: str) -> dict[str, Any]:
        evidence = sorted(self.evidence.values(), key=lambda e: (e["cost"], list(e["headcount"].values())))
        out: dict[str, Any] = {"status": status, "pools": self.pools, "bounds": bounds,
                               "level": self.level, "level_per_target": self.level_each,
                               "targets": [str(t) for t in self.targets], "optimum": None, "cheaper_failing": []}
        if best is not None:
            e = self.evidence[best]
            assert e["verdict"] == PASS
            kpis = [t.kpi for t in self.targets] + [f"pools.{p}.utilisation" for p in self.pools]
            cis = {k: interval(self.ev.values(self.point(best), k, e["n"]), self.level) for k in dict.fromkeys(kpis)}
            out["optimum"] = {**e, "kpis": cis}
            cheaper = [x for x in evidence if x["verdict"] == FAIL and x["cost"] < e["cost"]]
            out["cheaper_failing"] = [{**x, "failing": [j for j in x["targets"] if j["verdict"] != PASS]}
                                      for x in sorted(cheaper, key=lambda x: -x["cost"])[:5]]
        out["evidence"] = evidence
        return out
