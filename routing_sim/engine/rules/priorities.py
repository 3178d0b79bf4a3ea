"""The priority class of a visit at a pool: the index of the first priority rule the entity's
attributes (at its arrival) satisfy, or the number of rules when none does. Lower is served
first; within a class, the earlier arrival at the pool, then the lower entity id."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.conditions import Condition, first_match


class Priorities:
    def __init__(self, codes: Codes, rules: list):
        self.conditions = [Condition(codes, rule) for rule in rules]

    def classes(self, attrs: np.ndarray) -> np.ndarray:
        if not self.conditions:
            return np.zeros(attrs.shape[0], dtype=np.int64)
        return first_match(self.conditions, attrs)
