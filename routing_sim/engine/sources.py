"""Spawns of linked entities after a visit, one parent at a time (after a pool stage).

Arrivals from sources, and spawns at uncapacitated stages reached before any pool, are
generated with arrays by :mod:`routing_sim.engine.front`, from the same streams and counters.
"""

from __future__ import annotations

from typing import Callable

from simpy.events import Timeout

from routing_sim.engine.core import Entity, Stage, World
from routing_sim.engine.streams import Stream


class Spawner:
    """After a stage, maybe create a linked entity that enters a stage after a delay."""

    __slots__ = ("world", "env", "kind", "when", "p", "u_stream", "delay_stream", "inherit", "draw", "entry",
                 "pending", "created", "zero_counts")

    def __init__(self, world: World, kind: int, when: tuple, p: float,
                 u: Stream, delay: Stream, inherit: list[int],
                 draw: Callable[[list | None], list[int]], entry: Stage):
        self.world = world
        self.env = world.env
        self.kind = kind
        self.when = when
        self.p = p
        self.u_stream = u
        self.delay_stream = delay
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
        if self.u_stream.next() < self.p:
            inherited = [(i, attrs[i]) for i in self.inherit]
            self.pending += 1
            when = at + self.delay_stream.next()
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
