"""Targets and verdicts: is a KPI's target met, missed, or uncertain (its interval straddles it)?

A config states targets beside the figures they judge: a deadline's ``share`` (the share of
entities to reach its end point within its time) and a pool's ``max_utilisation``. The KPIs
carry them (``deadlines.<name>.target_share``, ``pools.<name>.max_utilisation``), so a verdict
needs only the flat KPIs of a run: the terminal, ``compare`` and the report judge the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MET, MISSED, UNCERTAIN = "met", "missed", "uncertain"
STYLE = {MET: "green", MISSED: "bold red", UNCERTAIN: "yellow"}
"""Colours of the verdicts in the terminal (and their CSS classes in the report)."""

_TARGETS = {"share_within": ("target_share", True), "utilisation": ("max_utilisation", False)}
"""KPI -> the KPI beside it that holds its target, and whether the value must be at least it."""


@dataclass(frozen=True)
class Target:
    bound: float
    at_least: bool  # True: the value must reach the bound; False: stay at or under it

    def text(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound * 100:g} %"

    def verdict(self, mean: float, low: float = math.nan, high: float = math.nan) -> str | None:
        """Met, missed or uncertain; None without a value. With an interval, met only when the
        whole interval is on the right side of the bound, missed when it is all on the wrong side."""
        if mean is None or not math.isfinite(mean):
            return None
        if math.isfinite(low) and math.isfinite(high):
            good, bad = (low >= self.bound, high < self.bound) if self.at_least else (high <= self.bound,
                                                                                       low > self.bound)
            return MET if good else MISSED if bad else UNCERTAIN
        return MET if (mean >= self.bound if self.at_least else mean <= self.bound) else MISSED


def target_of(kpi: str, flat: Mapping[str, object]) -> Target | None:
    """The target of a flat KPI name, from the flat KPIs of a run of the same config (None: none set)."""
    head, _, last = kpi.rpartition(".")
    if last not in _TARGETS or not head:
        return None
    name, at_least = _TARGETS[last]
    bound = flat.get(f"{head}.{name}")
    if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not math.isfinite(bound):
        return None
    return Target(float(bound), at_least)
