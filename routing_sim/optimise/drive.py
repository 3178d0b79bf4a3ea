"""``optimise`` over a config (one optimum) or an experiment's variants (one optimum each)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from routing_sim.errors import ConfigError, Problem
from routing_sim.experiments.executors import executor_for
from routing_sim.experiments.spec import is_experiment_file
from routing_sim.experiments.store import Store
from routing_sim.model.splits import headcount_paths
from routing_sim.optimise.evaluate import Evaluator, Point, base_data
from routing_sim.optimise.search import Search, Target
from routing_sim.runfolder import environment_info, safe_child, write_json
from routing_sim.units import parse_duration

CACHE = "search"  # results/<name>/search/tasks/*.json: task records shared by optimise and sensitivity


def load_cases(path: Path, overrides: Point, seed: int | None) -> tuple[str, int, float, list[tuple[str, dict]]]:
    """(name, root seed, warm-up hours, [(variant name, config data)]) of a config or an experiment file."""
    from routing_sim.experiments.resolve import load_experiment

    if is_experiment_file(path):
        exp = load_experiment(path, seed=seed)
        if exp.warmup_h is None:
            raise ConfigError([Problem(str(path), ("warmup",),
                                       "optimise: give a fixed warm-up (MSER-5 is not supported)")])
        cases = [(v.name, _with(v.data, overrides)) for v in exp.variants]
        return exp.name, exp.seed, float(exp.warmup_h), cases
    from routing_sim.loader import validate_data

    data = _with(base_data(path), overrides)
    cfg = validate_data(data, source=str(path))
    return cfg.name, cfg.seed if seed is None else seed, 0.0, [("base", data)]


def _with(data: dict, overrides: Point) -> dict:
    from routing_sim.experiments.resolve import with_overrides

    return with_overrides(data, overrides)


def headcount_limits(spec: list[str] | None, pools: list[str], base: dict[str, int], factor: float,
                     floor: int) -> dict[str, int]:
    """``--max-headcount 60`` (every pool) or ``reviewers=60`` (repeat); default ``factor`` x base."""
    out = {p: max(floor, int(math.ceil(base[p] * factor))) for p in pools}
    for item in spec or []:
        name, sep, value = item.rpartition("=")
        if not value.isdigit():
            raise ConfigError([Problem("<command line>", (), f"headcount limit {item!r}: write N or POOL=N")])
        for p in ([name] if sep else pools):
            if p not in out:
                raise ConfigError([Problem("<command line>", (), f"headcount limit {item!r}: no pool {p!r} chosen")])
            out[p] = int(value)
    return out


def optimise_file(path: Path, targets: list[Target], pools: list[str], *, results: Path = Path("results"),
                  overrides: Point | None = None, seed: int | None = None, workers: int = 1, dask: Any = None,
                  max_headcount: list[str] | None = None, min_headcount: list[str] | None = None,
                  warmup: str | None = None, n0: int = 5, cap: int = 40, level: float = 0.95,
                  load_bound: bool = True) -> dict[str, Any]:
    from routing_sim.experiments.tasks import kpi_names
    from routing_sim.loader import validate_data

    name, root_seed, warmup_h, cases = load_cases(path, overrides or {}, seed)
    if warmup is not None:
        warmup_h = parse_duration(warmup)
    store = Store(safe_child(results, name, CACHE)).open()
    out: dict[str, Any] = {"file": str(path), "name": name, "seed": root_seed, "warmup_h": warmup_h,
                           "overrides": overrides or {}, "targets": [str(t) for t in targets], "pools": pools,
                           "replications": {"min": n0, "cap": cap}, "level": level, "variants": {},
                           "environment": environment_info()}
    with executor_for(workers, dask) as executor:
        for variant, data in cases:
            cfg = validate_data(data, source=f"{path} [{variant}]")
            unknown = [p for p in pools if p not in cfg.pools]
            if unknown:
                known_pools = ", ".join(cfg.pools)
                raise ConfigError([Problem(str(path), ("pools",), f"no pool {unknown[0]!r} (pools: {known_pools})")])
            known = kpi_names(cfg)
            missing = [t.kpi for t in targets if t.kpi not in known]
            if missing:
                raise ConfigError([Problem("<command line>", (), f"--target: unknown KPI {missing[0]!r}")])
            base = {p: cfg.pools[p].staff for p in pools}
            costs = {p: float(cfg.pools[p].cost_per_fte_year) for p in pools}
            basis = "cost_per_fte_year"
            if not any(costs.values()):
                costs, basis = {p: 1.0 for p in pools}, "headcount (every cost is 0)"
            high = headcount_limits(max_headcount, pools, base, 3.0, 1)
            low = headcount_limits(min_headcount, pools, base, 0.0, 1)
            ev = Evaluator(data, root_seed, executor, store, warmup_h)
            search = Search(ev, pools, targets, costs, level, n0, cap, batch=max(1, workers),
                            paths=headcount_paths(cfg))
            result = search.run(low, high, load_bound)
            result.update(cost_basis=basis, cost_per_unit=costs, base_headcount=base,
                          base_cost=float(sum(base[p] * costs[p] for p in pools)), tasks_run=ev.tasks_run)
            out["variants"][variant] = result
    folder = safe_child(results, name)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "optimise.json", out)
    return out


def plan_file(path: Path, targets: list[Target], pools: list[str], per: str, *, results: Path = Path("results"),
              overrides: Point | None = None, seed: int | None = None, workers: int = 1, dask: Any = None,
              max_headcount: list[str] | None = None, min_headcount: list[str] | None = None,
              max_hires: list[str] | None = None, max_leavers: list[str] | None = None,
              headcount_before: list[str] | None = None, warmup: str | None = None, n0: int = 5, cap: int = 40,
              level: float = 0.95, load_bound: bool = True, command: str = "") -> dict[str, Any]:
    """A staffing plan per year or quarter (:mod:`routing_sim.optimise.plan`) of a config, or of each
    variant of an experiment; writes plan.json and the schedule block(s) plan.yaml."""
    import datetime as dt
    import time

    from routing_sim.experiments.tasks import kpi_names
    from routing_sim.loader import validate_data
    from routing_sim.optimise.plan import limits, periods, plan_search, schedule_block, schedule_yaml

    began = time.monotonic()
    name, root_seed, warmup_h, cases = load_cases(path, overrides or {}, seed)
    if warmup is not None:
        warmup_h = parse_duration(warmup)
    hires, leavers = limits(max_hires, pools, "--max-hires"), limits(max_leavers, pools, "--max-leavers")
    before = limits(headcount_before, pools, "--headcount-before") or None
    if before is not None and set(before) != set(pools):
        absent = ", ".join(p for p in pools if p not in before)
        raise ConfigError([Problem("<command line>", (), f"--headcount-before: give every chosen pool (missing: {absent})")])
    store = Store(safe_child(results, name, CACHE)).open()
    out: dict[str, Any] = {"file": str(path), "name": name, "seed": root_seed, "per": per, "warmup_h": warmup_h,
                           "overrides": overrides or {}, "targets": [str(t) for t in targets], "pools": pools,
                           "max_hires": hires, "max_leavers": leavers, "headcount_before": before,
                           "replications": {"min": n0, "cap": cap}, "level": level, "command": command,
                           "date": dt.date.today().isoformat(), "variants": {}, "environment": environment_info()}
    folder = safe_child(results, name)
    with executor_for(workers, dask) as executor:
        for variant, data in cases:
            source = f"{path} [{variant}]" if variant != "base" else str(path)
            cfg = validate_data(data, source=source)
            split = headcount_paths(cfg)
            for p in pools:
                raw = (data.get("pools") or {}).get(p)
                if isinstance(raw, dict) and raw.get("by") is not None or p in split:
                    whole = p if p not in split else split[p].split(".")[1]
                    raise ConfigError([Problem(source, ("pools", whole), (
                        f"--pools {p}: a plan sets the headcount of ordinary pools only, and {whole!r} is split by "
                        f"{cfg.splits[whole].by!r}; leave it out of --pools (its headcounts stay as configured)"))])
                if p not in cfg.pools:
                    known_pools = ", ".join(q for q in cfg.pools if q not in split)
                    raise ConfigError([Problem(source, ("pools",), f"no pool {p!r} (pools: {known_pools})")])
            known = kpi_names(cfg)
            missing = [t.kpi for t in targets if t.kpi not in known]
            if missing:
                raise ConfigError([Problem("<command line>", (), f"--target: unknown KPI {missing[0]!r}")])
            spans = periods(cfg.time.start, float(cfg.time.horizon), per)
            costs = {p: float(cfg.pools[p].cost_per_fte_year) for p in pools}
            basis = "cost_per_fte_year"
            if not any(costs.values()):
                costs, basis = {p: 1.0 for p in pools}, "headcount (every cost is 0)"
            base = {p: max([cfg.pools[p].staff] + [c.staff for c in cfg.pools[p].schedule]) for p in pools}
            result = plan_search(data, pools, targets, costs, spans, seed=root_seed, executor=executor, store=store,
                                 least=headcount_limits(min_headcount, pools, base, 0.0, 1),
                                 most=headcount_limits(max_headcount, pools, base, 3.0, 1), hires=hires,
                                 leavers=leavers, before=before, warmup_h=warmup_h, level=level, n0=n0, cap=cap,
                                 batch=max(1, workers), load_bound=load_bound)
            block = schedule_block(pools, spans, result["plan"])
            missed = [r["period"] for r in result["periods"] if r["status"] != "optimum"]
            limit = "; ".join(f"{p}: at most {hires.get(p, 'any')} hired and "
                              f"{leavers.get(p, 'any')} leaving a {per}" for p in pools)
            header = [f"Staffing plan of {name}{'' if variant == 'base' else f' [{variant}]'} per {per}, "
                      f"from routing-sim optimise on {out['date']}",
                      *([f"command: {command}"] if command else []),
                      f"targets, each period judged on its own KPIs, all holding with {level:.0%} joint confidence: "
                      f"{'; '.join(str(t) for t in targets)}",
                      f"replications: {n0} per candidate, doubled to at most {cap} while undecided; root seed {root_seed}",
                      f"hiring limits: {limit}",
                      "periods whose targets are missed within the hiring limit: "
                      f"{', '.join(missed) if missed else 'none'}"]
            text = schedule_yaml(block, header)
            folder.mkdir(parents=True, exist_ok=True)
            snippet = "plan.yaml" if variant == "base" else f"plan-{variant}.yaml"
            (folder / snippet).write_text(text, encoding="utf-8")
            result.update(cost_basis=basis, cost_per_unit=costs, schedule_yaml=snippet, schedule=text,
                          periods_missed=missed)
            out["variants"][variant] = result
    out["elapsed_s"] = round(time.monotonic() - began, 1)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "plan.json", out)
    return out


def sensitivity_file(path: Path, kpi: str, params: list[str], *, results: Path = Path("results"),
                     overrides: Point | None = None, seed: int | None = None, workers: int = 1, dask: Any = None,
                     replications: int = 3, trajectories: int = 10, levels: int = 4, morris_seed: int = 0,
                     methods: tuple[str, ...] = ("oat", "morris"), warmup: str | None = None,
                     samples: int = 64) -> dict[str, Any]:
    """One-at-a-time (tornado), Morris and Sobol' for one KPI of a config; writes sensitivity.json,
    tornado.png and sobol.png."""
    from routing_sim.experiments.tasks import kpi_names
    from routing_sim.loader import validate_data
    from routing_sim.optimise.sensitivity import morris, one_at_a_time, parse_param, sobol, sobol_png, tornado_png

    name, root_seed, warmup_h, cases = load_cases(path, overrides or {}, seed)
    if len(cases) != 1:
        raise ConfigError([Problem(str(path), (), "sensitivity: give a process config, not an experiment")])
    data = cases[0][1]
    if warmup is not None:
        warmup_h = parse_duration(warmup)
    parsed = [parse_param(p) for p in params]
    cfg = validate_data(data, source=str(path))
    if kpi not in kpi_names(cfg):
        raise ConfigError([Problem("<command line>", (), f"--kpi: unknown KPI {kpi!r}")])
    store = Store(safe_child(results, name, CACHE)).open()
    out: dict[str, Any] = {"file": str(path), "name": name, "seed": root_seed, "warmup_h": warmup_h,
                           "overrides": overrides or {}, "kpi": kpi,
                           "params": [{"path": p.path, "low": p.text(0.0), "high": p.text(1.0)} for p in parsed]}
    with executor_for(workers, dask) as executor:
        ev = Evaluator(data, root_seed, executor, store, warmup_h)
        for p in parsed:  # fail early, on the driver, for a path or value the config rejects
            ev.variant({p.path: p.value(0.0)}), ev.variant({p.path: p.value(1.0)})
        if "oat" in methods:
            out["one_at_a_time"] = one_at_a_time(ev, parsed, kpi, replications)
        if "morris" in methods:
            out["morris"] = morris(ev, parsed, kpi, replications, trajectories, levels, morris_seed)
        if "sobol" in methods:
            out["sobol"] = sobol(ev, parsed, kpi, replications, samples, morris_seed)
        out["tasks_run"] = ev.tasks_run
    folder = safe_child(results, name)
    folder.mkdir(parents=True, exist_ok=True)
    for key, name, draw in (("one_at_a_time", "tornado.png", tornado_png), ("sobol", "sobol.png", sobol_png)):
        if key in out:
            tmp = folder / f".{name}.tmp-{os.getpid()}"
            tmp.write_bytes(draw(out[key]))
            tmp.replace(folder / name)
            out[name.replace(".", "_")] = name
    write_json(folder / "sensitivity.json", out)
    return out
