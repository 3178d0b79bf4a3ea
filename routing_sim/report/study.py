"""What a report is about: run folders grouped into variants and replications, or an experiment folder.

A results folder given to ``routing-sim report`` is one of

- a run folder (``manifest.json`` beside ``kpis.json``): one variant, one replication;
- a folder holding run folders, one or two levels down (``results/`` or
  ``results/<config name>/``): runs whose resolved configs are equal apart from
  the seed are replications of one variant (paired across variants by seed,
  which gives common random numbers); different configs are different variants;
- an experiment folder (``experiment.json`` and ``tasks/*.json``, see
  :mod:`routing_sim.experiments.store`): variants and replications from the task
  records, which hold flat KPIs only (no tables, so no time-series figures).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from routing_sim.errors import RunError
from routing_sim.folders import read_mapping, verify_files
from routing_sim.jsonio import flatten, nan_for_null, unflatten
from routing_sim.loader import validate_data
from routing_sim.model.process import ProcessConfig
from routing_sim.yamlio import read_yaml

Key = tuple[int, int]  # (seed, replication): what pairs replications across variants


@dataclass
class Run:
    """One replication: flat KPIs, and the run folder with its tables when there is one."""

    key: Key
    kpis: dict[str, Any]
    manifest: dict[str, Any]
    folder: Path | None = None

    @cached_property
    def flat(self) -> dict[str, float]:
        return flatten(self.kpis) if isinstance(self.kpis.get("run"), dict) else dict(self.kpis)

    @cached_property
    def nested(self) -> dict[str, Any]:
        """The KPI tree (rebuilt from flat names for experiment records, which keep numbers only)."""
        return self.kpis if isinstance(self.kpis.get("run"), dict) else unflatten(self.kpis)

    def table(self, name: str, columns: list[str] | None = None, filters: Any = None) -> pa.Table:
        if self.folder is None:
            raise RunError(f"replication {self.key} has no tables")
        return pq.read_table(self.folder / f"{name}.parquet", columns=columns, filters=filters)


@dataclass
class Variant:
    name: str
    cfg: ProcessConfig
    resolved: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    @property
    def has_tables(self) -> bool:
        """Every run has its folder with its time series (any record level)."""
        return bool(self.runs) and all(r.folder is not None for r in self.runs)

    @property
    def has_entities(self) -> bool:
        """Every run kept its entity rows (record level entities or visits)."""
        return self.has_tables and all(r.folder is not None and (r.folder / "entities.parquet").is_file()
                                       for r in self.runs)

    def values(self, kpi: str) -> dict[Key, float]:
        return {r.key: r.flat[kpi] for r in self.runs if kpi in r.flat and math.isfinite(r.flat[kpi])}


@dataclass
class Study:
    folder: Path
    source: str  # "run", "runs" or "experiment"
    variants: list[Variant]
    baseline: str
    notes: list[str] = field(default_factory=list)
    warmup_h: float = 0.0
    report_kpis: list[str] = field(default_factory=list)  # an experiment's own list of KPIs to show
    questions: list[Any] = field(default_factory=list)  # an experiment's questions (experiments.spec.Question)
    title: str = ""  # an experiment's name (default: the variants' names)
    description: str = ""
    question: str = ""  # an experiment's own question (runs answer their configs' questions)
    experiment_file: str | None = None

    @property
    def base(self) -> Variant:
        return next(v for v in self.variants if v.name == self.baseline)

    @property
    def replications(self) -> int:
        return max(len(v.runs) for v in self.variants)

    @property
    def first_run(self) -> Run:
        return self.base.runs[0]


def config_key(resolved: dict[str, Any]) -> str:
    """Hash of a resolved config without its seed: equal for replications of one variant."""
    data = {k: v for k, v in resolved.items() if k != "seed"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def drop_nulls(data: Any) -> Any:
    """A resolved config lists unset options as ``null``; validation wants them absent."""
    if isinstance(data, dict):
        return {k: drop_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [drop_nulls(v) for v in data]
    return data


def read_json(path: Path) -> dict[str, Any]:
    """A result folder's JSON file, which must be a mapping (RunError on one line otherwise)."""
    return read_mapping(path)


def load_run_study(folder: Path, baseline: str | None = None) -> Study:
    """Read a run folder or a folder of run folders; raise RunError if there is none."""
    folder = Path(folder)
    manifests = [folder / "manifest.json"] if (folder / "manifest.json").is_file() else sorted(
        list(folder.glob("*/manifest.json")) + list(folder.glob("*/*/manifest.json")))
    runs = [m.parent for m in manifests if not m.parent.name.startswith(".")]
    ok = [r for r in runs if read_json(r / "manifest.json").get("status") == "ok" and (r / "kpis.json").is_file()]
    if not ok:
        raise RunError(f"{folder}: no complete run folder (manifest.json with status ok) here or below")
    groups: dict[str, Variant] = {}
    for run_folder in ok:
        manifest = read_json(run_folder / "manifest.json")
        verify_files(run_folder, manifest)
        resolved = read_yaml(run_folder / "config.resolved.yaml")[0]
        key = config_key(resolved)
        if key not in groups:
            cfg = validate_data(drop_nulls(resolved), source=str(run_folder / "config.resolved.yaml"))
            groups[key] = Variant(f"{cfg.name}#{key[:8]}", cfg, resolved)
        kpis = nan_for_null(read_json(run_folder / "kpis.json"))  # null: a figure with no value
        run = Run((int(manifest["seed"]), int(manifest.get("replication", 0))), kpis, manifest, run_folder)
        groups[key].runs.append(run)
    variants = sorted(groups.values(), key=lambda v: (v.cfg.name, v.name))
    names = [v.cfg.name for v in variants]
    for v in variants:
        v.runs.sort(key=lambda r: r.key)
        if names.count(v.cfg.name) == 1:
            v.name = v.cfg.name
    study = Study(folder, "run" if len(ok) == 1 and manifests[0].parent == folder else "runs", variants,
                  _baseline(variants, baseline))
    skipped = len(runs) - len(ok)
    if skipped:
        study.notes.append(f"{skipped} run folder(s) without a complete run (failed or interrupted) were left out.")
    return study


def _baseline(variants: list[Variant], wanted: str | None) -> str:
    names = [v.name for v in variants]
    if wanted is None:
        return names[0]
    if wanted not in names:
        raise RunError(f"no variant named {wanted!r} (variants: {', '.join(names)})")
    return wanted
