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

    def __init__(self, codes: Codes, attributes: dict[str, Draw], overrides: dict, streams: Streams, prefix: str,
                 drives: dict | None = None):
        self.n = len(codes.attributes)
        self.driven: dict[int, Driven] = {}
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
            if drives and name in drives:  # a plain p (checked), its share of one value following a database
                drive = drives[name]
                self.driven[codes.attr(name)] = Driven(
                    drive, [codes.value(name, v) for v in spec.p], list(spec.p.values()),
                    list(spec.p).index(drive.value_name))
            conditions = [Condition(codes, case.when) for case in cases]
            draws = [Categorical(list(case.p.values()), [codes.value(name, v) for v in case.p]) for case in cases]
            self.steps.append((codes.attr(name), streams.key(f"{prefix}.{name}"), Cases(conditions, draws)))

    def draw(self, ids: np.ndarray, parents: np.ndarray | None = None, times: np.ndarray | None = None) -> np.ndarray:
        """Attribute codes for entities ``ids``; ``parents`` (their parents' attribute rows) supplies
        the inherited values; ``times`` (their arrival times) the shares a database drives."""
        attrs = np.full((ids.size, self.n), -1, dtype=ATTR_DTYPE)
        for i, value in self.fixed:
            attrs[:, i] = value
        if parents is not None:
            for i in self.inherit:
                attrs[:, i] = parents[:, i]
        for i, key, cases in self.steps:
            if i in self.driven:
                if times is None:
                    raise ValueError("a driven attribute needs the arrival times")
                attrs[:, i] = self.driven[i].choose(uniforms(key, ids), times)
            else:
                attrs[:, i] = cases.choose(attrs, uniforms(key, ids), attrs[:, i])
        return attrs


class Driven:
    """A plain categorical draw whose one value has a share that varies with the arrival time; the
    other values keep their proportions. With the share at its configured value it draws the
    plain draw's distribution (and, the value listed first, the very same values)."""

    def __init__(self, drive, values: list[int], probabilities: list[float], index: int):
        self.drive = drive
        self.value = values[index]
        others = [(v, p) for j, (v, p) in enumerate(zip(values, probabilities, strict=True)) if j != index]
        self.others = np.array([v for v, _ in others], dtype=np.int64)
        cum = np.cumsum([p for _, p in others], dtype=float)
        self.cum = cum / cum[-1]
        self.cum[-1] = np.inf

    def choose(self, u: np.ndarray, times: np.ndarray) -> np.ndarray:
        share = self.drive.share(times)
        rest = np.maximum(1.0 - share, 1e-300)
        other = self.others[np.searchsorted(self.cum, (u - share) / rest, side="right")]
        return np.where(u < share, self.value, other)
