"""Conditions ``{attribute: value | [values]}`` compiled into masks over attribute arrays.

Attribute codes are held as an (entities x attributes) integer array; -1 means "not set".
"""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.model.common import condition_values


class Condition:
    """A compiled condition: every listed attribute holds one of its allowed values."""

    __slots__ = ("tests",)

    def __init__(self, codes: Codes, cond: dict | None):
        tests = []
        for name, values in (cond or {}).items():
            i = codes.attr(name)
            lookup = np.zeros(len(codes.values[name]) + 1, dtype=bool)  # lookup[code + 1]; index 0: not set
            for value in condition_values(values):
                lookup[codes.value(name, value) + 1] = True
            tests.append((i, lookup))
        self.tests = tuple(tests)

    @property
    def always(self) -> bool:
        return not self.tests

    def mask(self, attrs: np.ndarray) -> np.ndarray:
        """Which rows hold."""
        out = np.ones(attrs.shape[0], dtype=bool)
        for i, lookup in self.tests:
            out &= lookup[attrs[:, i] + 1]
        return out


def first_match(conditions: list[Condition], attrs: np.ndarray) -> np.ndarray:
    """For each row, the index of the first condition that holds (``len(conditions)``: none)."""
    n = attrs.shape[0]
    out = np.full(n, len(conditions), dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for index, condition in enumerate(conditions):
        if not open_.any():
            break
        hit = open_ & condition.mask(attrs)
        out[hit] = index
        open_ &= ~hit
    return out


class Categorical:
    """Values drawn with probabilities from a uniform: ``values[bisect_right(cumulative, u)]``."""

    __slots__ = ("cum", "values")

    def __init__(self, probabilities: list[float], values: list[int]):
        cum = np.cumsum(np.asarray(probabilities, dtype=float))
        cum[-1] = np.inf  # rounding never runs off the end
        self.cum = cum
        self.values = np.asarray(values, dtype=np.int64)

    def choose(self, u: np.ndarray) -> np.ndarray:
        return self.values[np.searchsorted(self.cum, u, side="right")]


class Cases:
    """Conditional categorical draws: the first case whose condition holds decides, with one
    uniform per row (rows no case covers keep ``default``)."""

    def __init__(self, conditions: list[Condition], draws: list[Categorical]):
        self.conditions = conditions
        self.draws = draws

    def choose(self, attrs: np.ndarray, u: np.ndarray, default: np.ndarray) -> np.ndarray:
        out = default.copy()
        case = first_match(self.conditions, attrs) if len(self.conditions) > 1 or not self.conditions[0].always \
            else np.zeros(attrs.shape[0], dtype=np.int64)
        for index, draw in enumerate(self.draws):
            rows = case == index
            if rows.any():
                out[rows] = draw.choose(u[rows])
        return out
