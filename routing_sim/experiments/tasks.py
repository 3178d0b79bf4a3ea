"""The one task function every executor runs: one replication of one variant -> a JSON-able record.

A task carries plain data only (the config as a dict, the seed, the
replication index), so it travels to a process pool or a Dask worker by
pickle. The worker validates the config again and checks that it resolves to
the same hash as on the driver: a worker with another version of routing-sim
fails the task instead of silently computing something else. The record holds
nothing that depends on where or when it ran (no host, pid or wall time), so
serial, process-pool and Dask runs write the same bytes.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from routing_sim.api import simulate_config
from routing_sim.errors import RunError
from routing_sim.experiments.store import code_fingerprint
from routing_sim.jsonio import flatten
from routing_sim.loader import validate_data
from routing_sim.model.common import Hours
from routing_sim.model.process import ProcessConfig
from routing_sim.runfolder import config_hash, resolved_config

REPLICATION, PILOT = "replication", "pilot"


@dataclass(frozen=True)
class Task:
    key: str
    kind: str  # REPLICATION: KPIs after the warm-up; PILOT: a time series for MSER-5
    data: dict[str, Any]
    config_hash: str
    seed: int
    replication: int
    warmup_h: float = 0.0
    series: str = ""
    every_h: float = 0.0


def header(task: Task) -> dict[str, Any]:
    record: dict[str, Any] = {
        "key": task.key,
        "kind": task.kind,
        "config_hash": task.config_hash,
        "seed": task.seed,
        "replication": task.replication,
        "code": code_fingerprint(),  # the sources that computed it (a worker's own)
    }
    if task.kind == PILOT:
        record.update(series_name=task.series, every_h=task.every_h)
    else:
        record["warmup_h"] = task.warmup_h
    return record


def run_task(task: Task) -> dict[str, Any]:
    """Run one task; never raises for a failure of the run itself (the record says what failed)."""
    record = header(task)
    try:
        cfg = validate_data(task.data, source=f"<task {task.key}>")
        digest = config_hash(resolved_config(cfg, task.seed))
        if digest != task.config_hash:
            raise RunError(f"config resolves to hash {digest[:16]} here, {task.config_hash[:16]} on the driver "
                           "(another routing-sim version on this worker?)")
        result = simulate_config(cfg, seed=task.seed, replication=task.replication)
        if task.kind == PILOT:
            values = result.timeseries.column(task.series).to_numpy().astype(float)
            times = result.timeseries.column("t").to_numpy()
            record["series"] = [float(x) for x in window_means(times, values, task.every_h)]
        else:
            from routing_sim.experiments.warmup import kpis_after

            record["kpis"] = flatten(kpis_after(result, task.warmup_h))
        record.update(status="ok", error=None)
    except Exception as exc:  # noqa: BLE001 - a failed task is data, the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8).splitlines()[-12:])
    return record


def failed_record(task: Task, error: str) -> dict[str, Any]:
    """The record of a task that could not report itself (its worker died)."""
    return {**header(task), "status": "failed", "error": error}


def window_means(times: np.ndarray, values: np.ndarray, every_h: float) -> np.ndarray:
    """Means of ``values`` over consecutive windows [k*every, (k+1)*every); partial windows dropped."""
    if times.size == 0:
        return np.zeros(0)
    index = np.floor(times / every_h + 1e-9).astype(np.int64)
    counts = np.bincount(index)
    sums = np.bincount(index, weights=values)
    full = counts == counts.max()
    last = int(np.nonzero(full)[0].max()) + 1 if full.any() else 0
    return sums[:last] / np.maximum(counts[:last], 1)


def kpi_names(cfg: ProcessConfig) -> set[str]:
    """The flat KPI names a config produces, from a run of at most one simulated day."""
    horizon = min(float(cfg.time.horizon), 24.0)
    short = cfg.model_copy(update={"time": cfg.time.model_copy(update={"horizon": Hours(f"{horizon:g}h")})})
    return set(flatten(simulate_config(short, seed=0).kpis))
