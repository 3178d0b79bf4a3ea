"""Runtime objects of the engine: entities, pools, stages and outcomes (arrivals: engine.front).

Plain classes with ``__slots__``, built once by :mod:`routing_sim.engine.build`.
The hot path follows what the design notes measured:

- no SimPy process per entity and no ``simpy.Resource`` (its waiting list pops
  from the front); a pool keeps one deque per priority class;
- an entity that is being served or delayed *is* the event: it carries the
  ``callbacks`` list SimPy's ``Environment.step`` reads, and is pushed on the
  environment's own queue with the environment's own event counter, so no
  ``Timeout`` object is allocated per step and same-time events keep SimPy's
  first-scheduled-first-processed order;
- a visit or entity row is packed with one ``struct`` call into a byte buffer,
  turned into Arrow batches between simulated days;
- the end-of-service callback of each pool stage is a closure built once
  (:meth:`Stage.compile`) with its branches settled;
- no logging, no config lookups.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from heapq import heappush

from simpy import Environment
from simpy.events import NORMAL, Timeout

from routing_sim.engine.records import VISITS, ColumnTable, EntityTable, MemorySink
from routing_sim.engine.streams import Stream
from routing_sim.errors import RunError

NAN = float("nan")


class Entity:
    """One report, complaint, request or task, with its attribute codes.

    ``callbacks`` and ``_ok`` make it schedulable on SimPy's event queue while
    it is in service or in a delay (an entity is in at most one such step).
    """

    __slots__ = ("id", "kind", "source", "parent", "group", "created", "attrs", "counts", "marks", "at", "enter",
                 "start", "callbacks")
    _ok = True

    def __init__(self, id: int, kind: int, source: int, parent: int, created: float, attrs: list[int],
                 group: int = -1, counts: tuple = (), marks: list[float] | tuple = ()):
        self.id = id
        self.kind = kind
        self.source = source
        self.parent = parent
        self.group = id if group < 0 else group  # entities of one incident (duplicates) share a group
        self.created = created
        self.attrs = attrs
        self.counts = counts
        self.marks = marks  # first times at the points its kind's deadlines measure (NaN: not yet); () if none
        self.at: Stage | None = None
        self.enter = NAN
        self.start = NAN


class World:
    """What every runtime object shares: the clock, the id counter, the record lists."""

    def __init__(self, env: Environment, attribute_names: list[str], count_names: list[str],
                 mark_names: list[str], kind_marks: list[list[int]]):
        self.env = env
        self.queue = env._queue  # SimPy's event heap: (time, priority, event id, event)
        self.eid = env._eid  # SimPy's event counter, so ties keep SimPy's order
        self.next_id = 0
        self.horizon = float("inf")  # set by the build step
        self.visits = ColumnTable(VISITS, MemorySink())  # the caller may swap in another sink
        self.entities = EntityTable(attribute_names, count_names, MemorySink(), mark_names, kind_marks)
        self.places: list[Stage | Outcome] = []


class Pool:
    """Servers with an on-duty count that follows a calendar.

    When the scheduled count drops, servers that are busy finish their work
    first (on duty as overtime until then) and take no new work. Busy time is
    kept as a running sum (minus the start, plus the end of each service);
    overtime is accounted only while it lasts.
    """

    __slots__ = ("name", "env", "scheduled", "busy", "queues", "waiting", "busy_sum", "scheduled_area",
                 "overtime_area", "last_change")

    def __init__(self, name: str, env: Environment, n_classes: int):
        self.name = name
        self.env = env
        self.scheduled = 0
        self.busy = 0
        self.queues = [deque() for _ in range(n_classes)]
        self.waiting = 0
        self.busy_sum = 0.0
        self.scheduled_area = 0.0
        self.overtime_area = 0.0
        self.last_change = 0.0

    def _account(self, now: float) -> None:
        elapsed = now - self.last_change
        self.scheduled_area += self.scheduled * elapsed
        if self.busy > self.scheduled:
            self.overtime_area += (self.busy - self.scheduled) * elapsed
        self.last_change = now

    def set_scheduled(self, event: Timeout) -> None:
        self._account(self.env._now)
        self.scheduled = event._value
        self.dispatch()

    def close(self, horizon: float) -> tuple[float, float]:
        """Busy hours and on-duty hours up to the horizon."""
        self._account(horizon)
        busy = self.busy_sum + self.busy * horizon
        return busy, self.scheduled_area + self.overtime_area

    def dispatch(self) -> None:
        """Start waiting work while a scheduled server is free, highest class first."""
        while self.waiting and self.busy < self.scheduled:
            for queue in self.queues:
                if queue:
                    entity = queue.popleft()
                    break
            self.waiting -= 1
            entity.at.begin(entity)


class Stage:
    """A step of the process. ``pool`` None means an uncapacitated delay.

    The build step fills in the compiled rules; ``arrive``, ``begin`` and the
    end-of-service callback built by :meth:`compile` are the hot path and evaluate them inline (a condition is a
    tuple of ``(attribute index, allowed codes)``; a random draw is the C-level
    ``pop`` of a pre-drawn :class:`~routing_sim.engine.streams.Stream`).
    """

    __slots__ = (
        "index", "name", "world", "env", "queue", "eid", "pool", "places", "on_finish", "on_arrive",
        "service", "by_index", "by_streams", "priorities", "decisions", "spawns",
        "fixed_next", "routes", "route_stream", "put", "pack", "marks", "marked", "front_marks",
    )

    def __init__(self, index: int, name: str, world: World, pool: Pool | None):
        self.index = index
        self.name = name
        self.world = world
        self.env = world.env
        self.queue = world.queue
        self.eid = world.eid
        self.pool = pool
        self.places = world.places
        self.on_finish: list = []  # shared callbacks list (Environment.step only reads it), set by compile()
        self.on_arrive = [self.arrive]  # an entity scheduled to arrive is its own event
        self.service: Stream | None = None  # one stream, or by attribute value:
        self.by_index = -1
        self.by_streams: dict[int, Stream | None] = {}
        self.priorities: tuple = ()  # tests per priority class; no match: the last class
        self.decisions: tuple = ()  # (attribute index, ((tests, cumulative, values), ...), pop, stream)
        self.spawns: tuple = ()
        self.fixed_next = -1  # the only target, or -1 to evaluate routes
        self.routes: tuple = ()  # (tests, target or -1, cumulative, targets)
        self.route_stream: Stream | None = None
        self.put = world.visits.put  # a visit row: put(pack(entity, stage, enter, start, end, next))
        self.pack = world.visits.pack
        # per kind, where the entity keeps the marks of this stage's enter, start and end (-1: none)
        self.marks: tuple = ()
        self.marked = False  # some kind has a mark here
        self.front_marks = (-1, -1, -1)  # the same as columns of all marks (the front's arrays)

    def duration(self, entity: Entity) -> float:
        if self.by_index < 0:
            stream = self.service
        else:
            stream = self.by_streams.get(entity.attrs[self.by_index])
            if stream is None:
                raise RunError(f"stage {self.name!r}: the service-time attribute is not set and there is no default")
        try:
            return stream.pop()
        except IndexError:
            return stream.refill()

    def priority(self, attrs: list[int]) -> int:
        cls = 0
        for tests in self.priorities:
            for i, allowed in tests:
                if attrs[i] not in allowed:
                    break
            else:
                return cls
            cls += 1
        return cls

    def arrive(self, entity: Entity) -> None:
        if self.pool is None:
            self.walk(entity, self.env._now)
            return
        entity.at = self
        now = self.env._now
        entity.enter = now
        if self.marked:
            j = self.marks[entity.kind][0]
            if j >= 0 and entity.marks[j] != entity.marks[j]:  # NaN: the first time here
                entity.marks[j] = now
        pool = self.pool
        if pool.busy < pool.scheduled and not pool.waiting:
            self.begin(entity)
        else:
            entity.start = NAN
            pool.queues[self.priority(entity.attrs) if self.priorities else 0].append(entity)
            pool.waiting += 1

    def begin(self, entity: Entity) -> None:
        """A server of the pool takes the entity (called by arrive or by the pool)."""
        pool = self.pool
        now = self.env._now
        pool.busy += 1
        pool.busy_sum -= now
        entity.start = now
        if self.marked:
            j = self.marks[entity.kind][1]
            if j >= 0 and entity.marks[j] != entity.marks[j]:
                entity.marks[j] = now
        entity.callbacks = self.on_finish
        if self.by_index < 0:  # inlined duration()
            try:
                d = self.service.pop()
            except IndexError:
                d = self.service.refill()
        else:
            d = self.duration(entity)
        heappush(self.queue, (now + d, NORMAL, next(self.eid), entity))

    def conclude(self, entity: Entity, at: float) -> int:
        """Decisions, spawns and routing at the end of a visit; returns the next place."""
        attrs = entity.attrs
        for index, rules, pop, stream in self.decisions:
            for tests, cum, values in rules:
                for i, allowed in tests:
                    if attrs[i] not in allowed:
                        break
                else:
                    try:
                        u = pop()
                    except IndexError:
                        u = stream.refill()
                    attrs[index] = values[bisect_right(cum, u)]
                    break
        for spawn in self.spawns:
            spawn(entity, at)
        target = self.fixed_next
        if target < 0:
            for tests, target, cum, targets in self.routes:
                for i, allowed in tests:
                    if attrs[i] not in allowed:
                        break
                else:
                    if target < 0:
                        stream = self.route_stream
                        try:
                            u = stream.pop()
                        except IndexError:
                            u = stream.refill()
                        target = targets[bisect_right(cum, u)]
                    break
        return target

    def compile(self) -> None:
        """Build the end-of-service callback of a pool stage (the build step calls this last).

        Its branches are settled here, once: a stage whose only rule is one unconditional
        split draws its route inline; a stage without decisions, spawns or splits goes to its
        fixed next place; the rest go through :meth:`conclude`.
        """
        if self.pool is None:
            return
        env, pool, index = self.env, self.pool, self.index
        put, pack, conclude, fixed = self.put, self.pack, self.conclude, self.fixed_next
        arrive = [place.arrive for place in self.places]
        split = (not self.decisions and not self.spawns and len(self.routes) == 1
                 and not self.routes[0][0] and self.routes[0][1] < 0)
        rules = bool(self.decisions or self.spawns or fixed < 0)
        stream = self.route_stream
        _, _, cum, targets = self.routes[0] if split else (None, None, (), ())
        pop = stream.pop if split else None
        single = len(pool.queues) == 1
        first = pool.queues[0]
        end_marks = tuple(by_kind[2] for by_kind in self.marks)
        end_marked = any(j >= 0 for j in end_marks)

        def finish(entity: Entity) -> None:
            """End of service (the entity's scheduled event)."""
            now = env._now
            if pool.busy > pool.scheduled:  # inlined Pool.release
                pool._account(now)
            pool.busy -= 1
            pool.busy_sum += now
            if split:
                try:
                    u = pop()
                except IndexError:
                    u = stream.refill()
                target = targets[bisect_right(cum, u)]
            elif rules:
                target = conclude(entity, now)
            else:
                target = fixed
            put(pack(entity.id, index, entity.enter, entity.start, now, target))
            if end_marked:
                j = end_marks[entity.kind]
                if j >= 0 and entity.marks[j] != entity.marks[j]:
                    entity.marks[j] = now
            # one server is free now, so at most one waiting entity starts (while work waits,
            # every server on duty is busy): with one priority class, Pool.dispatch inlined
            if pool.waiting and pool.busy < pool.scheduled:
                if single:
                    pool.waiting -= 1
                    nxt = first.popleft()
                    nxt.at.begin(nxt)
                else:
                    pool.dispatch()
            arrive[target](entity)

        self.on_finish = [finish]

    def walk(self, entity: Entity, t: float) -> None:
        """Take the entity through consecutive uncapacitated stages from time ``t``.

        Their durations, decisions and routes depend on no shared state, so no
        event is needed until the entity reaches a pool stage (one scheduled
        arrival) or an outcome. A visit still running at the horizon is written
        as open and the entity as in progress there, exactly as the event loop
        would have left it.
        """
        stage = self
        world = self.world
        horizon = world.horizon
        places = self.places
        put, pack = self.put, self.pack
        eid = entity.id
        while True:
            if stage.by_index < 0:
                try:
                    d = stage.service.pop()
                except IndexError:
                    d = stage.service.refill()
            else:
                d = stage.duration(entity)
            end = t + d
            if stage.marked:
                enter_mark, start_mark, end_mark = stage.marks[entity.kind]
                marks = entity.marks
                for j, at in ((enter_mark, t), (start_mark, t), (end_mark, end if end < horizon else NAN)):
                    if j >= 0 and marks[j] != marks[j]:
                        marks[j] = at
            if end >= horizon:
                stage.record(eid, t, t, NAN, -1)
                world.entities.add(entity, NAN, -1, stage.index)
                return
            target = stage.conclude(entity, end)
            put(pack(eid, stage.index, t, t, end, target))
            place = places[target]
            if isinstance(place, Outcome):
                place.finish_at(entity, end)
                return
            if place.pool is not None:
                entity.callbacks = place.on_arrive
                heappush(self.queue, (end, NORMAL, next(self.eid), entity))
                return
            stage, t = place, end

    def record(self, entity: int, enter: float, start: float, end: float, target: int) -> None:
        self.put(self.pack(entity, self.index, enter, start, end, target))


class Outcome:
    """A terminal place: the entity leaves the system and its final row is written."""

    __slots__ = ("index", "code", "name", "world", "env", "add")

    def __init__(self, index: int, code: int, name: str, world: World):
        self.index = index  # place code (stages first, then outcomes)
        self.code = code  # outcome number
        self.name = name
        self.world = world
        self.env = world.env
        self.add = world.entities.add

    def arrive(self, entity: Entity) -> None:
        entity.at = None
        self.add(entity, self.env._now, self.code, -1)  # finish_at inlined: one call less per entity

    def finish_at(self, entity: Entity, at: float) -> None:
        entity.at = None
        self.add(entity, at, self.code, -1)
