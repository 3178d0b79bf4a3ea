"""The attribute codes of new entities: fixed values, inherited values, then the kind's draws.

Draws follow the kind's attribute order, so a ``cases`` draw can read attributes drawn before
it. Each drawn attribute has its own stream; the counter is the entity's id (an incident's
duplicates share the draw of the incident's first entity, see :mod:`routing_sim.engine.sources`).
"""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.conditions import Cases, Categorical, Condition
from routing_sim.engine.rules.randomness import Streams, uniforms
from routing_sim.model.process import Case, Draw

ATTR_DTYPE = np.int16


class AttributeDraws:
    """How one kind's entities (from one source, or from one spawn rule) get their attributes."""

    def __init__(self, codes: Codes, attributes: dict[str, Draw], overrides: dict, streams: Streams, prefix: str):
        self.n = len(codes.attributes)
        self.fixed: list[tuple[int, int]] = []
        self.steps: list[tuple[int, int, Cases]] = []
        self.inherit = [codes.attr(name) for name, draw in attributes.items() if draw.inherit]
        for name, draw in attributes.items():
            spec = overrides.get(name, draw)
            if isinstance(spec, str):
                self.fixed.append((codes.attr(name), codes.value(name, spec)))
                continue
            cases = [Case(p=spec.p)] if spec.p is not None else spec.cases
            if cases is None:
                continue  # inherited or decided later
            conditions = [Condition(codes, case.when) for case in cases]
            draws = [Categorical(list(case.p.values()), [codes.value(name, v) for v in case.p]) for case in cases]
            self.steps.append((codes.attr(name), streams.key(f"{prefix}.{name}"), Cases(conditions, draws)))

    def draw(self, ids: np.ndarray, parents: np.ndarray | None = None) -> np.ndarray:
        """Attribute codes for entities ``ids``; ``parents`` (their parents' attribute rows) supplies
        the inherited values."""
        attrs = np.full((ids.size, self.n), -1, dtype=ATTR_DTYPE)
        for i, value in self.fixed:
            attrs[:, i] = value
        if parents is not None:
            for i in self.inherit:
                attrs[:, i] = parents[:, i]
        for i, key, cases in self.steps:
            attrs[:, i] = cases.choose(attrs, uniforms(key, ids), attrs[:, i])
        return attrs
