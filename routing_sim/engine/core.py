"""Runtime objects of the engine: entities, pools, stages, outcomes, sources.

These are plain classes with ``__slots__``, built once by
:mod:`routing_sim.engine.build`. Every event is a SimPy ``Timeout`` whose value
is the entity and whose callback is a bound method; there is no SimPy process
per entity, no ``simpy.Resource`` (its waiting list pops from the front) and no
logging on the hot path. Queues are one deque per priority class.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from simpy import Environment
from simpy.events import Timeout

NAN = float("nan")


class Entity:
    """One report, complaint, request or task, with its attribute codes."""

    __slots__ = ("id", "kind", "source", "parent", "created", "attrs", "at", "enter", "start")

    def __init__(self, id: int, kind: int, source: int, parent: int, created: float, attrs: list[int]):
        self.id = id
        self.kind = kind
        self.source = source
        self.parent = parent
        self.created = created
        self.attrs = attrs
        self.at: Stage | None = None
        self.enter = NAN
        self.start = NAN


class World:
    """What every runtime object shares: the clock, the id counter, the tables."""

    def __init__(self, env: Environment, visits: list[list], entities: list[list]):
        self.env = env
        self.next_id = 0
        self.live: dict[int, Entity] = {}
        self.visits = visits  # columns of records.VISITS
        self.entities = entities  # columns of records.entity_schema (attributes last, as lists)
        self.places: list[Stage | Outcome] = []


class Pool:
    """Servers with an on-duty count that follows a calendar.

    When the scheduled count drops, servers that are busy finish their work
    first (they stay on duty as overtime) and take no new work.
    """

    __slots__ = ("name", "env", "scheduled", "busy", "queues", "waiting", "busy_area", "duty_area", "last")

    def __init__(self, name: str, env: Environment, n_classes: int):
        self.name = name
        self.env = env
        self.scheduled = 0
        self.busy = 0
        self.queues = [deque() for _ in range(n_classes)]
        self.waiting = 0
        self.busy_area = 0.0
        self.duty_area = 0.0
        self.last = 0.0

    @property
    def on_duty(self) -> int:
        return max(self.scheduled, self.busy)

    def account(self, now: float) -> None:
        dt = now - self.last
        if dt:
            busy = self.busy
            self.busy_area += busy * dt
            self.duty_area += (busy if busy > self.scheduled else self.scheduled) * dt
            self.last = now

    def set_scheduled(self, event: Timeout) -> None:
        self.account(self.env._now)
        self.scheduled = event._value
        self.dispatch()

    def dispatch(self) -> None:
        """Start waiting work while a scheduled server is free, highest class first."""
        while self.waiting and self.busy < self.scheduled:
            for queue in self.queues:
                if queue:
                    entity = queue.popleft()
                    break
            self.waiting -= 1
            stage = entity.at
            stage.queued -= 1
            stage.begin(entity)


class Stage:
    """A step of the process. ``pool`` None means an uncapacitated delay."""

    __slots__ = (
        "index", "name", "world", "env", "pool", "service", "priority",
        "decisions", "spawns", "route", "inside", "queued", "visits",
    )

    def __init__(self, index: int, name: str, world: World, pool: Pool | None):
        self.index = index
        self.name = name
        self.world = world
        self.env = world.env
        self.pool = pool
        self.service: Callable[[Entity], float] = lambda e: 0.0
        self.priority: Callable[[list[int]], int] = lambda attrs: 0
        self.decisions: list[Callable[[list[int]], None]] = []
        self.spawns: list[Callable[[Entity], None]] = []
        self.route: Callable[[list[int]], int] = lambda attrs: 0
        self.inside = 0  # entities at this stage (waiting or in service)
        self.queued = 0  # of those, waiting for a server
        self.visits = world.visits

    def arrive(self, entity: Entity) -> None:
        entity.at = self
        entity.enter = self.env._now
        entity.start = NAN
        self.inside += 1
        pool = self.pool
        if pool is None:
            entity.start = entity.enter
            Timeout(self.env, self.service(entity), entity).callbacks.append(self.finish)
        elif pool.busy < pool.scheduled and not pool.waiting:
            self.begin(entity)
        else:
            pool.queues[self.priority(entity.attrs)].append(entity)
            pool.waiting += 1
            self.queued += 1

    def begin(self, entity: Entity) -> None:
        """A server of the pool takes the entity (called by arrive or by the pool)."""
        pool = self.pool
        now = self.env._now
        pool.account(now)
        pool.busy += 1
        entity.start = now
        Timeout(self.env, self.service(entity), entity).callbacks.append(self.finish)

    def finish(self, event: Timeout) -> None:
        entity = event._value
        now = self.env._now
        self.inside -= 1
        pool = self.pool
        if pool is not None:
            pool.account(now)
            pool.busy -= 1
        attrs = entity.attrs
        for decide in self.decisions:
            decide(attrs)
        for spawn in self.spawns:
            spawn(entity)
        target = self.route(attrs)
        v = self.visits
        v[0].append(entity.id)
        v[1].append(self.index)
        v[2].append(entity.enter)
        v[3].append(entity.start)
        v[4].append(now)
        v[5].append(target)
        if pool is not None and pool.waiting:
            pool.dispatch()
        self.world.places[target].arrive(entity)



class Outcome:
    """A terminal place: the entity leaves the system and its final row is written."""

    __slots__ = ("index", "code", "name", "world")

    def __init__(self, index: int, code: int, name: str, world: World):
        self.index = index  # place code (stages first, then outcomes)
        self.code = code  # outcome number
        self.name = name
        self.world = world

    def arrive(self, entity: Entity) -> None:
        world = self.world
        del world.live[entity.id]
        entity.at = None
        write_entity(world.entities, entity, world.env._now, self.code, -1)


def write_entity(cols: list[list], entity: Entity, ended: float, outcome: int, stage: int) -> None:
    cols[0].append(entity.id)
    cols[1].append(entity.kind)
    cols[2].append(entity.source)
    cols[3].append(entity.parent)
    cols[4].append(entity.created)
    cols[5].append(ended)
    cols[6].append(outcome)
    cols[7].append(stage)
    cols[8].append(entity.attrs)


class Source:
    """A Poisson stream: each arrival creates an entity and schedules the next arrival."""

    __slots__ = ("index", "name", "world", "env", "kind", "gap", "draw", "entry", "arrived")

    def __init__(self, index: int, name: str, world: World, kind: int, gap: Callable[[], float],
                 draw: Callable[[list[int]], list[int]], entry: Stage, n_attributes: int):
        self.index = index
        self.name = name
        self.world = world
        self.env = world.env
        self.kind = kind
        self.gap = gap
        self.draw = draw
        self.entry = entry
        self.arrived = 0

    def begin(self) -> None:
        gap = self.gap()
        if gap != float("inf"):
            Timeout(self.env, gap, None).callbacks.append(self.arrive)

    def arrive(self, event: Timeout) -> None:
        world = self.world
        entity = Entity(world.next_id, self.kind, self.index, -1, self.env._now, self.draw(None))
        world.next_id += 1
        world.live[entity.id] = entity
        self.arrived += 1
        Timeout(self.env, self.gap(), None).callbacks.append(self.arrive)
        self.entry.arrive(entity)


class Spawner:
    """After a stage, maybe create a linked entity that enters a stage after a delay."""

    __slots__ = ("world", "env", "kind", "when", "p", "u", "delay", "inherit", "draw", "entry", "pending", "created")

    def __init__(self, world: World, kind: int, when: Callable[[list[int]], bool] | None, p: float,
                 u: Callable[[], float], delay: Callable[[], float], inherit: list[int],
                 draw: Callable[[list[int]], list[int]], entry: Stage):
        self.world = world
        self.env = world.env
        self.kind = kind
        self.when = when
        self.p = p
        self.u = u
        self.delay = delay
        self.inherit = inherit
        self.draw = draw
        self.entry = entry
        self.pending = 0
        self.created = 0

    def __call__(self, parent: Entity) -> None:
        if (self.when is None or self.when(parent.attrs)) and self.u() < self.p:
            attrs = parent.attrs
            inherited = [(i, attrs[i]) for i in self.inherit]
            self.pending += 1
            Timeout(self.env, self.delay(), (parent.id, inherited)).callbacks.append(self.create)

    def create(self, event: Timeout) -> None:
        parent_id, inherited = event._value
        self.pending -= 1
        self.created += 1
        world = self.world
        entity = Entity(world.next_id, self.kind, -1, parent_id, self.env._now, self.draw(inherited))
        world.next_id += 1
        world.live[entity.id] = entity
        self.entry.arrive(entity)
