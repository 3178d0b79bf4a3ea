"""How long a visit of a stage takes: its service (or delay) distribution, possibly per value of
one attribute, drawn from the stage's stream at the entity's visit number; or the longest of as
many independent draws as the entity carries of a count (``longest_of``: a request done when the
last of its copies is removed); plus a fixed time per counted item the entity carries
(``per_item``: a review that takes longer for more files)."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.randomness import SUBDRAWS, Streams, draw_counter
from routing_sim.engine.rules.variates import duration_sampler
from routing_sim.errors import RunError
from routing_sim.model.distributions import ByAttribute, Distribution
from routing_sim.model.process import LONGEST_OF_MAX, Stage


class Durations:
    def __init__(self, codes: Codes, stage: str, config: Stage, streams: Streams, carries_none: bool = False):
        """``carries_none``: whether an entity with none of the ``longest_of`` count may visit
        (:func:`routing_sim.model.checks.may_carry_none`), which makes a zero duration possible."""
        self.stage = stage
        self.key = streams.key(f"service.{stage}")
        service: Distribution | ByAttribute = config.service
        if isinstance(service, ByAttribute):
            self.by = codes.attr(service.by)
            default = duration_sampler(service.default) if service.default is not None else None
            self.samplers = {}
            for value in codes.values[service.by]:
                dist = service.cases.get(value)
                self.samplers[codes.value(service.by, value)] = duration_sampler(dist) if dist is not None else default
            self.samplers[-1] = default
            dists = [*service.cases.values(), *([service.default] if service.default is not None else [])]
        else:
            self.by = -1
            self.sampler = duration_sampler(service)
            dists = [service]
        self.longest = codes.counts.index(config.longest_of) if config.longest_of is not None else -1
        # per-item time only adds; the longest of several draws is zero only when a draw is, or when there are none
        self.can_be_zero = any(d.can_be_zero for d in dists) or (self.longest >= 0 and carries_none)
        self.per_item = [(codes.counts.index(count), float(hours)) for count, hours in config.per_item.items()]

    def of(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray | int, counts: np.ndarray,
           rows: np.ndarray) -> np.ndarray:
        """Hours, one per entity (``attrs`` as at the start of the visit). ``counts[rows]`` are the
        entities' counted items, one column per count of the codes; only the columns a per-item
        time or ``longest_of`` names are read.

        With ``longest_of``, an entity carrying n items takes the longest of n independent draws
        of the service (n = 0: zero hours, before any per-item time); draw j of visit k takes its
        uniforms from the counters :func:`~.randomness.draw_counter` gives (k, j), which no other
        draw of the entity uses, so a draw depends on nothing but (stream, entity, k, j)."""
        if self.longest < 0:
            hours = self._draws(attrs, ids, np.asarray(visit, dtype=np.int64) * SUBDRAWS)
        else:
            hours = self._longest(attrs, ids, visit, counts[rows, self.longest])
        return self._plus_items(hours, counts, rows)

    def _draws(self, attrs: np.ndarray, ids: np.ndarray, counter: np.ndarray) -> np.ndarray:
        """One draw of the service per entity, from the stage's stream at ``counter``."""
        if self.by < 0:
            return self.sampler(self.key, ids, counter)
        out = np.empty(ids.size)
        codes = attrs[:, self.by]
        counter = np.broadcast_to(counter, ids.shape)
        for code in np.unique(codes).tolist():
            sampler = self.samplers.get(code)
            if sampler is None:
                raise RunError(f"stage {self.stage!r}: the service-time attribute is not set and there is no default")
            these = codes == code
            out[these] = sampler(self.key, ids[these], counter[these])
        return out

    def _longest(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray | int, n: np.ndarray) -> np.ndarray:
        """The longest of ``n[i]`` draws for entity i (0 when ``n[i]`` is 0): every draw of the batch
        at once, then the maximum of each entity's run of draws."""
        n = np.asarray(n, dtype=np.int64)
        if n.size and int(n.max()) > LONGEST_OF_MAX:  # validated against the count distributions
            raise RunError(f"stage {self.stage!r}: an entity carries {int(n.max()):,} items, more than the "
                           f"{LONGEST_OF_MAX:,} draws longest_of takes")
        out = np.zeros(ids.size)
        total = int(n.sum())
        if not total:
            return out
        owner = np.repeat(np.arange(ids.size), n)
        first = np.cumsum(n) - n
        draw = np.arange(total) - first[owner]
        visits = np.broadcast_to(np.asarray(visit, dtype=np.int64), ids.shape)[owner]
        hours = self._draws(attrs[owner], ids[owner], draw_counter(visits, draw, LONGEST_OF_MAX))
        some = n > 0
        out[some] = np.maximum.reduceat(hours, first[some])
        return out

    def _plus_items(self, hours: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The drawn hours plus the per-item time of each counted item (none: the draw as it is)."""
        for column, each in self.per_item:
            hours = hours + counts[rows, column] * each
        return hours
