"""Where entities come from: arrival streams (sources) and spawns of linked entities.

Both are plain classes with ``__slots__`` built by :mod:`routing_sim.engine.build`; a source is
its own pending arrival event on SimPy's queue, like the entities in :mod:`routing_sim.engine.core`.
"""

from __future__ import annotations

from heapq import heappush
from typing import Callable

from simpy.events import NORMAL, Timeout

from routing_sim.engine.core import Entity, Stage, World


class Source:
    """An arrival stream. The source is its own pending arrival event on SimPy's queue.

    ``next_time`` gives absolute arrival times (``inf`` when exhausted). Each
    arrival brings ``size()`` entities at once: duplicates of one incident
    (same attributes, one group) or a bulk batch (independent attributes, each
    its own group), depending on ``same_incident``.
    """

    __slots__ = ("index", "name", "world", "env", "kind", "next_time", "draw", "entry", "arrived", "callbacks",
                 "on_arrive", "size", "same_incident", "counts")
    _ok = True

    def __init__(self, index: int, name: str, world: World, kind: int, next_time: Callable[[], float],
                 draw: Callable[[list | None], list[int]], entry: Stage, size: Callable[[], int] | None = None,
                 same_incident: bool = True, counts: Callable[[], tuple] | None = None):
        self.index = index
        self.name = name
        self.world = world
        self.env = world.env
        self.kind = kind
        self.next_time = next_time
        self.draw = draw
        self.entry = entry
        self.arrived = 0
        self.on_arrive = [self.arrive]
        self.size = size
        self.same_incident = same_incident
        self.counts = counts

    def begin(self) -> None:
        self._schedule_next()

    def _schedule_next(self) -> None:
        t = self.next_time()
        if t != float("inf"):
            self.callbacks = self.on_arrive
            world = self.world
            heappush(world.queue, (t, NORMAL, next(world.eid), self))

    def arrive(self, _: object) -> None:
        world = self.world
        now = self.env._now
        n = 1 if self.size is None else self.size()
        created = []
        attrs = None
        group = -1
        for k in range(n):
            if attrs is None or not self.same_incident:
                attrs = self.draw(None)
            else:
                attrs = list(attrs)
            entity = Entity(world.next_id, self.kind, self.index, -1, now, attrs, group,
                            self.counts() if self.counts else ())
            if self.same_incident and k == 0:
                group = entity.id
            world.next_id += 1
            world.live[entity.id] = entity
            created.append(entity)
        self.arrived += n
        self._schedule_next()
        for entity in created:
            self.entry.arrive(entity)


class Spawner:
    """After a stage, maybe create a linked entity that enters a stage after a delay."""

    __slots__ = ("world", "env", "kind", "when", "p", "u", "delay", "inherit", "draw", "entry", "pending",
                 "created", "zero_counts")

    def __init__(self, world: World, kind: int, when: tuple, p: float,
                 u: Callable[[], float], delay: Callable[[], float], inherit: list[int],
                 draw: Callable[[list | None], list[int]], entry: Stage):
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
        self.zero_counts: tuple = ()

    def __call__(self, parent: Entity, at: float) -> None:
        """Maybe spawn, ``at`` the end of the parent's visit (which may lie ahead of the clock)."""
        attrs = parent.attrs
        for i, allowed in self.when:
            if attrs[i] not in allowed:
                return
        if self.u() < self.p:
            inherited = [(i, attrs[i]) for i in self.inherit]
            self.pending += 1
            when = at + self.delay()
            if when < self.world.horizon:  # later ones stay pending: they arrive after the horizon
                Timeout(self.env, when - self.env._now, (parent.id, inherited)).callbacks.append(self.create)

    def create(self, event: Timeout) -> None:
        parent_id, inherited = event._value
        self.pending -= 1
        self.created += 1
        world = self.world
        entity = Entity(world.next_id, self.kind, -1, parent_id, self.env._now, self.draw(inherited), -1,
                        self.zero_counts)
        world.next_id += 1
        world.live[entity.id] = entity
        self.entry.arrive(entity)
