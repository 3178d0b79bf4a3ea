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
            _, rows, visit, ended, outcome = zip(*items)
            groups.append((plan, np.array(rows, dtype=np.int64), np.array(visit, dtype=np.int64),
                           np.array(ended, dtype=float), np.array(outcome, dtype=np.int64)))
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
        ent_cols: dict[str, list[np.ndarray]] = {name: [] for name in self.entity_schema.names}
        vis_cols: dict[str, list[np.ndarray]] = {name: [] for name in VISITS.names}
        vis_key: list[np.ndarray] = []
        vis_owner: list[np.ndarray] = []
        offset = 0
        for plan, rows, visit, ended, outcome in groups:
            E = plan.E
            first = plan.first[rows]
            done = outcome >= 0
            # the visits each entity made: from its first up to and including ``visit``
            counts = visit - first + 1
            owner = np.repeat(np.arange(rows.size), counts)
            v = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            last_done = np.where(done, visit, visit - 1)  # the last visit whose decisions count
            attrs = np.where((last_done >= first)[:, None], plan.attrs[np.maximum(last_done, 0)], E.attrs[rows]) \
                if plan.attrs.size else E.attrs[rows]
            is_open_visit = ~done[owner] & (v == visit[owner])
            nxt = np.where(is_open_visit, -1, plan.next[v])
            end = np.where(is_open_visit, np.nan, plan.end[v])
            stage = np.where(done, -1, plan.stage[visit])
            marks = self.marks.first_times(E.kind[rows], owner, plan.stage[v], (plan.enter[v], plan.start[v], end))
            fixed = {"entity": E.id[rows], "kind": E.kind[rows], "source": E.source[rows], "parent": E.parent[rows],
                     "group": E.group[rows], "created": E.created[rows], "ended": ended, "outcome": outcome,
                     "stage": stage}
            for name, column in fixed.items():
                ent_cols[name].append(column)
            for j, name in enumerate(codes.counts):
                ent_cols[f"count.{name}"].append(E.counts[rows, j])
            for j, name in enumerate(codes.attributes):
                ent_cols[f"attr.{name}"].append(attrs[:, j])
            for j, name in enumerate(codes.marks):
                ent_cols[f"mark.{name}"].append(marks[:, j])
            for name, column in (("entity", E.id[rows][owner]), ("stage", plan.stage[v]), ("enter", plan.enter[v]),
                                 ("start", plan.start[v]), ("end", end), ("next", nxt)):
                vis_cols[name].append(column)
            vis_key.append(plan.number[v])
            vis_owner.append(owner + offset)
            offset += rows.size
        ent = {name: np.concatenate(parts) for name, parts in ent_cols.items()}
        vis = {name: np.concatenate(parts) for name, parts in vis_cols.items()}
        ended_key = np.where(np.isnan(ent["ended"]), np.inf, ent["ended"])
        order = np.lexsort((ent["entity"], ended_key))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        # visits follow their entities' order, then their own order along the path
        v_order = np.lexsort((np.concatenate(vis_key), rank[np.concatenate(vis_owner)]))
        self.entities.write(pa.RecordBatch.from_arrays(
            [pa.array(ent[f.name][order], type=f.type) for f in self.entity_schema], schema=self.entity_schema))
        self.visits.write(pa.RecordBatch.from_arrays(
            [pa.array(vis[f.name][v_order], type=f.type) for f in VISITS], schema=VISITS))
        self.entities_written += order.size
        self.visits_written += v_order.size
