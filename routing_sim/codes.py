"""The integer codes of every name in a config: attributes and their values, kinds, sources,
stages and outcomes (places), pools, counts and the marks deadlines measure.

Both the engine and the statistics read tables written with these codes, so they live here,
below both.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing_sim.model.process import ENTITY_POINTS, ProcessConfig


@dataclass
class Codes:
    """The integer codes of every name in a config."""

    attributes: list[str]
    values: dict[str, list[str]]
    kinds: list[str]
    sources: list[str]
    stages: list[str]
    outcomes: list[str]
    pools: list[str]
    counts: list[str]
    marks: list[str]  # the points the deadlines measure ("stage.enter|start|end"), kept on each entity
    kind_marks: list[list[int]]  # per kind, the marks its deadlines measure (indices into marks, ascending)
    groups: dict[str, list[str]]  # a stage a split pool made copies of, and its copies (see model.splits)

    @classmethod
    def of(cls, cfg: ProcessConfig) -> Codes:
        points = [p for d in cfg.deadlines.values() for p in (d.start, d.end) if p not in ENTITY_POINTS]
        marks = list(dict.fromkeys(points))
        by_kind = {kind: sorted({marks.index(p) for d in cfg.deadlines.values() if d.kind == kind
                                 for p in (d.start, d.end) if p not in ENTITY_POINTS}) for kind in cfg.kinds}
        return cls(
            attributes=list(cfg.attributes),
            values={k: list(v) for k, v in cfg.attributes.items()},
            kinds=list(cfg.kinds),
            sources=list(cfg.sources),
            stages=list(cfg.stages),
            outcomes=list(cfg.outcomes),
            pools=list(cfg.pools),
            counts=sorted({name for src in cfg.sources.values() for name in src.counts}),
            marks=marks,
            kind_marks=[by_kind[kind] for kind in cfg.kinds],
            groups={stage: list(copies.values()) for split in cfg.splits.values()
                    for stage, copies in split.stages.items()},
        )

    def point_stages(self, stage: str) -> list[int]:
        """The codes of the stages a point on ``stage`` is reached at: the stage itself, or each copy
        of a stage a split pool made copies of (``national_intake`` -> ``national_intake_de``, ...)."""
        return [self.stages.index(s) for s in self.groups.get(stage, [stage])]

    def mark(self, stage: str, which: str) -> int:
        """The index of the mark of ``stage.which`` (-1: no deadline measures it)."""
        point = f"{stage}.{which}"
        return self.marks.index(point) if point in self.marks else -1

    def kind_mark(self, kind: int, stage: str, which: str) -> int:
        """Where an entity of kind number ``kind`` keeps the mark of ``stage.which`` in its own
        list of marks (only those its kind's deadlines measure); -1: none."""
        j = self.mark(stage, which)
        return self.kind_marks[kind].index(j) if j in self.kind_marks[kind] else -1

    def attr(self, name: str) -> int:
        return self.attributes.index(name)

    def value(self, attribute: str, value: str) -> int:
        return self.values[attribute].index(value)

    def place(self, name: str) -> int:
        if name in self.stages:
            return self.stages.index(name)
        return len(self.stages) + self.outcomes.index(name)

    @property
    def n_values(self) -> list[int]:
        """How many values each attribute has, in attribute order."""
        return [len(self.values[a]) for a in self.attributes]

    @property
    def places(self) -> list[str]:
        return self.stages + self.outcomes
