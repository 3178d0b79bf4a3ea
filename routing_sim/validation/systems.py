"""The textbook systems of ``configs/textbook/`` and their theory, read from each config itself
(rates, means, headcounts, routing probabilities), so the numbers live in one place, the config.

- ``Measure``: one mean wait theory predicts, at a stage, optionally for one attribute value;
- ``jackson_measures``, ``mg1_measures``, ``priority_measures``: the measures of a config
  (open Jackson network, M/G/1, non-preemptive priority M/G/1), refusing configs the formula
  does not describe;
- ``System`` and ``SYSTEMS``: each textbook config with its theory, formula and replication
  settings; ``load_textbook`` loads one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from routing_sim.model.distributions import ByAttribute, Distribution
from routing_sim.model.process import Always, Draw, ProcessConfig
from routing_sim.units import parse_rate
from routing_sim.validation.formulas import (
    cobham_waits,
    mmc_wait,
    pollaczek_khinchine_wait,
    traffic_equations,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
TEXTBOOK = CONFIGS / "textbook"


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
    name = cfg.stages[stage].pool
    if name is None:
        raise ValueError(f"stage {stage!r}: theory needs a pool (an uncapacitated delay has no queue)")
    pool = cfg.pools[name]
    if not isinstance(pool.calendar, Always) or getattr(pool, "schedule", None) or getattr(pool, "absence", 0.0):
        raise ValueError(f"stage {stage!r}: theory needs a pool that is always on duty")
    users = [s for s, st in cfg.stages.items() if st.pool == cfg.stages[stage].pool]
    if users != [stage]:
        raise ValueError(f"pool of stage {stage!r} also serves {users}")
    return pool.staff


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
        if isinstance(stage.service, ByAttribute) or not stage.service.memoryless or stage.priority:
            raise ValueError(f"stage {s!r}: Jackson theory needs exponential FCFS service")
        mean = stage.service.mean_hours
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
                                                               stage.service.second_moment_hours))]


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
    chosen = override if isinstance(override, Draw) else draw
    if isinstance(override, str):
        raise ValueError(f"attribute {attribute!r} is fixed by the source; theory needs it drawn with 'p'")
    probs = chosen.p
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

    def dist_of(value: str) -> Distribution:
        service = stage.service
        if isinstance(service, ByAttribute):
            if service.by != attribute:
                raise ValueError("service may only depend on the priority attribute")
            dist = service.cases.get(value, service.default)
            if dist is None:
                raise ValueError(f"no service time for {attribute} = {value} (no case and no default)")
            return dist
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
        means.append(sum(r * dist_of(v).mean_hours for r, v in zip(rates, cls, strict=True)) / total)
        m2s.append(sum(r * dist_of(v).second_moment_hours for r, v in zip(rates, cls, strict=True)) / total)
    waits = cobham_waits(lams, means, m2s)
    out = []
    for cls, w, lam_k in zip(classes, waits, lams, strict=True):
        if lam_k > 0 and len(cls) == 1:
            out.append(Measure(f"Wq of class {cls[0]}", s, w, attribute, cls[0]))
    overall = sum(lk * w for lk, w in zip(lams, waits, strict=True)) / lam
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
