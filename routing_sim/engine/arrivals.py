"""Arrival times of a source: exact sampling of a piecewise-constant intensity.

The intensity is built per hour of the horizon (trend, weekly and daily
profile, shocks and steps; see :mod:`routing_sim.model.volumes`). Arrival
times are the points of a unit-rate Poisson process mapped through the inverse
of the cumulative intensity, in numpy chunks. Because each source draws only
from its own stream, changing one source's intensity (a step, a shock)
changes no other source's arrivals, and with the same stream the changed
source's arrivals move coherently (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from routing_sim.engine.rules.randomness import uniforms
from routing_sim.model.process import ProcessConfig, Source
from routing_sim.model.volumes import Weekday
from routing_sim.units import parse_rate

DAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CHUNK = 4096


def hourly_intensity(cfg: ProcessConfig, name: str, horizon: float) -> np.ndarray:
    """Events per hour for each hour of the horizon."""
    src: Source = cfg.sources[name]
    hours = max(1, math.ceil(horizon))
    t = np.arange(hours, dtype=float)
    rate = parse_rate(src.rate) * np.ones(hours)
    if src.growth_per_year:
        rate *= (1.0 + src.growth_per_year) ** ((t + 0.5) / 8760.0)
    start = cfg.time.start
    weekday0 = start.weekday()
    if src.weekly is not None:
        weights = np.array([src.weekly[d] for d in DAYS])
        weights = weights / weights.mean()
        rate *= weights[(weekday0 + (t // 24).astype(int)) % 7]
    if src.daily is not None:
        weights = np.array(src.daily, dtype=float)
        weights = weights / weights.mean()
        rate *= weights[(t % 24).astype(int)]
    for window in [*cfg.shocks.values(), *cfg.steps.values()]:
        if window.sources is not None and name not in window.sources:
            continue
        lo = _hours_since(start, window.start)
        hi = _hours_since(start, window.end + dt.timedelta(days=1)) if window.end else math.inf
        rate[(t >= lo) & (t < hi)] *= window.multiplier
    return rate


def _hours_since(start: dt.date, day: dt.date) -> float:
    return (day - start).days * 24.0


class ArrivalTimes:
    """Absolute arrival times (hours) of one source, in order, handed out a period at a time."""

    def __init__(self, intensity: np.ndarray, key: int):
        self.cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
        self.intensity = intensity
        self.key = key
        self.drawn = 0  # gaps of the unit-rate process drawn so far
        self.level = 0.0  # the unit-rate process so far
        self.pending = np.empty(0)  # times drawn and not yet handed out
        self.exhausted = False

    def _draw(self) -> np.ndarray:
        """The next chunk of arrival times (those inside the horizon)."""
        gaps = -np.log(uniforms(self.key, np.arange(self.drawn, self.drawn + CHUNK)))
        self.drawn += CHUNK
        levels = self.level + np.cumsum(gaps)
        self.level = float(levels[-1])
        total = self.cumulative[-1]
        inside = levels[levels < total]
        if inside.size < levels.size:
            self.exhausted = True
        bins = np.searchsorted(self.cumulative, inside, side="right") - 1
        return bins + (inside - self.cumulative[bins]) / self.intensity[bins]

    def until(self, end: float) -> np.ndarray:
        """All arrival times before ``end`` not handed out yet, in order."""
        parts = []
        while True:
            if not self.pending.size:
                if self.exhausted:
                    break
                self.pending = self._draw()
                continue
            k = int(np.searchsorted(self.pending, end, side="left"))
            parts.append(self.pending[:k])
            self.pending = self.pending[k:]
            if self.pending.size:
                break
        return np.concatenate(parts) if parts else np.empty(0)
