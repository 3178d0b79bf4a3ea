"""Shared field types: names, durations, rates, probabilities, conditions."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
)
from pydantic_core import core_schema

from routing_sim.units import parse_duration, parse_rate


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""Names of stages, pools, kinds, sources, outcomes: lower-case identifiers."""

Value = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")]
"""Attribute values, e.g. ``material``, ``DE``, ``victim_details``."""


class Hours(float):
    """A duration read from a config: the number of hours, which it is (a float, so it takes part
    in arithmetic as it stands), and ``text``, what the config wrote (``"90min"``, ``"2d"``).

    The text is parsed once, here. It is what the value prints as (``f"{d}"``, ``str(d)``; a format
    spec such as ``:g`` formats the hours) and what a model serialises it to, so a resolved config
    reads like its source and its hash does not depend on the parsing. Two durations of equal
    hours are equal whatever their text.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Hours:
        self = super().__new__(cls, parse_duration(text))
        self.text = text
        return self

    def __reduce__(self) -> tuple:
        return type(self), (self.text,)

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return self.text if not spec else float.__format__(self, spec)

    def __repr__(self) -> str:
        return f"Hours({self.text!r})"

    @classmethod
    def _validate(cls, value: Any) -> Hours:
        return value if isinstance(value, Hours) else cls(value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Validated from text (or taken as it is), serialised to its text, a string in a JSON schema."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda hours: hours.text, return_schema=core_schema.str_schema()
            ),
            json_schema_input_schema=core_schema.str_schema(),
        )


def _not_negative(hours: Hours) -> Hours:
    if hours < 0:
        raise ValueError(f"must not be negative (got {hours.text!r})")
    return hours


def _longer_than_zero(hours: Hours) -> Hours:
    if hours <= 0:
        raise ValueError(f"must be longer than zero (got {hours.text!r})")
    return hours


def _rate(value: str) -> str:
    parse_rate(value)
    return value


Duration = Annotated[Hours, AfterValidator(_not_negative)]
"""A duration of zero or more: written with a unit, held as :class:`Hours`."""
PositiveDuration = Annotated[Hours, AfterValidator(_longer_than_zero)]
Rate = Annotated[str, BeforeValidator(_rate)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value})")
    return value


Probability = Annotated[float, Field(ge=0.0, le=1.0), AfterValidator(_finite)]
NonNegative = Annotated[float, Field(ge=0.0), AfterValidator(_finite)]
Positive = Annotated[float, Field(gt=0.0), AfterValidator(_finite)]

Condition = dict[Name, Value | list[Value]]
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
