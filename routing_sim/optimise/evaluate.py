"""Evaluate config points (overrides by dotted path) with the experiments machinery.

Replication r of every point uses the same root seed and replication index r (common random
numbers). Tasks are the experiments' :class:`~routing_sim.experiments.tasks.Task`, run by the
experiments' executors and cached in a :class:`~routing_sim.experiments.store.Store`, so a rerun
only computes what is missing.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from routing_sim.errors import ConfigError, Problem, RunError
from routing_sim.experiments.resolve import _Where, apply_override
from routing_sim.experiments.stats import interval
from routing_sim.experiments.store import Store, current, replication_key
from routing_sim.experiments.tasks import REPLICATION, Task
from routing_sim.loader import validate_data
from routing_sim.model.process import ProcessConfig
from routing_sim.runfolder import config_hash, resolved_config

Point = dict[str, Any]  # dotted path -> value


class Evaluator:
    """KPIs of config points over replications 0..n-1, computed once and kept (in memory and store)."""

    def __init__(self, data: dict[str, Any], seed: int, executor: Any, store: Store | None = None,
                 warmup_h: float = 0.0):
        self.data, self.seed, self.executor, self.store, self.warmup_h = data, seed, executor, store, warmup_h
        self.records: dict[str, dict[str, Any]] = {}
        self._variants: dict[str, tuple[dict[str, Any], ProcessConfig, str]] = {}
        self.tasks_run = 0

    def variant(self, point: Point) -> tuple[dict[str, Any], ProcessConfig, str]:
        """The point's config data, validated config and config hash (with the root seed)."""
        ident = repr(sorted(point.items()))
        if ident not in self._variants:
            data = copy.deepcopy(self.data)
            where = _Where("<override>", {})
            for dotted, value in point.items():
                apply_override(data, dotted, value, where, (dotted,))
                complement(data, dotted, value)
            cfg = validate_data(data, source=f"<{ident}>")
            self._variants[ident] = (data, cfg, config_hash(resolved_config(cfg, self.seed)))
        return self._variants[ident]

    def _task(self, point: Point, replication: int) -> Task:
        data, _, digest = self.variant(point)
        key = replication_key(digest, self.seed, replication, self.warmup_h)
        return Task(key, REPLICATION, data, digest, self.seed, replication, warmup_h=self.warmup_h)

    def ensure(self, requests: list[tuple[Point, int]]) -> None:
        """Run every missing replication of every (point, n) request in one batch on the executor."""
        todo: dict[str, Task] = {}
        for point, n in requests:
            for r in range(n):
                task = self._task(point, r)
                if task.key in self.records or task.key in todo:
                    continue
                stored = self.store.read(task.key) if self.store is not None else None
                if current(stored):  # ended well, with these sources
                    self.records[task.key] = stored
                else:
                    todo[task.key] = task
        self.tasks_run += len(todo)
        self.executor.run(list(todo.values()), self._on_result)
        failed = [self.records[k] for k in todo if self.records.get(k, {}).get("status") != "ok"]
        if failed:
            raise RunError(f"{len(failed)} replication(s) failed, e.g. {failed[0].get('error')}")

    def _on_result(self, record: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        if self.store is not None:
            self.store.write(record)

    def values(self, point: Point, kpi: str, n: int) -> list[float]:
        """The KPI in replications 0..n-1 of the point (NaN where the run produced none)."""
        self.ensure([(point, n)])
        return [float(self.records[self._task(point, r).key]["kpis"].get(kpi, math.nan)) for r in range(n)]

    def mean(self, point: Point, kpi: str, n: int) -> float:
        return float(interval(self.values(point, kpi, n))["mean"])


def complement(data: dict[str, Any], dotted: str, value: Any) -> None:
    """A probability of a two-way split (``...p.forward`` beside ``...p.unfounded``) varied alone: the
    other one follows as ``1 - value``, so the split still sums to one (a relevance share can be a
    sensitivity parameter). Splits of three or more values are left as they are."""
    parts = dotted.split(".")
    if len(parts) < 2 or parts[-2] != "p" or not isinstance(value, int | float):
        return
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict) and len(node) == 2:
        other = next(k for k in node if str(k) != parts[-1])
        node[other] = round(1.0 - float(value), 12)


def parse_value(text: str) -> Any:
    """A command-line value: int, float, or the string as written (``25``, ``0.5``, ``600000/year``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_sets(items: list[str] | None) -> Point:
    out: Point = {}
    for item in items or []:
        path, sep, value = item.partition("=")
        if not sep or not path:
            reason = f"--set {item!r}: write PATH=VALUE, e.g. time.horizon=30d"
            raise ConfigError([Problem("<command line>", (), reason)])
        out[path.strip()] = parse_value(value.strip())
    return out


def base_data(path: Path) -> dict[str, Any]:
    from routing_sim.loader import load_data

    data, _ = load_data(path)
    return data
