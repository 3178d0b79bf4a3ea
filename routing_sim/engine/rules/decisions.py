"""A stage's ``decide``: at the end of a visit, set an attribute from the first case whose
condition holds, with that case's probabilities (one uniform per entity and visit)."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.conditions import Cases, Categorical, Condition
from routing_sim.engine.rules.randomness import SUBDRAWS, Streams, uniforms
from routing_sim.model.process import Decide


class Decision:
    def __init__(self, codes: Codes, stage: str, decide: Decide, streams: Streams):
        self.index = codes.attr(decide.set)
        self.key = streams.key(f"decide.{stage}.{decide.set}")
        self.cases = Cases([Condition(codes, c.when) for c in decide.cases],
                           [Categorical(list(c.p.values()), [codes.value(decide.set, v) for v in c.p])
                            for c in decide.cases])

    def apply(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray | int) -> None:
        """Set the attribute in place for every row."""
        u = uniforms(self.key, ids, np.asarray(visit, dtype=np.int64) * SUBDRAWS)
        attrs[:, self.index] = self.cases.choose(attrs, u, attrs[:, self.index])
