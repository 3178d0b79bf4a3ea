"""The Python API for notebooks and tests: load, simulate in memory, summarise.

>>> from routing_sim import api
>>> result = api.simulate_config("configs/textbook/mm1.yaml", seed=3)   # doctest: +SKIP
>>> result.kpis["stages"]["service"]["wait"]["mean_h"]                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from routing_sim.codes import Codes
from routing_sim.engine.build import build
from routing_sim.engine.records import VISITS, MemorySink, entity_schema
from routing_sim.engine.simulate import Outputs, Progress, SimulationSummary, simulate, timeseries_schema
from routing_sim.loader import load_config
from routing_sim.model.process import ProcessConfig


@dataclass
class RunResult:
    """One replication held in memory: the tables the engine wrote and their summary."""

    cfg: ProcessConfig
    codes: Codes
    seed: int
    replication: int
    summary: SimulationSummary
    visits: pa.Table
    entities: pa.Table
    timeseries: pa.Table
    calendars: list[list[tuple[float, int]]]

    @cached_property
    def kpis(self) -> dict[str, Any]:
        from routing_sim.kpis import compute_kpis

        return compute_kpis(self.cfg, self.codes, self.summary, self.visits, self.entities, self.timeseries)


def simulate_config(
    config: ProcessConfig | str | Path,
    seed: int | None = None,
    replication: int = 0,
    progress: Progress | None = None,
    engine: str = "auto",
) -> RunResult:
    """Build and run one replication of a config (a path or a validated model), in memory."""
    cfg = config if isinstance(config, ProcessConfig) else load_config(config)
    model = build(cfg, seed=seed, replication=replication)
    visit_sink, entity_sink, series_sink = MemorySink(), MemorySink(), MemorySink()
    summary = simulate(model, Outputs(visit_sink, entity_sink, series_sink), progress, engine)
    return RunResult(
        cfg=cfg,
        codes=model.codes,
        seed=model.streams.seed,
        replication=replication,
        summary=summary,
        visits=visit_sink.table(VISITS),
        entities=entity_sink.table(entity_schema(model.codes.attributes, model.codes.counts, model.codes.marks)),
        timeseries=series_sink.table(timeseries_schema(model)),
        calendars=model.calendars,
    )
