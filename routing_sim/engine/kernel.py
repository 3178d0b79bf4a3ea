"""The one place the engine meets SimPy's internals.

The reference executor schedules its own small event objects (an entity in service, a pool's
dispatch, a feed of arrivals) at absolute times: ``Environment.schedule`` takes a delay, and
``now + (t - now)`` is not always ``t`` in floating point (about 4 in 10,000 cases), which
would break exact agreement with the fast executor. An event object needs only the two
attributes ``Environment.step`` reads, ``callbacks`` and ``_ok``. The tested SimPy range is
pinned in pyproject.toml.
"""

from __future__ import annotations

from heapq import heappush
from typing import cast

from simpy import Environment

NORMAL = 1
"""Completions, arrivals and calendar changes (SimPy's own NORMAL priority)."""
DISPATCH = 2
"""A pool's dispatch runs after every other event at the same instant."""


class Kernel(Environment):
    def at(self, event: object, t: float, priority: int = NORMAL) -> None:
        """Schedule ``event`` (with ``callbacks`` and ``_ok``) at the absolute time ``t``."""
        # SimPy types its heap as holding Event instances; these events only have what step() reads
        queue = cast("list[tuple[float, int, int, object]]", self._queue)
        heappush(queue, (t, priority, next(self._eid), event))

    def scheduled(self) -> int:
        """Events scheduled so far."""
        return next(self._eid)
