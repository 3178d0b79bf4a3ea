"""Service-time and delay distributions: a discriminated union on ``dist``.

Each distribution owns what the rest of the program needs to know about it: its mean and second
moment in hours (for the reports and the queueing theory), whether it can give zero (for the
zero-time checks) and how to draw from it (for the engine), so no other module asks which kind
of distribution it holds.

A draw is a function of independent uniforms strictly inside (0, 1) (see :class:`Uniforms`);
the engine supplies them from its counter-based streams, so a draw depends on its own uniforms
only, whatever the batch it is drawn in.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Protocol

import numpy as np
from pydantic import Discriminator, Field, Tag, model_validator

from routing_sim.model.common import Duration, Name, NonNegative, Positive, PositiveDuration, Strict, Value


class Uniforms(Protocol):
    """The uniforms behind a batch of draws, each strictly inside (0, 1).

    ``u(k)`` is the k-th uniform of every draw of the batch (an array of ``u.shape``), ``u(k, rows)``
    that of the draws at the integer positions ``rows`` only (a rejection sampler draws again for
    the draws it rejected). Different ``k`` give independent uniforms; how many a draw may use is
    the supplier's limit (the engine's is :data:`~routing_sim.engine.rules.randomness.SUBDRAWS`).
    """

    shape: tuple[int, ...]

    def __call__(self, k: int, rows: np.ndarray | None = None) -> np.ndarray: ...


def _normal(u: Uniforms, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Standard normal variates by Box-Muller from the uniforms ``k`` and ``k + 1``."""
    u1 = u(k, rows)
    u2 = u(k + 1, rows)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


def _standard_gamma(shape: float, u: Uniforms) -> np.ndarray:
    """Gamma(shape, 1) by Marsaglia and Tsang's method; attempt ``a`` uses the uniforms
    ``1 + 3a .. 3 + 3a``; uniform 0 is the boost for shape < 1."""
    boost = shape < 1.0
    alpha = shape + 1.0 if boost else shape
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = np.empty(u.shape)
    todo = np.arange(out.size)
    attempt = 0
    while todo.size:
        k = 1 + 3 * attempt
        z = _normal(u, k, todo)
        w = u(k + 2, todo)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (np.log(w) < 0.5 * z * z + d - d * np.where(v > 0, v, 1.0)
                        + d * np.log(np.where(v > 0, v, 1.0)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
        attempt += 1
    if boost:
        out *= u(0) ** (1.0 / shape)
    return out


class _Distribution(Strict):
    """What every duration distribution answers; the classes below fill it in."""

    @property
    def mean_hours(self) -> float:
        """E[X] in hours."""
        raise NotImplementedError

    @property
    def second_moment_hours(self) -> float:
        """E[X^2] in hours^2."""
        raise NotImplementedError

    @property
    def can_be_zero(self) -> bool:
        """Whether a draw can be exactly zero (a continuous distribution of positive mean cannot:
        its uniforms are never 0 or 1)."""
        return False

    @property
    def names_zero(self) -> bool:
        """Whether the parameters name a duration of zero at all, whatever the weights say: as
        :attr:`can_be_zero`, except that an empirical value of zero counts even with weight 0.
        The config checks take this cautious reading before they accept a loop."""
        return self.can_be_zero

    @property
    def memoryless(self) -> bool:
        """Whether draws are exponential, as the formulas of Markovian stations (M/M/c, Jackson)
        assume."""
        return False

    def sample(self, u: Uniforms) -> np.ndarray:
        """One duration in hours per draw of ``u``."""
        raise NotImplementedError


class Fixed(_Distribution):
    dist: Literal["fixed"]
    value: Duration

    @property
    def mean_hours(self) -> float:
        return float(self.value)

    @property
    def second_moment_hours(self) -> float:
        return self.value ** 2

    @property
    def can_be_zero(self) -> bool:
        return self.value == 0

    def sample(self, u: Uniforms) -> np.ndarray:
        return np.full(u.shape, float(self.value))


class Exponential(_Distribution):
    dist: Literal["exponential"]
    mean: PositiveDuration

    @property
    def mean_hours(self) -> float:
        return float(self.mean)

    @property
    def second_moment_hours(self) -> float:
        return 2 * self.mean ** 2

    @property
    def memoryless(self) -> bool:
        return True

    def sample(self, u: Uniforms) -> np.ndarray:
        """By inversion: ``-mean log(u)``."""
        return -self.mean * np.log(u(0))


class Lognormal(_Distribution):
    """Lognormal given by its own mean and coefficient of variation."""

    dist: Literal["lognormal"]
    mean: PositiveDuration
    cv: Positive

    @property
    def mean_hours(self) -> float:
        return float(self.mean)

    @property
    def second_moment_hours(self) -> float:
        return self.mean ** 2 * (1 + self.cv**2)

    def sample(self, u: Uniforms) -> np.ndarray:
        """``exp(mu + sigma z)`` with ``sigma^2 = log(1 + cv^2)``, ``mu = log(mean) - sigma^2 / 2``
        and z standard normal from the uniforms 0 and 1."""
        sigma2 = math.log1p(self.cv**2)
        mu, sigma = math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)
        return np.exp(mu + sigma * _normal(u, 0))


class Gamma(_Distribution):
    """Gamma given by its mean and coefficient of variation (shape = 1/cv^2)."""

    dist: Literal["gamma"]
    mean: PositiveDuration
    cv: Positive

    @property
    def mean_hours(self) -> float:
        return float(self.mean)

    @property
    def second_moment_hours(self) -> float:
        return self.mean ** 2 * (1 + self.cv**2)

    def sample(self, u: Uniforms) -> np.ndarray:
        """``scale`` times a Gamma(shape, 1) variate by rejection (up to three uniforms per
        attempt, and one more when shape < 1)."""
        shape = 1.0 / self.cv**2
        scale = self.mean / shape
        return scale * _standard_gamma(shape, u)

    @property
    def memoryless(self) -> bool:
        return self.cv == 1.0  # shape 1: the exponential


class Uniform(_Distribution):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high must be >= low (got low={self.low}, high={self.high})")
        return self

    @property
    def mean_hours(self) -> float:
        return (self.low + self.high) / 2

    @property
    def second_moment_hours(self) -> float:
        a, b = self.low, self.high
        return (a * a + a * b + b * b) / 3

    @property
    def can_be_zero(self) -> bool:
        return self.low == 0

    def sample(self, u: Uniforms) -> np.ndarray:
        low, high = self.low, self.high
        return low + (high - low) * u(0)


class Empirical(_Distribution):
    """Draws one of the observed values, with optional weights."""

    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1, max_length=100_000)
    weights: list[NonNegative] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights must have one entry per value ({len(self.values)}), got {len(self.weights)}")
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def _weighted(self) -> tuple[list[float], list[float]]:
        hours = [float(v) for v in self.values]
        return hours, self.weights or [1.0] * len(hours)

    @property
    def mean_hours(self) -> float:
        hours, weights = self._weighted()
        return sum(h * w for h, w in zip(hours, weights, strict=True)) / sum(weights)

    @property
    def second_moment_hours(self) -> float:
        hours, weights = self._weighted()
        return sum(w * h * h for w, h in zip(weights, hours, strict=True)) / sum(weights)

    @property
    def can_be_zero(self) -> bool:
        hours, weights = self._weighted()
        return any(h == 0 and w > 0 for h, w in zip(hours, weights, strict=True))

    @property
    def names_zero(self) -> bool:
        return any(v == 0 for v in self.values)

    def sample(self, u: Uniforms) -> np.ndarray:
        """By inversion of the cumulative weights with uniform 0 (the last bin open-ended, so
        rounding never leaves a uniform beyond it)."""
        hours, weights = self._weighted()
        cum = np.cumsum(np.asarray(weights, dtype=float) / float(np.sum(weights)))
        cum[-1] = np.inf
        return np.array(hours)[np.searchsorted(cum, u(0), side="right")]


Distribution = Annotated[
    Fixed | Exponential | Lognormal | Gamma | Uniform | Empirical,
    Field(discriminator="dist"),
]


class ByAttribute(Strict):
    """A distribution per value of one attribute, with a default for the rest."""

    by: Name
    cases: dict[Value, Distribution] = Field(min_length=1)
    default: Distribution | None = None



def _service_kind(data: object) -> str:
    if isinstance(data, dict):
        return "by_attribute" if "by" in data else "distribution"
    return "by_attribute" if isinstance(data, ByAttribute) else "distribution"


ServiceTime = Annotated[
    Annotated[Distribution, Tag("distribution")] | Annotated[ByAttribute, Tag("by_attribute")],
    Discriminator(_service_kind),
]
"""Either one distribution, or one per value of an attribute (``by:``)."""
