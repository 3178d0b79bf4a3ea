"""The vectorised front: arrivals and uncapacitated stages, a cohort at a time, with numpy.

What happens to an entity before it first reaches a pool depends on no shared
state: its arrival time, its attributes, the durations, decisions, spawns and
routes of the uncapacitated stages it walks through. So, at the start of each
simulated day, every arrival of that day is generated at once (times,
duplicates and batches, attributes, counts) and the whole cohort is walked
through the uncapacitated stages with array operations, round by round, until
each entity has reached an outcome, a pool stage or the horizon. Linked
entities spawned on the way join the cohort where they enter. Visits and
finished entities are written as columns; only the entities that reach a pool
become :class:`~routing_sim.engine.core.Entity` objects, pushed on SimPy's
queue as their arrival event at the pool.

The semantics are those of :meth:`routing_sim.engine.core.Stage.walk`, which
still takes entities through uncapacitated stages one by one after a pool:
the first matching rule decides, a probabilistic route or decision draws one
uniform from the point's stream, a visit still running at the horizon is
written as open, a spawn due at or after the horizon stays pending. Both
paths draw from the same named streams (:meth:`~routing_sim.engine.streams.Stream.take`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from heapq import heappush
import numpy as np
from simpy.events import NORMAL

from routing_sim.engine.core import Entity, Outcome, Stage, World
from routing_sim.engine.streams import Stream
from routing_sim.errors import RunError

NAN = float("nan")


class VTests:
    """A compiled condition for arrays: ``((attribute index, lookup), ...)`` where
    ``lookup[code + 1]`` tells whether a value code is allowed (index 0 is 'not set')."""

    __slots__ = ("tests",)

    def __init__(self, tests: tuple, n_values: list[int]):
        self.tests = tuple((i, _lookup(allowed, n_values[i])) for i, allowed in tests)

    def mask(self, attrs: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
        """Which rows hold (and are ``among``, a boolean mask, when given)."""
        out = np.ones(attrs.shape[0], dtype=bool) if among is None else among.copy()
        for i, lookup in self.tests:
            out &= lookup[attrs[:, i] + 1]
        return out


def _lookup(allowed: frozenset, n_values: int) -> np.ndarray:
    lookup = np.zeros(n_values + 1, dtype=bool)
    for code in allowed:
        lookup[code + 1] = True
    return lookup


def choose(cum: np.ndarray, values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``values[bisect_right(cum, u)]`` for each uniform (``cum`` ends with ``inf``)."""
    return values[np.searchsorted(cum, u, side="right")]


def array_rules(rules: tuple, n_values: list[int]) -> list:
    """``((tests, cumulative, values), ...)`` of the event loop as ``(VTests, array, array)``."""
    return [(VTests(tests, n_values), np.asarray(cum), np.asarray(values)) for tests, cum, values in rules]


@dataclass
class Cohort:
    """Entities as columns: each at ``place`` (a stage index) from time ``t``."""

    id: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    parent: np.ndarray
    group: np.ndarray
    created: np.ndarray
    t: np.ndarray
    place: np.ndarray
    attrs: np.ndarray  # (n, attributes) int64
    counts: np.ndarray  # (n, counts) int64
    marks: np.ndarray  # (n, marks) float64: first times at the points deadlines measure, NaN if not yet

    def __len__(self) -> int:
        return self.id.size

    def take(self, index: np.ndarray) -> "Cohort":
        return Cohort(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list["Cohort"]) -> "Cohort":
        if len(parts) == 1:
            return parts[0]
        return Cohort(*(np.concatenate([getattr(p, f) for p in parts]) for f in Cohort.__dataclass_fields__))


class AttributeTable:
    """Attribute codes for ``n`` new entities of a kind: fixed values, inherited values,
    then the kind's draws in order (one uniform per entity a rule applies to)."""

    def __init__(self, n_attributes: int, n_values: list[int], fixed: list, steps: list, stream: Stream):
        self.n_attributes = n_attributes
        self.fixed = fixed
        self.steps = [(index, array_rules(rules, n_values)) for index, rules in steps]
        self.stream = stream

    def draw(self, n: int, inherited: list[tuple[int, np.ndarray]] = ()) -> np.ndarray:
        table = np.full((n, self.n_attributes), -1, dtype=np.int64)
        for i, v in self.fixed:
            table[:, i] = v
        for i, values in inherited:
            table[:, i] = values
        for index, rules in self.steps:
            apply_rules(table, index, rules, self.stream)
        return table


def apply_rules(attrs: np.ndarray, index: int, rules: list, stream: Stream) -> None:
    """Set ``attrs[:, index]`` from the first rule whose tests hold (one uniform per row it applies to)."""
    open_ = np.ones(attrs.shape[0], dtype=bool)
    for tests, cum, values in rules:
        match = tests.mask(attrs, open_)
        k = int(match.sum())
        if k:
            attrs[match, index] = choose(cum, values, stream.take(k))
            open_ &= ~match
        if not open_.any():
            return


class FrontSpawner:
    """The array form of a :class:`~routing_sim.engine.sources.Spawner` (same streams, same counters)."""

    def __init__(self, spawner, n_values: list[int], attributes: AttributeTable):
        self.spawner = spawner
        self.when = VTests(spawner.when, n_values)
        self.attributes = attributes

    def spawn(self, parents: Cohort, at: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which parents spawn, when the child is due, and the children's attribute codes."""
        sp = self.spawner
        eligible = np.flatnonzero(self.when.mask(parents.attrs))
        if not eligible.size:
            return eligible, at[:0], parents.attrs[:0]
        hit = eligible[sp.u_stream.take(eligible.size) < sp.p]
        due = at[hit] + sp.delay_stream.take(hit.size)
        late = due >= horizon
        sp.pending += int(late.sum())  # they arrive after the horizon
        hit, due = hit[~late], due[~late]
        sp.created += hit.size
        inherited = [(i, parents.attrs[hit, i]) for i in sp.inherit]
        return hit, due, self.attributes.draw(hit.size, inherited)


class FrontStage:
    """The compiled rules of an uncapacitated stage, for arrays."""

    def __init__(self, stage: Stage, n_values: list[int], spawners: list[FrontSpawner]):
        self.stage = stage
        self.decisions = [(index, array_rules(rules, n_values), stream) for index, rules, _pop, stream in stage.decisions]
        self.spawners = spawners
        self.routes = [(VTests(tests, n_values), target, np.asarray(cum), np.asarray(targets))
                       for tests, target, cum, targets in stage.routes]

    def durations(self, attrs: np.ndarray) -> np.ndarray:
        stage = self.stage
        n = attrs.shape[0]
        if stage.by_index < 0:
            return stage.service.take(n)
        out = np.empty(n)
        codes = attrs[:, stage.by_index]
        for code in np.unique(codes).tolist():
            stream = stage.by_streams.get(code)
            if stream is None:
                raise RunError(f"stage {stage.name!r}: the service-time attribute is not set and there is no default")
            rows = codes == code
            out[rows] = stream.take(int(rows.sum()))
        return out

    def targets(self, attrs: np.ndarray) -> np.ndarray:
        stage = self.stage
        n = attrs.shape[0]
        if stage.fixed_next >= 0:
            return np.full(n, stage.fixed_next, dtype=np.int64)
        out = np.full(n, -1, dtype=np.int64)
        open_ = np.ones(n, dtype=bool)
        for tests, target, cum, targets in self.routes:
            match = tests.mask(attrs, open_)
            k = int(match.sum())
            if k:
                out[match] = target if target >= 0 else choose(cum, targets, stage.route_stream.take(k))
                open_ &= ~match
        return out


class FrontSource:
    """One arrival stream, generated a period at a time: times, arrival sizes, attributes, counts."""

    def __init__(self, index: int, name: str, kind: int, times, attributes: AttributeTable, entry: int,
                 size: Stream | None, same_incident: bool, counts: list[Stream | None]):
        self.index = index
        self.name = name
        self.kind = kind
        self.times = times
        self.attributes = attributes
        self.entry = entry
        self.size = size
        self.same_incident = same_incident
        self.counts = counts
        self.arrived = 0
        self.n_marks = 0  # set by the build step

    def arrivals(self, until: float, world: World) -> Cohort | None:
        times = self.times.until(until)
        if not times.size:
            return None
        if self.size is None:
            sizes = None
            n = times.size
        else:
            sizes = self.size.take(times.size).astype(np.int64)
            n = int(sizes.sum())
            if not n:
                return None
        ids = np.arange(world.next_id, world.next_id + n, dtype=np.int64)
        world.next_id += n
        self.arrived += n
        if sizes is None:
            attrs, group, t = self.attributes.draw(n), ids, times
        elif self.same_incident:  # duplicates of one incident: one draw, one group, per arrival
            first = np.cumsum(sizes) - sizes
            keep = sizes > 0
            attrs = np.repeat(self.attributes.draw(times.size)[keep], sizes[keep], axis=0)
            group = np.repeat(ids[first[keep]], sizes[keep])
            t = np.repeat(times[keep], sizes[keep])
        else:  # a bulk batch: independent entities arriving together
            attrs, group, t = self.attributes.draw(n), ids, np.repeat(times, sizes)
        counts = np.zeros((n, len(self.counts)), dtype=np.int64)
        for j, stream in enumerate(self.counts):
            if stream is not None:
                counts[:, j] = stream.take(n)
        return Cohort(ids, np.full(n, self.kind), np.full(n, self.index), np.full(n, -1, dtype=np.int64), group,
                      t, t.copy(), np.full(n, self.entry, dtype=np.int64), attrs, counts,
                      np.full((n, self.n_marks), NAN))


COHORT = 20_000
"""Arrivals the front aims to generate at once: numpy's cost per call is paid per cohort, so
a period of a few thousand arrivals spent a third of the EU year's time in call overhead."""
MAX_PERIOD_DAYS = 7


def front_period(expected_arrivals: float, horizon: float) -> float:
    """Hours of arrivals generated at once: whole days holding about :data:`COHORT` expected
    arrivals, one to seven days. A function of the config only (the volumes and the horizon),
    never of staffing, so that staffing scenarios keep their common random numbers."""
    per_day = expected_arrivals / max(horizon / 24.0, 1e-9)
    days = min(MAX_PERIOD_DAYS, max(1, math.floor(COHORT / per_day))) if per_day > 0 else MAX_PERIOD_DAYS
    return days * 24.0


class Front:
    """Generates the arrivals a period ahead (:func:`front_period`) and walks cohorts through
    uncapacitated stages up to their first pool."""

    def __init__(self, world: World, stages: list[Stage], outcomes: list[Outcome], sources: list[FrontSource],
                 front_stages: dict[int, FrontStage], n_counts: int, period: float = 24.0, n_marks: int = 0,
                 kind_marks: list[list[int]] | None = None):
        self.world = world
        self.stages = stages
        self.n_stages = len(stages)
        self.sources = sources
        self.front_stages = front_stages  # uncapacitated stages, by index
        self.n_counts = n_counts
        self.n_marks = n_marks
        self.kind_marks = kind_marks or []
        self.uncapacitated = np.array([s.pool is None for s in stages] + [False] * len(outcomes))
        self.period = period
        self.generated = 0.0  # arrivals before this time are generated

    def advance(self, until: float) -> None:
        """Make sure the arrivals before ``until`` are generated (the clock is at or before the
        end of what was generated); the next period is generated when the clock reaches it."""
        if until <= self.generated:
            return
        end = min(self.world.horizon, max(until, self.generated + self.period))
        self.generated = end
        parts = [c for c in (source.arrivals(end, self.world) for source in self.sources) if c is not None]
        if parts:
            self.route(Cohort.concat(parts))

    def route(self, cohort: Cohort) -> None:
        """Take entities that enter ``place`` at ``t`` on until each is at a pool, an outcome or the horizon."""
        horizon = self.world.horizon
        while len(cohort):
            walking = self.uncapacitated[cohort.place]
            if not walking.all():
                self.to_pools(cohort.take(np.flatnonzero(~walking)))
                cohort = cohort.take(np.flatnonzero(walking))
            if not len(cohort):
                return
            places = np.unique(cohort.place).tolist()
            if len(places) == 1:  # the cohort is this loop's own copy: no need to split it
                parts = self.visit(self.front_stages[places[0]], cohort, horizon)
            else:
                parts = []
                for index in places:
                    here = cohort.take(np.flatnonzero(cohort.place == index))
                    parts.extend(self.visit(self.front_stages[index], here, horizon))
            cohort = Cohort.concat(parts) if parts else cohort.take(np.arange(0))

    def visit(self, fs: FrontStage, c: Cohort, horizon: float) -> list[Cohort]:
        """One visit of stage ``fs`` by every entity of ``c``; returns who walks on (and spawned entities)."""
        stage = fs.stage
        world = self.world
        end = c.t + fs.durations(c.attrs)
        enter_mark, start_mark, end_mark = stage.front_marks  # for every kind: the table keeps its kinds' only
        for j in (enter_mark, start_mark):
            if j >= 0:
                first = np.isnan(c.marks[:, j])
                c.marks[first, j] = c.t[first]
        late = end >= horizon
        if late.any():  # open at the horizon: no decision, no spawn, in progress at the stage
            o = c.take(np.flatnonzero(late))
            nan = np.full(len(o), NAN)
            world.visits.extend(o.id, np.full(len(o), stage.index), o.t, o.t, nan, np.full(len(o), -1))
            world.entities.extend(o.id, o.kind, o.source, o.parent, o.group, o.created, nan, np.full(len(o), -1),
                                  np.full(len(o), stage.index), o.counts, o.attrs, o.marks)
            keep = np.flatnonzero(~late)
            c, end = c.take(keep), end[keep]
            if not len(c):
                return []
        attrs = c.attrs
        for index, rules, stream in fs.decisions:
            apply_rules(attrs, index, rules, stream)
        out: list[Cohort] = []
        for spawner in fs.spawners:
            hit, due, child_attrs = spawner.spawn(c, end, horizon)
            if hit.size:
                n = hit.size
                ids = np.arange(world.next_id, world.next_id + n, dtype=np.int64)
                world.next_id += n
                sp = spawner.spawner
                out.append(Cohort(ids, np.full(n, sp.kind), np.full(n, -1), c.id[hit], ids, due, due,
                                  np.full(n, sp.entry.index, dtype=np.int64), child_attrs,
                                  np.zeros((n, self.n_counts), dtype=np.int64), np.full((n, self.n_marks), NAN)))
        if end_mark >= 0:
            first = np.isnan(c.marks[:, end_mark])
            c.marks[first, end_mark] = end[first]
        target = fs.targets(attrs)
        world.visits.extend(c.id, np.full(len(c), stage.index), c.t, c.t, end, target)
        done = target >= self.n_stages
        if done.any():
            d = np.flatnonzero(done)
            world.entities.extend(c.id[d], c.kind[d], c.source[d], c.parent[d], c.group[d], c.created[d], end[d],
                                  target[d] - self.n_stages, np.full(d.size, -1), c.counts[d], attrs[d], c.marks[d])
            on = np.flatnonzero(~done)
            c, end, target = c.take(on), end[on], target[on]
        c.t, c.place = end, target
        out.append(c)
        return out

    def to_pools(self, c: Cohort) -> None:
        """Entities due at a pool stage wait, in time order, in a feed of their own."""
        order = np.argsort(c.t, kind="stable")
        c = c.take(order)
        Feed(self.world, self.stages, c, self.kind_marks).begin()


class Feed:
    """Arrivals at pool stages, sorted by time, released one at a time as SimPy events.

    Only the feed's next arrival is on SimPy's queue (the feed is its own event),
    so the queue holds one event per feed instead of a day's arrivals, and the
    :class:`~routing_sim.engine.core.Entity` is made when it arrives.
    """

    __slots__ = ("world", "rows", "times", "places", "callbacks", "on_fire", "stages")
    _ok = True

    def __init__(self, world: World, stages: list[Stage], c: Cohort, kind_marks: list[list[int]] = ()):
        self.world = world
        self.stages = stages
        self.times = c.t.tolist()
        self.places = c.place.tolist()
        n = len(c)
        marks: list = [()] * n  # each entity keeps the marks its kind's deadlines measure; () if none
        for kind in np.unique(c.kind).tolist() if c.marks.shape[1] else ():
            js = kind_marks[kind]
            if js:
                rows = np.flatnonzero(c.kind == kind)
                values = c.marks[rows][:, js].tolist()
                if rows.size == n:  # the usual cohort: one kind
                    marks = values
                else:
                    for i, row in zip(rows.tolist(), values):
                        marks[i] = row
        self.rows = list(zip(c.id.tolist(), c.kind.tolist(), c.source.tolist(), c.parent.tolist(),
                             c.created.tolist(), c.attrs.tolist(), c.group.tolist(),
                             [tuple(row) for row in c.counts.tolist()], marks))
        self.rows.reverse()
        self.times.reverse()
        self.places.reverse()
        self.on_fire = [self.fire]

    def begin(self) -> None:
        self.callbacks = self.on_fire
        world = self.world
        heappush(world.queue, (self.times.pop(), NORMAL, next(world.eid), self))

    def fire(self, _: object) -> None:
        world = self.world
        entity = Entity(*self.rows.pop())
        stage = self.stages[self.places.pop()]
        if self.times:  # inlined begin()
            self.callbacks = self.on_fire
            heappush(world.queue, (self.times.pop(), NORMAL, next(world.eid), self))
        else:
            self.on_fire = self.callbacks = None  # breaks the cycle through the bound method
        stage.arrive(entity)
