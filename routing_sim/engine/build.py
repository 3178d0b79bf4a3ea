"""Compile a validated ProcessConfig into runtime objects (the build phase).

Names become integer codes, conditions become small closures over attribute
codes, distributions become buffered samplers on named random streams. After
this step nothing on the hot path reads the config.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from simpy import Environment

import numpy as np

from routing_sim.engine.arrivals import ArrivalTimes, hourly_intensity
from routing_sim.engine.calendar import change_points
from routing_sim.engine.core import Outcome, Pool, Stage, World
from routing_sim.engine.front import AttributeTable, Front, FrontSource, FrontSpawner, FrontStage, front_period
from routing_sim.engine.sources import Spawner
from routing_sim.engine.streams import RandomStreams, Stream, stream_of, uniforms
from routing_sim.model.common import condition_values
from routing_sim.model.distributions import ByAttribute
from routing_sim.model.process import Case, Draw, ProcessConfig
from routing_sim.model.volumes import Constant, Geometric, Poisson
from routing_sim.model.volumes import Table as CountTable
from routing_sim.units import parse_duration, parse_rate

Attrs = list[int]


@dataclass
class Codes:
    """The integer codes of every name in a config."""

    attributes: list[str]
    values: dict[str, list[str]]
    kinds: list[str]
    sources: list[str]
    stages: list[str]
    outcomes: list[str]
    pools: list[str]
    counts: list[str]
    marks: list[str]  # the points the deadlines measure ("stage.enter|start|end"), kept on each entity
    kind_marks: list[list[int]]  # per kind, the marks its deadlines measure (indices into marks, ascending)

    @classmethod
    def of(cls, cfg: ProcessConfig) -> "Codes":
        points = [p for d in cfg.deadlines.values() for p in (d.start, d.end) if p != "arrival"]
        marks = list(dict.fromkeys(points))
        by_kind = {kind: sorted({marks.index(p) for d in cfg.deadlines.values() if d.kind == kind
                                 for p in (d.start, d.end) if p != "arrival"}) for kind in cfg.kinds}
        return cls(
            attributes=list(cfg.attributes),
            values={k: list(v) for k, v in cfg.attributes.items()},
            kinds=list(cfg.kinds),
            sources=list(cfg.sources),
            stages=list(cfg.stages),
            outcomes=list(cfg.outcomes),
            pools=list(cfg.pools),
            counts=sorted({name for src in cfg.sources.values() for name in src.counts}),
            marks=marks,
            kind_marks=[by_kind[kind] for kind in cfg.kinds],
        )

    def mark(self, stage: str, which: str) -> int:
        """The index of the mark of ``stage.which`` (-1: no deadline measures it)."""
        point = f"{stage}.{which}"
        return self.marks.index(point) if point in self.marks else -1

    def kind_mark(self, kind: int, stage: str, which: str) -> int:
        """Where an entity of kind number ``kind`` keeps the mark of ``stage.which`` in its own
        list of marks (only those its kind's deadlines measure); -1: none."""
        j = self.mark(stage, which)
        return self.kind_marks[kind].index(j) if j in self.kind_marks[kind] else -1

    def attr(self, name: str) -> int:
        return self.attributes.index(name)

    def value(self, attribute: str, value: str) -> int:
        return self.values[attribute].index(value)

    def place(self, name: str) -> int:
        if name in self.stages:
            return self.stages.index(name)
        return len(self.stages) + self.outcomes.index(name)

    @property
    def n_values(self) -> list[int]:
        """How many values each attribute has, in attribute order."""
        return [len(self.values[a]) for a in self.attributes]

    @property
    def places(self) -> list[str]:
        return self.stages + self.outcomes


Tests = tuple[tuple[int, frozenset], ...]
"""A compiled condition: every ``attrs[i] in allowed`` must hold (empty: always true)."""


def tests_of(codes: Codes, cond: dict | None) -> Tests:
    """Compile ``{attribute: value | [values]}`` into ``((attr index, allowed codes), ...)``."""
    return tuple(
        (codes.attr(a), frozenset(codes.value(a, v) for v in condition_values(vals))) for a, vals in (cond or {}).items()
    )


def holds(tests: Tests, attrs: Attrs) -> bool:
    for i, allowed in tests:
        if attrs[i] not in allowed:
            return False
    return True


def cumulative(probs: list[float]) -> tuple[float, ...]:
    """Cumulative probabilities; the last is infinite so that rounding never runs off the end."""
    out, total = [], 0.0
    for p in probs:
        total += p
        out.append(total)
    out[-1] = math.inf
    return tuple(out)


def decision_rules(codes: Codes, attribute: str, cases: list[Case]) -> tuple:
    """``((tests, cumulative probabilities, value codes), ...)`` for one attribute."""
    return tuple(
        (tests_of(codes, case.when), cumulative(list(case.p.values())),
         tuple(codes.value(attribute, v) for v in case.p))
        for case in cases
    )


def apply_decision(index: int, rules: tuple, attrs: Attrs, stream: Stream) -> None:
    """Set ``attrs[index]`` from the first rule whose tests hold (off the hot path)."""
    for tests, cum, values in rules:
        if holds(tests, attrs):
            attrs[index] = values[bisect_right(cum, stream.next())]
            return


def draw_plan(codes: Codes, attributes: dict[str, Draw], overrides: dict) -> tuple[list, list]:
    """Fixed values ``[(index, code)]`` and draw steps ``[(index, rules)]`` for a kind and a source's overrides."""
    fixed: list[tuple[int, int]] = []
    steps: list[tuple[int, tuple]] = []
    for name, draw in attributes.items():
        spec = overrides.get(name, draw)
        if isinstance(spec, str):
            fixed.append((codes.attr(name), codes.value(name, spec)))
        elif spec.p is not None:
            steps.append((codes.attr(name), decision_rules(codes, name, [Case(p=spec.p)])))
        elif spec.cases is not None:
            steps.append((codes.attr(name), decision_rules(codes, name, spec.cases)))
    return fixed, steps


def drawer(codes: Codes, attributes: dict[str, Draw], overrides: dict, stream: Stream) -> Callable:
    """Build ``draw(inherited) -> attrs`` for a kind, one entity at a time (spawned entities)."""
    n = len(codes.attributes)
    fixed, steps = draw_plan(codes, attributes, overrides)

    def draw(inherited: list[tuple[int, int]] | None) -> Attrs:
        attrs = [-1] * n
        for i, v in fixed:
            attrs[i] = v
        if inherited:
            for i, v in inherited:
                attrs[i] = v
        for index, rules in steps:
            apply_decision(index, rules, attrs, stream)
        return attrs

    return draw


def compile_service(stage: Stage, codes: Codes, service: object, streams: RandomStreams) -> None:
    name = stage.name
    if not isinstance(service, ByAttribute):
        stage.service = stream_of(service, streams.generator(f"service.{name}"))
        return
    stage.by_index = codes.attr(service.by)
    default = stream_of(service.default, streams.generator(f"service.{name}.default")) if service.default else None
    table: dict[int, Stream | None] = {}
    for value in codes.values[service.by]:
        dist = service.cases.get(value)
        code = codes.value(service.by, value)
        table[code] = stream_of(dist, streams.generator(f"service.{name}.{value}")) if dist is not None else default
    if default is not None:
        table[-1] = default
    stage.by_streams = table


def compile_routes(stage: Stage, codes: Codes, rules: list, streams: RandomStreams) -> None:
    if len(rules) == 1 and isinstance(rules[0].to, str):
        stage.fixed_next = codes.place(rules[0].to)
        return
    compiled = []
    for rule in rules:
        if isinstance(rule.to, str):
            compiled.append((tests_of(codes, rule.when), codes.place(rule.to), (), ()))
        else:
            cum = cumulative(list(rule.to.values()))
            compiled.append((tests_of(codes, rule.when), -1, cum, tuple(codes.place(t) for t in rule.to)))
            if stage.route_stream is None:
                stage.route_stream = uniforms(streams.generator(f"route.{stage.name}"))
    stage.routes = tuple(compiled)


@dataclass
class Model:
    """A compiled process, ready to run once."""

    cfg: ProcessConfig
    codes: Codes
    env: Environment
    world: World
    pools: list[Pool]
    stages: list[Stage]
    outcomes: list[Outcome]
    sources: list[FrontSource]
    spawners: list[Spawner]
    calendars: list[list[tuple[float, int]]]
    horizon: float
    streams: RandomStreams
    front: Front


def build(cfg: ProcessConfig, seed: int | None = None, replication: int = 0) -> Model:
    """Compile ``cfg`` for one replication; ``seed`` overrides the config's seed."""
    codes = Codes.of(cfg)
    streams = RandomStreams(cfg.seed if seed is None else seed, replication)
    env = Environment()
    world = World(env, codes.attributes, codes.counts, codes.marks, codes.kind_marks)
    horizon = parse_duration(cfg.time.horizon)
    world.horizon = horizon

    classes: dict[str, int] = {name: 1 for name in cfg.pools}
    for stage in cfg.stages.values():
        if stage.pool:
            classes[stage.pool] = max(classes[stage.pool], len(stage.priority) + 1)
    pools = {name: Pool(name, env, classes[name]) for name in cfg.pools}
    calendars = [change_points(p, cfg.time.start, horizon) for p in cfg.pools.values()]

    stages = [Stage(i, name, world, pools[s.pool] if s.pool else None) for i, (name, s) in enumerate(cfg.stages.items())]
    outcomes = [Outcome(len(stages) + i, i, name, world) for i, name in enumerate(cfg.outcomes)]
    world.places.extend([*stages, *outcomes])
    by_name = {s.name: s for s in stages}

    spawners: list[Spawner] = []
    n_values = codes.n_values
    front_spawners: dict[int, list[FrontSpawner]] = {}
    for stage, (name, scfg) in zip(stages, cfg.stages.items()):
        stage.marks = tuple(tuple(codes.kind_mark(k, name, which) for which in ("enter", "start", "end"))
                            for k in range(len(codes.kinds)))
        stage.marked = any(j >= 0 for by_kind in stage.marks for j in by_kind)
        stage.front_marks = tuple(codes.mark(name, which) for which in ("enter", "start", "end"))
        compile_service(stage, codes, scfg.service, streams)
        stage.priorities = tuple(tests_of(codes, rule) for rule in scfg.priority)
        for d in scfg.decide:
            stream = uniforms(streams.generator(f"decide.{name}.{d.set}"))
            stage.decisions += ((codes.attr(d.set), decision_rules(codes, d.set, d.cases), stream.pop, stream),)
        for i, sp in enumerate(scfg.spawn):
            kind = cfg.kinds[sp.kind]
            inherit = [codes.attr(a) for a, draw in kind.attributes.items() if draw.inherit]
            u_draw = uniforms(streams.generator(f"spawn.{name}.{i}.attributes"))
            spawner = Spawner(
                world,
                codes.kinds.index(sp.kind),
                tests_of(codes, sp.when),
                sp.p,
                uniforms(streams.generator(f"spawn.{name}.{i}")),
                stream_of(sp.after, streams.generator(f"spawn.{name}.{i}.delay")),
                inherit,
                drawer(codes, kind.attributes, {}, u_draw),
                by_name[sp.to],
            )
            stage.spawns += (spawner,)
            spawners.append(spawner)
            if stage.pool is None:
                front_spawners.setdefault(stage.index, []).append(
                    FrontSpawner(spawner, n_values, attribute_table(codes, kind.attributes, {}, u_draw)))
        compile_routes(stage, codes, scfg.next, streams)

    sources = []
    for i, (name, src) in enumerate(cfg.sources.items()):
        kind = codes.kinds.index(src.kind)
        attributes = cfg.kinds[src.kind].attributes
        entry = by_name[src.to].index
        times = ArrivalTimes(hourly_intensity(cfg, name, horizon), streams.generator(f"arrivals.{name}"))
        draw = attribute_table(codes, attributes, src.attributes, uniforms(streams.generator(f"attributes.{name}")))
        size = count_stream(src.duplicates, streams.generator(f"duplicates.{name}")) if src.duplicates else None
        sources.append(FrontSource(i, name, kind, times, draw, entry, size, True,
                                   count_streams(codes, src.counts, streams, name)))
        if src.batches is not None:
            rate = parse_rate(src.batches.rate)
            gen = streams.generator(f"batches.{name}")
            batch_times = ArrivalTimes(np.full(max(1, math.ceil(horizon)), rate), gen)
            batch_draw = attribute_table(codes, attributes, src.attributes,
                                         uniforms(streams.generator(f"attributes.{name}.batches")))
            batch_size = count_stream(src.batches.size, streams.generator(f"batches.{name}.size"))
            sources.append(FrontSource(i, name, kind, batch_times, batch_draw, entry, batch_size, False,
                                       count_streams(codes, src.counts, streams, f"{name}.batches")))
    for source in sources:
        source.n_marks = len(codes.marks)  # the front keeps every mark, as arrays
    zero = (0,) * len(codes.counts)
    for spawner in spawners:
        spawner.zero_counts = zero
        spawner.n_marks = len(codes.kind_marks[spawner.kind])
    for stage in stages:
        stage.compile()
    front_stages = {s.index: FrontStage(s, n_values, front_spawners.get(s.index, [])) for s in stages if s.pool is None}
    expected = sum(float(source.times.cumulative[-1]) for source in sources)
    front = Front(world, stages, outcomes, sources, front_stages, len(codes.counts), front_period(expected, horizon),
                  len(codes.marks), codes.kind_marks)

    return Model(cfg, codes, env, world, list(pools.values()), stages, outcomes, sources, spawners,
                 calendars, horizon, streams, front)


def count_stream(dist: object, gen: np.random.Generator) -> Stream:
    """A stream of whole numbers from a count distribution."""
    if isinstance(dist, Constant):
        return Stream(gen, lambda g, n: np.full(n, dist.value, dtype=np.int64))
    if isinstance(dist, Poisson):
        return Stream(gen, lambda g, n: dist.offset + g.poisson(dist.mean - dist.offset, n))
    if isinstance(dist, Geometric):
        return Stream(gen, lambda g, n: g.geometric(1.0 / dist.mean, n))
    if isinstance(dist, CountTable):
        values = np.array(dist.values, dtype=np.int64)
        cum = np.cumsum(np.array(dist.weights, dtype=float) / sum(dist.weights))
        cum[-1] = 1.0
        return Stream(gen, lambda g, n: values[np.searchsorted(cum, g.random(n), side="right")])
    raise TypeError(f"no count stream for {type(dist).__name__}")


def count_streams(codes: Codes, counts: dict, streams: RandomStreams, name: str) -> list[Stream | None]:
    """One stream per name in ``codes.counts`` for a source (None: the source does not set it, 0)."""
    return [count_stream(counts[c], streams.generator(f"counts.{name}.{c}")) if c in counts else None
            for c in codes.counts]


def attribute_table(codes: Codes, attributes: dict[str, Draw], overrides: dict, stream: Stream) -> AttributeTable:
    """Array draws of a kind's attributes (with a source's overrides) from ``stream``."""
    fixed, steps = draw_plan(codes, attributes, overrides)
    return AttributeTable(len(codes.attributes), codes.n_values, fixed, steps, stream)
