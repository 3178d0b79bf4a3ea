"""The reference executor: SimPy's event queue times the planned visits one event at a time.

It runs every process (pool networks with cycles included) and is the one the queueing
validation runs on. It evaluates no rule: durations, classes, next places and spawns come from
the :class:`~routing_sim.engine.plan.Plan`. What it decides is *when*:

- a pool keeps a heap of waiting visits ordered by (priority class, arrival time at the pool,
  entity id), never by insertion order;
- at an instant, every completion, arrival and calendar change is applied first, then the pool
  dispatches (its dispatch event has a later priority than the others at the same time): while
  a scheduled server is free, the first waiting visit starts;
- when the calendar lowers the scheduled count, busy servers finish the work in hand (overtime)
  and take no more;
- uncapacitated stages are walked at once, with ``end = start + duration``, up to the next pool;
- a visit that would end at or after the horizon stays open, and so does its entity.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np

from routing_sim.engine.kernel import DISPATCH, Kernel
from routing_sim.engine.output import Output
from routing_sim.engine.plan import Plan


class Ent:
    """A live entity: its plan, its row there and its current visit; schedulable as an event."""

    __slots__ = ("plan", "row", "v", "callbacks")
    _ok = True
    callbacks: list[Callable] | None  # what the kernel calls when the entity's event fires; set when scheduled

    def __init__(self, plan: Flat, row: int, v: int):
        self.plan = plan
        self.row = row
        self.v = v


class Flat:
    """A plan's columns as Python lists, for the event loop (numpy scalars are slow one at a time)."""

    __slots__ = ("plan", "id", "stage", "duration", "cls", "next", "first", "child_ptr", "children", "delay",
                 "kind", "first_child", "enter", "start", "end", "created", "adds")

    def __init__(self, plan: Plan):
        self.plan = plan
        self.id = plan.E.id.tolist()
        self.kind = plan.E.kind.tolist()
        self.stage = plan.stage.tolist()
        self.duration = plan.duration.tolist()
        self.cls = plan.cls.tolist()
        self.next = plan.next.tolist()
        self.first = plan.first.tolist()
        self.child_ptr = plan.child_ptr.tolist()
        self.children = plan.children_sorted.tolist()
        self.delay = plan.child_delay.tolist()
        self.first_child = plan.first_child
        # the times found are written straight into the plan's arrays, which the output reads
        self.enter, self.start, self.end, self.created = plan.enter, plan.start, plan.end, plan.E.created
        # visit -> items it adds to each database (only the visits that add any)
        self.adds: dict[int, np.ndarray] = {} if plan.adds is None else \
            {int(v): plan.adds[v:v + 1] for v in np.flatnonzero(plan.adds.any(axis=1))}


class PoolState:
    __slots__ = ("name", "kernel", "scheduled", "busy", "queue", "dispatching", "busy_sum", "scheduled_area",
                 "overtime_area", "last_change", "callbacks", "on_dispatch")
    _ok = True

    def __init__(self, name: str, kernel: Kernel):
        self.name = name
        self.kernel = kernel
        self.scheduled = 0
        self.busy = 0
        self.queue: list = []
        self.dispatching = False
        self.busy_sum = 0.0
        self.scheduled_area = 0.0
        self.overtime_area = 0.0
        self.last_change = 0.0
        self.on_dispatch: list[Callable] = []

    def account(self, now: float) -> None:
        elapsed = now - self.last_change
        self.scheduled_area += self.scheduled * elapsed
        if self.busy > self.scheduled:
            self.overtime_area += (self.busy - self.scheduled) * elapsed
        self.last_change = now

    def request(self, now: float) -> None:
        """Make sure the pool dispatches at this instant, after the other events."""
        if not self.dispatching:
            self.dispatching = True
            self.callbacks = self.on_dispatch
            self.kernel.at(self, now, DISPATCH)

    def close(self, horizon: float) -> tuple[float, float]:
        """Busy hours and on-duty hours up to the horizon."""
        self.account(horizon)
        return self.busy_sum + self.busy * horizon, self.scheduled_area + self.overtime_area


class Change:
    """A calendar change point of one pool, as an event."""

    __slots__ = ("callbacks", "count")
    _ok = True

    def __init__(self, callbacks: list, count: int):
        self.callbacks = callbacks
        self.count = count


class Feed:
    """A period's arrivals from the sources, by (time, id); only the next one is on the queue."""

    __slots__ = ("flat", "rows", "times", "callbacks", "on_fire", "reference")
    _ok = True
    callbacks: list[Callable] | None
    on_fire: list[Callable] | None

    def __init__(self, reference: Reference, flat: Flat, rows: np.ndarray):
        self.reference = reference
        self.flat = flat
        times = flat.plan.E.created[rows]
        order = np.lexsort((flat.plan.E.id[rows], times))[::-1]  # popped from the end
        self.rows = rows[order].tolist()
        self.times = times[order].tolist()
        self.on_fire = [self.fire]

    def begin(self) -> None:
        if self.rows:
            self.callbacks = self.on_fire
            self.reference.kernel.at(self, self.times[-1])

    def fire(self, _: object) -> None:
        row = self.rows.pop()
        t = self.times.pop()
        flat = self.flat
        ent = Ent(flat, row, flat.first[row])
        reference = self.reference
        if self.rows:
            self.callbacks = self.on_fire
            reference.kernel.at(self, self.times[-1])
        else:  # the last arrival: break the cycle through the bound method (the run pauses the collector)
            self.on_fire = self.callbacks = None
        reference.arrive(ent, t)


class Reference:
    def __init__(self, model, out: Output):
        self.model = model
        self.out = out
        self.kernel = Kernel()
        self.horizon = model.horizon
        self.n_stages = len(model.codes.stages)
        self.pools = [PoolState(name, self.kernel) for name in model.codes.pools]
        self.pool_of: list[PoolState | None] = [self.pools[p] if p >= 0 else None for p in model.stage_pool]
        for pool in self.pools:
            pool.on_dispatch = [self._dispatcher(pool)]
        self.on_arrival = [self._arrival]
        self.on_end = [[self._ender(pool)] for pool in self.pools]
        self.on_end_of = [self.on_end[p] if p >= 0 else None for p in model.stage_pool]

    # -- the event loop -------------------------------------------------------------------------

    def arrive(self, ent: Ent, t: float) -> None:
        """Entity ``ent`` reaches its current visit's stage at ``t`` (at or after the clock)."""
        flat = ent.plan
        horizon = self.horizon
        while True:
            v = ent.v
            pool = self.pool_of[flat.stage[v]]
            if pool is not None:
                if t > self.kernel.now:
                    ent.callbacks = self.on_arrival
                    self.kernel.at(ent, t)
                    return
                flat.enter[v] = t
                heappush(pool.queue, (flat.cls[v], t, flat.id[ent.row], ent))
                pool.request(t)
                return
            flat.enter[v] = flat.start[v] = t
            end = t + flat.duration[v]
            if end >= horizon:
                self.out.open(flat.plan, ent.row, v)
                return
            if not self.complete(ent, v, end):
                return
            t = end

    def _arrival(self, ent: Ent) -> None:
        self.arrive(ent, self.kernel.now)

    def complete(self, ent: Ent, v: int, end: float) -> bool:
        """The visit ``v`` ended at ``end``: spawn, then go on (True) or finish (False)."""
        flat = ent.plan
        flat.end[v] = end
        if flat.adds and v in flat.adds:
            self.model.databases.add(np.array([end]), flat.adds[v])
        lo, hi = flat.child_ptr[v], flat.child_ptr[v + 1]
        if lo < hi:
            self._spawn(flat, lo, hi, end)
        target = flat.next[v]
        if target >= self.n_stages:
            self.out.finished(flat.plan, ent.row, v, end, target - self.n_stages)
            return False
        ent.v = v + 1
        return True

    def _spawn(self, flat: Flat, lo: int, hi: int, end: float) -> None:
        out = self.out
        for i in range(lo, hi):
            child = flat.children[i]
            due = end + flat.delay[child - flat.first_child]
            if due < self.horizon:
                flat.created[child] = due
                out.spawned[flat.kind[child]] += 1
                self.arrive(Ent(flat, child, flat.first[child]), due)
            else:
                out.pending += 1

    def _dispatcher(self, pool: PoolState) -> Callable:
        kernel, horizon, out, queue = self.kernel, self.horizon, self.out, pool.queue

        def dispatch(_: object) -> None:
            pool.dispatching = False
            now = kernel.now
            while queue and pool.busy < pool.scheduled:
                ent = heappop(queue)[3]
                flat, v = ent.plan, ent.v
                flat.start[v] = now
                end = now + flat.duration[v]
                pool.busy += 1
                pool.busy_sum -= now
                if end >= horizon:
                    out.open(flat.plan, ent.row, v)
                else:
                    ent.callbacks = self.on_end_of[flat.stage[v]]
                    kernel.at(ent, end)

        return dispatch

    def _ender(self, pool: PoolState) -> Callable:
        kernel = self.kernel

        def end_of_service(ent: Ent) -> None:
            now = kernel.now
            if pool.busy > pool.scheduled:
                pool.account(now)
            pool.busy -= 1
            pool.busy_sum += now
            if pool.queue:
                pool.request(now)
            if self.complete(ent, ent.v, now):
                self.arrive(ent, now)

        return end_of_service

    def _calendar(self, pool: PoolState) -> Callable:
        def change(event: Change) -> None:
            now = self.kernel.now
            pool.account(now)
            pool.scheduled = event.count
            if pool.queue:
                pool.request(now)

        return change

    # -- the run --------------------------------------------------------------------------------

    def run(self, progress: Callable[[float, float], None] | None = None) -> None:
        model, kernel = self.model, self.kernel
        for pool, points in zip(self.pools, model.calendars, strict=True):
            pool.scheduled = points[0][1]
            callbacks = [self._calendar(pool)]
            for t, n in points[1:]:
                kernel.at(Change(callbacks, n), t)
        for until, plan in model.periods():
            if plan is not None:  # the period's arrivals are the plan's first rows
                Feed(self, Flat(plan), np.arange(plan.first_child)).begin()
            kernel.run(until=until)
            self.out.flush(until)
            if progress:
                progress(until, self.horizon)
        for pool in self.pools:
            for _, _, _, ent in sorted(pool.queue, key=lambda item: item[2]):
                self.out.open(ent.plan.plan, ent.row, ent.v)

    def pool_totals(self) -> list[tuple[float, float, int, int]]:
        return [(*pool.close(self.horizon), pool.scheduled, pool.busy) for pool in self.pools]

    def events(self) -> int:
        return self.kernel.scheduled()
