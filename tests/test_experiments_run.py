"""Running experiments: the same bytes on every executor, failures recorded, kill and resume.

- Serial, process-pool and Dask runs of one experiment write byte-identical task files and summary.
- A task that raises is recorded with its error, the others finish, the summary and the exit code
  say what failed, and a rerun completes the work.
- A real SIGKILL of the driver (a subprocess running the CLI) loses nothing: the rerun skips the
  finished tasks without touching them and ends with files identical to an uninterrupted run; a
  SIGKILL of one pool worker is survived by the running driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from routing_sim import logs
from routing_sim.experiments.runner import run_experiment

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "configs" / "textbook" / "mmc.yaml"


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def experiment(tmp_path: Path, name: str = "mmc-staff", horizon: str = "3d", replications: int = 3, **extra) -> Path:
    spec = {"name": name, "base": str(MMC), "seed": 3, "overrides": {"time.horizon": horizon},
            "variants": {"three": {}, "four": {"pools.servers.headcount": 4}}, "replications": replications,
            "report": ["stages.service.wait.mean_h", "pools.servers.utilisation"], **extra}
    return write(tmp_path / f"{name}.yaml", spec)


def files(folder: Path) -> dict[str, bytes]:
    """Every task file and the summaries, by name. The plan (environment, sessions) is left out, and so
    is the summary's list of code versions: other work on the sources may change it between runs."""
    out = {f"tasks/{p.name}": p.read_bytes() for p in sorted((folder / "tasks").glob("*.json"))}
    summary = json.loads((folder / "summary.json").read_text())
    summary["tasks"].pop("code_versions")
    out["summary.json"] = json.dumps(summary, sort_keys=True).encode()
    out["summary.csv"] = (folder / "summary.csv").read_bytes()
    return out


@pytest.mark.slow
def test_serial_process_pool_and_dask_write_the_same_bytes(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    exp = experiment(tmp_path, warmup={"mser5": "queued.service", "every": "2h", "pilot": 2})
    serial = run_experiment(exp, tmp_path / "serial")
    run_experiment(exp, tmp_path / "pool", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        run_experiment(exp, tmp_path / "dask", dask=client)
    reference = files(tmp_path / "serial" / "mmc-staff")
    assert len(reference) == 2 * 3 + 2 * 2 + 2  # replications, MSER-5 pilot runs, summaries
    assert files(tmp_path / "pool" / "mmc-staff") == reference
    assert files(tmp_path / "dask" / "mmc-staff") == reference
    assert serial["tasks"]["ok"] == 6 and serial["warmup"]["method"] == "mser5"


def test_a_task_that_raises_is_recorded_and_the_rest_finish(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from routing_sim.cli import app
    from routing_sim.experiments import tasks

    real = tasks.simulate_config

    def flaky(cfg, seed=None, replication=0, **kw):
        if replication == 1:
            raise ZeroDivisionError("injected failure")
        return real(cfg, seed=seed, replication=replication, **kw)

    exp = experiment(tmp_path)
    out = tmp_path / "results"
    monkeypatch.setattr(tasks, "simulate_config", flaky)
    result = CliRunner().invoke(app, ["run", str(exp), "--out", str(out), "-q"])
    assert result.exit_code == 1, result.output
    assert "FAILED: 2 of 6 tasks" in result.output and "ZeroDivisionError: injected failure" in result.output
    summary = yaml.safe_load((out / "mmc-staff" / "summary.json").read_text())
    assert [(f["variant"], f["replication"]) for f in summary["tasks"]["failed"]] == [("three", 1), ("four", 1)]
    assert summary["variants"]["four"]["kpis"]["pools.servers.utilisation"]["n"] == 2
    failed = [yaml.safe_load(p.read_text()) for p in (out / "mmc-staff" / "tasks").glob("*-r1-*.json")]
    assert len(failed) == 2 and all(r["status"] == "failed" and r["traceback"] for r in failed)

    monkeypatch.setattr(tasks, "simulate_config", real)
    again = run_experiment(exp, out)  # failed tasks are run again, finished ones are not
    assert again["tasks"]["ok"] == 6 and not again["tasks"]["failed"]
    run_experiment(exp, tmp_path / "clean")
    assert files(out / "mmc-staff") == files(tmp_path / "clean" / "mmc-staff")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "routing_sim.cli", *args]


def wait_for_files(folder: Path, count: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("*.json"))) < count:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def group_gone(pgid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_sigkill_of_the_driver_then_resume_gives_identical_results(tmp_path):
    exp = experiment(tmp_path, horizon="200d", replications=8, warmup="2d")
    out = tmp_path / "results"
    tasks = out / "mmc-staff" / "tasks"
    command = cli("run", str(exp), "--out", str(out), "--workers", "2", "-q")
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        tasks.mkdir(parents=True, exist_ok=True)
        wait_for_files(tasks, 4, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert group_gone(proc.pid), "pool workers outlived the killed driver"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in tasks.glob("*.json")}
    assert 4 <= len(before) < 16 and not (out / "mmc-staff" / "summary.json").exists()
    (tasks / ".stale.json.tmp-999999999").write_text("half a file")  # as a killed write would leave

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} tasks already done by an earlier run (skipped), {16 - len(before)} to run" in resumed.stderr
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in tasks.glob("*.json")}
    assert all(after[name] == before[name] for name in before)  # finished work was not redone
    assert not list(tasks.glob(".*tmp*"))

    run_experiment(exp, tmp_path / "uninterrupted")
    assert files(out / "mmc-staff") == files(tmp_path / "uninterrupted" / "mmc-staff")


def pool_workers(driver: int) -> list[int]:
    """Pool workers of a driver started in its own session: same process group, not its children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pgid = int(fields[1]), int(fields[2])
        if pgid == driver and int(entry.name) != driver and ppid != driver:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_the_driver_survives_a_killed_worker(tmp_path):
    exp = experiment(tmp_path, name="worker-kill", horizon="200d", replications=6)
    out = tmp_path / "results"
    tasks = out / "worker-kill" / "tasks"
    tasks.mkdir(parents=True)
    proc = subprocess.Popen(cli("run", str(exp), "--out", str(out), "--workers", "2", "-q"),
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_files(tasks, 1, proc)
        workers = pool_workers(proc.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stderr
    assert "worker_died" in stderr
    run_experiment(exp, tmp_path / "uninterrupted")
    assert files(out / "worker-kill") == files(tmp_path / "uninterrupted" / "worker-kill")


def test_tasks_computed_by_other_sources_are_run_again_not_reused(tmp_path, monkeypatch):
    """After any change to the routing_sim sources, a rerun computes every task again (and says so)
    instead of republishing the old numbers; with the same sources it reuses them."""
    import routing_sim.experiments.store as store_module
    import routing_sim.experiments.tasks as tasks_module

    spec = experiment(tmp_path, replications=2)
    results = tmp_path / "results"
    run_experiment(spec, results=results)
    folder = results / "mmc-staff"
    first = {p.name: json.loads(p.read_text()) for p in (folder / "tasks").glob("*.json")}
    assert first and {r["code"] for r in first.values()} == {store_module.code_fingerprint()}

    class Counting:
        def __init__(self):
            self.calls = []

        def add(self, tasks, skipped, stale=0):
            self.calls.append((tasks, skipped, stale))

        def advance(self, record):
            pass

    same = Counting()
    run_experiment(spec, results=results, progress=same)
    assert sum(c[0] for c in same.calls) == 0  # nothing to run: the same sources

    other = "0123456789abcdef"
    monkeypatch.setattr(store_module, "code_fingerprint", lambda: other)
    monkeypatch.setattr(tasks_module, "code_fingerprint", lambda: other)
    changed = Counting()
    run_experiment(spec, results=results, progress=changed)
    assert sum(c[2] for c in changed.calls) == len(first)  # every task stale, every one run again
    again = {p.name: json.loads(p.read_text()) for p in (folder / "tasks").glob("*.json")}
    assert {r["code"] for r in again.values()} == {other}
    assert {k: r["kpis"] for k, r in again.items()} == {k: r["kpis"] for k, r in first.items()}


@pytest.mark.slow
def test_a_second_driver_on_the_same_experiment_folder_is_refused_with_the_reason(tmp_path):
    """Two drivers on one experiment folder both computed every task and overwrote each other's
    experiment.json. The folder is now held by one driver (a kernel lock, gone with its process);
    a second one is refused and told which process holds it."""
    from routing_sim.errors import RunError
    from routing_sim.experiments.store import Store

    spec = experiment(tmp_path, replications=2)
    results = tmp_path / "results"
    store = Store.under(results, "mmc-staff").open()
    with store.lock():
        with pytest.raises(RunError, match=rf"in use by another run of this experiment \(process {os.getpid()}\)"):
            run_experiment(spec, results=results)
        assert not list(store.tasks.glob("*.json"))  # the refused driver computed nothing
        done = subprocess.run([sys.executable, "-m", "routing_sim.cli", "run", str(spec), "-q", "--out", str(results)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "in use by another run" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    summary = run_experiment(spec, results=results)  # free again
    assert summary["tasks"]["ok"] == 4


def test_the_progress_bar_counts_each_round_against_its_own_total():
    """The bar's total jumped (18 -> 48 -> 66) as the replications algorithm added rounds, and its
    ETA read 0:00:01 with 28 tasks left; each round now has its own total and estimate."""
    import io

    from rich.console import Console

    from routing_sim.cli.run import TaskProgress

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with TaskProgress(quiet=False, console=console) as progress:
        progress.add(18, 0)
        for _ in range(18):
            progress.advance({"status": "ok"})
        task = progress.bar.tasks[0]
        assert (task.total, task.completed, task.finished) == (18, 18, True)
        progress.add(30, 18)
        task = progress.bar.tasks[0]
        assert (task.total, task.completed, task.description) == (30, 0, "round 2: tasks")
        progress.advance({"status": "failed"})
        assert progress.bar.tasks[0].completed == 1 and progress.bar.tasks[0].fields["failed"] == 1
    import re

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())
    assert "18 tasks already done by an earlier run (skipped), 30 to run" in shown


@pytest.mark.slow
def test_a_real_dask_cluster_survives_a_killed_worker_and_gives_the_serial_bytes(tmp_path):
    """A scheduler and two worker processes on 127.0.0.1, as a user would start them; the experiment
    runs through `routing-sim run ... --dask tcp://...`; one worker is killed while tasks run; the
    scheduler hands its tasks to the other, and the results equal the serial run's byte for byte."""
    pytest.importorskip("dask.distributed")
    dask = Path(sys.executable).with_name("dask")
    spec = experiment(tmp_path, name="mmc-dask", horizon="12d", replications=6)
    serial = tmp_path / "serial"
    run_experiment(spec, serial)
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(scheduler_file), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = [subprocess.Popen([str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1",
                                     "--nthreads", "1", "--host", "127.0.0.1", *common],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                   for _ in range(2)]
        procs += workers
        driver = subprocess.Popen([sys.executable, "-m", "routing_sim.cli", "run", str(spec), "-q", "--out",
                                   str(tmp_path / "cluster"), "--dask", address],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(driver)
        tasks = tmp_path / "cluster" / "mmc-dask" / "tasks"
        while len(list(tasks.glob("*.json"))) < 2:  # some work done: the other worker is busy too
            assert time.monotonic() < deadline + 120 and driver.poll() is None, driver.communicate()
            time.sleep(0.1)
        os.killpg(workers[0].pid, signal.SIGKILL)
        out, err = driver.communicate(timeout=300)
        assert driver.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
            proc.wait(timeout=30)
    assert workers[0].returncode == -signal.SIGKILL
    assert files(tmp_path / "cluster" / "mmc-dask") == files(serial / "mmc-dask")
