"""Estimation by replications: each textbook system run ``replications`` times (replication
index r = 0, 1, ... of the config's seed), one mean wait per replication over the visits that
entered between a warm-up and a cool-down, and a Student t interval over the replication means.

``estimate`` runs the simulations through ``routing_sim.api`` (imported inside it, so importing
this module loads no engine); ``window_waits`` reads the waits of one measure from one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from routing_sim.stats import t_interval
from routing_sim.units import parse_duration
from routing_sim.validation.systems import Measure, System, load_textbook

TEST_LEVEL = 0.99
"""The tests require theory inside the 99 % interval (several measures are checked at once)."""

if TYPE_CHECKING:
    from routing_sim.api import RunResult


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


def window_waits(result: RunResult, measure: Measure, warmup_h: float, cooldown_h: float) -> tuple[np.ndarray, int]:
    """Waits of the visits to ``measure.stage`` that entered in [warm-up, horizon - cool-down];
    a visit still waiting at the horizon counts its wait so far (a lower bound), and is counted."""
    v = result.visits
    codes = result.codes
    stage = np.asarray(v.column("stage").to_numpy())
    enter = np.asarray(v.column("enter").to_numpy())
    start = np.asarray(v.column("start").to_numpy())
    horizon = result.summary.horizon
    mask = (stage == codes.stages.index(measure.stage)) & (enter >= warmup_h) & (enter <= horizon - cooldown_h)
    if measure.attribute is not None and measure.value is not None:
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
