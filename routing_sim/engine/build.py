"""Compile a validated ProcessConfig into runtime objects (the build phase).

Names become integer codes, conditions become small closures over attribute
codes, distributions become buffered samplers on named random streams. After
this step nothing on the hot path reads the config.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from simpy import Environment

from routing_sim.engine.calendar import change_points
from routing_sim.engine.core import Entity, Outcome, Pool, Source, Spawner, Stage, World
from routing_sim.engine.streams import Categorical, RandomStreams, sampler, uniforms
from routing_sim.errors import RunError
from routing_sim.model.common import condition_values
from routing_sim.model.distributions import ByAttribute
from routing_sim.model.process import Case, Draw, ProcessConfig
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

    @classmethod
    def of(cls, cfg: ProcessConfig) -> "Codes":
        return cls(
            attributes=list(cfg.attributes),
            values={k: list(v) for k, v in cfg.attributes.items()},
            kinds=list(cfg.kinds),
            sources=list(cfg.sources),
            stages=list(cfg.stages),
            outcomes=list(cfg.outcomes),
            pools=list(cfg.pools),
        )

    def attr(self, name: str) -> int:
        return self.attributes.index(name)

    def value(self, attribute: str, value: str) -> int:
        return self.values[attribute].index(value)

    def place(self, name: str) -> int:
        if name in self.stages:
            return self.stages.index(name)
        return len(self.stages) + self.outcomes.index(name)

    @property
    def places(self) -> list[str]:
        return self.stages + self.outcomes


def matcher(codes: Codes, cond: dict | None) -> Callable[[Attrs], bool] | None:
    """Compile ``{attribute: value | [values]}`` into a predicate over attribute codes."""
    if not cond:
        return None
    tests = [
        (codes.attr(a), frozenset(codes.value(a, v) for v in condition_values(vals))) for a, vals in cond.items()
    ]
    if len(tests) == 1:
        i, allowed = tests[0]
        if len(allowed) == 1:
            (only,) = allowed
            return lambda attrs: attrs[i] == only
        return lambda attrs: attrs[i] in allowed
    return lambda attrs: all(attrs[i] in allowed for i, allowed in tests)


def categorical_cases(codes: Codes, attribute: str, cases: list[Case]) -> list[tuple]:
    return [
        (matcher(codes, case.when), Categorical(list(case.p.values()), [codes.value(attribute, v) for v in case.p]))
        for case in cases
    ]


def setter(codes: Codes, attribute: str, cases: list[Case], u: Callable[[], float]) -> Callable[[Attrs], None]:
    """Set one attribute from the first case whose condition holds."""
    index = codes.attr(attribute)
    compiled = categorical_cases(codes, attribute, cases)
    if len(compiled) == 1:
        cat = compiled[0][1]
        pick = cat.pick

        def set_one(attrs: Attrs) -> None:
            attrs[index] = pick(u())

        return set_one

    def set_first(attrs: Attrs) -> None:
        for match, cat in compiled:
            if match is None or match(attrs):
                attrs[index] = cat.pick(u())
                return

    return set_first


def drawer(codes: Codes, attributes: dict[str, Draw], overrides: dict, u: Callable[[], float]) -> Callable:
    """Build ``draw(inherited) -> attrs`` for a kind, applying a source's overrides."""
    n = len(codes.attributes)
    fixed: list[tuple[int, int]] = []
    steps: list[Callable[[Attrs], None]] = []
    for name, draw in attributes.items():
        spec = overrides.get(name, draw)
        if isinstance(spec, str):
            fixed.append((codes.attr(name), codes.value(name, spec)))
        elif spec.p is not None:
            steps.append(setter(codes, name, [Case(p=spec.p)], u))
        elif spec.cases is not None:
            steps.append(setter(codes, name, spec.cases, u))

    def draw(inherited: list[tuple[int, int]] | None) -> Attrs:
        attrs = [-1] * n
        for i, v in fixed:
            attrs[i] = v
        if inherited:
            for i, v in inherited:
                attrs[i] = v
        for step in steps:
            step(attrs)
        return attrs

    return draw


def service_time(codes: Codes, service: object, streams: RandomStreams, name: str) -> Callable:
    if not isinstance(service, ByAttribute):
        draw = sampler(service, streams.generator(f"service.{name}"))
        return lambda entity: draw()
    index = codes.attr(service.by)
    table: dict[int, Callable[[], float]] = {}
    default = sampler(service.default, streams.generator(f"service.{name}.default")) if service.default else None
    for value in codes.values[service.by]:
        dist = service.cases.get(value)
        if dist is not None:
            table[codes.value(service.by, value)] = sampler(dist, streams.generator(f"service.{name}.{value}"))
        else:
            table[codes.value(service.by, value)] = default
    if default is not None:
        table[-1] = default

    def draw(entity: Entity) -> float:
        pick = table.get(entity.attrs[index])
        if pick is None:
            raise RunError(f"stage {name!r}: attribute {service.by!r} is not set and the service has no default")
        return pick()

    return draw


def router(codes: Codes, stage_name: str, rules: list, streams: RandomStreams) -> Callable[[Attrs], int]:
    compiled = []
    u: Callable[[], float] | None = None
    for rule in rules:
        if isinstance(rule.to, str):
            compiled.append((matcher(codes, rule.when), codes.place(rule.to), None))
        else:
            u = u or uniforms(streams.generator(f"route.{stage_name}")).next
            cat = Categorical(list(rule.to.values()), [codes.place(t) for t in rule.to])
            compiled.append((matcher(codes, rule.when), None, cat))
    if len(compiled) == 1:
        _, target, cat = compiled[0]
        if cat is None:
            return lambda attrs: target
        pick, draw = cat.pick, u
        return lambda attrs: pick(draw())

    def route(attrs: Attrs) -> int:
        for match, target, cat in compiled:
            if match is None or match(attrs):
                return target if cat is None else cat.pick(u())
        raise AssertionError("the last routing rule is unconditional")

    return route


def prioritiser(codes: Codes, rules: list[dict]) -> Callable[[Attrs], int]:
    compiled = [matcher(codes, rule) for rule in rules]
    last = len(compiled)

    def priority(attrs: Attrs) -> int:
        for i, match in enumerate(compiled):
            if match(attrs):
                return i
        return last

    return priority


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
    sources: list[Source]
    spawners: list[Spawner]
    calendars: list[list[tuple[float, int]]]
    horizon: float
    streams: RandomStreams
    start_date: dt.date = field(default_factory=lambda: dt.date(2000, 1, 1))


def build(cfg: ProcessConfig, seed: int | None = None, replication: int = 0) -> Model:
    """Compile ``cfg`` for one replication; ``seed`` overrides the config's seed."""
    codes = Codes.of(cfg)
    streams = RandomStreams(cfg.seed if seed is None else seed, replication)
    env = Environment()
    world = World(env)
    horizon = parse_duration(cfg.time.horizon)

    classes: dict[str, int] = {name: 1 for name in cfg.pools}
    for stage in cfg.stages.values():
        if stage.pool:
            classes[stage.pool] = max(classes[stage.pool], len(stage.priority) + 1)
    pools = {name: Pool(name, env, classes[name]) for name in cfg.pools}
    calendars = [change_points(p.calendar, p.headcount, cfg.time.start, horizon) for p in cfg.pools.values()]

    stages = [Stage(i, name, world, pools[s.pool] if s.pool else None) for i, (name, s) in enumerate(cfg.stages.items())]
    outcomes = [Outcome(len(stages) + i, i, name, world) for i, name in enumerate(cfg.outcomes)]
    world.places.extend([*stages, *outcomes])
    by_name = {s.name: s for s in stages}

    spawners: list[Spawner] = []
    for stage, (name, scfg) in zip(stages, cfg.stages.items()):
        stage.service = service_time(codes, scfg.service, streams, name)
        if scfg.priority:
            stage.priority = prioritiser(codes, scfg.priority)
        for d in scfg.decide:
            u = uniforms(streams.generator(f"decide.{name}.{d.set}")).next
            stage.decisions += (setter(codes, d.set, d.cases, u),)
        for i, sp in enumerate(scfg.spawn):
            kind = cfg.kinds[sp.kind]
            inherit = [codes.attr(a) for a, draw in kind.attributes.items() if draw.inherit]
            u_draw = uniforms(streams.generator(f"spawn.{name}.{i}.attributes")).next
            spawner = Spawner(
                world,
                codes.kinds.index(sp.kind),
                matcher(codes, sp.when),
                sp.p,
                uniforms(streams.generator(f"spawn.{name}.{i}")).next,
                sampler(sp.after, streams.generator(f"spawn.{name}.{i}.delay")),
                inherit,
                drawer(codes, kind.attributes, {}, u_draw),
                by_name[sp.to],
            )
            stage.spawns += (spawner,)
            spawners.append(spawner)
        stage.route = router(codes, name, scfg.next, streams)

    sources = []
    for i, (name, src) in enumerate(cfg.sources.items()):
        rate = parse_rate(src.rate)
        if rate > 0:
            gap = sampler_exponential(1.0 / rate, streams, f"arrivals.{name}")
        else:
            gap = lambda: float("inf")  # noqa: E731
        u = uniforms(streams.generator(f"attributes.{name}")).next
        draw = drawer(codes, cfg.kinds[src.kind].attributes, src.attributes, u)
        sources.append(Source(i, name, world, codes.kinds.index(src.kind), gap, draw, by_name[src.to]))

    return Model(cfg, codes, env, world, list(pools.values()), stages, outcomes, sources, spawners,
                 calendars, horizon, streams, cfg.time.start)


def sampler_exponential(mean: float, streams: RandomStreams, name: str) -> Callable[[], float]:
    from routing_sim.engine.streams import Stream

    return Stream(streams.generator(name), lambda g, n: g.exponential(mean, n)).next
