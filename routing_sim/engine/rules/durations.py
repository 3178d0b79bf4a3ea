"""How long a visit of a stage takes: its service (or delay) distribution, possibly per value of
one attribute, drawn from the stage's stream at the entity's visit number; plus a fixed time per
counted item the entity carries (``per_item``: a review that takes longer for more files)."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.randomness import SUBDRAWS, Streams
from routing_sim.engine.rules.variates import duration_sampler
from routing_sim.errors import RunError
from routing_sim.model.distributions import ByAttribute, Distribution
from routing_sim.model.process import Stage


class Durations:
    def __init__(self, codes: Codes, stage: str, config: Stage, streams: Streams):
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
        self.can_be_zero = any(d.can_be_zero for d in dists)  # per-item time only adds
        self.per_item = [(codes.counts.index(count), float(hours)) for count, hours in config.per_item.items()]

    def of(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray | int, counts: np.ndarray,
           rows: np.ndarray) -> np.ndarray:
        """Hours, one per entity (``attrs`` as at the start of the visit). ``counts[rows]`` are the
        entities' counted items, one column per count of the codes; only the columns a per-item
        time names are read."""
        counter = np.asarray(visit, dtype=np.int64) * SUBDRAWS
        if self.by < 0:
            return self._plus_items(self.sampler(self.key, ids, counter), counts, rows)
        out = np.empty(ids.size)
        codes = attrs[:, self.by]
        counter = np.broadcast_to(counter, ids.shape)
        for code in np.unique(codes).tolist():
            sampler = self.samplers.get(code)
            if sampler is None:
                raise RunError(f"stage {self.stage!r}: the service-time attribute is not set and there is no default")
            these = codes == code  # (``rows`` still names the entities' rows of ``counts``)
            out[these] = sampler(self.key, ids[these], counter[these])
        return self._plus_items(out, counts, rows)

    def _plus_items(self, hours: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The drawn hours plus the per-item time of each counted item (none: the draw as it is)."""
        for column, each in self.per_item:
            hours = hours + counts[rows, column] * each
        return hours
