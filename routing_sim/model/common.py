"""Shared field types: names, durations, rates, probabilities, conditions."""

from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from routing_sim.units import parse_duration, parse_rate


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""Names of stages, pools, kinds, sources, outcomes: lower-case identifiers."""

Value = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")]
"""Attribute values, e.g. ``material``, ``DE``, ``victim_details``."""


def _duration(value: str) -> str:
    hours = parse_duration(value)
    if hours < 0:
        raise ValueError(f"must not be negative (got {value!r})")
    return value


def _positive_duration(value: str) -> str:
    if parse_duration(value) <= 0:
        raise ValueError(f"must be longer than zero (got {value!r})")
    return value


def _rate(value: str) -> str:
    parse_rate(value)
    return value


Duration = Annotated[str, BeforeValidator(_duration)]
PositiveDuration = Annotated[str, BeforeValidator(_positive_duration)]
Rate = Annotated[str, BeforeValidator(_rate)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


Probability = Annotated[float, Field(ge=0.0, le=1.0), AfterValidator(_finite)]
NonNegative = Annotated[float, Field(ge=0.0), AfterValidator(_finite)]
Positive = Annotated[float, Field(gt=0.0), AfterValidator(_finite)]

Condition = dict[Name, Union[Value, list[Value]]]
"""``{attribute: value}`` or ``{attribute: [value, ...]}``; all keys must hold."""

PROBABILITY_TOLERANCE = 1e-6


def check_distribution(p: dict[str, float] | None) -> dict[str, float] | None:
    if p is None:
        return p
    total = sum(p.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1 (got {total:.6g})")
    return p


def condition_values(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
