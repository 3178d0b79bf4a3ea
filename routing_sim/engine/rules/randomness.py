"""Order-free random numbers: a uniform is a pure function of (stream key, entity id, counter).

A stream key is 64 bits derived from the root seed, the replication index and the stream's
name (``service.review``, ``route.intake``...), so adding a stage or a source leaves every
other stream unchanged. Within a stream, the draw for an entity at a given counter (its visit
number, or a sub-draw of one visit) is two rounds of the SplitMix64 finaliser over the key,
the id and the counter: no state, no sequence, nothing that depends on the order in which
entities are handled.

The uniform takes the top 52 bits and adds one half, so it lies strictly inside (0, 1): a
logarithm of it is finite and an exponential duration is never zero.
"""

from __future__ import annotations

import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_COUNTER = np.uint64(0xD1B54A32D192ED03)
_S30, _S27, _S31, _S12 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(12)
_SCALE = 2.0**-52

SUBDRAWS = 64
"""Counters per visit: a visit's k-th draw of one stream uses counter ``visit * SUBDRAWS + k``
(a lognormal takes two, a gamma three per attempt)."""

MAX_VISITS = 100_000
"""Visits one entity may plan (visit numbers 0 .. MAX_VISITS - 1); beyond, a routing loop is taken to
never end. Counters from ``MAX_VISITS * SUBDRAWS`` up are no visit's own: :func:`draw_counter` uses them."""


def draw_counter(visit: np.ndarray, draw: np.ndarray, most: int) -> np.ndarray:
    """The first counter of draw number ``draw`` (0 .. ``most`` - 1) of one stream at a visit, when
    a visit takes several independent draws (``longest_of``); the draw uses its own ``SUBDRAWS``
    counters from there. Draw 0 is the visit's own (``visit * SUBDRAWS``: one draw is the plain
    draw); draw j >= 1 lies above every visit's own counters, at
    ``(MAX_VISITS + visit * (most - 1) + j - 1) * SUBDRAWS``. So no two draws of any visits of an
    entity share a counter, and a draw does not depend on how many others its visit takes."""
    visit = np.asarray(visit, dtype=np.int64)
    draw = np.asarray(draw, dtype=np.int64)
    above = (MAX_VISITS + visit * (most - 1) + draw - 1) * SUBDRAWS
    return np.where(draw == 0, visit * SUBDRAWS, above)


def stream_key(seed: int, replication: int, name: str) -> int:
    """The 64-bit key of the stream ``name`` for a root seed and a replication."""
    digest = hashlib.sha256(f"{seed}/{replication}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, in place on a uint64 array (and returned)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def hashed(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
    """64 well-mixed bits per (key, id, counter)."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids).astype(np.uint64) * _GOLDEN
        z ^= np.uint64(key)
        mix(z)
        z += np.asarray(counter).astype(np.uint64) * _COUNTER
        return mix(z)


def uniforms(key: int, ids: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
    """One uniform in (0, 1) per id: the draw of stream ``key`` for that entity at ``counter``."""
    return ((hashed(key, ids, counter) >> _S12).astype(np.float64) + 0.5) * _SCALE


class Streams:
    """The keys of the named streams of one replication (names recorded for the report)."""

    def __init__(self, seed: int, replication: int = 0):
        self.seed = seed
        self.replication = replication
        self.names: list[str] = []

    def key(self, name: str) -> int:
        if name in self.names:
            raise ValueError(f"random stream {name!r} requested twice")
        self.names.append(name)
        return stream_key(self.seed, self.replication, name)
