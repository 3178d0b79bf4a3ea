"""Durations and rates with explicit units.

The simulation clock runs in hours. Every duration in a config carries its unit
(``"90s"``, ``"15min"``, ``"4h"``, ``"3d"``, ``"2w"``, ``"1y"``), and every rate
is a count per unit of time (``"725000/year"``, ``"2/h"``). A bare number is an
error: a config that says ``service: 15`` could mean seconds or hours.
"""

from __future__ import annotations

import math
import re

HOURS_PER_UNIT: dict[str, float] = {
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "min": 1 / 60,
    "h": 1.0,
    "d": 24.0,
    "w": 168.0,
    "y": 8760.0,
}
RATE_UNITS: dict[str, float] = {
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "second": 1 / 3600,
    "min": 1 / 60,
    "minute": 1 / 60,
    "h": 1.0,
    "hour": 1.0,
    "d": 24.0,
    "day": 24.0,
    "w": 168.0,
    "week": 168.0,
    "y": 8760.0,
    "year": 8760.0,
}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]+)\s*$")
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*/\s*([a-z]+)\s*$")


def parse_duration(value: object) -> float:
    """Return a duration in hours; raise ValueError with a readable reason."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"a duration needs a unit, e.g. '15min' or '4h' (got {value!r})")
    match = _DURATION.match(value)
    if not match or match.group(2) not in HOURS_PER_UNIT:
        units = ", ".join(HOURS_PER_UNIT)
        raise ValueError(f"not a duration: {value!r} (a number and one of {units})")
    hours = float(match.group(1)) * HOURS_PER_UNIT[match.group(2)]
    if not math.isfinite(hours):
        raise ValueError(f"duration is not finite (got {value!r})")
    return hours


def parse_rate(value: object) -> float:
    """Return a rate in events per hour; raise ValueError with a readable reason."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"a rate needs a unit, e.g. '725000/year' or '2/h' (got {value!r})")
    match = _RATE.match(value)
    if not match or match.group(2) not in RATE_UNITS:
        raise ValueError(f"not a rate: {value!r} (a number, '/', and a unit such as year, day, h, min)")
    per_hour = float(match.group(1)) / RATE_UNITS[match.group(2)]
    if not math.isfinite(per_hour):
        raise ValueError(f"rate is not finite (got {value!r})")
    return per_hour
