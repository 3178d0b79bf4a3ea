"""Tallies, conservation of entities and volumes by source: one pass over the entity rows.

A tally is a count (``tallies.<name>``), or with ``of`` a share with its denominator and 95 %
Wilson score interval (``tallies.<name>.count``, ``.denominator``, ``.share``, ``.share_low``,
``.share_high``: NaN share and bounds when the denominator is 0)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from routing_sim.codes import Codes
from routing_sim.model.process import ProcessConfig
from routing_sim.stats import wilson_interval
from routing_sim.summary import SimulationSummary


def select(codes: Codes, ents: dict[str, np.ndarray], kind: str, when: dict | None) -> np.ndarray:
    mask = ents["kind"] == codes.kinds.index(kind)
    for attribute, values in (when or {}).items():
        wanted = [codes.value(attribute, x) for x in ([values] if isinstance(values, str) else values)]
        mask &= np.isin(ents[f"attr.{attribute}"], wanted)
    return mask


def selection_columns(kind_when: Iterable[dict | None]) -> set[str]:
    return {f"attr.{a}" for when in kind_when for a in (when or {})}


class EntityFigures:
    """Tallies, conservation and volumes, accumulated a chunk of entity rows at a time."""

    def __init__(self, cfg: ProcessConfig, codes: Codes, summary: SimulationSummary):
        self.cfg, self.codes, self.summary = cfg, codes, summary
        n_kinds, n_outcomes, n_stages, n_sources = (len(codes.kinds), len(codes.outcomes), len(codes.stages),
                                                    len(codes.sources))
        self.columns = {"entity", "kind", "source", "group", "outcome", "stage", *(f"count.{c}" for c in codes.counts),
                        *selection_columns(c for t in cfg.tallies.values() for c in (t.when, t.of))}
        self.tallies = dict.fromkeys(cfg.tallies, 0)
        self.denominators = {name: 0 for name, t in cfg.tallies.items() if t.of is not None}
        self.rows = np.zeros(n_kinds, dtype=np.int64)
        self.finished = np.zeros((n_kinds, n_outcomes), dtype=np.int64)
        self.in_progress = np.zeros((n_kinds, n_stages), dtype=np.int64)
        self.by_source = np.zeros(n_sources, dtype=np.int64)
        self.incidents = np.zeros(n_sources, dtype=np.int64)
        self.count_sums = np.zeros((n_sources, len(codes.counts)), dtype=np.int64)

    def add(self, e: dict[str, np.ndarray]) -> None:
        codes = self.codes
        n_kinds, n_outcomes, n_stages = self.finished.shape[0], self.finished.shape[1], self.in_progress.shape[1]
        n_sources = self.by_source.size
        kind, outcome, stage = e["kind"].astype(np.int64), e["outcome"].astype(np.int64), e["stage"].astype(np.int64)
        for name, t in self.cfg.tallies.items():
            if t.of is None:
                self.tallies[name] += int(select(codes, e, t.kind, t.when).sum())
            else:
                of = select(codes, e, t.kind, t.of)
                self.denominators[name] += int(of.sum())
                self.tallies[name] += int((of & select(codes, e, t.kind, t.when)).sum())
        self.rows += np.bincount(kind, minlength=n_kinds)
        done = outcome >= 0
        self.finished += np.bincount(kind[done] * n_outcomes + outcome[done],
                                     minlength=n_kinds * n_outcomes).reshape(n_kinds, n_outcomes)
        open_ = (outcome == -1) & (stage >= 0)
        self.in_progress += np.bincount(kind[open_] * n_stages + stage[open_],
                                        minlength=n_kinds * n_stages).reshape(n_kinds, n_stages)
        source = e["source"].astype(np.int64)
        from_source = source >= 0
        self.by_source += np.bincount(source[from_source], minlength=n_sources)
        # an incident's entities share the id of its first entity as their group, and all come from one source
        first = from_source & (e["group"] == e["entity"])
        self.incidents += np.bincount(source[first], minlength=n_sources)
        for j, count in enumerate(codes.counts):
            self.count_sums[:, j] += np.bincount(source[from_source], weights=e[f"count.{count}"][from_source],
                                                 minlength=n_sources).astype(np.int64)

    def result(self) -> dict[str, Any]:
        cfg, codes, summary = self.cfg, self.codes, self.summary
        conservation: dict[str, Any] = {}
        for k, kind in enumerate(codes.kinds):
            created = sum(n for name, n in summary.arrived_by_source.items() if cfg.sources[name].kind == kind)
            created += summary.spawned_by_kind.get(kind, 0)
            done_by = {name: int(self.finished[k, i]) for i, name in enumerate(codes.outcomes)}
            open_by = {name: int(self.in_progress[k, i]) for i, name in enumerate(codes.stages)}
            accounted = sum(done_by.values()) + sum(open_by.values())
            conservation[kind] = {
                "created": created,
                "rows": int(self.rows[k]),
                "finished": {name: n for name, n in done_by.items() if n},
                "in_progress": {name: n for name, n in open_by.items() if n},
                "balanced": created == accounted == int(self.rows[k]),
            }
        conservation["pending_spawns"] = summary.pending_spawns
        volumes: dict[str, Any] = {}
        for index, name in enumerate(codes.sources):
            row = {"entities": int(self.by_source[index]), "incidents": int(self.incidents[index])}
            for j, count in enumerate(codes.counts):
                row[count] = int(self.count_sums[index, j])
            volumes[name] = row
        tallies: dict[str, Any] = {}
        for name, hits in self.tallies.items():
            if name in self.denominators:
                n = self.denominators[name]
                share, low, high = wilson_interval(hits, n)
                tallies[name] = {"count": hits, "denominator": n, "share": share, "share_low": low,
                                 "share_high": high}
            else:
                tallies[name] = hits
        return {"tallies": tallies, "conservation": conservation, "volumes": volumes}
