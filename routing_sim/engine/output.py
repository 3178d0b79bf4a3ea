"""Rows from planned and timed entities, written in one canonical order whatever the executor.

An executor reports each entity that reaches an outcome (:meth:`Output.finished`) or is still
in the process at the horizon (:meth:`Output.open`); the visits' times are in its
:class:`~routing_sim.engine.plan.Plan`. At each period boundary ``W`` the executors call
:meth:`Output.flush`, which writes every entity that ended before ``W``, and its visits, sorted by
(end time, entity id) and, for visits, the visit number; :meth:`Output.close` writes the
entities open at the horizon by id. So the tables hold the same rows in the same order, batch
for batch, whichever executor ran and in whatever order its events happened.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from routing_sim.codes import Codes
from routing_sim.engine.plan import Plan
from routing_sim.engine.records import VISITS, Sink, entity_schema
from routing_sim.engine.rules.marks import Marks


class Output:
    def __init__(self, codes: Codes, visits: Sink, entities: Sink):
        self.codes = codes
        self.marks = Marks(codes)
        self.visits = visits
        self.entities = entities
        self.entity_schema = entity_schema(codes.attributes, codes.counts, codes.marks)
        self.single: list[tuple[Plan, int, int, float, int]] = []  # (plan, entity row, visit, ended, outcome)
        self.chunks: list[tuple[Plan, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.visits_written = 0
        self.entities_written = 0
        self.spawned = np.zeros(len(codes.kinds), dtype=np.int64)
        self.pending = 0  # spawns due at or after the horizon

    def finished(self, plan: Plan, row: int, visit: int, ended: float, outcome: int) -> None:
        """Entity ``row`` of ``plan`` reached ``outcome`` at the end of ``visit``."""
        self.single.append((plan, row, visit, ended, outcome))

    def open(self, plan: Plan, row: int, visit: int) -> None:
        """Entity ``row`` of ``plan`` is at ``visit`` (waiting, in service or in a delay) at the horizon."""
        self.single.append((plan, row, visit, np.nan, -1))

    def finished_many(self, plan: Plan, rows: np.ndarray, visit: np.ndarray, ended: np.ndarray,
                      outcome: np.ndarray) -> None:
        """Entities ``rows`` of ``plan`` reached ``outcome`` at ``ended``, the end of ``visit`` (arrays)."""
        self.chunks.append((plan, rows, visit, ended, outcome))

    def flush(self, until: float) -> None:
        """Write every entity that ended before ``until`` (NaN: at :meth:`close`)."""
        self._write(until)

    def close(self) -> None:
        self._write(np.inf, final=True)
        self.visits.close()
        self.entities.close()

    def _write(self, until: float, final: bool = False) -> None:
        by_plan: dict[int, tuple[Plan, list]] = {}
        keep_single = []
        for item in self.single:
            if final or item[3] < until:
                by_plan.setdefault(id(item[0]), (item[0], []))[1].append(item)
            else:
                keep_single.append(item)
        self.single = keep_single
        groups: list[tuple[Plan, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for plan, items in by_plan.values():
            _, item_rows, item_visits, item_ended, item_outcomes = zip(*items, strict=True)
            groups.append((plan, np.array(item_rows, dtype=np.int64), np.array(item_visits, dtype=np.int64),
                           np.array(item_ended, dtype=float), np.array(item_outcomes, dtype=np.int64)))
        keep_chunks = []
        for plan, rows, visit, ended, outcome in self.chunks:
            now = np.ones(rows.size, dtype=bool) if final else ended < until
            if now.all():
                groups.append((plan, rows, visit, ended, outcome))
            else:
                if now.any():
                    groups.append((plan, rows[now], visit[now], ended[now], outcome[now]))
                later = ~now
                keep_chunks.append((plan, rows[later], visit[later], ended[later], outcome[later]))
        self.chunks = keep_chunks
        if groups:
            self._rows(groups)

    def _rows(self, groups: list) -> None:
        codes = self.codes
        ent_parts: dict[str, list[np.ndarray]] = {name: [] for name in self.entity_schema.names}
        vis_parts: dict[str, list[np.ndarray]] = {name: [] for name in VISITS.names}
        n_visits: list[np.ndarray] = []
        for plan, rows, visit, ended, outcome in groups:
            E = plan.E
            first = plan.first[rows]
            done = outcome >= 0
            # the visits each entity made, in order: from its first up to and including ``visit``
            counts = visit - first + 1
            owner = np.repeat(np.arange(rows.size), counts)
            v = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            last_done = np.where(done, visit, visit - 1)  # the last visit whose decisions count
            attrs = E.attrs[rows]
            decided = last_done >= first
            attrs[decided] = plan.attrs[last_done[decided]]
            stage = plan.stage[v]
            enter, start, end, nxt = plan.enter[v], plan.start[v], plan.end[v], plan.next[v]
            open_visit = np.cumsum(counts)[~done] - 1  # the last visit of an open entity is open
            end[open_visit] = np.nan
            nxt[open_visit] = -1
            marks = self.marks.first_times(E.kind[rows], owner, stage, (enter, start, end))
            columns = {"entity": E.id[rows], "kind": E.kind[rows], "source": E.source[rows],
                       "parent": E.parent[rows], "group": E.group[rows], "created": E.created[rows],
                       "origin": E.origin[rows],
                       "ended": ended, "outcome": outcome, "stage": np.where(done, -1, plan.stage[visit])}
            columns.update({f"count.{name}": E.counts[rows, j] for j, name in enumerate(codes.counts)})
            columns.update({f"attr.{name}": attrs[:, j] for j, name in enumerate(codes.attributes)})
            columns.update({f"mark.{name}": marks[:, j] for j, name in enumerate(codes.marks)})
            for name, column in columns.items():
                ent_parts[name].append(column)
            for name, column in (("entity", columns["entity"][owner]), ("stage", stage), ("enter", enter),
                                 ("start", start), ("end", end), ("next", nxt)):
                vis_parts[name].append(column)
            n_visits.append(counts)
        ent = {name: np.concatenate(parts) for name, parts in ent_parts.items()}
        ended_key = np.where(np.isnan(ent["ended"]), np.inf, ent["ended"])
        order = np.lexsort((ent["entity"], ended_key))
        # each entity's visits lie together, in path order: lay the ranges out in the entities' order
        counts = np.concatenate(n_visits)[order]
        offsets = (np.cumsum(np.concatenate(n_visits)) - np.concatenate(n_visits))[order]
        v_order = np.repeat(offsets - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        self.entities.write(pa.RecordBatch.from_arrays(
            [pa.array(ent[f.name][order], type=f.type) for f in self.entity_schema], schema=self.entity_schema))
        self.visits.write(pa.RecordBatch.from_arrays(
            [pa.array(np.concatenate(vis_parts[f.name])[v_order], type=f.type) for f in VISITS], schema=VISITS))
        self.entities_written += order.size
        self.visits_written += v_order.size
