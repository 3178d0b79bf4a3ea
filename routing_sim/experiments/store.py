"""An experiment's folder: one JSON file per task, written atomically, read back to resume.

``results/<experiment>/`` holds

- ``tasks/<key>.json``: one per (config, seed, replication, warm-up), written
  by the driver with ``runfolder.write_json`` (a temporary file, fsync, rename),
  so a file under its final name is always complete, whatever kills the run;
- ``experiment.json``: the plan (variants, their overrides and config hashes,
  seed, warm-up, replications), rewritten after every round, and what ``compare``
  reads;
- ``summary.json`` and ``summary.csv``: the comparison.

The key is derived from the resolved config's hash, the seed and the
replication (and the warm-up), so rerunning the same command finds the work
already done and runs only the rest; a variant renamed or shared by two
experiments keeps its results. A record also names the version of the routing_sim
sources that computed it (:func:`code_fingerprint`): a record of another version is
not reused but computed again, so a fix to the engine never returns old numbers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeGuard

from routing_sim.errors import RunError
from routing_sim.folders import read_mapping
from routing_sim.jsonio import nan_for_null
from routing_sim.runfolder import process_alive, results_folder, safe_child, write_json

TASKS = "tasks"
PLAN = "experiment.json"
LOCK = ".lock"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the routing_sim sources (every .py file under the package, by relative path)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def current(record: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """Whether a task record ended well and was computed by these sources (so it can be reused)."""
    return record is not None and record.get("status") == "ok" and record.get("code") == code_fingerprint()


def replication_key(config_hash: str, seed: int, replication: int, warmup_h: float) -> str:
    return f"{config_hash[:16]}-s{seed}-r{replication}-w{warmup_h / 24:g}d"


def pilot_key(config_hash: str, seed: int, replication: int, series: str, every_h: float) -> str:
    return f"{config_hash[:16]}-s{seed}-r{replication}-mser-{series}-{every_h:g}h"


class Store:
    def __init__(self, folder: Path):
        self.folder = folder
        self.tasks = folder / TASKS

    @classmethod
    def under(cls, results: Path, name: str) -> Store:
        return cls(safe_child(results, name))

    def open(self) -> Store:
        results_folder(self.folder.parent, self.folder.name)  # bad input, on one line, if --out is unusable
        self.tasks.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        return self

    def path(self, key: str) -> Path:
        return safe_child(self.tasks, f"{key}.json")

    def write(self, record: dict[str, Any]) -> None:
        write_json(self.path(record["key"]), record)

    def read(self, key: str) -> dict[str, Any] | None:
        """A task's record; None if there is none (or it cannot be read as JSON); RunError if it is
        JSON of the wrong shape."""
        try:
            with open(self.path(key), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            raise RunError(f"{self.path(key)}: expected a JSON mapping, found {type(record).__name__}")
        for figures in ("kpis", "series"):  # written with null for NaN (standard JSON)
            if figures in record:
                record[figures] = nan_for_null(record[figures])
        kpis = record.get("kpis", {})
        if not isinstance(kpis, dict) or not all(isinstance(v, (int, float)) for v in kpis.values()):
            raise RunError(f"{self.path(key)}: KPIs that are not numbers (hand-edited, or from another program?)")
        return record

    def finished(self) -> tuple[set[str], set[str]]:
        """Keys whose task ended well with these sources, and keys that ended well with another
        version of them (both failed and stale tasks are run again)."""
        keys: set[str] = set()
        stale: set[str] = set()
        if not self.tasks.is_dir():
            return keys, stale
        for path in self.tasks.glob("*.json"):
            try:
                record = self.read(path.stem)
            except RunError:  # damaged: computed again, and overwritten
                continue
            if current(record):
                keys.add(path.stem)
            elif record is not None and record.get("status") == "ok":
                stale.add(path.stem)
        return keys, stale

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one driver: a second driver on the same experiment folder would
        compute every task again and overwrite the first one's plan. The lock is the kernel's
        (flock), so it ends with its process, however that process ends."""
        path = self.folder / LOCK
        handle = open(path, "a+", encoding="ascii")  # noqa: SIM115 - held for the whole block
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunError(f"{self.folder} is in use by another run of this experiment (process {holder}); "
                               "wait for it to finish, or give another --out") from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()

    def write_plan(self, plan: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.folder / PLAN, plan)

    def read_plan(self) -> dict[str, Any]:
        """experiment.json, which must be a mapping (RunError on one line otherwise)."""
        return read_mapping(self.folder / PLAN)

    def _remove_stale_temporaries(self) -> None:
        """Temporary files left by a driver that was killed mid-write (its process no longer exists)."""
        for folder in (self.folder, self.tasks):
            for tmp in folder.glob(".*.tmp-*"):
                pid = tmp.name.rsplit("-", 1)[-1]
                if pid.isdigit() and not process_alive(int(pid)):
                    tmp.unlink(missing_ok=True)
