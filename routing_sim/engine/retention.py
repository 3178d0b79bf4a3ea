"""What the organisation keeps stored (config ``retention:``), from the entity rows as they are written.

A rule keeps the entities of one kind whose final attributes match ``when``. An entity is stored
at time ``t`` if it arrived by ``t`` (``created <= t``) and ``t < anchor + keep``, where the anchor
is its end (``from: end``, the default; an entity still open at the horizon stays stored) or its
arrival (``from: arrival``). Each carries ``items`` (a count column; one if not given) of
``size_per_item_mb`` megabytes.

Like the other time series (:mod:`routing_sim.engine.series`), the counts on the grid are
accumulated as +1/-1 in difference arrays as each batch of entity rows is written: exact in any
order, nothing on the simulation's hot path, memory bounded by the grid, and the same at every
record level (the rows are observed before any table is dropped). The peaks are taken on the grid;
the figures at the horizon are exact, and a peak is the largest of the grid values and the value at
the horizon.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from routing_sim.codes import Codes
from routing_sim.engine.rules.attributes import ATTR_DTYPE
from routing_sim.engine.rules.conditions import Condition
from routing_sim.engine.series import grid_index
from routing_sim.model.process import ProcessConfig
from routing_sim.summary import RetentionTotals


class Stored:
    """One retention rule and what it has counted so far."""

    def __init__(self, name: str, kind: int, when: Condition, keep: float, from_end: bool, items: str | None,
                 size_mb: float, width: int):
        self.name = name
        self.kind = kind
        self.when = when
        self.keep = keep
        self.from_end = from_end
        self.items = items  # the count column, or None: one item per entity
        self.size_mb = size_mb
        self.entities = np.zeros(width, dtype=np.int64)  # differences over the grid
        self.item_diffs = np.zeros(width, dtype=np.int64)
        self.matched = 0
        self.end_entities = 0
        self.end_items = 0


class StoredAccumulator:
    """Entities, items and megabytes stored by every retention rule, on the time-series grid."""

    def __init__(self, cfg: ProcessConfig, codes: Codes, horizon: float, step: float):
        self.codes = codes
        self.horizon = horizon
        self.step = step
        self.n = max(1, math.ceil(horizon / step - 1e-9))  # the grid of SeriesAccumulator
        self.grid = np.arange(self.n) * step
        self.padded = np.concatenate([[-np.inf], self.grid, [np.inf]])
        self.rules = [Stored(name, codes.kinds.index(r.kind), Condition(codes, r.when), float(r.keep),
                             r.start == "end", None if r.items is None else f"count.{r.items}", r.size_per_item_mb,
                             self.n + 1)
                      for name, r in cfg.retention.items()]
        self.read = sorted({a for r in cfg.retention.values() for a in (r.when or {})})  # attributes the rules test

    def __len__(self) -> int:
        return len(self.rules)

    def add(self, batch: pa.RecordBatch) -> None:
        if not self.rules or not batch.num_rows:
            return
        kind = batch.column("kind").to_numpy()
        created = batch.column("created").to_numpy()
        ended = batch.column("ended").to_numpy()
        attrs = np.full((batch.num_rows, len(self.codes.attributes)), -1, dtype=ATTR_DTYPE)
        for name in self.read:
            attrs[:, self.codes.attr(name)] = batch.column(f"attr.{name}").to_numpy()
        width = self.n + 1
        for rule in self.rules:
            hit = kind == rule.kind
            if not rule.when.always:
                hit &= rule.when.mask(attrs)
            if not hit.any():
                continue
            lo = created[hit]
            until = (ended[hit] if rule.from_end else lo) + rule.keep
            until = np.where(np.isnan(until), np.inf, until)  # open at the horizon: still stored
            items = (batch.column(rule.items).to_numpy()[hit].astype(np.int64) if rule.items is not None
                     else np.ones(lo.size, dtype=np.int64))
            a = grid_index(lo, self.step, self.n, self.padded)
            b = grid_index(until, self.step, self.n, self.padded)
            some = a < b
            a, b, weight = a[some], b[some], items[some]
            rule.entities += np.bincount(a, minlength=width)[:width] - np.bincount(b, minlength=width)[:width]
            np.add.at(rule.item_diffs, a, weight)
            np.subtract.at(rule.item_diffs, b, weight)
            rule.matched += int(lo.size)
            at_end = until > self.horizon
            rule.end_entities += int(at_end.sum())
            rule.end_items += int(items[at_end].sum())

    def columns(self) -> dict[str, np.ndarray]:
        """The time-series columns: ``stored.<rule>``, ``stored_items.<rule>``, ``stored_mb.<rule>``."""
        out: dict[str, np.ndarray] = {}
        for rule in self.rules:
            entities, items = self._series(rule)
            out[f"stored.{rule.name}"] = entities
            out[f"stored_items.{rule.name}"] = items
            out[f"stored_mb.{rule.name}"] = items * rule.size_mb
        return out

    def _series(self, rule: Stored) -> tuple[np.ndarray, np.ndarray]:
        return np.cumsum(rule.entities)[: self.n], np.cumsum(rule.item_diffs)[: self.n]

    def totals(self) -> list[RetentionTotals]:
        out = []
        for rule in self.rules:
            entities, items = self._series(rule)
            # the peak of the grid values and the value at the horizon (the first grid point on ties)
            entities = np.append(entities, rule.end_entities)
            items = np.append(items, rule.end_items)
            times = np.append(self.grid, self.horizon)
            e, i = int(np.argmax(entities)), int(np.argmax(items))
            out.append(RetentionTotals(
                name=rule.name, stored_ever=rule.matched, peak_entities=int(entities[e]),
                peak_entities_at=float(times[e]), peak_items=int(items[i]), peak_items_at=float(times[i]),
                peak_mb=float(items[i]) * rule.size_mb, end_entities=rule.end_entities, end_items=rule.end_items,
                end_mb=rule.end_items * rule.size_mb))
        return out
