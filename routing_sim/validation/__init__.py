"""Validation of the engine against queueing theory, and the report ``docs/validation.md``.

Regenerate the report (about a minute on two cores)::

    .venv/bin/python -m routing_sim.validation --out docs/validation.md

What is here:

- the formulas (pure functions; rates per hour, times in hours): Erlang C for
  M/M/c, Pollaczek-Khinchine for M/G/1, Cobham for non-preemptive priority
  M/G/1, the traffic equations of an open Jackson network;
- the textbook systems of ``configs/textbook/`` and, for each, the theory read
  from the config itself (rates, means, headcounts, routing probabilities), so
  the numbers live in one place, the config;
- replications with a warm-up and a cool-down window, and Student t intervals
  over the replication means;
- Little's law ``L = lambda W`` at every stage of a pipeline, from the records
  and from the time series.

``tests/test_validation.py`` calls the same functions with the same settings,
so the report shows exactly what the test suite checks.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from routing_sim.model.distributions import ByAttribute, Exponential
from routing_sim.model.process import Always, ProcessConfig
from routing_sim.stats import t_interval
from routing_sim.units import parse_duration, parse_rate
from routing_sim.validation.formulas import (  # noqa: F401  (the callers still find them here)
    cobham_waits,
    erlang_c,
    mmc_wait,
    pollaczek_khinchine_wait,
    second_moment,
    traffic_equations,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
TEXTBOOK = CONFIGS / "textbook"
EU_CONFIG = CONFIGS / "eu-centre-2019.yaml"

TEST_LEVEL = 0.99
"""The tests require theory inside the 99 % interval (several measures are checked at once)."""


# --------------------------------------------------------------------------- theory read from a config


@dataclass(frozen=True)
class Measure:
    """A mean wait predicted by theory: at ``stage``, optionally only for entities with ``attribute = value``."""

    label: str
    stage: str
    theory_h: float
    attribute: str | None = None
    value: str | None = None


def _poisson_rate(cfg: ProcessConfig, name: str) -> float:
    src = cfg.sources[name]
    plain = all(getattr(src, f, None) in (None, 0.0, {}, []) for f in
                ("growth_per_year", "weekly", "daily", "duplicates", "batches", "counts"))
    if not plain or getattr(cfg, "shocks", None) or getattr(cfg, "steps", None):
        raise ValueError(f"source {name!r} is not a homogeneous Poisson stream")
    return parse_rate(src.rate)


def _one_route(cfg: ProcessConfig, stage: str) -> dict[str, float]:
    rules = cfg.stages[stage].next
    if len(rules) != 1 or rules[0].when is not None:
        raise ValueError(f"stage {stage!r}: theory needs one unconditional routing rule")
    to = rules[0].to
    return {to: 1.0} if isinstance(to, str) else dict(to)


def _servers(cfg: ProcessConfig, stage: str) -> int:
    pool = cfg.pools[cfg.stages[stage].pool]
    if not isinstance(pool.calendar, Always) or getattr(pool, "schedule", None) or getattr(pool, "absence", 0.0):
        raise ValueError(f"stage {stage!r}: theory needs a pool that is always on duty")
    users = [s for s, st in cfg.stages.items() if st.pool == cfg.stages[stage].pool]
    if users != [stage]:
        raise ValueError(f"pool of stage {stage!r} also serves {users}")
    return pool.headcount


def jackson_measures(cfg: ProcessConfig) -> list[Measure]:
    """Open Jackson network (M/M/1 and M/M/c are one-station cases): solve the traffic
    equations, then each station is an M/M/c queue with its total arrival rate."""
    external: dict[str, float] = {}
    for name, src in cfg.sources.items():
        external[src.to] = external.get(src.to, 0.0) + _poisson_rate(cfg, name)
    routing = {s: _one_route(cfg, s) for s in cfg.stages}
    lam = traffic_equations(external, routing)
    out = []
    for s, stage in cfg.stages.items():
        if not isinstance(stage.service, Exponential) or stage.priority:
            raise ValueError(f"stage {s!r}: Jackson theory needs exponential FCFS service")
        mean = parse_duration(stage.service.mean)
        out.append(Measure(f"Wq at {s}", s, mmc_wait(lam[s], mean, _servers(cfg, s))))
    return out


def mg1_measures(cfg: ProcessConfig) -> list[Measure]:
    """One M/G/1 station fed by one Poisson source (Pollaczek-Khinchine)."""
    (src_name, src), = cfg.sources.items()
    (s, stage), = cfg.stages.items()
    if _servers(cfg, s) != 1 or isinstance(stage.service, ByAttribute):
        raise ValueError("P-K theory needs one server and one service distribution")
    lam = _poisson_rate(cfg, src_name)
    return [Measure(f"Wq at {s}", s, pollaczek_khinchine_wait(lam, stage.service.mean_hours,
                                                               second_moment(stage.service)))]


def priority_measures(cfg: ProcessConfig) -> list[Measure]:
    """One server, classes given by the stage's ``priority`` rules on one attribute drawn at
    arrival with fixed probabilities; the last class is every other value (Cobham)."""
    (src_name, src), = cfg.sources.items()
    (s, stage), = cfg.stages.items()
    if _servers(cfg, s) != 1:
        raise ValueError("Cobham theory here needs one server")
    attributes = {a for rule in stage.priority for a in rule}
    if len(attributes) != 1 or any(len(rule) != 1 for rule in stage.priority):
        raise ValueError("priority rules must each test the same one attribute")
    (attribute,) = attributes
    draw = cfg.kinds[src.kind].attributes[attribute]
    override = src.attributes.get(attribute)
    probs = (override or draw).p
    if probs is None:
        raise ValueError(f"attribute {attribute!r} must be drawn with fixed probabilities 'p'")
    lam = _poisson_rate(cfg, src_name)
    values = list(cfg.attributes[attribute])
    classes: list[list[str]] = []
    for rule in stage.priority:
        wanted = rule[attribute]
        classes.append([wanted] if isinstance(wanted, str) else list(wanted))
    rest = [v for v in values if not any(v in c for c in classes)]
    classes.append(rest)

    def dist_of(value: str) -> object:
        service = stage.service
        if isinstance(service, ByAttribute):
            if service.by != attribute:
                raise ValueError("service may only depend on the priority attribute")
            return service.cases.get(value, service.default)
        return service

    lams, means, m2s = [], [], []
    for cls in classes:
        rates = [lam * probs.get(v, 0.0) for v in cls]
        total = sum(rates)
        lams.append(total)
        if total == 0:
            means.append(0.0)
            m2s.append(0.0)
            continue
        means.append(sum(r * dist_of(v).mean_hours for r, v in zip(rates, cls)) / total)
        m2s.append(sum(r * second_moment(dist_of(v)) for r, v in zip(rates, cls)) / total)
    waits = cobham_waits(lams, means, m2s)
    out = []
    for cls, w, lam_k in zip(classes, waits, lams):
        if lam_k > 0 and len(cls) == 1:
            out.append(Measure(f"Wq of class {cls[0]}", s, w, attribute, cls[0]))
    overall = sum(lk * w for lk, w in zip(lams, waits)) / lam
    out.append(Measure("Wq, all classes", s, overall))
    return out


# --------------------------------------------------------------------------- the textbook systems


@dataclass(frozen=True)
class System:
    key: str
    title: str
    config: str
    theory: Callable[[ProcessConfig], list[Measure]]
    formula: str
    replications: int
    warmup: str = "1d"
    cooldown: str = "6h"
    max_rel_halfwidth: float = 0.1
    """The tests also require the 99 % half-width below this share of theory, so that
    a pass means something."""


SYSTEMS: list[System] = [
    System(
        "mm1", "M/M/1", "mm1.yaml", jackson_measures,
        "Wq = rho / (mu - lambda)  (the one-server case of Erlang C)",
        replications=16,
    ),
    System(
        "mmc", "M/M/c (Erlang C)", "mmc.yaml", jackson_measures,
        "Wq = C(c, a) / (c mu - lambda), a = lambda / mu, "
        "C(c, a) = [a^c / (c! (1 - rho))] / [sum_{k<c} a^k / k! + a^c / (c! (1 - rho))]",
        replications=12, warmup="3d", cooldown="2d", max_rel_halfwidth=0.15,
    ),
    System(
        "mg1", "M/G/1, lognormal service (Pollaczek-Khinchine)", "mg1.yaml", mg1_measures,
        "Wq = lambda E[S^2] / (2 (1 - rho)), E[S^2] = E[S]^2 (1 + cv^2)",
        replications=16, max_rel_halfwidth=0.12,
    ),
    System(
        "priority", "Two-class non-preemptive priority M/M/1 (Cobham)", "priority.yaml", priority_measures,
        "Wq_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k)), W0 = sum_i lambda_i E[S_i^2] / 2, "
        "sigma_k = rho_1 + ... + rho_k",
        replications=16, max_rel_halfwidth=0.12,
    ),
    System(
        "jackson", "Jackson network, three stations with feedback", "jackson.yaml", jackson_measures,
        "lambda = gamma + P^T lambda (traffic equations); then Erlang C at each station with its lambda",
        replications=16, max_rel_halfwidth=0.12,
    ),
]


def system(key: str) -> System:
    return next(s for s in SYSTEMS if s.key == key)


def load_textbook(sys_: System) -> ProcessConfig:
    from routing_sim.loader import load_config

    return load_config(TEXTBOOK / sys_.config)


# --------------------------------------------------------------------------- simulation side


@dataclass
class Estimate:
    """Theory against the replication means of one measure."""

    system: str
    measure: Measure
    means: list[float]
    censored: int = 0
    counted: int = 0

    def interval(self, level: float) -> tuple[float, float, float]:
        return t_interval(self.means, level)

    def covers(self, level: float = TEST_LEVEL) -> bool:
        _, low, high = self.interval(level)
        return low <= self.measure.theory_h <= high

    def rel_halfwidth(self, level: float = TEST_LEVEL) -> float:
        _, low, high = self.interval(level)
        return (high - low) / 2 / self.measure.theory_h


def window_waits(result: object, measure: Measure, warmup_h: float, cooldown_h: float) -> tuple[np.ndarray, int]:
    """Waits of the visits to ``measure.stage`` that entered in [warm-up, horizon - cool-down];
    a visit still waiting at the horizon counts its wait so far (a lower bound), and is counted."""
    v = result.visits
    codes = result.codes
    stage = np.asarray(v.column("stage").to_numpy())
    enter = np.asarray(v.column("enter").to_numpy())
    start = np.asarray(v.column("start").to_numpy())
    horizon = result.summary.horizon
    mask = (stage == codes.stages.index(measure.stage)) & (enter >= warmup_h) & (enter <= horizon - cooldown_h)
    if measure.attribute is not None:
        ents = result.entities
        ids = np.asarray(ents.column("entity").to_numpy())
        attr = np.asarray(ents.column(f"attr.{measure.attribute}").to_numpy())
        by_id = np.argsort(ids)
        wanted = codes.value(measure.attribute, measure.value)
        entity = np.asarray(v.column("entity").to_numpy())
        mask &= attr[by_id[np.searchsorted(ids[by_id], entity)]] == wanted
    started = ~np.isnan(start[mask])
    waits = np.where(started, start[mask] - enter[mask], horizon - enter[mask])
    return waits, int((~started).sum())


def estimate(sys_: System, replications: int | None = None, seed: int | None = None) -> list[Estimate]:
    """Run the system's replications (replication index r = 0, 1, ... of the config's seed)."""
    from routing_sim.api import simulate_config

    cfg = load_textbook(sys_)
    measures = sys_.theory(cfg)
    out = [Estimate(sys_.key, m, []) for m in measures]
    warmup, cooldown = parse_duration(sys_.warmup), parse_duration(sys_.cooldown)
    for r in range(sys_.replications if replications is None else replications):
        result = simulate_config(cfg, seed=seed, replication=r, engine="simpy")
        for est in out:
            waits, censored = window_waits(result, est.measure, warmup, cooldown)
            est.means.append(float(waits.mean()))
            est.censored += censored
            est.counted += waits.size
    return out


# --------------------------------------------------------------------------- Little's law on a pipeline


@dataclass
class LittleRow:
    """Little's law at one stage: from the records, and from the sampled time series."""

    stage: str
    entered: int
    lam_per_h: float
    sojourn_h: float  # mean over every visit, still-open ones counted up to the horizon
    l_records: float  # kpis stages.<s>.mean_inside
    l_series: float  # time average of inside.<stage> over the grid points t < horizon
    tolerance: float  # allowed |l_series - l_records|
    samples: int
    off_grid: int  # grid samples outside the counts the records allow at that time

    @property
    def lam_w(self) -> float:
        return self.lam_per_h * self.sojourn_h


def eu_pipeline(horizon: str = "28d") -> ProcessConfig:
    """The shipped EU Centre config with a shorter horizon."""
    from routing_sim.loader import validate_data
    from routing_sim.yamlio import read_yaml

    data, lines = read_yaml(EU_CONFIG)
    data["time"]["horizon"] = horizon
    return validate_data(data, str(EU_CONFIG), lines)


LITTLE_Z = 4.0
"""Tolerance of the time-series check, in standard errors of the grid average (see below)."""


def littles_law(result: object) -> list[LittleRow]:
    """Little's law at every stage of one replication.

    Records: ``L = mean_inside`` (kpis) must equal ``lambda x W`` with ``lambda`` the
    entries per hour and ``W`` the mean sojourn of every visit, censored visits counted up
    to the horizon. Time series: the grid average of ``inside.<stage>`` estimates the same
    time average from n samples; the tolerance is ``LITTLE_Z x s / sqrt(n)`` with s the
    standard deviation of the samples (the error of n equally spaced samples is no larger
    than that of n samples at random times, whose standard error is s / sqrt(n), for the
    decreasing correlations of a queue length). Each sample is also checked against the
    number of open visits the records give at that time (ties at the sample time allowed).
    """
    kpis = result.kpis["stages"]
    v = result.visits
    codes = result.codes
    stage = np.asarray(v.column("stage").to_numpy())
    enter = np.asarray(v.column("enter").to_numpy())
    end = np.asarray(v.column("end").to_numpy())
    horizon = result.summary.horizon
    ts = result.timeseries
    t = np.asarray(ts.column("t").to_numpy())
    grid = t < horizon - 1e-9
    rows = []
    for i, name in enumerate(codes.stages):
        mask = stage == i
        e, x = enter[mask], end[mask]
        clipped = np.where(np.isnan(x), horizon, x)
        sojourn = float((clipped - e).mean()) if mask.any() else 0.0
        series = np.asarray(ts.column(f"inside.{name}").to_numpy())[grid].astype(float)
        n = series.size
        s = float(series.std(ddof=1)) if n > 1 else 0.0
        ends = np.sort(clipped[~np.isnan(x)])
        enters = np.sort(e)
        lower = np.searchsorted(enters, t[grid], "left") - np.searchsorted(ends, t[grid], "right")
        upper = np.searchsorted(enters, t[grid], "right") - np.searchsorted(ends, t[grid], "left")
        off = int(((series < lower) | (series > upper)).sum())
        k = kpis[name]
        rows.append(LittleRow(
            stage=name,
            entered=k["entered"],
            lam_per_h=k["arrival_rate_per_h"],
            sojourn_h=sojourn,
            l_records=k["mean_inside"],
            l_series=float(series.mean()) if n else 0.0,
            tolerance=LITTLE_Z * s / math.sqrt(n) + 1e-9 if n else math.inf,
            samples=n,
            off_grid=off,
        ))
    return rows


# --------------------------------------------------------------------------- the report


def _fmt(hours: float) -> str:
    return f"{hours * 60:.3f}"


def report(progress: Callable[[str], None] = lambda _: None) -> str:
    """The markdown of docs/validation.md (deterministic: fixed seeds and replication indices)."""
    from routing_sim.api import simulate_config

    lines = [
        "# Validation of routing-sim",
        "",
        "Regenerate this file with",
        "",
        "```sh",
        ".venv/bin/python -m routing_sim.validation --out docs/validation.md",
        "```",
        "",
        "The figures below come from `routing_sim/validation.py`, which the tests "
        "(`tests/test_validation.py`, marker `validation`) call with the same settings. Every "
        "run is deterministic (fixed root seed, replication index r = 0, 1, ...), so the file "
        "only changes when the engine or a config changes. The runs use the reference executor "
        "(SimPy's event queue); the fast executor writes the same tables wherever it applies "
        "(`tests/test_executors.py`), so its figures would be these.",
        "",
        "## 1. Analytic validation against queueing theory",
        "",
        "Each textbook system is a config in `configs/textbook/`, written in the engine's own "
        "vocabulary (every number commented as an assumption). The theory is computed from the "
        "config's own numbers. Each replication gives one mean wait in queue over the visits "
        "that entered after a warm-up and before a cool-down (a visit still waiting at the "
        "horizon counts its wait so far); the interval is the Student t interval over the "
        "replication means. The tests require the theoretical mean inside the **99 %** "
        "interval (several measures are tested at once) and the 99 % half-width below a "
        "stated share of theory, so that a pass is informative. Times are in **minutes**.",
        "",
    ]
    for sys_ in SYSTEMS:
        progress(sys_.key)
        cfg = load_textbook(sys_)
        ests = estimate(sys_)
        lines += [
            f"### {sys_.title}",
            "",
            f"Config `configs/textbook/{sys_.config}`; {sys_.replications} replications of "
            f"{cfg.time.horizon}, warm-up {sys_.warmup}, cool-down {sys_.cooldown}, root seed {cfg.seed}.",
            "",
            f"Formula: `{sys_.formula}`",
            "",
            "| measure | theory | simulated mean | 95 % CI | 99 % CI | in 99 % CI | 99 % half-width / theory |",
            "|---|---:|---:|---|---|:---:|---:|",
        ]
        for est in ests:
            mean, lo95, hi95 = est.interval(0.95)
            _, lo99, hi99 = est.interval(0.99)
            lines.append(
                f"| {est.measure.label} | {_fmt(est.measure.theory_h)} | {_fmt(mean)} | "
                f"[{_fmt(lo95)}, {_fmt(hi95)}] | [{_fmt(lo99)}, {_fmt(hi99)}] | "
                f"{'yes' if est.covers(0.99) else '**no**'} | {est.rel_halfwidth(0.99):.1%} "
                f"(max {sys_.max_rel_halfwidth:.0%}) |"
            )
        visits = max(e.counted for e in ests) // max(1, sys_.replications)
        censored = max(e.censored for e in ests)
        lines += ["", f"Up to {visits:,} visits per replication and measure in the measurement window; "
                      f"{censored} of them still waiting at the horizon.", ""]

    progress("little")
    cfg = eu_pipeline()
    result = simulate_config(cfg, replication=0, engine="simpy")
    rows = littles_law(result)
    lines += [
        "## 2. Little's law at every stage of the EU pipeline",
        "",
        f"`configs/eu-centre-2019.yaml` with the horizon shortened to {cfg.time.horizon} "
        f"(root seed {cfg.seed}, replication 0), time series every {cfg.time.timeseries_step}.",
        "",
        "- **Records**: `L = lambda W`, with L = `kpis.stages.<s>.mean_inside` (the integral of the "
        "number inside over the horizon, divided by the horizon), lambda = entries per hour and W "
        "the mean sojourn of every visit, open visits counted up to the horizon. This is an "
        "identity of the accounting; the test requires agreement to 1e-9 (relative).",
        "- **Time series**: the average of `inside.<stage>` over the grid points before the "
        f"horizon estimates L from n samples; the test allows {LITTLE_Z:g} s / sqrt(n), with s "
        "the standard deviation of the samples (equally spaced samples estimate a time average "
        "at least as well as n samples at random times). Every sample must also lie between "
        "the numbers of visits the records show open just before and just after its time "
        "(column 'off-grid', must be 0). The engine computes the series from the visit records "
        "as they are flushed (`routing_sim/engine/series.py`), so this checks that computation "
        "and the grid approximation of the time average, not an independent counter.",
        "",
        "| stage | entered | lambda (/h) | W (h) | L records | lambda W | L time series | tolerance | off-grid |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.stage} | {row.entered:,} | {row.lam_per_h:.4g} | {row.sojourn_h:.4g} | {row.l_records:.4g} | "
            f"{row.lam_w:.4g} | {row.l_series:.4g} | {row.tolerance:.3g} | {row.off_grid} |"
        )
    lines += ["", METAMORPHIC_AND_HOSTILE]
    return "\n".join(lines) + "\n"


METAMORPHIC_AND_HOSTILE = """## 3. Metamorphic tests (common random numbers)

`tests/test_metamorphic.py` (marker `validation`). Every random stream is named, so two runs
with the same seed and replication share every stream the change does not touch.

- **One more server never raises the wait.** In a single FCFS multi-server stage fed by one
  source with an always-on pool, the k-th customer to start service draws the k-th service
  time, and FCFS starts customers in arrival order, so with c and c + 1 servers every customer
  gets the same service time. The Kiefer-Wolfowitz workload recursion is monotone in the
  initial workload vector (c + 1 servers = c servers plus one with zero instead of infinite
  work), so **every customer's** wait is no longer with c + 1 servers: checked per entity, and
  for the mean wait with waits still open at the horizon counted up to it. (The KPI "mean wait
  of the visits that started" is not pathwise monotone: with more servers, long-waiting
  customers that had not started by the horizon enter the mean.) In networks (the Jackson
  config, each pool in turn; the EU reviewers) arrival orders change, so the check compares
  means over replications: the paired difference (c + 1 minus c) must not be significantly
  positive (its 99 % t interval must reach down to 0 or below).
- **Time scaling.** Multiplying every arrival rate by k and dividing every service time, the
  horizon and the time-series step by k gives the same sample path on a clock running k times
  faster: with the same streams the visits are the same, in the same order, routed the same
  way, every visit's times multiplied by k equal the original ones to 1e-12 (relative; the
  observed difference is about 1e-15, rounding only), and so does utilisation. Checked for
  k = 2, 3 and 0.25 on the Jackson network, the M/G/1 queue and the reference network (with
  spawns and an uncapacitated delay). Calendars other than `always` are tied to the wall
  clock and are not scaled, so the statement is only made for always-on pools.
- **No errors in, no wrong decisions out.** In the EU config, setting the probabilities of
  wrong decisions to 0 (relevance review, fast path, complaint review, audit false alarms)
  makes every wrong-decision tally 0, while the same run with errors has them positive; with
  only the review's errors switched off, the wrong forwards are exactly those of the fast path
  (which the review's decision streams do not touch). The report arrivals and their true
  nature are unchanged (same streams). The fast path forwards every hash hit, so switching its
  errors off also routes what it judges unfounded to provider feedback; then no report that is
  not abuse reaches forwarding at all.

## 4. Hostile input

`tests/test_hostile_input.py`: hypothesis generates YAML documents (arbitrary text, random
YAML trees with wrong types, NaN and infinities, huge numbers, unicode, deep nesting, empty
files) and config dictionaries (mutations of a valid config: values replaced by hostile ones,
keys deleted, unknown keys added). Each must either validate or give exit code 2 from
`routing-sim validate` with one line per problem, each starting with the file path; no other
exception may escape. Hostile output names (`../`, absolute paths, separators) never leave the
results folder (`routing_sim.runfolder.safe_child` and the config `name` pattern); `routing-sim
run` with such a name exits 2 and writes nothing. An alias bomb and an oversized file are
rejected in under a second (`tests/test_bad_input.py`). The last section of the test file holds
one test per gap the fuzzing found, each naming the function to fix.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routing_sim.validation", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the report here (default: standard output)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    text = report(lambda step: print(f"validating: {step}", file=sys.stderr))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

