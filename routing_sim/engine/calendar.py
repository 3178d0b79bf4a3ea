"""Weekly calendars: when how many members of a pool are on duty.

A calendar compiles into a list of change points ``(hours since start, on-duty
count)`` over the horizon. The clock starts at midnight of the config's start
date, whose weekday anchors the week.
"""

from __future__ import annotations

import datetime as dt

from routing_sim.model.process import Always, OfficeHours, Rota
from routing_sim.units import parse_duration

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEK = 168.0


def _clock(text: str) -> float:
    hours, minutes = text.split(":")
    return int(hours) + int(minutes) / 60


def weekly_pattern(calendar: object, headcount: int) -> list[tuple[float, int]]:
    """On-duty counts over one week from Monday 00:00 as ``(offset_hours, count)`` steps."""
    if isinstance(calendar, Always):
        return [(0.0, headcount)]
    if isinstance(calendar, OfficeHours):
        steps: list[tuple[float, int]] = [(0.0, 0)]
        for day in sorted(set(calendar.days), key=DAYS.index):
            base = DAYS.index(day) * 24.0
            steps.append((base + _clock(calendar.start), headcount))
            steps.append((base + _clock(calendar.end), 0))
        return _merge(steps)
    if isinstance(calendar, Rota):
        shift = parse_duration(calendar.shift)
        n_shifts = round(WEEK / shift)
        staff_shifts = round(headcount * calendar.hours_per_week / shift)
        base, extra = divmod(staff_shifts, n_shifts)
        steps = []
        for k in range(n_shifts):  # spread the extra shifts evenly over the week
            bonus = (k + 1) * extra // n_shifts - k * extra // n_shifts
            steps.append((k * shift, base + bonus))
        return _merge(steps)
    raise TypeError(f"unknown calendar {type(calendar).__name__}")


def _merge(steps: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Sort by time, keep the last value set at each time, drop steps that change nothing."""
    by_time: dict[float, int] = {}
    for t, n in sorted(steps, key=lambda s: s[0]):
        by_time[t] = n
    out: list[tuple[float, int]] = []
    for t, n in sorted(by_time.items()):
        if not out or out[-1][1] != n:
            out.append((t, n))
    return out


def change_points(calendar: object, headcount: int, start: dt.date, horizon: float) -> list[tuple[float, int]]:
    """Every change of on-duty count in [0, horizon), beginning with the count at time 0."""
    pattern = weekly_pattern(calendar, headcount)
    offset = start.weekday() * 24.0  # hours from the Monday before start to start
    at_zero = [n for t, n in pattern if t <= offset][-1] if pattern[0][0] <= offset else pattern[-1][1]
    points = [(0.0, at_zero)]
    week = 0
    while True:
        for t, n in pattern:
            when = week * WEEK + t - offset
            if when <= 0:
                continue
            if when >= horizon:
                return points
            if n != points[-1][1]:
                points.append((when, n))
        week += 1
        if len(pattern) == 1:
            return points
