"""Samplers of durations (hours) and counts from order-free uniforms.

A sampler is built once per distribution and called as ``sample(key, ids, counter)``: one value
per id, drawn from the stream ``key`` at ``counter`` (and the following counters when a value
needs several uniforms: ``counter + 1, ...``, below :data:`~.randomness.SUBDRAWS`). Every
transformation is elementwise numpy, so a value depends on its own uniforms only. A duration
distribution turns the uniforms into hours itself (its ``sample``); this module supplies them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from routing_sim.engine.rules.randomness import SUBDRAWS, uniforms
from routing_sim.model.distributions import Distribution
from routing_sim.model.volumes import CountDistribution


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


def duration_sampler(dist: Distribution) -> Sampler:
    """A sampler of ``dist`` in hours."""

    def sample(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
        return dist.sample(Draws(key, ids, counter))

    return sample


def count_sampler(dist: CountDistribution) -> Sampler:
    """A sampler of whole numbers from a count distribution (the distribution draws them)."""

    def sample(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
        return dist.sample(Draws(key, ids, counter))

    return sample
