"""The STRESS-DES checklist (Monks et al. 2018), filled from the manifest, the config and the study.

Monks T, Currie CSM, Onggo BS, Robinson S, Kunc M, Taylor SJE. Strengthening
the reporting of empirical simulation studies: Introducing the STRESS
guidelines. Journal of Simulation 13(1), 2019 (online 2018).
"""

from __future__ import annotations

import collections
from typing import Any

from routing_sim.jsonio import flatten
from routing_sim.report.comments import Parameter
from routing_sim.report.page import shown_path
from routing_sim.report.study import Study

Row = tuple[str, str, str]  # (item, title, text)


def config_differences(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """``path: old -> new`` for every value that differs between two resolved configs (seed left out)."""
    a = {k: v for k, v in _leaves(base).items() if k != "seed"}
    b = {k: v for k, v in _leaves(other).items() if k != "seed"}
    return [f"{k}: {a.get(k, '-')} -> {b.get(k, '-')}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _leaves(value, f"{prefix}{key}.").items()}
    if isinstance(tree, list) and any(isinstance(x, (dict, list)) for x in tree):
        return {k: v for i, value in enumerate(tree) for k, v in _leaves(value, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): tree}


def stress_rows(study: Study, parameters: list[Parameter], headers: list[tuple[str, str]]) -> list[Row]:
    return objectives(study) + logic(study) + data(parameters, headers) + experimentation(study) + \
        implementation(study) + [("6.1", "Computer model sharing statement", _sharing(study))]


def objectives(study: Study) -> list[Row]:
    cfg = study.base.cfg
    n = study.replications
    ci = ("95 % confidence intervals are Student t intervals over independent replications, mean +/- "
          "t(0.975, n-1) s / sqrt(n) (routing_sim.stats.t_interval); differences against the baseline are paired "
          "by seed and replication (common random numbers) and get their own t interval."
          if n > 1 else "One replication: values are single realisations; confidence intervals need replications.")
    aims = ("Compare variants " + ", ".join(v.name for v in study.variants) + f" against the baseline {study.baseline}."
            if len(study.variants) > 1 else "Estimate the KPIs of one configuration (no variants compared).")
    outputs = (f"Per replication (kpis.json): waits per stage (mean, p50, p90, p99); {len(cfg.deadlines)} deadlines "
               "(share within target, percentiles, overdue work pending at the horizon counted as missed); backlogs; "
               f"utilisation of {len(cfg.pools)} pools; {len(cfg.tallies)} tallies of decisions; staff cost; the "
               "conservation table. Time series of queue lengths and staff on a fixed grid. " + ci)
    purpose = study.question or cfg.question or cfg.description or cfg.name
    if study.questions:
        purpose += " Questions answered (section 'Questions and answers'): " + " ".join(
            f"{i}. {q.ask} ({q.kpi})" for i, q in enumerate(study.questions, start=1))
    return [("1.1", "Purpose of the model", purpose),
            ("1.2", "Model outputs", outputs), ("1.3", "Experimentation aims", aims)]


def logic(study: Study) -> list[Row]:
    cfg = study.base.cfg
    scenario = [f"{v.name}: " + (", ".join(config_differences(study.base.resolved, v.resolved)[:20]) or "no change")
                for v in study.variants if v is not study.base]
    kinds = "; ".join(f"{k} ({', '.join(kind.attributes) or 'no attributes'})" for k, kind in cfg.kinds.items())
    pools = "; ".join(f"{p}: {pool.headcount} staff, calendar {pool.calendar.type}" for p, pool in cfg.pools.items())
    queues = "; ".join(f"{s}: " + (" then ".join(",".join(f"{a}={v}" for a, v in r.items()) for r in st.priority)
                                   + " then " if st.priority else "") + "first come, first served"
                       for s, st in cfg.stages.items() if st.pool)
    dists = sorted({_dist_name(st.service) for st in cfg.stages.values()})
    return [
        ("2.1", "Base model overview diagram", "See the section 'Process diagram' (drawn from the config)."),
        ("2.2", "Base model logic", "Entities arrive from sources, draw their attributes, and visit stages in turn; "
         "a staffed stage serves them with the pool's on-duty staff (one queue per priority class, FIFO within a "
         "class), an unstaffed stage is a pure delay; decisions set attributes with probabilities conditional on "
         "attributes; ordered routing rules pick the next stage or an outcome; spawns create linked entities after "
         "a delay. See 'Process logic'."),
        ("2.3", "Scenario logic", "; ".join(scenario) if scenario else "No scenarios: one configuration."),
        ("2.4", "Algorithms", "Arrivals: non-homogeneous Poisson processes with a piecewise-constant hourly "
         "intensity, sampled exactly by inverting the cumulative intensity. Service and delay distributions used: "
         f"{', '.join(dists)}. Categorical draws (attributes, decisions, routing) by inverse CDF of one uniform."),
        ("2.5.1", "Entities", kinds),
        ("2.5.2", "Activities", f"{len(cfg.stages)} stages; see 'Process logic' for service times."),
        ("2.5.3", "Resources", pools or "none (no staffed stage)"),
        ("2.5.4", "Queues", queues or "none"),
        ("2.5.5", "Entry/exit points", "Entry: " + ", ".join(f"{n} ({s.rate} -> {s.to})" for n, s in
                                                          cfg.sources.items()) + ". Exit: " + ", ".join(cfg.outcomes)),
    ]


def _dist_name(service: Any) -> str:
    cases = getattr(service, "cases", None)
    if cases:
        return "/".join(sorted({getattr(d, "dist", "?") for d in cases.values()}))
    return getattr(service, "dist", type(service).__name__)


def data(parameters: list[Parameter], headers: list[tuple[str, str]]) -> list[Row]:
    counts = collections.Counter(p.source_kind for p in parameters)
    sources = (f"{len(parameters)} parameters: {counts['reference']} cite a reference (a row of the project's "
               f"reference data, primary P, secondary S or derived D), {counts['assumption']} are stated "
               f"assumptions, {counts['other']} have another comment, {counts['none']} have none (mostly "
               "structure: names, routing targets, conditions).") if parameters else \
        "The config file is not available: sources could not be read from its comments."
    notes = " ".join(text.replace("\n", " ") for _, text in headers if text)
    return [("3.1", "Data sources", sources),
            ("3.2", "Pre-processing", "Derived values (D) are computed by hand from the cited rows; the comment "
             "beside each value shows the computation. No data are read at run time."),
            ("3.3", "Input parameters", "Every parameter with its value and source: see 'Assumptions'."),
            ("3.4", "Assumptions", notes or "See the 'assumption:' comments in the 'Assumptions' table.")]


def experimentation(study: Study) -> list[Row]:
    cfg = study.base.cfg
    init = ("Empty and idle at time 0 (no entities, staff per calendar); " +
            (f"the first {study.warmup_h / 24:g} days are a warm-up, removed from the KPIs." if study.warmup_h else
             "no warm-up is removed: the results describe the period from the start date, start-up included."))
    seeds = sorted({r.key for v in study.variants for r in v.runs})
    n = study.replications
    why = (f"{n} replications per variant (seeds and replications {', '.join(f'{s}/{r}' for s, r in seeds[:12])}"
           f"{' ...' if len(seeds) > 12 else ''}), independent streams per replication; paired across variants."
           if n > 1 else f"One replication (seed {seeds[0][0]}): enough to look at the dynamics; run more seeds "
           "(or an experiment) to get confidence intervals.")
    return [("4.1", "Initialisation", init),
            ("4.2", "Run length", f"{cfg.time.horizon} from {cfg.time.start}; time series every "
             f"{cfg.time.timeseries_step}. The system is terminating (a calendar period), not steady state."),
            ("4.3", "Estimation approach", why)]


def implementation(study: Study) -> list[Row]:
    run = study.first_run
    env = run.manifest.get("environment", {})
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())
    software = (f"Python {env.get('python')}; routing-sim {env.get('routing_sim')} (git {env.get('git_revision')}); "
                f"{packages}.")
    names = run.manifest.get("streams") or []
    sampling = ("Counter-based: every draw is a pure function of (root seed, replication, stream, entity id, "
                "draw number), SplitMix64 hashed to a uniform strictly inside (0, 1); a spawned entity's id derives "
                "from its parent's. Draws do not depend on event order or on the executor, and adding a stage or "
                "changing staffing leaves every other draw unchanged (common random numbers). "
                + (f"{len(names)} named streams: " + ", ".join(names) + "." if names else
                   "The stream names are recorded in each run folder's manifest."))
    timing = [f"{v.name} seed {r.key[0]}: {r.manifest.get('wall_time_s')} s wall, "
              f"{r.manifest.get('simulation_seconds')} s simulating, "
              f"{flatten(r.manifest.get('counts', {})).get('events', 0):,.0f} events, started "
              f"{r.manifest.get('started_utc')}"
              for v in study.variants for r in v.runs if r.manifest.get("wall_time_s") is not None][:12]
    return [("5.1", "Software or programming language", software),
            ("5.2", "Random sampling", sampling),
            ("5.3", "Model execution", "Discrete-event simulation. The rules (durations, decisions, routes, "
             "spawns) are evaluated ahead for each period's arrivals; an executor then finds the times: SimPy's "
             "event queue (the reference, any process) or, where the pools form an acyclic graph, one compiled loop "
             "per pool in topological order; both give the same records. " + _executors(study) + " Records are "
             "written in columnar batches and the KPIs computed from them after the run. "
             + ("Runs: " + "; ".join(timing) + "." if timing else "Task records hold no run times (by design, so "
                                                                    "that the same results give the same bytes).")),
            ("5.4", "System specification", f"{env.get('platform')}, {env.get('machine')}, {env.get('cpus')} CPUs.")]


def _executors(study: Study) -> str:
    """Which executor ran, as the run manifests say."""
    ran = collections.Counter(
        f"{r.manifest['engine'].get('executor')} ({r.manifest['engine'].get('why')})"
        for v in study.variants for r in v.runs if isinstance(r.manifest.get("engine"), dict))
    if not ran:
        return "The executor is recorded in each run folder's manifest."
    return "Executor: " + "; ".join(f"{name}, {n} run(s)" for name, n in sorted(ran.items())) + "."


def _sharing(study: Study) -> str:
    run = study.first_run
    env = run.manifest.get("environment", {})
    config = shown_path(run.manifest.get("experiment_file") or run.manifest.get("config_file") or "<config>")
    return (f"routing-sim {env.get('routing_sim')}, git revision {env.get('git_revision')}. Reproduce a run with "
            f"'routing-sim run {config} --seed {run.key[0]}' (same config and seed give the same bytes); the "
            "resolved config is stored beside the results as config.resolved.yaml.")
