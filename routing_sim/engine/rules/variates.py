"""Samplers of durations (hours) and counts from order-free uniforms.

A sampler is built once per distribution and called as ``sample(key, ids, counter)``: one value
per id, drawn from the stream ``key`` at ``counter`` (and the following counters when a value
needs several uniforms: ``counter + 1, ...``, below :data:`~.randomness.SUBDRAWS`). Every
transformation is elementwise numpy, so a value depends on its own uniforms only. A duration
distribution turns the uniforms into hours itself (its ``sample``); this module supplies them.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from routing_sim.engine.rules.randomness import SUBDRAWS, uniforms
from routing_sim.model.distributions import Distribution
from routing_sim.model.volumes import Constant, Geometric, Poisson
from routing_sim.model.volumes import Table as CountTable


class Sampler(Protocol):
    """Values for entities ``ids`` from stream ``key`` at draw ``counter``."""

    def __call__(self, key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray: ...



class Draws:
    """The uniforms of one batch of draws (see :class:`~routing_sim.model.distributions.Uniforms`):
    the k-th uniform of the draw for ``ids[i]`` is that of stream ``key`` at ``counter + k``."""

    __slots__ = ("key", "ids", "counter", "shape")

    def __init__(self, key: int, ids: np.ndarray, counter: np.ndarray | int):
        self.key, self.ids, self.counter = key, ids, counter
        self.shape = np.shape(ids)

    def __call__(self, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        if k >= SUBDRAWS:
            raise RuntimeError(f"a draw needs more than {SUBDRAWS} uniforms (a rejection sampler rejected "
                               "too often)")  # for the gamma sampler, probability below 1e-60
        if rows is None:
            return uniforms(self.key, self.ids, np.asarray(self.counter) + k)
        counter = np.broadcast_to(np.asarray(self.counter, dtype=np.int64), self.shape)
        return uniforms(self.key, self.ids[rows], counter[rows] + k)


def _choice(values: np.ndarray, weights: list[float] | np.ndarray) -> Sampler:
    cum = np.cumsum(np.asarray(weights, dtype=float) / float(np.sum(weights)))
    cum[-1] = np.inf

    def sample(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
        return values[np.searchsorted(cum, uniforms(key, ids, counter), side="right")]

    return sample


def duration_sampler(dist: Distribution) -> Sampler:
    """A sampler of ``dist`` in hours."""

    def sample(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
        return dist.sample(Draws(key, ids, counter))

    return sample


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
        value = dist.value

        def constant(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
            return np.full(np.shape(ids), value, dtype=np.int64)

        return constant
    if isinstance(dist, Poisson):
        values, cum = _poisson_table(dist.mean - dist.offset)
        values = values + dist.offset

        def poisson(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
            return values[np.searchsorted(cum, uniforms(key, ids, counter), side="right")]

        return poisson
    if isinstance(dist, Geometric):
        log_q = math.log1p(-1.0 / dist.mean) if dist.mean != 1.0 else 0.0

        def geometric(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
            if log_q == 0.0:  # a mean of 1: always one
                return np.ones(np.shape(ids), dtype=np.int64)
            return np.maximum(1, np.ceil(np.log(uniforms(key, ids, counter)) / log_q)).astype(np.int64)

        return geometric
    if isinstance(dist, CountTable):
        return _choice(np.array(dist.values, dtype=np.int64), dist.weights)
    raise TypeError(f"no count sampler for {type(dist).__name__}")
