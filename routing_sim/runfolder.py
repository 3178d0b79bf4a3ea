"""One replication written to its own folder, atomically: the run phase of the CLI.

``results/<config name>/<run id>/`` holds ``config.resolved.yaml``,
``manifest.json``, ``kpis.json`` and the tables as Parquet. Everything is
written into a hidden staging folder first and renamed into place only when
the run succeeded, so no half-written file ever sits under a final name. A
run that fails or is interrupted still leaves a folder with its manifest
(status and error) and resolved config, and never replaces an earlier
complete run of the same config and seed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from routing_sim import __version__
from routing_sim.codes import Codes
from routing_sim.engine.build import build
from routing_sim.engine.records import VISITS, ParquetSink, entity_schema
from routing_sim.engine.simulate import Outputs, Progress, simulate, timeseries_schema
from routing_sim.errors import ConfigError, Problem, RunError
from routing_sim.folders import file_digest
from routing_sim.jsonio import finite_or_null
from routing_sim.kpis import kpis_from_files
from routing_sim.model.process import ProcessConfig
from routing_sim.yamlio import dump_yaml

PACKAGES = ("simpy", "pydantic", "numpy", "pyarrow", "structlog", "PyYAML", "typer", "rich")
TABLES = ("visits.parquet", "entities.parquet", "timeseries.parquet")
RECORDS = {
    "summary": ("timeseries.parquet",),
    "entities": ("entities.parquet", "timeseries.parquet"),
    "visits": TABLES,
}
"""What a run folder keeps besides its KPIs, config and manifest, by record level. Every level's
KPIs are computed from all the tables; the tables a level does not keep are then deleted.
``summary``: the KPIs and the time series (the report's figures over time). ``entities``: also a
row per entity with its path's first times (the report's time-to-target curves). ``visits``: also
a row per visit (the event log for process mining)."""
DEFAULT_RECORDS = "summary"


@dataclass
class RunRecord:
    folder: Path
    manifest: dict[str, Any]
    kpis: dict[str, Any]


def resolved_config(cfg: ProcessConfig, seed: int) -> dict[str, Any]:
    data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    data["seed"] = seed
    return data


def config_hash(resolved: dict[str, Any]) -> str:
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def safe_child(root: Path, *parts: str) -> Path:
    """``root/parts...``, refusing anything that would leave ``root`` (``..``, absolute paths)."""
    root_resolved = root.resolve()
    path = root.joinpath(*parts)
    for part in parts:
        if not part or part in (".", "..") or any(c in part for c in "/\\\x00") or Path(part).is_absolute():
            raise RunError(f"output name {part!r} would leave the results folder {root}")
    if root_resolved not in path.resolve().parents:
        raise RunError(f"output path {path} is outside the results folder {root}")
    return path


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Standard JSON (what browsers, Go and serde accept): a missing or undefined figure (NaN, an
    infinity) is written as ``null``; :func:`nan_for_null` turns it back into NaN for figures."""
    write_atomic(path, json.dumps(finite_or_null(data), indent=2, sort_keys=False, allow_nan=False, default=str) + "\n")


def environment_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "routing_sim": __version__,
        "python": sys.version.split()[0],
        "packages": versions,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "git_revision": _git_revision(),
    }


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(__file__).parent,
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def codes_dict(codes: Codes) -> dict[str, Any]:
    return {
        "stages": codes.stages,
        "outcomes": codes.outcomes,
        "places": codes.places,
        "kinds": codes.kinds,
        "sources": codes.sources,
        "pools": codes.pools,
        "attributes": codes.values,
    }


def run_to_folder(
    cfg: ProcessConfig,
    *,
    seed: int | None = None,
    results: Path = Path("results"),
    config_file: str | None = None,
    progress: Progress | None = None,
    engine: str = "auto",
    records: str = DEFAULT_RECORDS,
) -> RunRecord:
    """Run one replication of ``cfg`` and publish its folder, keeping the tables of the record level
    (:data:`RECORDS`); raise RunError on failure."""
    if records not in RECORDS:
        raise RunError(f"--records: one of {', '.join(RECORDS)} (got {records!r})")
    seed = cfg.seed if seed is None else seed
    resolved = resolved_config(cfg, seed)
    digest = config_hash(resolved)
    run_id = f"{digest[:12]}-s{seed}"
    parent = results_folder(results, cfg.name)
    final = safe_child(parent, run_id)
    sweep_dead_staging(parent)
    staging = parent / f".{run_id}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    manifest: dict[str, Any] = {
        "status": "running",
        "error": None,
        "config_name": cfg.name,
        "config_file": config_file,
        "config_hash": digest,
        "seed": seed,
        "replication": 0,
        "run_id": run_id,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": None,
        "environment": environment_info(),
    }
    started = time.perf_counter()
    try:
        write_atomic(staging / "config.resolved.yaml", dump_yaml(resolved))
        kpis = _simulate_into(cfg, seed, staging, manifest, progress, engine)
        for name in set(TABLES) - set(RECORDS[records]):
            (staging / name).unlink()
        kept = ("config.resolved.yaml", "kpis.json", *(t for t in TABLES if t in RECORDS[records]))
        manifest["records"] = records
        manifest["files"] = {name: file_digest(staging / name) for name in kept}  # checked before any reader uses them
        manifest["bytes_written"] = sum((staging / name).stat().st_size for name in kept)
        manifest["status"] = "ok"
        manifest["wall_time_s"] = round(time.perf_counter() - started, 3)
        write_json(staging / "manifest.json", manifest)
        _publish(staging, final)
    except BaseException as exc:
        manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        manifest["error"] = f"{type(exc).__name__}: {exc}"
        manifest["wall_time_s"] = round(time.perf_counter() - started, 3)
        unrecorded = _record_failure(staging, final, parent, run_id, manifest)
        if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, RunError) and not unrecorded):
            raise
        reason = exc if isinstance(exc, RunError) else f"run failed: {type(exc).__name__}: {exc}"
        raise RunError(f"{reason}{unrecorded}") from exc
    return RunRecord(final, manifest, kpis)


def _record_failure(staging: Path, final: Path, parent: Path, run_id: str, manifest: dict[str, Any]) -> str:
    """Publish a failed or interrupted run's folder with its config and manifest only. If even that
    cannot be written (a full disk), remove the staging folder and return why, for the one line
    the user reads; an earlier complete run is never replaced."""
    try:
        for name in os.listdir(staging):
            if name not in ("config.resolved.yaml",):
                (staging / name).unlink()
        write_json(staging / "manifest.json", manifest)
        _publish(staging, final if not final.exists() else parent / f"{run_id}.{manifest['status']}")
        return ""
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return f" (the failure could not be recorded either: {exc.strerror or exc})"


def _simulate_into(cfg: ProcessConfig, seed: int, folder: Path, manifest: dict, progress: Progress | None,
                   engine: str = "auto") -> dict:
    model = build(cfg, seed=seed)
    partial = {name: folder / f".{name}.partial" for name in TABLES}
    schemas = {
        "visits.parquet": VISITS,
        "entities.parquet": entity_schema(model.codes.attributes, model.codes.counts, model.codes.marks),
        "timeseries.parquet": timeseries_schema(model),
    }
    sinks = {name: ParquetSink(partial[name], schemas[name]) for name in TABLES}
    outputs = Outputs(sinks["visits.parquet"], sinks["entities.parquet"], sinks["timeseries.parquet"])
    t0 = time.perf_counter()
    summary = simulate(model, outputs, progress, engine)
    sim_seconds = time.perf_counter() - t0
    for name in TABLES:
        os.replace(partial[name], folder / name)
    kpis = kpis_from_files(cfg, model.codes, summary, folder)
    arrived = sum(summary.arrived_by_source.values())
    manifest["codes"] = codes_dict(model.codes)
    manifest["counts"] = {
        "arrivals_from_sources": arrived,
        "arrived_by_source": summary.arrived_by_source,
        "spawned_by_kind": summary.spawned_by_kind,
        "visits": summary.visits_written,
        "entities": summary.entities_written,
    }
    manifest["engine"] = {"executor": summary.engine, "why": summary.engine_reason,
                          "simpy_events": summary.events if summary.engine == "simpy" else None}
    manifest["streams"] = summary.streams
    manifest["simulation_seconds"] = round(sim_seconds, 3)
    manifest["arrivals_per_second"] = round(arrived / sim_seconds, 1) if sim_seconds > 0 else None
    write_json(folder / "kpis.json", kpis)
    return kpis


def _publish(staging: Path, final: Path, attempts: int = 20) -> None:
    """Move the staging folder to its final name, replacing an older folder only after the new one is
    complete. Another run of the same config and seed may publish the same folder at the same
    moment (the same bytes): whichever lands last stays, and neither fails after its work is done."""
    olds = []
    for attempt in range(attempts):
        try:
            os.replace(staging, final)
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        old = final.with_name(f".{final.name}.old-{attempt}-{os.getpid()}")
        try:
            os.replace(final, old)
        except FileNotFoundError:  # the other run moved it first: try again
            continue
        olds.append(old)
    else:
        raise RunError(f"could not publish {final}: another run kept replacing it")
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def results_folder(results: Path, name: str) -> Path:
    """``results/<name>``, created if need be. An ``--out`` that is a file, a device or a folder
    this process cannot write is bad input, said on one line."""
    folder = safe_child(results, name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError([Problem("<command line>", (), f"--out {results}: cannot create the folder {folder} "
                                   f"({exc.strerror or type(exc).__name__})")]) from None
    if not writable(folder):
        raise ConfigError([Problem("<command line>", (), f"--out {results}: the folder {folder} is not writable")])
    return folder


def writable(folder: Path) -> bool:
    """Whether this process may create files in ``folder``."""
    return os.access(folder, os.W_OK | os.X_OK)


def sweep_dead_staging(parent: Path) -> None:
    """Remove staging folders (``.<run id>.partial-<pid>``, and ``.<run id>.old-<n>-<pid>`` of a
    replaced run) whose run was killed (SIGKILL, power loss): their process no longer exists. A run
    that is still going keeps its own."""
    for staging in [*parent.glob(".*.partial-*"), *parent.glob(".*.old-*")]:
        pid = staging.name.rsplit("-", 1)[-1]
        if staging.is_dir() and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)
