"""Named random-number streams and buffered samplers.

Every purpose (a source's arrivals, a source's attribute draws, a stage's
service times, a decision, a routing point) has its own numpy Generator. Its
seed is derived from the root seed, the replication index and a hash of the
stream's *name*, not from its position in a list: adding a stage or changing
staffing leaves every other stream unchanged (common random numbers).

Streams draw variates in chunks with numpy and hand them out one at a time as
Python floats (the event loop) or as arrays (the vectorised front).
"""

from __future__ import annotations

import hashlib
import math
from typing import Callable

import numpy as np

from routing_sim.model.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, Uniform
from routing_sim.units import parse_duration

CHUNK = 2048


def name_key(name: str) -> tuple[int, ...]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RandomStreams:
    """One root seed and a replication index; a Generator per named purpose."""

    def __init__(self, seed: int, replication: int = 0):
        self.seed = seed
        self.replication = replication
        self.names: list[str] = []

    def generator(self, name: str) -> np.random.Generator:
        if name in self.names:
            raise ValueError(f"random stream {name!r} requested twice")
        self.names.append(name)
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, *name_key(name)))
        return np.random.Generator(np.random.PCG64(seq))


class Stream(list):
    """Variates drawn in chunks by ``sample(gen, n)`` and handed out from the end of the list.

    The hot path calls the list's own C-level ``pop`` and falls back to
    :meth:`refill` on ``IndexError``::

        try:
            x = pop()
        except IndexError:
            x = stream.refill()

    which costs no Python function call per variate.
    """

    __slots__ = ("_gen", "_sample")

    def __init__(self, gen: np.random.Generator, sample: Callable[[np.random.Generator, int], np.ndarray]):
        super().__init__()
        self._gen = gen
        self._sample = sample

    def __bool__(self) -> bool:
        return True  # a stream is never "empty" to its users, even while its buffer is

    def refill(self) -> float:
        self.extend(self._sample(self._gen, CHUNK)[::-1].tolist())
        return self.pop()

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` variates as an array, in the order ``pop`` would give them (the vectorised front)."""
        held = len(self)
        if held >= n:
            out = self[held - n:]
            del self[held - n:]
            return np.array(out[::-1])
        drawn = self._sample(self._gen, n - held)
        if not held:
            return np.asarray(drawn)
        head = np.array(self[::-1])
        self.clear()
        return np.concatenate([head, drawn])

    def next(self) -> float:
        """One variate (a convenience for code off the hot path)."""
        try:
            return self.pop()
        except IndexError:
            return self.refill()


def uniforms(gen: np.random.Generator) -> Stream:
    return Stream(gen, lambda g, n: g.random(n))


def stream_of(dist: object, gen: np.random.Generator) -> Stream:
    """A stream of values (hours) of ``dist``."""
    if isinstance(dist, Fixed):
        value = parse_duration(dist.value)
        return Stream(gen, lambda g, n: np.full(n, value))
    if isinstance(dist, Exponential):
        mean = parse_duration(dist.mean)
        return Stream(gen, lambda g, n: g.exponential(mean, n))
    if isinstance(dist, Lognormal):
        mean = parse_duration(dist.mean)
        sigma2 = math.log1p(dist.cv**2)
        mu, sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
        return Stream(gen, lambda g, n: g.lognormal(mu, sigma, n))
    if isinstance(dist, Gamma):
        shape = 1 / dist.cv**2
        scale = parse_duration(dist.mean) / shape
        return Stream(gen, lambda g, n: g.gamma(shape, scale, n))
    if isinstance(dist, Uniform):
        low, high = parse_duration(dist.low), parse_duration(dist.high)
        return Stream(gen, lambda g, n: g.uniform(low, high, n))
    if isinstance(dist, Empirical):
        values = np.array([parse_duration(v) for v in dist.values])
        weights = np.array(dist.weights or [1.0] * len(values), dtype=float)
        cum = np.cumsum(weights / weights.sum())
        cum[-1] = 1.0
        return Stream(gen, lambda g, n: values[np.searchsorted(cum, g.random(n), side="right")])
    raise TypeError(f"no sampler for {type(dist).__name__}")
