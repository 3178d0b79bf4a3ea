"""Weekly calendars: when how many members of a pool are on duty.

A calendar compiles into a list of change points ``(hours since start, on-duty
count)`` over the horizon. The clock starts at midnight of the config's start
date, whose weekday anchors the week.
"""

from __future__ import annotations

import datetime as dt
import math

from routing_sim.model.process import Always, OfficeHours, Pool, Rota

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
        shift = float(calendar.shift)
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


def _weekly_points(calendar: object, headcount: int, start: dt.date, lo: float, hi: float) -> list[tuple[float, int]]:
    """On-duty counts of the weekly pattern over [lo, hi), beginning with the count at ``lo``."""
    pattern = weekly_pattern(calendar, headcount)
    offset = start.weekday() * 24.0  # hours from the Monday before start to start
    week = math.floor((lo + offset) / WEEK)
    in_week = lo + offset - week * WEEK
    points = [(lo, [n for t, n in pattern if t <= in_week][-1])]
    if len(pattern) == 1:
        return points
    while True:
        for t, n in pattern:
            when = week * WEEK + t - offset
            if when <= lo:
                continue
            if when >= hi:
                return points
            points.append((when, n))
        week += 1


def headcount_segments(pool: Pool, start: dt.date, horizon: float) -> list[tuple[float, float, int]]:
    """``(from, to, headcount)`` over [0, horizon) from the pool's headcount and schedule."""
    changes = [(0.0, pool.staff)]
    for change in pool.schedule:
        at = (change.start - start).days * 24.0
        if at >= horizon:
            break
        if at <= 0:
            changes = [(0.0, change.staff)]
        else:
            changes.append((at, change.staff))
    ends = [t for t, _ in changes[1:]] + [horizon]
    return [(t, end, n) for (t, n), end in zip(changes, ends, strict=True)]


def available_share(pool: Pool) -> float:
    """Share of scheduled people available for the pool's stages: absence and the exposure cap."""
    share = 1.0 - pool.absence
    if pool.exposure_cap is not None:
        cal = pool.calendar
        if isinstance(cal, Always):
            hours = 24.0
        elif isinstance(cal, OfficeHours):
            hours = _clock(cal.end) - _clock(cal.start)
        else:
            hours = cal.shift
        share *= min(1.0, pool.exposure_cap.hours_per_day / hours)
    return share


def change_points(pool: Pool, start: dt.date, horizon: float) -> list[tuple[float, int]]:
    """Every change of the on-duty count in [0, horizon), beginning with the count at time 0.

    The count is the calendar's count for the headcount in force, times the
    available share (absence, exposure cap), rounded half up to whole people.
    """
    share = available_share(pool)
    points: list[tuple[float, int]] = []
    for lo, hi, headcount in headcount_segments(pool, start, horizon):
        for t, n in _weekly_points(pool.calendar, headcount, start, lo, hi):
            available = math.floor(n * share + 0.5)
            if not points or points[-1][1] != available:
                points.append((t, available))
    return points
