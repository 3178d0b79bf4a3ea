"""The planner: every rule of every visit an entity will make, evaluated ahead with arrays.

Nothing a rule decides depends on shared state: a visit's duration, priority class,
decisions, spawns and next place depend only on the entity's attributes and its own draws
(:mod:`routing_sim.engine.rules`). So when a cohort of entities is created, the planner walks
it through the process round by round (round k evaluates every entity's k-th visit), together
with every entity its visits would spawn, and the executors only have to find the times:
when each visit enters, starts and ends. An executor contains no rule.

A :class:`Plan` holds the entities (``E``, one row each) and their visits (``V``, one row
each, an entity's visits contiguous and in order), plus the children each visit spawns (a
visit that never ends before the horizon spawns nothing, and the executor says so). The
executors write the visits' times into the plan; :mod:`routing_sim.engine.output` turns
finished and open entities into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing_sim.engine.databases import Databases
from routing_sim.engine.rules.attributes import ATTR_DTYPE
from routing_sim.engine.rules.decisions import Decision
from routing_sim.engine.rules.durations import Durations
from routing_sim.engine.rules.priorities import Priorities
from routing_sim.engine.rules.randomness import MAX_VISITS
from routing_sim.engine.rules.routes import Routes
from routing_sim.engine.rules.spawns import SpawnRule
from routing_sim.engine.sources import Cohort
from routing_sim.errors import RunError


@dataclass
class StageRules:
    """The compiled rules of one stage."""

    index: int
    name: str
    pool: int  # -1: uncapacitated
    durations: Durations
    priorities: Priorities
    decisions: list[Decision]
    spawns: list[SpawnRule]
    routes: Routes


class Plan:
    """A cohort's entities, their visits and their descendants, planned; times filled in by an executor."""

    def __init__(self, entities: Cohort, visit_entity: np.ndarray, visit_stage: np.ndarray,
                 duration: np.ndarray, cls: np.ndarray, nxt: np.ndarray, attrs: np.ndarray,
                 child_parent_visit: np.ndarray, child_delay: np.ndarray, n_children: int,
                 adds: np.ndarray | None = None):
        self.E = entities
        n = len(entities)
        self.visit_entity = visit_entity  # an entity's visits are contiguous, in path order
        self.stage = visit_stage
        self.duration = duration
        self.cls = cls
        self.next = nxt
        self.attrs = attrs  # attribute codes after each visit's decisions
        self.adds = adds  # items each visit adds to each database (None: the process has no databases)
        self.first = np.searchsorted(visit_entity, np.arange(n))
        self.n_visits = np.diff(np.append(self.first, visit_entity.size))
        # entities [n - n_children, n) are spawned: each by one visit, after a delay
        self.child_parent_visit = child_parent_visit
        self.child_delay = child_delay
        self.first_child = n - n_children
        order = np.argsort(child_parent_visit, kind="stable")  # -1 (created already, parent gone) first
        self.children_sorted = order + self.first_child
        self.child_ptr = np.searchsorted(child_parent_visit[order], np.arange(visit_entity.size + 1))
        nv = visit_entity.size
        self.enter = np.full(nv, np.nan)
        self.start = np.full(nv, np.nan)
        self.end = np.full(nv, np.nan)

    def __len__(self) -> int:
        return len(self.E)

    def descendants(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` and every entity their visits spawn, recursively (sorted, each once)."""
        keep = np.zeros(len(self), dtype=bool)
        frontier = np.unique(rows)
        while frontier.size:
            keep[frontier] = True
            counts = self.n_visits[frontier]
            visits = np.repeat(self.first[frontier] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            lo, hi = self.child_ptr[visits], self.child_ptr[visits + 1]
            n = hi - lo
            spawned = self.children_sorted[np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())]
            frontier = spawned[~keep[spawned]]
        return np.flatnonzero(keep)

    def subset(self, rows: np.ndarray) -> tuple[Plan, np.ndarray, np.ndarray]:
        """A plan of the entities ``rows`` (sorted) with all their visits and times; and the maps
        from this plan's entity rows and visit rows to the new ones (-1: not kept). A kept child
        whose parent is not kept keeps its creation time and no longer needs its parent's visit."""
        row_map = np.full(len(self), -1, dtype=np.int64)
        row_map[rows] = np.arange(rows.size)
        counts = self.n_visits[rows]
        visits = np.repeat(self.first[rows] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        visit_map = np.full(self.visit_entity.size, -1, dtype=np.int64)
        visit_map[visits] = np.arange(visits.size)
        E = self.E
        entities = Cohort(*(getattr(E, f)[rows] for f in Cohort.__dataclass_fields__))
        children = rows[rows >= self.first_child] - self.first_child
        parent_visit = self.child_parent_visit[children]
        parent_visit = np.where(parent_visit >= 0, visit_map[np.maximum(parent_visit, 0)], -1)
        plan = Plan(entities, row_map[self.visit_entity[visits]], self.stage[visits], self.duration[visits],
                    self.cls[visits], self.next[visits], self.attrs[visits], parent_visit, self.child_delay[children],
                    children.size, None if self.adds is None else self.adds[visits])
        plan.enter, plan.start, plan.end = self.enter[visits], self.start[visits], self.end[visits]
        return plan, row_map, visit_map


class Planner:
    def __init__(self, stages: list[StageRules], n_stages: int, databases: Databases | None = None):
        self.stages = stages
        self.n_stages = n_stages
        self.n_databases = len(databases) if databases is not None else 0
        self.adds = databases.adds if databases is not None else [[] for _ in stages]

    def plan(self, cohort: Cohort) -> Plan:
        """Plan ``cohort`` and everything it spawns."""
        parts: list[Cohort] = []
        visits: list[tuple[np.ndarray, ...]] = []
        child_parent: list[np.ndarray] = []
        child_delay: list[np.ndarray] = []
        offset = 0
        batch: Cohort | None = cohort
        while batch is not None and len(batch):
            parts.append(batch)
            spawned = self._walk(batch, offset, visits, child_parent, child_delay)
            offset += len(batch)
            batch = spawned
        entities = Cohort.concat(parts)
        n_children = len(entities) - len(cohort)
        adds: np.ndarray | None = None
        if visits:
            entity, number, stage, duration, cls, nxt = (np.concatenate([v[i] for v in visits]) for i in range(6))
            attrs = np.concatenate([v[6] for v in visits])
            if self.n_databases:
                adds = np.concatenate([v[7] for v in visits])
        else:
            entity = number = stage = cls = nxt = np.empty(0, dtype=np.int64)
            duration = np.empty(0)
            attrs = np.empty((0, entities.attrs.shape[1]), dtype=ATTR_DTYPE)
            if self.n_databases:
                adds = np.empty((0, self.n_databases), dtype=np.int64)
        order = np.lexsort((number, entity))
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        parent_visit = position[np.concatenate(child_parent)] if child_parent else np.empty(0, dtype=np.int64)
        delays = np.concatenate(child_delay) if child_delay else np.empty(0)
        return Plan(entities, entity[order], stage[order].astype(np.int32), duration[order],
                    cls[order].astype(np.int16), nxt[order].astype(np.int32), attrs[order], parent_visit, delays,
                    n_children, None if adds is None else adds[order])

    def _walk(self, batch: Cohort, offset: int, visits: list, child_parent: list, child_delay: list) -> Cohort | None:
        """Every visit of the batch's entities (rows ``offset + i``); returns their children, if any."""
        rows = np.arange(len(batch))
        place = batch.entry.copy()
        attrs = batch.attrs.copy()
        ids = batch.id
        k = 0
        children: list[Cohort] = []
        base = sum(v[0].size for v in visits)  # visits recorded before this batch
        while rows.size:
            if k >= MAX_VISITS:
                raise RunError(f"an entity planned more than {MAX_VISITS} visits: a routing loop does not end")
            nxt_all = np.empty(rows.size, dtype=np.int64)
            for s in np.unique(place).tolist():
                sel = np.flatnonzero(place == s)
                rules = self.stages[s]
                r = rows[sel]
                a = attrs[r]
                i = ids[r]
                duration = rules.durations.of(a, i, k, batch.counts, r)
                cls = rules.priorities.classes(a)
                for decision in rules.decisions:
                    decision.apply(a, i, k)
                here = base + np.arange(r.size)  # the visits' positions in this plan's visit list
                for spawn in rules.spawns:
                    hit, child_ids, delays, child_attrs = spawn.of(a, i, np.full(r.size, k))
                    if hit.size:
                        m = hit.size
                        # a child's origin is its parent's: known now, though its creation time is not
                        children.append(Cohort(child_ids, np.full(m, spawn.kind, dtype=np.int64),
                                               np.full(m, -1, dtype=np.int64), i[hit], child_ids, np.full(m, np.nan),
                                               batch.origin[r[hit]], np.full(m, spawn.entry, dtype=np.int64),
                                               child_attrs, np.zeros((m, batch.counts.shape[1]), dtype=np.int64)))
                        child_parent.append(here[hit])
                        child_delay.append(delays)
                nxt = rules.routes.of(a, i, k)
                attrs[r] = a
                nxt_all[sel] = nxt
                visit: tuple[np.ndarray, ...] = (r + offset, np.full(r.size, k), np.full(r.size, s), duration, cls,
                                                 nxt, a)
                if self.n_databases:
                    adds = np.zeros((r.size, self.n_databases), dtype=np.int64)
                    for rule in self.adds[s]:
                        adds[:, rule.database] += rule.weights(a, batch.counts, r)
                    visit += (adds,)
                visits.append(visit)
                base += r.size
            on = nxt_all < self.n_stages
            rows, place = rows[on], nxt_all[on]
            k += 1
        return Cohort.concat(children) if children else None
