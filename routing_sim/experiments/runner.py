"""Run an experiment: warm-up pilot (if MSER-5), rounds of replications, the summary.

Every round lists its tasks, skips those already finished in the store, runs
the rest on the executor and writes each record as it arrives. Decisions
(the warm-up, whether more replications are needed) are computed from the
stored records only, so a run that was killed and started again takes the same
decisions and ends with the same files as one that was never interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from routing_sim import logs
from routing_sim.errors import RunError
from routing_sim.experiments.executors import executor_for
from routing_sim.experiments.resolve import Experiment, load_experiment
from routing_sim.experiments.stats import replications_algorithm
from routing_sim.experiments.store import Store, code_fingerprint, pilot_key, replication_key
from routing_sim.experiments.summary import summarise, variant_values, write_summary
from routing_sim.experiments.tasks import PILOT, REPLICATION, Task
from routing_sim.experiments.warmup import choose_warmup
from routing_sim.runfolder import environment_info


class Progress(Protocol):
    def add(self, tasks: int, skipped: int, stale: int = 0) -> None: ...
    def advance(self, record: dict[str, Any]) -> None: ...


def run_experiment(experiment: Experiment | str | Path, results: Path = Path("results"), *, workers: int = 1,
                   dask: Any = None, progress: Progress | None = None, seed: int | None = None) -> dict[str, Any]:
    """Run (or resume) every task of an experiment and return its summary (also written to its folder)."""
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment, seed=seed)
    store = Store.under(results, exp.name).open()
    with store.lock():
        return _run_locked(exp, store, workers, dask, progress)


def _run_locked(exp: Experiment, store: Store, workers: int, dask: Any, progress: Progress | None) -> dict[str, Any]:
    plan = initial_plan(exp, _previous_sessions(store))
    store.write_plan(plan)
    log = logs.get_logger().bind(experiment=exp.name)
    log.info("experiment_started", folder=str(store.folder), variants=len(exp.variants))
    with executor_for(workers, dask) as executor:
        rounds = _Rounds(store, executor, progress, log, plan)
        plan["warmup"] = _warmup(exp, rounds)
        store.write_plan(plan)
        n = exp.fixed_replications or exp.until.min  # type: ignore[union-attr]
        while True:
            plan["replications"]["n"] = n
            rounds.run([_task(exp, v, r, plan["warmup"]["hours"]) for v in exp.variants for r in range(n)])
            if exp.until is None:
                break
            decision = _decide(exp, store, plan, n)
            plan["replications"].update(decision)
            store.write_plan(plan)
            if decision["done"] or n >= exp.until.max:
                break
            n = min(exp.until.max, max(n + 1, decision["needed"]))
    plan["replications"]["capped"] = exp.until is not None and not plan["replications"].get("done")
    store.write_plan(plan)
    summary = summarise(store, plan)
    write_summary(store, summary)
    log.info("experiment_finished", ok=summary["tasks"]["ok"], failed=len(summary["tasks"]["failed"]))
    return summary


def _previous_sessions(store: Store) -> list[dict[str, Any]]:
    try:
        sessions = store.read_plan().get("sessions", [])
    except RunError:  # none yet, or unreadable: this run writes a new plan
        return []
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def initial_plan(exp: Experiment, sessions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    until = exp.until
    return {
        "experiment": exp.name,
        "description": exp.spec.description,
        "question": exp.spec.question,
        "file": str(exp.file),
        "base": str(exp.base_file),
        "seed": exp.seed,
        "level": exp.spec.level,
        "baseline": exp.baseline,
        "report": exp.report,
        "questions": [q.model_dump(exclude_defaults=True) for q in exp.spec.questions],
        "variants": [{"name": v.name, "config_hash": v.config_hash, "overrides": v.overrides,
                      "config_file": str(exp.config_file(v.name))} for v in exp.variants],
        "warmup": {"method": "mser5" if exp.mser else "fixed" if exp.warmup_h else "none", "hours": exp.warmup_h},
        "replications": {"method": "fixed", "n": exp.fixed_replications} if until is None else
        {"method": "hoad_robinson_davies", "n": until.min, "min": until.min, "max": until.max,
         "precision": until.precision, "kpis": until.kpis, "lookahead": until.lookahead},
        "environment": environment_info(),
        "sessions": sessions or [],  # the code of every run that computed tasks (see summary.notes)
    }


class _Rounds:
    """Runs the unfinished tasks of a round and writes each record as it arrives."""

    def __init__(self, store: Store, executor: Any, progress: Progress | None, log: Any, plan: dict[str, Any]):
        self.store, self.executor, self.progress, self.log, self.plan = store, executor, progress, log, plan
        self.finished, self.stale = store.finished()
        self.session: dict[str, Any] | None = None
        self.ran: set[str] = set()  # keys this run has run, or found done by an earlier run

    def run(self, tasks: list[Task]) -> None:
        unique = list({t.key: t for t in tasks}.values())
        todo = [t for t in unique if t.key not in self.finished and t.key not in self.ran]  # failed: next run
        earlier = [t.key for t in unique if t.key in self.finished and t.key not in self.ran]  # by earlier runs
        self.ran.update(t.key for t in todo)
        self.ran.update(earlier)  # counted once
        stale = sum(t.key in self.stale for t in todo)
        if self.progress is not None:
            self.progress.add(len(todo), len(earlier), stale)
        if stale:
            self.log.warning("stale_tasks_rerun", tasks=stale, code=code_fingerprint())
        self.log.info("round_started", tasks=len(unique), to_run=len(todo), done_earlier=len(earlier))
        if todo and self.session is None:  # recorded before any task of this run is written
            self.session = {"code": code_fingerprint(), "executor": self.executor.description}
            self.plan["sessions"].append(self.session)
            self.store.write_plan(self.plan)
        started = time.perf_counter()
        self.executor.run(todo, self._on_result)
        self.log.info("round_finished", tasks=len(todo), seconds=round(time.perf_counter() - started, 2))

    def _on_result(self, record: dict[str, Any]) -> None:
        self.store.write(record)
        if record["status"] == "ok":
            self.finished.add(record["key"])
            self.log.debug("task_finished", key=record["key"], replication=record["replication"])
        else:
            self.log.warning("task_failed", key=record["key"], replication=record["replication"],
                             error=record.get("error"))
        if self.progress is not None:
            self.progress.advance(record)


def _task(exp: Experiment, variant: Any, replication: int, warmup_h: float) -> Task:
    key = replication_key(variant.config_hash, exp.seed, replication, warmup_h)
    return Task(key, REPLICATION, variant.data, variant.config_hash, exp.seed, replication, warmup_h=warmup_h)


def _warmup(exp: Experiment, rounds: _Rounds) -> dict[str, Any]:
    if exp.mser is None:
        return {"method": "fixed" if exp.warmup_h else "none", "hours": float(exp.warmup_h or 0.0)}
    every_h, column = float(exp.mser.every), exp.mser.mser5
    tasks = {v.name: [Task(pilot_key(v.config_hash, exp.seed, r, column, every_h), PILOT, v.data, v.config_hash,
                           exp.seed, r, series=column, every_h=every_h) for r in range(exp.mser.pilot)]
             for v in exp.variants}
    rounds.run([t for ts in tasks.values() for t in ts])
    series: dict[str, list[list[float]]] = {}
    for name, ts in tasks.items():
        records = [rounds.store.read(t.key) for t in ts]
        good = [r["series"] for r in records if r is not None and r.get("status") == "ok"]
        if not good:
            errors = "; ".join(sorted({str(r.get("error")) for r in records if r is not None}))
            raise RunError(f"warm-up pilot runs of variant {name!r} failed: {errors}")
        series[name] = good
    horizon = min(float(v.cfg.time.horizon) for v in exp.variants)
    return {**choose_warmup(series, every_h, horizon), "series": column}


def _decide(exp: Experiment, store: Store, plan: dict[str, Any], n: int) -> dict[str, Any]:
    """The replications algorithm over every listed KPI of every variant: done when all are done."""
    until = exp.until
    assert until is not None
    sequences: dict[str, dict[str, Any]] = {}
    done, needed = True, n + 1
    solutions: list[int] = []
    for variant in plan["variants"]:
        records = variant_values(store, plan, variant)
        rows = [records[r]["kpis"] for r in sorted(records) if records[r].get("status") == "ok"]
        sequences[variant["name"]] = {}
        for kpi in until.kpis:
            result = replications_algorithm([row.get(kpi, float("nan")) for row in rows], until.precision,
                                            until.min, until.lookahead, exp.spec.level)
            sequences[variant["name"]][kpi] = {"done": result.done, "n_solution": result.n_solution,
                                               "precision": result.precision}
            done = done and result.done
            if result.done:
                assert result.n_solution is not None  # done: the precision held from n_solution on
                solutions.append(result.n_solution)
            else:
                needed = max(needed, result.needed)
    return {"done": done, "needed": needed, "n_solution": max(solutions) if done and solutions else None,
            "sequences": sequences}
