"""How volumes move: arrival profiles, shocks, steps, batches, duplicates, counts.

A source's intensity at time t (events per hour) is

    rate x (1 + growth_per_year) ^ years_since_start x weekly[day] x daily[hour] x multipliers(t)

where ``weekly`` and ``daily`` are relative weights normalised to mean 1 (so
``rate`` stays the average), and the multipliers are the shocks and steps in
force for that source. The intensity is evaluated per hour (the trend at the
middle of the hour) and the arrivals are sampled exactly from that
piecewise-constant intensity by inversion.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cached_property
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from routing_sim.model.common import Name, NonNegative, Rate, Strict, Value
from routing_sim.model.distributions import Uniforms

Count = Annotated[int, Field(ge=0, le=1_000_000)]


class Constant(Strict):
    dist: Literal["constant"]
    value: Count

    @property
    def mean(self) -> float:
        return float(self.value)

    @property
    def smallest(self) -> int:
        """The least value a draw can give."""
        return self.value

    @property
    def largest(self) -> int:
        """The greatest value a draw can give."""
        return self.value

    def sample(self, u: Uniforms) -> np.ndarray:
        """Whole numbers, one per draw of ``u`` (which supplies the uniforms; none are used here)."""
        return np.full(u.shape, self.value, dtype=np.int64)


class Poisson(Strict):
    """``offset`` plus a Poisson variate; ``mean`` is the mean of the total."""

    dist: Literal["poisson"]
    mean: NonNegative
    offset: Count = 0

    @model_validator(mode="after")
    def _mean_covers_offset(self) -> Poisson:
        if self.mean < self.offset:
            raise ValueError(f"mean must be >= offset (got mean={self.mean}, offset={self.offset})")
        return self

    @property
    def smallest(self) -> int:
        """The value the smallest uniform the engine supplies (2**-53) gives (``offset`` unless
        the mean is far above it)."""
        values, cum = self._table
        return int(values[np.searchsorted(cum, 2.0**-53, side="right")])

    @property
    def largest(self) -> int:
        """The value the largest uniform the engine supplies (1 - 2**-53) gives: the first whose
        cumulative probability in the sampler's table reaches 1 (builds the table: about mean +
        12 sqrt(mean) entries)."""
        values, cum = self._table
        return int(values[np.searchsorted(cum, 1.0 - 2.0**-53, side="right")])

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """Values and cumulative probabilities, far enough into the tail that the rest is below
        1e-16 (inversion by table lookup, exact up to that tail)."""
        mean = self.mean - self.offset
        top = int(mean + 12.0 * math.sqrt(mean) + 30)
        k = np.arange(top + 1)
        log_pmf = np.array([i * math.log(mean) - mean - math.lgamma(i + 1) for i in range(top + 1)]) if mean > 0 \
            else np.where(k == 0, 0.0, -np.inf)
        cum = np.cumsum(np.exp(log_pmf))
        cum[-1] = np.inf
        return k + self.offset, cum

    def sample(self, u: Uniforms) -> np.ndarray:
        values, cum = self._table
        return values[np.searchsorted(cum, u(0), side="right")]


class Geometric(Strict):
    """Counts 1, 2, 3, ... with the given mean (>= 1)."""

    dist: Literal["geometric"]
    mean: Annotated[float, Field(ge=1.0, le=1e6)]

    @property
    def smallest(self) -> int:
        return 1

    @property
    def largest(self) -> int:
        """The value the smallest uniform the engine supplies (2**-53) gives."""
        if self.mean == 1.0:
            return 1
        return max(1, math.ceil(-53 * math.log(2.0) / math.log1p(-1.0 / self.mean)))

    def sample(self, u: Uniforms) -> np.ndarray:
        if self.mean == 1.0:  # always one
            return np.ones(u.shape, dtype=np.int64)
        return np.maximum(1, np.ceil(np.log(u(0)) / math.log1p(-1.0 / self.mean))).astype(np.int64)


class Table(Strict):
    dist: Literal["table"]
    values: list[Count] = Field(min_length=1, max_length=10_000)
    weights: list[NonNegative] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _aligned(self) -> Table:
        if len(self.values) != len(self.weights):
            raise ValueError(f"weights must have one entry per value ({len(self.values)}), got {len(self.weights)}")
        if sum(self.weights) <= 0:
            raise ValueError("weights must not all be zero")
        return self

    @property
    def mean(self) -> float:
        return sum(v * w for v, w in zip(self.values, self.weights, strict=True)) / sum(self.weights)

    @property
    def smallest(self) -> int:
        """The least value of positive weight (cautious: one of weight below 2**-53 of the total is
        never drawn)."""
        return min(v for v, w in zip(self.values, self.weights, strict=True) if w > 0)

    @property
    def largest(self) -> int:
        return max(v for v, w in zip(self.values, self.weights, strict=True) if w > 0)

    def sample(self, u: Uniforms) -> np.ndarray:
        cum = np.cumsum(np.asarray(self.weights, dtype=float) / float(np.sum(self.weights)))
        cum[-1] = np.inf
        return np.array(self.values, dtype=np.int64)[np.searchsorted(cum, u(0), side="right")]


CountDistribution = Annotated[Constant | Poisson | Geometric | Table, Field(discriminator="dist")]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Batches(Strict):
    """Bulk submissions: batches arrive as a Poisson stream, each bringing ``size`` entities at once."""

    rate: Rate
    size: CountDistribution


class Window(Strict):
    """A multiplier on the arrival rate of some sources (all when ``sources`` is omitted)
    from the start of day ``from`` to the end of day ``to`` (steps have no ``to``)."""

    start: dt.date = Field(alias="from")
    end: dt.date | None = Field(default=None, alias="to")
    multiplier: NonNegative
    sources: list[Name] | None = None
    description: str = ""

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'to' must not be before 'from' (got {self.start} to {self.end})")
        return self


class Shock(Window):
    end: dt.date = Field(alias="to")


class Step(Window):
    end: None = Field(default=None, alias="to", exclude=True)


Headcount = Annotated[int, Field(ge=0, le=1_000_000)]


class HeadcountChange(Strict):
    """From this date on, the pool has this headcount (a hiring ramp, a reorganisation). In a pool
    split ``by`` an attribute, a headcount per value: ``{DE: 12, FR: 10}`` (values not named keep theirs)."""

    start: dt.date = Field(alias="from")
    headcount: Headcount | dict[Value, Headcount]

    model_config = Strict.model_config | {"populate_by_name": True}

    @property
    def staff(self) -> int:
        """The headcount from this date (one number once split pools are expanded)."""
        if isinstance(self.headcount, dict):
            raise ValueError("a split pool's schedule has a headcount per value until it is expanded")
        return self.headcount
