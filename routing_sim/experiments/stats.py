"""Statistics across replications: t-intervals, paired differences, the replications algorithm.

No SciPy: t quantiles come from :mod:`routing_sim.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from routing_sim.stats import t_interval, t_quantile

K = TypeVar("K", int, tuple[int, int])
"""A replication's key (its index, or a run's seed and replication)."""


def interval(values: Sequence[float], level: float = 0.95) -> dict[str, float | int]:
    """Mean and t-interval of the finite values: ``{n, mean, low, high, half_width, sd}``."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    mean, low, high = t_interval(finite, level)
    n = len(finite)
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n >= 2 else math.nan
    return {"n": n, "mean": mean, "low": low, "high": high, "half_width": (high - low) / 2, "sd": sd}


def paired(variant: Mapping[K, float], baseline: Mapping[K, float], level: float = 0.95) -> dict[str, float | int]:
    """Mean and t-interval of ``variant[r] - baseline[r]`` over the replications both have (finite)."""
    common = sorted(set(variant) & set(baseline))
    diffs = [variant[r] - baseline[r] for r in common]
    return interval(diffs, level)


def relative_half_width(values: Sequence[float], level: float = 0.95) -> float:
    """CI half-width over |mean| (0 when the values do not vary; inf when the mean is 0 and they do)."""
    n = len(values)
    if n < 2:
        return math.inf
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(0.5 + level / 2, n - 1) * math.sqrt(var / n)
    if half == 0:
        return 0.0
    return half / abs(mean) if mean != 0 else math.inf


def lookahead(n: int, k_limit: int) -> int:
    """Replications to look ahead after ``n`` (Hoad, Robinson and Davies 2010: f(n) = kLimit, scaled over 100)."""
    return k_limit if n <= 100 else math.floor(k_limit * n / 100)


@dataclass(frozen=True)
class Precision:
    """The replications algorithm on one sequence of replication results."""

    done: bool  # the precision held from n_solution through its look-ahead
    n_solution: int | None  # the smallest n from which the precision holds (None: not yet)
    needed: int  # replications needed before the next decision
    precision: float  # relative half-width with every value given


def replications_algorithm(values: Sequence[float], target: float, n_min: int, k_limit: int,
                           level: float = 0.95) -> Precision:
    """Hoad, Robinson and Davies (2010), evaluated on the results so far (in replication order).

    From ``n_min`` on, ``n_solution`` is the first n whose relative half-width is at most
    ``target`` with every later n up to now also within it; the algorithm stops once that holds
    through ``n_solution + f(n_solution)``. The decision depends only on the values, so running
    replications in batches (or in parallel) gives the same answer as running them one by one.
    """
    values = [float(v) for v in values]
    if any(not math.isfinite(v) for v in values):
        return Precision(False, None, len(values) + 1, math.nan)
    n_solution = None
    for n in range(n_min, len(values) + 1):
        if relative_half_width(values[:n], level) <= target:
            n_solution = n if n_solution is None else n_solution
            if n >= n_solution + lookahead(n_solution, k_limit):
                return Precision(True, n_solution, n, relative_half_width(values, level))
        else:
            n_solution = None
    precision = relative_half_width(values, level)
    if len(values) < n_min:
        return Precision(False, None, n_min, precision)
    if n_solution is not None:
        return Precision(False, n_solution, n_solution + lookahead(n_solution, k_limit), precision)
    return Precision(False, None, _estimate(values, target, level), precision)


def _estimate(values: list[float], target: float, level: float) -> int:
    """The n at which the current spread would meet the target, at least one more, at most twice as many."""
    n = len(values)
    if not math.isfinite(relative_half_width(values, level)):
        return 2 * n
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    wanted = math.ceil((t_quantile(0.5 + level / 2, n - 1) * sd / (target * abs(mean))) ** 2)
    return min(max(n + 1, wanted), 2 * n)
