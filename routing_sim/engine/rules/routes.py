"""A stage's ``next``: the first rule whose condition holds gives the next place, either fixed
or drawn with the rule's probabilities (one uniform per entity and visit). Place codes number
the stages first, then the outcomes."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.conditions import Categorical, Condition, first_match
from routing_sim.engine.rules.randomness import SUBDRAWS, Streams, uniforms


class Routes:
    def __init__(self, codes: Codes, stage: str, rules: list, streams: Streams):
        self.conditions = [Condition(codes, rule.when) for rule in rules]
        self.targets: list[int | Categorical] = [
            codes.place(rule.to) if isinstance(rule.to, str)
            else Categorical(list(rule.to.values()), [codes.place(t) for t in rule.to])
            for rule in rules]
        self.key = streams.key(f"route.{stage}") if any(isinstance(t, Categorical) for t in self.targets) else 0

    @property
    def places(self) -> set[int]:
        """Every place a visit can lead to."""
        out: set[int] = set()
        for target in self.targets:
            out.update([target] if isinstance(target, int) else target.values.tolist())
        return out

    def of(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray | int) -> np.ndarray:
        """The next place of each entity (``attrs`` after the visit's decisions)."""
        if len(self.targets) == 1 and isinstance(self.targets[0], int):
            return np.full(ids.size, self.targets[0], dtype=np.int64)
        rule = first_match(self.conditions, attrs)
        out = np.empty(ids.size, dtype=np.int64)
        u = None
        for index, target in enumerate(self.targets):
            rows = rule == index
            if not rows.any():
                continue
            if isinstance(target, int):
                out[rows] = target
            else:
                if u is None:
                    u = uniforms(self.key, ids, np.asarray(visit, dtype=np.int64) * SUBDRAWS)
                out[rows] = target.choose(u[rows])
        return out
