"""Compile a validated ProcessConfig into runtime objects (the build phase).

Names become integer codes (:class:`~routing_sim.codes.Codes`), conditions become masks over
attribute arrays, distributions become samplers on named order-free streams
(:mod:`routing_sim.engine.rules`). After this step nothing on the hot path reads the config.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from routing_sim.calendars import change_points
from routing_sim.codes import Codes
from routing_sim.engine.contentkeys import ContentKeys
from routing_sim.engine.databases import Databases
from routing_sim.engine.plan import Plan, Planner, StageRules
from routing_sim.engine.rules.decisions import Decision
from routing_sim.engine.rules.durations import Durations
from routing_sim.engine.rules.priorities import Priorities
from routing_sim.engine.rules.randomness import Streams
from routing_sim.engine.rules.routes import Routes
from routing_sim.engine.rules.spawns import SpawnRule
from routing_sim.engine.sources import ArrivalStream, Cohort, arrival_streams
from routing_sim.model.checks import may_carry_none
from routing_sim.model.process import ProcessConfig

__all__ = ["Codes", "Model", "build", "period_hours"]

COHORT = 20_000
"""Arrivals the engine aims to generate and plan at once: numpy's cost per call is paid per
cohort, so a period of a few thousand arrivals spent a third of the EU year's time in call overhead."""
MAX_PERIOD_DAYS = 7


def period_hours(expected_arrivals: float, horizon: float) -> float:
    """Hours of arrivals generated and planned at once: whole days holding about :data:`COHORT`
    expected arrivals, one to seven days. A function of the config only (the volumes and the
    horizon), never of staffing, so the tables are written in the same batches in every variant."""
    per_day = expected_arrivals / max(horizon / 24.0, 1e-9)
    days = min(MAX_PERIOD_DAYS, max(1, math.floor(COHORT / per_day))) if per_day > 0 else MAX_PERIOD_DAYS
    return days * 24.0


@dataclass
class Model:
    """A compiled process, ready to run once."""

    cfg: ProcessConfig
    codes: Codes
    streams: Streams
    stages: list[StageRules]
    stage_pool: list[int]  # per stage, its pool's index (-1: uncapacitated)
    planner: Planner
    arrivals: list[ArrivalStream]
    calendars: list[list[tuple[float, int]]]
    horizon: float
    period: float
    databases: Databases
    content_keys: ContentKeys

    def periods(self) -> Iterator[tuple[float, Plan | None]]:
        """The horizon a period at a time: each period's end, and the plan of the arrivals in it
        (None when there are none). Both executors run through these."""
        k = 0
        while k * self.period < self.horizon:
            until = min(self.horizon, (k + 1) * self.period)
            self.databases.publish(until, known=k * self.period)  # the executors have timed up to here
            cohort = self.arrivals_until(until)
            yield until, (self.planner.plan(cohort) if cohort is not None else None)
            k += 1

    def arrivals_until(self, until: float) -> Cohort | None:
        """Every source's arrivals before ``until`` not generated yet, as one cohort; those of the
        sources with a content key marked first or repeat (in the order of arrival, across periods)."""
        parts, keyed = [], []
        for stream in self.arrivals:
            cohort = stream.until(until)
            if cohort is None:
                continue
            parts.append(cohort)
            if stream.content_key is not None:
                keyed.append((*stream.content_key, cohort))
        if keyed:
            self.content_keys.mark(keyed)
        return Cohort.concat(parts) if parts else None


def build(cfg: ProcessConfig, seed: int | None = None, replication: int = 0) -> Model:
    """Compile ``cfg`` for one replication; ``seed`` overrides the config's seed."""
    codes = Codes.of(cfg)
    streams = Streams(cfg.seed if seed is None else seed, replication)
    horizon = float(cfg.time.horizon)
    stage_pool = [codes.pools.index(s.pool) if s.pool else -1 for s in cfg.stages.values()]
    stages = [
        StageRules(
            index=i,
            name=name,
            pool=stage_pool[i],
            durations=Durations(codes, name, s, streams, carries_none=may_carry_none(cfg, name)),
            priorities=Priorities(codes, s.priority),
            decisions=[Decision(codes, name, d, streams) for d in s.decide],
            spawns=[SpawnRule(cfg, codes, name, j, sp, streams) for j, sp in enumerate(s.spawn)],
            routes=Routes(codes, name, s.next, streams),
        )
        for i, (name, s) in enumerate(cfg.stages.items())
    ]
    databases = Databases(cfg, codes)
    content_keys = ContentKeys(cfg, codes)
    arrivals = arrival_streams(cfg, codes, streams, horizon, databases.drives, content_keys.of_source)
    expected = sum(float(stream.times.cumulative[-1]) for stream in arrivals)
    calendars = [change_points(p, cfg.time.start, horizon) for p in cfg.pools.values()]
    period = period_hours(expected, horizon)
    if len(databases):  # never plan further ahead than a database's additions are published
        period = min(period, 24.0 * math.floor(databases.shortest_delay() / 24.0))
    return Model(cfg, codes, streams, stages, stage_pool, Planner(stages, len(stages), databases), arrivals,
                 calendars, horizon, period, databases, content_keys)
