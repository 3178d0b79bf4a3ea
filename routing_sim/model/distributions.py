"""Service-time and delay distributions: a discriminated union on ``dist``.

Every distribution knows its mean in hours, so tests and reports can compare
samples with theory.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from routing_sim.model.common import Duration, Name, NonNegative, Positive, PositiveDuration, Strict, Value
from routing_sim.units import parse_duration


class Fixed(Strict):
    dist: Literal["fixed"]
    value: Duration

    @property
    def mean_hours(self) -> float:
        return parse_duration(self.value)


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: PositiveDuration

    @property
    def mean_hours(self) -> float:
        return parse_duration(self.mean)


class Lognormal(Strict):
    """Lognormal given by its own mean and coefficient of variation."""

    dist: Literal["lognormal"]
    mean: PositiveDuration
    cv: Positive

    @property
    def mean_hours(self) -> float:
        return parse_duration(self.mean)


class Gamma(Strict):
    """Gamma given by its mean and coefficient of variation (shape = 1/cv^2)."""

    dist: Literal["gamma"]
    mean: PositiveDuration
    cv: Positive

    @property
    def mean_hours(self) -> float:
        return parse_duration(self.mean)


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if parse_duration(self.high) < parse_duration(self.low):
            raise ValueError(f"high must be >= low (got low={self.low}, high={self.high})")
        return self

    @property
    def mean_hours(self) -> float:
        return (parse_duration(self.low) + parse_duration(self.high)) / 2


class Empirical(Strict):
    """Draws one of the observed values, with optional weights."""

    dist: Literal["empirical"]
    values: list[Duration] = Field(min_length=1, max_length=100_000)
    weights: list[NonNegative] | None = None

    @model_validator(mode="after")
    def _weights(self) -> "Empirical":
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights must have one entry per value ({len(self.values)}), got {len(self.weights)}")
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    @property
    def mean_hours(self) -> float:
        hours = [parse_duration(v) for v in self.values]
        weights = self.weights or [1.0] * len(hours)
        return sum(h * w for h, w in zip(hours, weights)) / sum(weights)


Distribution = Annotated[
    Union[Fixed, Exponential, Lognormal, Gamma, Uniform, Empirical],
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
    Union[Annotated[Distribution, Tag("distribution")], Annotated[ByAttribute, Tag("by_attribute")]],
    Discriminator(_service_kind),
]
"""Either one distribution, or one per value of an attribute (``by:``)."""
