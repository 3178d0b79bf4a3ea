"""Sensitivity of one KPI to chosen parameters: one at a time (tornado), Morris elementary effects,
and variance-based Sobol' indices.

A parameter is a dotted path with a range, ``pools.reviewers.headcount=25:40`` or
``sources.x.rate=600000/year:900000/year`` (both ends with the same unit). Every point is the mean
KPI over replications 0..n-1 with common random numbers, evaluated through the experiments'
executors. Morris (1991), with the unit-cube grid of ``levels`` levels and step
``delta = levels / (2 (levels - 1))``; each trajectory starts at a random grid point whose
coordinates allow a step up and moves one parameter at a time, in random order. Integer parameters
are rounded to the nearest integer (a step may then change nothing: its effect is 0).

Sobol' indices come from SALib: Saltelli's extension of the Sobol' sequence (``N (D + 2)`` points
for ``D`` parameters, ``N`` a power of two) and Jansen's estimators, first-order ``S1`` and total
``ST`` with bootstrap confidence intervals. Each point is again the mean over replications with
common random numbers, so the indices rank the inputs' effect on the expected KPI, not the
simulation's own noise.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from routing_sim.errors import ConfigError, Problem
from routing_sim.kpilabels import label, unit
from routing_sim.optimise.evaluate import Evaluator, Point


@dataclass(frozen=True)
class Param:
    path: str
    low: float
    high: float
    unit: str  # text after the number ("/year"), or ""
    integer: bool

    def value(self, u: float) -> Any:
        x = self.low + u * (self.high - self.low)
        if self.integer:
            return int(round(x))
        return f"{x:.10g}{self.unit}" if self.unit else float(x)

    def text(self, u: float) -> str:
        return str(self.value(u))


def parse_param(text: str) -> Param:
    path, sep, rng = text.partition("=")
    lo_text, sep2, hi_text = rng.partition(":")
    ends = [re.fullmatch(r"\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(\S*)\s*", t) for t in (lo_text, hi_text)]
    lo_match, hi_match = ends
    if not sep or not sep2 or lo_match is None or hi_match is None or lo_match[2] != hi_match[2]:
        raise ConfigError([Problem("<command line>", (), f"--param {text!r}: write PATH=LOW:HIGH with one unit, "
                                   "e.g. pools.reviewers.headcount=25:40 or sources.x.rate=6/h:9/h")])
    lo, hi = float(lo_match[1]), float(hi_match[1])
    integer = not lo_match[2] and all(re.fullmatch(r"\s*[-+]?[0-9]+\s*", t) for t in (lo_text, hi_text))
    return Param(path.strip(), lo, hi, lo_match[2], bool(integer))


def one_at_a_time(ev: Evaluator, params: list[Param], kpi: str, n: int) -> dict[str, Any]:
    """KPI at each parameter's low and high end, the others as in the config; sorted by swing."""
    points = [{p.path: p.value(u)} for p in params for u in (0.0, 1.0)]
    ev.ensure([({}, n)] + [(pt, n) for pt in points])
    base = ev.mean({}, kpi, n)
    rows: list[dict[str, Any]] = []
    for p in params:
        low, high = ev.mean({p.path: p.value(0.0)}, kpi, n), ev.mean({p.path: p.value(1.0)}, kpi, n)
        rows.append({"param": p.path, "low": p.text(0.0), "high": p.text(1.0), "kpi_at_low": low,
                     "kpi_at_high": high, "swing": abs(high - low)})
    rows.sort(key=lambda r: (-r["swing"] if math.isfinite(r["swing"]) else math.inf, r["param"]))
    return {"kpi": kpi, "base": base, "replications": n, "rows": rows}


def morris(ev: Evaluator, params: list[Param], kpi: str, n: int, trajectories: int = 10, levels: int = 4,
           seed: int = 0) -> dict[str, Any]:
    """Morris elementary effects: ``mu_star`` (mean |EE|), ``mu`` and ``sigma`` per parameter, EE in KPI
    units per full range of the parameter (divided by delta on the unit scale)."""
    if not 1 <= len(params) <= 10:
        raise ConfigError([Problem("<command line>", (), "Morris: give one to ten parameters")])
    rng = np.random.default_rng(seed)
    delta = levels / (2 * (levels - 1))
    starts = np.arange(levels) / (levels - 1)
    starts = starts[starts + delta <= 1 + 1e-12]
    paths = []
    for _ in range(trajectories):
        x = rng.choice(starts, size=len(params))
        path: list[tuple[np.ndarray, int | None]] = [(x.copy(), None)]  # the start, then (point, parameter moved)
        for i in rng.permutation(len(params)):
            x[i] += delta
            path.append((x.copy(), int(i)))
        paths.append(path)

    def point(x: np.ndarray) -> Point:
        return {p.path: p.value(float(u)) for p, u in zip(params, x, strict=True)}

    ev.ensure([(point(x), n) for path in paths for x, _ in path])
    effects: list[list[float]] = [[] for _ in params]
    for path in paths:
        values = [ev.mean(point(x), kpi, n) for x, _ in path]
        for step in range(1, len(path)):
            moved = path[step][1]
            assert moved is not None  # only the start moves no parameter
            effects[moved].append((values[step] - values[step - 1]) / delta)
    rows = []
    for p, ee in zip(params, effects, strict=True):
        arr = np.array(ee, dtype=float)
        rows.append({"param": p.path, "mu_star": float(np.mean(np.abs(arr))), "mu": float(np.mean(arr)),
                     "sigma": float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan, "effects": arr.tolist()})
    rows.sort(key=lambda r: (-r["mu_star"] if math.isfinite(r["mu_star"]) else math.inf, r["param"]))
    return {"kpi": kpi, "trajectories": trajectories, "levels": levels, "delta": delta, "seed": seed,
            "replications": n, "points": len({repr(sorted(point(x).items())) for pth in paths for x, _ in pth}),
            "rows": rows}


def sobol(ev: Evaluator, params: list[Param], kpi: str, n: int, samples: int = 64, seed: int = 0,
          level: float = 0.95) -> dict[str, Any]:
    """First-order and total Sobol' indices of each parameter, with ``level`` confidence intervals."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    if len(params) < 2:
        raise ConfigError([Problem("<command line>", (), "Sobol': give at least two parameters")])
    if samples < 2 or samples & (samples - 1):
        raise ConfigError([Problem("<command line>", (), f"--samples: a power of two, e.g. 64 (got {samples})")])
    problem = {"num_vars": len(params), "names": [p.path for p in params], "bounds": [[0.0, 1.0]] * len(params)}
    unit = sample.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed)

    def point(x: np.ndarray) -> Point:
        return {p.path: p.value(float(u)) for p, u in zip(params, x, strict=True)}

    points = [point(x) for x in unit]
    ev.ensure([(pt, n) for pt in points])
    y = np.array([ev.mean(pt, kpi, n) for pt in points])
    if not np.all(np.isfinite(y)):
        raise ConfigError([Problem("<command line>", (), f"--kpi {kpi}: not defined at every point (NaN)")])
    found = analyze.analyze(problem, y, calc_second_order=False, conf_level=level, seed=seed)
    rows: list[dict[str, Any]] = [{"param": p.path, "S1": float(found["S1"][i]), "S1_conf": float(found["S1_conf"][i]),
             "ST": float(found["ST"][i]), "ST_conf": float(found["ST_conf"][i])} for i, p in enumerate(params)]
    rows.sort(key=lambda r: (-r["ST"] if math.isfinite(r["ST"]) else math.inf, r["param"]))
    return {"kpi": kpi, "samples": samples, "points": len(points), "level": level, "seed": seed,
            "replications": n, "kpi_mean": float(y.mean()), "kpi_variance": float(y.var()), "rows": rows}


@contextmanager
def _chart(rows: int) -> Iterator[tuple[Any, Any, list[bytes]]]:
    """A figure with one axis for ``rows`` bars, drawn byte-stable; its PNG lands in the list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[bytes] = []
    with plt.rc_context({"svg.hashsalt": "routing-sim", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(7.5, 0.5 * rows + 1.6))
        yield fig, ax, out
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
    out.append(buffer.getvalue())


def sobol_png(result: dict[str, Any]) -> bytes:
    """Bars of each parameter's first-order and total index with their intervals, byte-stable PNG."""
    rows = result["rows"][::-1]
    with _chart(len(rows)) as (_, ax, png):
        y = np.arange(len(rows))
        ax.barh(y + 0.2, [r["ST"] for r in rows], height=0.4, xerr=[r["ST_conf"] for r in rows], color="#dd8452",
                label="total (ST)")
        ax.barh(y - 0.2, [r["S1"] for r in rows], height=0.4, xerr=[r["S1_conf"] for r in rows], color="#4c72b0",
                label="first order (S1)")
        ax.set_yticks(y, [r["param"] for r in rows])
        ax.set_xlim(min(0.0, *(r["S1"] - r["S1_conf"] for r in rows)), max(1.0, *(r["ST"] + r["ST_conf"] for r in rows)))
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel(f"share of the variance of {result['kpi']}")
        ax.set_title(f"Sobol' indices, {round(result['level'] * 100)} % intervals "
                     f"({result['points']} points x {result['replications']} replications)")
    return png[0]


TORNADO_FLOOR = 0.02
"""The tornado's axis spans at least this share of the base value on each side (or 0.02 of a share):
a swing of 0.000005 drawn full width would look like a large effect."""


def tornado_span(oat: dict[str, Any]) -> tuple[float, float]:
    """The tornado's x-axis: centred on the base, wide enough for the largest swing and never
    narrower than :data:`TORNADO_FLOOR` of the base (0.02 itself for a share, whose scale is 0 to 1)."""
    base = float(oat["base"])
    swing = max((abs(float(r[k]) - base) for r in oat["rows"] for k in ("kpi_at_low", "kpi_at_high")
                 if math.isfinite(float(r[k]))), default=0.0)
    floor = TORNADO_FLOOR if unit(oat["kpi"]) == "share" else TORNADO_FLOOR * abs(base)
    half = max(swing * 1.1, floor, 1e-12)
    return base - half, base + half


def tornado_png(oat: dict[str, Any]) -> bytes:
    """A tornado chart of the one-at-a-time rows (largest swing on top), byte-stable PNG."""
    rows = oat["rows"][::-1]
    base = oat["base"]
    with _chart(len(rows)) as (_, ax, png):
        for y, r in enumerate(rows):
            for value, colour, end in ((r["kpi_at_low"], "#4c72b0", "low"), (r["kpi_at_high"], "#dd8452", "high")):
                ax.barh(y, value - base, left=base, color=colour, label=end if y == 0 else None)
        ax.set_yticks(range(len(rows)), [f"{r['param']}\n{r['low']} .. {r['high']}" for r in rows])
        ax.axvline(base, color="black", linewidth=0.8)
        ax.set_xlim(*tornado_span(oat))
        ax.set_xlabel(f"{label(oat['kpi'])} ({oat['kpi']})")
        ax.set_title(f"One-at-a-time sensitivity: base {base:.4g} (mean of {oat['replications']} replications)")
    return png[0]
