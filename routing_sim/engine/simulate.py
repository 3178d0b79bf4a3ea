"""Run a compiled model over its horizon: the simulate phase.

The horizon is advanced one simulated day at a time: the front
(:mod:`routing_sim.engine.front`) generates the arrivals a period ahead (one to
seven days, by volume) and walks them up to their first pool, then SimPy runs
the day's events; between days buffers are flushed (to a writer thread) and
progress is reported.
Time series (entities inside and queued per stage, busy and on-duty staff
per pool) are computed on a fixed grid from the visit records as they are
flushed (see :mod:`routing_sim.engine.series`). At the end, open visits and live entities are
written with their state, so censored work is counted, not dropped.
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa
from simpy.events import Timeout

from routing_sim.engine.build import Model
from routing_sim.engine.core import NAN, Entity
from routing_sim.engine.records import BackgroundSink, MemorySink, Sink
from routing_sim.engine.series import ObservedSink, SeriesAccumulator
from routing_sim.units import parse_duration

Progress = Callable[[float, float], None]
CHUNK_HOURS = 24.0


@dataclass
class Outputs:
    """Where the tables go: memory by default, Parquet files when a run folder is given."""

    visits: Sink
    entities: Sink
    timeseries: Sink


@dataclass
class PoolTotals:
    name: str
    busy_hours: float
    on_duty_hours: float
    scheduled_end: int
    busy_end: int


@dataclass
class SimulationSummary:
    """What the engine knows at the end that the tables do not hold."""

    horizon: float
    events: int
    arrived_by_source: dict[str, int]
    pending_spawns: int
    spawned_by_kind: dict[str, int]
    pools: list[PoolTotals]
    visits_written: int
    entities_written: int


def timeseries_schema(model: Model) -> pa.Schema:
    fields = [("t", pa.float64())]
    for stage in model.stages:
        fields += [(f"inside.{stage.name}", pa.int32()), (f"queued.{stage.name}", pa.int32())]
    for pool in model.pools:
        fields += [(f"busy.{pool.name}", pa.int32()), (f"on_duty.{pool.name}", pa.int32())]
    return pa.schema(fields)


def simulate(model: Model, outputs: Outputs | None = None, progress: Progress | None = None) -> SimulationSummary:
    """Run ``model`` to its horizon, writing visits, entities and time series to ``outputs``."""
    outputs = outputs or Outputs(MemorySink(), MemorySink(), MemorySink())
    env, world = model.env, model.world
    accumulator = SeriesAccumulator(
        model.codes.stages, [model.pools.index(s.pool) if s.pool else -1 for s in model.stages],
        model.codes.pools, model.calendars, model.horizon, parse_duration(model.cfg.time.timeseries_step),
    )
    visits = world.visits
    visits.sink = BackgroundSink(ObservedSink(outputs.visits, accumulator))
    entities = world.entities
    entities.sink = BackgroundSink(outputs.entities)

    for pool, points in zip(model.pools, model.calendars):
        pool.scheduled = points[0][1]
        for t, n in points[1:]:
            Timeout(env, t, n).callbacks.append(pool.set_scheduled)

    horizon = model.horizon
    steps = max(1, math.ceil(horizon / CHUNK_HOURS))
    try:
        with cyclic_gc_paused():
            for k in range(1, steps + 1):
                until = min(horizon, k * CHUNK_HOURS)
                model.front.advance(until)  # the period's arrivals, walked up to their first pool
                env.run(until=until)
                visits.flush_if_large()
                entities.flush_if_large()
                if progress:
                    progress(env.now, horizon)
        _close_open_work(model)
        pool_hours = [pool.close(horizon) for pool in model.pools]
        visits.close()
        entities.close()
    finally:  # a failed or interrupted run leaves no writer thread behind
        visits.sink.stop()
        entities.sink.stop()
    series = accumulator.table().cast(timeseries_schema(model))
    for batch in series.to_batches():
        outputs.timeseries.write(batch)
    outputs.timeseries.close()
    return SimulationSummary(
        horizon=horizon,
        events=next(env._eid),  # events scheduled so far
        arrived_by_source=_arrived_by_source(model),
        pending_spawns=sum(s.pending for s in model.spawners),
        spawned_by_kind=_spawned_by_kind(model),
        pools=[PoolTotals(p.name, busy, duty, p.scheduled, p.busy) for p, (busy, duty) in zip(model.pools, pool_hours)],
        visits_written=visits.rows_written,
        entities_written=entities.rows_written,
    )


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the model runs.

    The run allocates millions of small objects that live for a while (entities, event tuples,
    rows handed out by the front); each collection would walk all of them, and measured this
    cost more than half the time of the front. The run's own objects form no reference cycles
    (a finished feed breaks its own), so nothing accumulates; reference counting still frees
    everything at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def open_entities(model: Model) -> list[Entity]:
    """The entities still in the process at the horizon, by id.

    Once the clock is at the horizon every entity that has arrived and not ended is either in
    service (its end-of-service event is on SimPy's queue) or waiting in a pool's queue: an
    arrival scheduled after an uncapacitated stage, or by the front, always lies before the
    horizon (a visit that would end at or after it is written as open at once). Finding them
    here costs one pass at the end instead of a dictionary insert and delete per entity.
    """
    found = [event for _, _, _, event in model.env._queue if type(event) is Entity]
    for pool in model.pools:
        for queue in pool.queues:
            found.extend(queue)
    found.sort(key=lambda e: e.id)
    return found


def _close_open_work(model: Model) -> None:
    """Write one open visit row and one in-progress entity row per entity still in the process."""
    world = model.world
    for entity in open_entities(model):
        stage = entity.at
        stage.record(entity.id, entity.enter, entity.start, NAN, -1)
        world.entities.add(entity, NAN, -1, stage.index)


def _spawned_by_kind(model: Model) -> dict[str, int]:
    counts = {name: 0 for name in model.codes.kinds}
    for spawner in model.spawners:
        counts[model.codes.kinds[spawner.kind]] += spawner.created
    return counts


def _arrived_by_source(model: Model) -> dict[str, int]:
    counts = {name: 0 for name in model.codes.sources}
    for source in model.sources:  # a source with batches has two arrival streams
        counts[source.name] += source.arrived
    return counts
