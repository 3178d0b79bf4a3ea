"""Run a compiled model over its horizon: the simulate phase.

The horizon is run a period at a time (one to seven days, by volume): the period's arrivals
are generated and planned (:mod:`routing_sim.engine.plan`, every rule evaluated with arrays),
then an executor finds the times of the planned visits, and at the period's end the entities
that ended in it are written with their visits (:mod:`routing_sim.engine.output`), to a writer
thread each. Two executors, one semantics:

- ``simpy`` (:mod:`routing_sim.engine.reference`): SimPy's event queue; runs every process;
- ``fast`` (:mod:`routing_sim.engine.fast`): one loop per pool in topological order, for
  processes whose pools form an acyclic graph.

``auto`` picks ``fast`` where it applies. Time series (entities inside and queued per stage,
busy and on-duty staff per pool) are computed on a fixed grid from the visit rows as they are
written (:mod:`routing_sim.engine.series`), and what ``retention:`` keeps stored from the entity
rows (:mod:`routing_sim.engine.retention`). At the horizon, open visits and entities are
written with their state, so censored work is counted, not dropped.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from routing_sim.engine.build import Model
from routing_sim.engine.output import Output
from routing_sim.engine.records import BackgroundSink, MemorySink, Sink
from routing_sim.engine.retention import StoredAccumulator
from routing_sim.engine.series import ObservedSink, SeriesAccumulator
from routing_sim.engine.topology import fast_applies
from routing_sim.errors import RunError
from routing_sim.summary import PoolTotals, SimulationSummary

Progress = Callable[[float, float], None]


@dataclass
class Outputs:
    """Where the tables go: memory by default, Parquet files when a run folder is given."""

    visits: Sink
    entities: Sink
    timeseries: Sink


def timeseries_schema(model: Model) -> pa.Schema:
    fields = [("t", pa.float64())]
    for name in model.codes.stages:
        fields += [(f"inside.{name}", pa.int32()), (f"queued.{name}", pa.int32())]
    for name in model.codes.pools:
        fields += [(f"busy.{name}", pa.int32()), (f"on_duty.{name}", pa.int32())]
    for name in model.databases.names:
        fields.append((f"database.{name}", pa.int64()))
        if name in model.databases.drive_of:
            fields.append((f"share.{name}", pa.float64()))
    for name in model.cfg.retention:
        fields += [(f"stored.{name}", pa.int64()), (f"stored_items.{name}", pa.int64()),
                   (f"stored_mb.{name}", pa.float64())]
    return pa.schema(fields)


ENGINES = ("auto", "simpy", "fast")


class EngineError(RunError):
    """The executor asked for cannot run (bad input: an unknown name, or fast on a cycle)."""


def choose_engine(model: Model, engine: str = "auto") -> tuple[str, str]:
    """The executor to run and why: ``fast`` where it applies, unless ``simpy`` is asked for."""
    if engine not in ENGINES:
        raise EngineError(f"--engine: unknown executor {engine!r} (choose from {', '.join(ENGINES)})")
    applies, why = fast_applies(model)
    if engine == "simpy":
        return "simpy", "asked for"
    if engine == "fast" and not applies:
        raise EngineError(f"--engine fast: the fast executor cannot run this process: {why} (use auto or simpy)")
    if applies:
        return "fast", why if engine == "auto" else "asked for"
    return "simpy", why


def simulate(model: Model, outputs: Outputs | None = None, progress: Progress | None = None,
             engine: str = "auto") -> SimulationSummary:
    """Run ``model`` to its horizon, writing visits, entities and time series to ``outputs``."""
    outputs = outputs or Outputs(MemorySink(), MemorySink(), MemorySink())
    name, reason = choose_engine(model, engine)
    accumulator = SeriesAccumulator(model.codes.stages, model.stage_pool, model.codes.pools, model.calendars,
                                    model.horizon, float(model.cfg.time.timeseries_step))
    stored = StoredAccumulator(model.cfg, model.codes, model.horizon, float(model.cfg.time.timeseries_step))
    visits = BackgroundSink(ObservedSink(outputs.visits, accumulator))
    entities = BackgroundSink(ObservedSink(outputs.entities, stored) if len(stored) else outputs.entities)
    out = Output(model.codes, visits, entities)
    if name == "fast":
        from routing_sim.engine.fast import Fast  # numba is imported only when the fast executor runs

        executor: Any = Fast(model, out)
    else:
        from routing_sim.engine.reference import Reference  # and SimPy only when the reference one runs

        executor = Reference(model, out)
    try:
        with cyclic_gc_paused():
            executor.run(progress)
        pools = executor.pool_totals()
        out.close()
    finally:  # a failed or interrupted run leaves no writer thread behind
        visits.stop()
        entities.stop()
    series = accumulator.table()
    databases = model.databases
    if len(databases):
        databases.publish(math.nextafter(model.horizon, math.inf), known=model.horizon)  # every addition is timed
        t = series.column("t").to_numpy()
        for db_name, db in zip(databases.names, databases.items, strict=True):
            series = series.append_column(f"database.{db_name}", pa.array(db.size_at(t)))
            if db_name in databases.drive_of:
                series = series.append_column(f"share.{db_name}", pa.array(databases.drive_of[db_name][1].share(t)))
    for column, values in stored.columns().items():
        series = series.append_column(column, pa.array(values))
    series = series.cast(timeseries_schema(model))
    for batch in series.to_batches():
        outputs.timeseries.write(batch)
    outputs.timeseries.close()
    arrived = {n: 0 for n in model.codes.sources}
    for stream in model.arrivals:  # a source with batches has two arrival streams
        arrived[stream.name] += stream.arrived
    return SimulationSummary(
        horizon=model.horizon,
        events=executor.events(),
        arrived_by_source=arrived,
        pending_spawns=out.pending,
        spawned_by_kind={k: int(n) for k, n in zip(model.codes.kinds, out.spawned, strict=True)},
        pools=[PoolTotals(n, busy, duty, end_scheduled, end_busy)
               for n, (busy, duty, end_scheduled, end_busy) in zip(model.codes.pools, pools, strict=True)],
        visits_written=out.visits_written,
        entities_written=out.entities_written,
        engine=name,
        engine_reason=reason,
        streams=sorted(model.streams.names),
        databases=databases.totals(model.horizon),
        content_keys=model.content_keys.totals(),
        retention=stored.totals(),
    )


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the model runs.

    The run allocates many small objects that live for a while (entities, event tuples); each
    collection would walk all of them. The run's own objects form no reference cycles that
    outlive it, and reference counting still frees everything at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
