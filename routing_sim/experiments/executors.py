"""Where tasks run: in this process, on a local process pool, or on a Dask cluster.

Every executor runs the same function, :func:`routing_sim.experiments.tasks.run_task`,
and hands each record back to the driver as soon as it is ready
(``on_result``); only the driver writes files, so workers need no shared disk.
Executors are context managers: a pool or a cluster is started once and used
for every round of an experiment.

- A process pool whose worker is killed (``BrokenProcessPool``) is started
  again and the unfinished tasks are resubmitted, up to ``MAX_RESTARTS`` times;
  after that they are recorded as failed.
- On Dask, a task whose worker dies is retried by the scheduler; if it keeps
  killing workers (``KilledWorker``) it is recorded as failed.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from routing_sim import logs
from routing_sim.errors import RunError
from routing_sim.experiments.store import process_alive
from routing_sim.experiments.tasks import Task, failed_record, run_task

OnResult = Callable[[dict[str, Any]], None]
MAX_RESTARTS = 3


class Serial:
    """One task after another, in this process."""

    description = "serial"

    def __enter__(self) -> Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        for task in tasks:
            on_result(run_task(task))


class ProcessPool:
    """A local pool of worker processes (started with ``forkserver``: safe with the progress thread)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.description = f"process pool, {workers} workers"
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop(wait=exc[0] is None)

    def _stop(self, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["routing_sim.experiments.tasks", "routing_sim.experiments.warmup"])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=_exit_with_driver, initargs=(os.getpid(),))
        return self._pool

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        pending = {task.key: task for task in tasks}
        restarts = 0
        while pending:
            pool = self._start()
            futures = {pool.submit(run_task, task): key for key, task in pending.items()}
            broken = False
            for future in as_completed(futures):
                try:
                    record = future.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                pending.pop(futures[future], None)
                on_result(record)
            if not broken:
                continue
            self._stop(wait=False)
            restarts += 1
            logs.get_logger().warning("worker_died", unfinished=len(pending), restart=restarts)
            if restarts > MAX_RESTARTS:
                for task in pending.values():
                    on_result(failed_record(task, f"worker process died {restarts} times (BrokenProcessPool)"))
                return


def _exit_with_driver(driver: int) -> None:
    """In a pool worker: end this process soon after the driver is gone. A killed driver would
    otherwise leave its workers behind, idle on their task queue (with ``forkserver`` their parent
    is the fork server, which the workers themselves keep alive)."""

    def watch() -> None:
        while process_alive(driver):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


class DaskExecutor:
    """A Dask distributed cluster: ``"local"`` starts a LocalCluster of ``workers`` processes, an
    address (``tcp://host:port``) connects to a running scheduler, a ``Client`` is used as given."""

    def __init__(self, target: Any, workers: int):
        self.target = target
        self.workers = workers
        self.client: Any = None
        self._owned: list[Any] = []
        self.description = f"dask {target if isinstance(target, str) else 'client'}"

    def __enter__(self) -> DaskExecutor:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RunError("Dask is not installed: pip install 'routing-sim[dask]'") from exc
        if isinstance(self.target, str) and self.target == "local":
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self.client = Client(cluster)
            self._owned = [self.client, cluster]
        elif isinstance(self.target, str):
            try:
                self.client = Client(self.target, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise RunError(f"cannot reach the Dask scheduler at {self.target}: {exc}") from exc
            self._owned = [self.client]
        else:
            self.client = self.target
        return self

    def __exit__(self, *exc: object) -> None:
        for thing in self._owned:
            thing.close()
        self._owned = []

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        from dask.distributed import as_completed as dask_completed

        tasks = list(tasks)
        if not tasks:
            return
        by_key = {f"routing-sim-{task.key}": task for task in tasks}
        futures = self.client.map(run_task, tasks, key=list(by_key), pure=False)
        for future in dask_completed(futures):
            task = by_key[future.key]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connections: recorded, not fatal
                record = failed_record(task, f"{type(exc).__name__}: {exc}")
            future.release()
            on_result(record)


def executor_for(workers: int = 1, dask: Any = None) -> Serial | ProcessPool | DaskExecutor:
    if dask is not None:
        return DaskExecutor(dask, max(1, workers))
    if workers > 1:
        return ProcessPool(workers)
    return Serial()
