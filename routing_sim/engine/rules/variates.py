"""Samplers of durations (hours) and counts from order-free uniforms.

A sampler is built once per distribution and called as ``sample(key, ids, counter)``: one value
per id, drawn from the stream ``key`` at ``counter`` (and the following counters when a value
needs several uniforms: ``counter + 1, ...``, below :data:`~.randomness.SUBDRAWS`). Every
transformation is elementwise numpy, so a value depends on its own uniforms only.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from routing_sim.engine.rules.randomness import SUBDRAWS, uniforms
from routing_sim.model.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, Uniform
from routing_sim.model.volumes import Constant, Geometric, Poisson
from routing_sim.model.volumes import Table as CountTable
from routing_sim.units import parse_duration

Sampler = Callable[[int, np.ndarray, "np.ndarray | int"], np.ndarray]


def _normal(key: int, ids: np.ndarray, counter: np.ndarray | int) -> np.ndarray:
    """Standard normal variates by Box-Muller from the uniforms at ``counter`` and ``counter + 1``."""
    u1 = uniforms(key, ids, counter)
    u2 = uniforms(key, ids, np.asarray(counter) + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


def _gamma(shape: float, key: int, ids: np.ndarray, counter: np.ndarray | int) -> np.ndarray:
    """Gamma(shape, 1) by Marsaglia and Tsang's method; attempt ``a`` uses counters
    ``counter + 1 + 3a .. + 3a + 2``; ``counter`` itself is the boost for shape < 1."""
    boost = shape < 1.0
    alpha = shape + 1.0 if boost else shape
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    counter = np.broadcast_to(np.asarray(counter, dtype=np.int64), ids.shape)
    out = np.empty(ids.shape)
    todo = np.arange(ids.size)
    attempt = 0
    while todo.size:
        if 3 * attempt + 3 >= SUBDRAWS:
            raise RuntimeError("gamma sampler: too many rejections")  # probability below 1e-60
        base = counter[todo] + 1 + 3 * attempt
        z = _normal(key, ids[todo], base)
        u = uniforms(key, ids[todo], base + 2)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (np.log(u) < 0.5 * z * z + d - d * np.where(v > 0, v, 1.0)
                        + d * np.log(np.where(v > 0, v, 1.0)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
        attempt += 1
    if boost:
        out *= uniforms(key, ids, counter) ** (1.0 / shape)
    return out


def _choice(values: np.ndarray, weights: list[float] | np.ndarray) -> Sampler:
    cum = np.cumsum(np.asarray(weights, dtype=float) / float(np.sum(weights)))
    cum[-1] = np.inf

    def sample(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
        return values[np.searchsorted(cum, uniforms(key, ids, counter), side="right")]

    return sample


def duration_sampler(dist: object) -> Sampler:
    """A sampler of ``dist`` in hours."""
    if isinstance(dist, Fixed):
        value = parse_duration(dist.value)
        return lambda key, ids, counter=0: np.full(np.shape(ids), value)
    if isinstance(dist, Exponential):
        mean = parse_duration(dist.mean)
        return lambda key, ids, counter=0: -mean * np.log(uniforms(key, ids, counter))
    if isinstance(dist, Lognormal):
        sigma2 = math.log1p(dist.cv**2)
        mu, sigma = math.log(parse_duration(dist.mean)) - sigma2 / 2, math.sqrt(sigma2)
        return lambda key, ids, counter=0: np.exp(mu + sigma * _normal(key, ids, counter))
    if isinstance(dist, Gamma):
        shape = 1.0 / dist.cv**2
        scale = parse_duration(dist.mean) / shape
        return lambda key, ids, counter=0: scale * _gamma(shape, key, ids, counter)
    if isinstance(dist, Uniform):
        low, high = parse_duration(dist.low), parse_duration(dist.high)
        return lambda key, ids, counter=0: low + (high - low) * uniforms(key, ids, counter)
    if isinstance(dist, Empirical):
        values = np.array([parse_duration(v) for v in dist.values])
        return _choice(values, dist.weights or [1.0] * len(values))
    raise TypeError(f"no sampler for {type(dist).__name__}")


def can_be_zero(dist: object) -> bool:
    """Whether ``dist`` can give a duration of exactly zero."""
    if isinstance(dist, Fixed):
        return parse_duration(dist.value) == 0
    if isinstance(dist, Uniform):
        return parse_duration(dist.low) == 0
    if isinstance(dist, Empirical):
        return any(parse_duration(v) == 0 and (dist.weights is None or w > 0)
                   for v, w in zip(dist.values, dist.weights or [1.0] * len(dist.values)))
    return False


def _poisson_table(mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Values and cumulative probabilities of Poisson(mean), far enough into the tail that the
    rest is below 1e-16 (inversion by table lookup, exact up to that tail)."""
    top = int(mean + 12.0 * math.sqrt(mean) + 30)
    k = np.arange(top + 1)
    log_pmf = np.array([i * math.log(mean) - mean - math.lgamma(i + 1) for i in range(top + 1)]) if mean > 0 \
        else np.where(k == 0, 0.0, -np.inf)
    cum = np.cumsum(np.exp(log_pmf))
    cum[-1] = np.inf
    return k, cum


def count_sampler(dist: object) -> Sampler:
    """A sampler of whole numbers from a count distribution."""
    if isinstance(dist, Constant):
        return lambda key, ids, counter=0: np.full(np.shape(ids), dist.value, dtype=np.int64)
    if isinstance(dist, Poisson):
        values, cum = _poisson_table(dist.mean - dist.offset)
        values = values + dist.offset

        def poisson(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
            return values[np.searchsorted(cum, uniforms(key, ids, counter), side="right")]

        return poisson
    if isinstance(dist, Geometric):
        if dist.mean == 1.0:
            return lambda key, ids, counter=0: np.ones(np.shape(ids), dtype=np.int64)
        log_q = math.log1p(-1.0 / dist.mean)
        return lambda key, ids, counter=0: np.maximum(
            1, np.ceil(np.log(uniforms(key, ids, counter)) / log_q)).astype(np.int64)
    if isinstance(dist, CountTable):
        return _choice(np.array(dist.values, dtype=np.int64), dist.weights)
    raise TypeError(f"no count sampler for {type(dist).__name__}")
