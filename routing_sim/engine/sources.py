"""Spawns of linked entities after a visit, one parent at a time (after a pool stage).

Arrivals from sources, and spawns at uncapacitated stages reached before any pool, are
generated with arrays by :mod:`routing_sim.engine.front`, from the same streams and counters.
"""

from __future__ import annotations

from heapq import heappush
from typing import Callable

from simpy.events import NORMAL

from routing_sim.engine.core import NAN, Entity, Stage, World
from routing_sim.engine.streams import Stream


class Pending:
    """A spawn waiting for its time, scheduled on SimPy's queue as its own event (no Timeout)."""

    __slots__ = ("callbacks", "parent", "inherited")
    _ok = True

    def __init__(self, callbacks: list, parent: int, inherited: list):
        self.callbacks = callbacks
        self.parent = parent
        self.inherited = inherited


class Spawner:
    """After a stage, maybe create a linked entity that enters a stage after a delay."""

    __slots__ = ("world", "env", "kind", "when", "p", "u_stream", "delay_stream", "inherit", "draw", "entry",
                 "pending", "created", "zero_counts", "n_marks", "on_create")

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
        self.n_marks = 0  # set by the build step
        self.on_create = [self.create]

    def __call__(self, parent: Entity, at: float) -> None:
        """Maybe spawn, ``at`` the end of the parent's visit (which may lie ahead of the clock)."""
        attrs = parent.attrs
        for i, allowed in self.when:
            if attrs[i] not in allowed:
                return
        stream = self.u_stream
        try:  # Stream.next inlined, as on the rest of the hot path
            u = stream.pop()
        except IndexError:
            u = stream.refill()
        if u < self.p:
            inherited = [(i, attrs[i]) for i in self.inherit]
            self.pending += 1
            stream = self.delay_stream
            try:
                delay = stream.pop()
            except IndexError:
                delay = stream.refill()
            when = at + delay
            world = self.world
            if when < world.horizon:  # later ones stay pending: they arrive after the horizon
                now = self.env._now  # the time is the float Timeout(env, when - now) gives
                heappush(world.queue, (now + (when - now), NORMAL, next(world.eid),
                                       Pending(self.on_create, parent.id, inherited)))

    def create(self, event: Pending) -> None:
        parent_id, inherited = event.parent, event.inherited
        self.pending -= 1
        self.created += 1
        world = self.world
        entity = Entity(world.next_id, self.kind, -1, parent_id, self.env._now, self.draw(inherited), -1,
                        self.zero_counts, [NAN] * self.n_marks if self.n_marks else ())
        world.next_id += 1
        self.entry.arrive(entity)
