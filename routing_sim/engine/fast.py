"""The fast executor: one loop per pool, pools in topological order, a period at a time.

It applies where the pools form an acyclic graph (an uncapacitated stage is a node of its own;
routes and spawns are the edges) and no pool stage can take zero time. Then every arrival at a
node comes from nodes before it, so a node's whole period can be timed once the nodes before
it are done. The semantics are the reference executor's (:mod:`routing_sim.engine.reference`):
queue order (priority class, arrival time at the pool, entity id); at an instant, completions,
arrivals and calendar changes first, then dispatch; overtime to finish work in hand; the same
arithmetic for every time (``end = start + duration``, a child's arrival ``end + delay``).
"""

from __future__ import annotations

import math
from heapq import heappop, heappush
from typing import Callable

import numpy as np

from routing_sim.engine.output import Output
from routing_sim.engine.plan import Plan

INF = math.inf


def node_graph(model) -> tuple[list[int], dict[int, set[int]]]:
    """Per stage its node (pools first, then one node per uncapacitated stage) and the edges
    between nodes."""
    n_pools = len(model.codes.pools)
    node_of = []
    extra = 0
    for pool in model.stage_pool:
        if pool >= 0:
            node_of.append(pool)
        else:
            node_of.append(n_pools + extra)
            extra += 1
    n_stages = len(model.stages)
    edges: dict[int, set[int]] = {n: set() for n in range(n_pools + extra)}
    for rules in model.stages:
        here = node_of[rules.index]
        targets = {p for p in rules.routes.places if p < n_stages} | {sp.entry for sp in rules.spawns}
        edges[here].update(node_of[t] for t in targets)
    return node_of, edges


def components(edges: dict[int, set[int]]) -> list[list[int]]:
    """Strongly connected components, in an order where every edge between two of them goes
    forward (Kosaraju's algorithm, iterative)."""
    seen: set[int] = set()
    finished: list[int] = []
    for root in sorted(edges):
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(edges[root])))]
        while stack:
            node, it = stack[-1]
            for t in it:
                if t not in seen:
                    seen.add(t)
                    stack.append((t, iter(sorted(edges[t]))))
                    break
            else:
                stack.pop()
                finished.append(node)
    reverse: dict[int, set[int]] = {n: set() for n in edges}
    for n, targets in edges.items():
        for t in targets:
            reverse[t].add(n)
    assigned: set[int] = set()
    out = []
    for root in reversed(finished):
        if root in assigned:
            continue
        component, stack = [], [root]
        assigned.add(root)
        while stack:
            node = stack.pop()
            component.append(node)
            for t in reverse[node]:
                if t not in assigned:
                    assigned.add(t)
                    stack.append(t)
        out.append(sorted(component))
    return out


def fast_applies(model) -> tuple[bool, str]:
    """Whether the fast executor can run ``model``, and why (or why not)."""
    zero = [r.name for r in model.stages if r.pool >= 0 and r.durations.can_be_zero]
    if zero:
        return False, f"the service of pool stage {zero[0]!r} can take zero time"
    _, edges = node_graph(model)
    n_pools = len(model.codes.pools)
    for component in components(edges):
        pools = [model.codes.pools[n] for n in component if n < n_pools]
        if pools and (len(component) > 1 or component[0] in edges[component[0]]):
            return False, f"pool {pools[0]!r} is on a cycle of routes or spawns"
    return True, "the pools form an acyclic graph"


class PoolLoop:
    """One pool's state, carried from period to period: the waiting heap, the ends of the
    services in hand, the calendar, and the busy and on-duty accounting."""

    def __init__(self, calendar: list[tuple[float, int]]):
        self.calendar = calendar
        self.next_change = 1
        self.scheduled = calendar[0][1]
        self.busy = 0
        self.queue: list = []  # (class, arrival time, entity id, duration, plan, visit)
        self.ends: list[float] = []
        self.busy_sum = 0.0
        self.scheduled_area = 0.0
        self.overtime_area = 0.0
        self.last_change = 0.0

    def account(self, now: float) -> None:
        elapsed = now - self.last_change
        self.scheduled_area += self.scheduled * elapsed
        if self.busy > self.scheduled:
            self.overtime_area += (self.busy - self.scheduled) * elapsed
        self.last_change = now

    def run(self, arrivals: list, until: float, horizon: float) -> list:
        """Time the pool up to ``until`` with ``arrivals`` (sorted by time) added to what waits;
        returns the visits started, as (plan, visit, start)."""
        queue, ends, calendar = self.queue, self.ends, self.calendar
        started = []
        i, n = 0, len(arrivals)
        while True:
            t = arrivals[i][1] if i < n else INF
            if ends and ends[0] < t:
                t = ends[0]
            if self.next_change < len(calendar) and calendar[self.next_change][0] < t:
                t = calendar[self.next_change][0]
            if t >= until:
                break
            while ends and ends[0] == t:
                heappop(ends)
                if self.busy > self.scheduled:
                    self.account(t)
                self.busy -= 1
                self.busy_sum += t
            while i < n and arrivals[i][1] == t:
                heappush(queue, arrivals[i])
                i += 1
            while self.next_change < len(calendar) and calendar[self.next_change][0] == t:
                self.account(t)
                self.scheduled = calendar[self.next_change][1]
                self.next_change += 1
            while queue and self.busy < self.scheduled:
                _, _, _, duration, plan, v = heappop(queue)
                end = t + duration
                self.busy += 1
                self.busy_sum -= t
                started.append((plan, v, t))
                if end < horizon:
                    heappush(ends, end)
        return started

    def close(self, horizon: float) -> tuple[float, float]:
        self.account(horizon)
        return self.busy_sum + self.busy * horizon, self.scheduled_area + self.overtime_area


class Fast:
    def __init__(self, model, out: Output):
        self.model = model
        self.out = out
        self.horizon = model.horizon
        self.n_stages = len(model.stages)
        self.node_of, edges = node_graph(model)
        self.order = components(edges)
        self.n_pools = len(model.codes.pools)
        self.node_of_array = np.array(self.node_of, dtype=np.int64)
        self.pools = [PoolLoop(points) for points in model.calendars]
        self.pending: dict[int, list] = {n: [] for n in edges}  # node -> [(plan, visits, arrival times)]

    def run(self, progress: Callable[[float, float], None] | None = None) -> None:
        model, horizon, period = self.model, self.horizon, self.model.period
        k = 0
        while k * period < horizon:
            until = min(horizon, (k + 1) * period)
            cohort = model.arrivals_until(until)
            if cohort is not None:
                plan = model.planner.plan(cohort)
                rows = np.arange(len(cohort))
                self._arrive(plan, plan.first[rows], cohort.created)
            for component in self.order:
                self._component(component, until)
            self.out.flush(until)
            if progress:
                progress(until, horizon)
            k += 1
        for pool in self.pools:  # still waiting at the horizon, by entity id
            for item in sorted(pool.queue, key=lambda item: item[2]):
                self.out.open(item[4], int(item[4].visit_entity[item[5]]), item[5])

    def _arrive(self, plan: Plan, visits: np.ndarray, times: np.ndarray) -> None:
        """Visits ``visits`` of ``plan`` reach their stages at ``times``."""
        nodes = self.node_of_array[plan.stage[visits]]
        for node in np.unique(nodes).tolist():
            sel = nodes == node
            self.pending[node].append((plan, visits[sel], times[sel]))

    def _take(self, node: int, until: float) -> list:
        """The pending arrivals at ``node`` before ``until``; the rest stay."""
        now, later = [], []
        for plan, visits, times in self.pending[node]:
            early = times < until
            if early.all():
                now.append((plan, visits, times))
            else:
                if early.any():
                    now.append((plan, visits[early], times[early]))
                later.append((plan, visits[~early], times[~early]))
        self.pending[node] = later
        return now

    def _component(self, nodes: list[int], until: float) -> None:
        """Time a pool, or a group of uncapacitated stages that route to each other (walked
        round by round until nothing more arrives there before ``until``)."""
        while True:
            for node in nodes:
                self._node(node, until)
            if not any(times.size and times.min() < until for node in nodes
                       for _, _, times in self.pending[node]):
                return

    def _node(self, node: int, until: float) -> None:
        arrivals = self._take(node, until)
        if node >= self.n_pools:
            for plan, visits, times in arrivals:
                plan.enter[visits] = times
                plan.start[visits] = times
                self._ended(plan, visits, times + plan.duration[visits])
            return
        items = []
        for plan, visits, times in arrivals:
            plan.enter[visits] = times
            items.extend(zip(plan.cls[visits].tolist(), times.tolist(), plan.E.id[plan.visit_entity[visits]].tolist(),
                             plan.duration[visits].tolist(), [plan] * visits.size, visits.tolist()))
        items.sort(key=lambda item: item[1])
        started = self.pools[node].run(items, until, self.horizon)
        by_plan: dict[int, tuple[Plan, list, list]] = {}
        for plan, v, t in started:
            entry = by_plan.get(id(plan))
            if entry is None:
                entry = by_plan[id(plan)] = (plan, [], [])
            entry[1].append(v)
            entry[2].append(t)
        for plan, vs, ts in by_plan.values():
            visits, starts = np.array(vs, dtype=np.int64), np.array(ts)
            plan.start[visits] = starts
            self._ended(plan, visits, starts + plan.duration[visits])

    def _ended(self, plan: Plan, visits: np.ndarray, ends: np.ndarray) -> None:
        """Visits that end at ``ends`` (at or after the horizon: open)."""
        late = ends >= self.horizon
        if late.any():
            for v in visits[late].tolist():
                self.out.open(plan, int(plan.visit_entity[v]), v)
            visits, ends = visits[~late], ends[~late]
            if not visits.size:
                return
        plan.end[visits] = ends
        counts = plan.child_ptr[visits + 1] - plan.child_ptr[visits]
        if counts.any():
            starts = np.repeat(plan.child_ptr[visits] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            children = plan.children_sorted[starts]
            due = np.repeat(ends, counts) + plan.child_delay[children - plan.first_child]
            ok = due < self.horizon
            self.out.pending += int((~ok).sum())
            children, due = children[ok], due[ok]
            plan.E.created[children] = due
            self.out.spawned += np.bincount(plan.E.kind[children], minlength=self.out.spawned.size)
            self._arrive(plan, plan.first[children], due)
        nxt = plan.next[visits]
        done = nxt >= self.n_stages
        if done.any():
            self.out.finished_many(plan, plan.visit_entity[visits[done]], visits[done], ends[done],
                                   (nxt[done] - self.n_stages).astype(np.int64))
        on = ~done
        if on.any():
            self._arrive(plan, visits[on] + 1, ends[on])

    def pool_totals(self) -> list[tuple[float, float, int, int]]:
        return [(*pool.close(self.horizon), pool.scheduled, pool.busy) for pool in self.pools]

    def events(self) -> int:
        return 0
