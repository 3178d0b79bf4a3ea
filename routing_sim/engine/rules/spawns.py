"""Linked entities created after a visit: a spawn rule of a stage fires with probability ``p``
for entities whose attributes (after the visit's decisions) satisfy ``when``; the child enters
the rule's stage ``after`` a delay from the end of the parent's visit.

A child's id derives from its parent's id, the rule and the visit number, so it is the same
whichever executor runs and in whatever order events happen. Spawned ids lie in
[2**62, 2**63) and arrivals below 2**62 (two children collide with probability about
n**2 / 2**63 for n children: below 1e-5 for a hundred million).
"""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.attributes import AttributeDraws
from routing_sim.engine.rules.conditions import Condition
from routing_sim.engine.rules.randomness import SUBDRAWS, Streams, hashed, uniforms
from routing_sim.engine.rules.variates import duration_sampler
from routing_sim.model.process import ProcessConfig, Spawn

CHILD_BASE = np.uint64(1 << 62)


class SpawnRule:
    def __init__(self, cfg: ProcessConfig, codes: Codes, stage: str, number: int, spawn: Spawn, streams: Streams):
        name = f"spawn.{stage}.{number}"
        self.kind = codes.kinds.index(spawn.kind)
        self.entry = codes.stages.index(spawn.to)
        self.when = Condition(codes, spawn.when)
        self.p = spawn.p
        self.key = streams.key(name)
        self.id_key = streams.key(f"{name}.id")
        self.delay_key = streams.key(f"{name}.delay")
        self.delay = duration_sampler(spawn.after)
        self.attributes = AttributeDraws(codes, cfg.kinds[spawn.kind].attributes, {}, streams, f"{name}.attributes")

    def of(self, attrs: np.ndarray, ids: np.ndarray, visit: np.ndarray) -> tuple[np.ndarray, ...]:
        """Which rows spawn, and their children's ids, delays (hours) and attribute codes."""
        counter = np.asarray(visit, dtype=np.int64) * SUBDRAWS
        counter = np.broadcast_to(counter, ids.shape)
        rows = np.flatnonzero(self.when.mask(attrs))
        if rows.size:
            rows = rows[uniforms(self.key, ids[rows], counter[rows]) < self.p]
        parents, c = ids[rows], counter[rows]
        children = ((hashed(self.id_key, parents, c) >> np.uint64(2)) | CHILD_BASE).astype(np.int64)
        delays = self.delay(self.delay_key, parents, c)
        return rows, children, delays, self.attributes.draw(children, attrs[rows])
