"""The fast executor: one loop per pool, pools in topological order, a period at a time.

It applies where the pools form an acyclic graph (an uncapacitated stage is a node of its own;
routes and spawns are the edges) and no pool stage can take zero time. Then every arrival at a
node comes from nodes before it, so a node's whole period can be timed once the nodes before
it are done. The semantics are the reference executor's (:mod:`routing_sim.engine.reference`):
queue order (priority class, arrival time at the pool, entity id); at an instant, completions,
arrivals and calendar changes first, then dispatch; overtime to finish work in hand; the same
arithmetic for every time (``end = start + duration``, a child's arrival ``end + delay``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from routing_sim.engine.output import Output
from routing_sim.engine.plan import Plan
from routing_sim.engine.topology import components, node_graph

HANDLE = 32
"""A queued visit's handle: its plan's serial number << HANDLE | the visit's row in the plan."""
MASK = (1 << HANDLE) - 1
COMPACT_MIN = 2_000
"""Plans of fewer entities are never compacted."""
COMPACT_SHARE = 4
"""A plan is compacted once fewer than one in this many of its entities is still needed."""


@njit(cache=True, inline="always")
def _before(q_cls, q_t, q_id, i, j):  # pragma: no cover - compiled
    """Whether waiting visit ``i`` is served before ``j``: (class, arrival time, entity id)."""
    if q_cls[i] != q_cls[j]:
        return q_cls[i] < q_cls[j]
    if q_t[i] != q_t[j]:
        return q_t[i] < q_t[j]
    return q_id[i] < q_id[j]


@njit(cache=True)
def _swap(q_cls, q_t, q_id, q_dur, q_ref, i, j):  # pragma: no cover - compiled
    q_cls[i], q_cls[j] = q_cls[j], q_cls[i]
    q_t[i], q_t[j] = q_t[j], q_t[i]
    q_id[i], q_id[j] = q_id[j], q_id[i]
    q_dur[i], q_dur[j] = q_dur[j], q_dur[i]
    q_ref[i], q_ref[j] = q_ref[j], q_ref[i]


@njit(cache=True)
def _run_pool(q_cls, q_t, q_id, q_dur, q_ref, ends, cal_t, cal_n, fstate, istate, a_t, a_cls, a_id, a_dur, a_ref,
              until, horizon, out_ref, out_start):  # pragma: no cover - compiled; tested through the executors' agreement
    """One pool from its carried state up to ``until``: returns how many visits started (their
    handles and start times in ``out_ref`` and ``out_start``). The order of operations at an
    instant is the reference executor's: ends of service, arrivals, calendar changes, dispatch.
    The waiting visits are a binary heap over the ``q_*`` arrays (``istate[3]`` of them), the
    ends of service a binary heap over ``ends`` (``istate[4]``)."""
    scheduled, busy, nc, qn, en = istate[0], istate[1], istate[2], istate[3], istate[4]
    busy_sum, scheduled_area, overtime_area, last = fstate[0], fstate[1], fstate[2], fstate[3]
    i, n, m, n_cal = 0, a_t.size, 0, cal_t.size
    while True:
        t = a_t[i] if i < n else np.inf
        if en > 0 and ends[0] < t:
            t = ends[0]
        if nc < n_cal and cal_t[nc] < t:
            t = cal_t[nc]
        if t >= until:
            break
        while en > 0 and ends[0] == t:  # pop the earliest end
            en -= 1
            ends[0] = ends[en]
            k = 0
            while True:
                c = 2 * k + 1
                if c >= en:
                    break
                if c + 1 < en and ends[c + 1] < ends[c]:
                    c += 1
                if ends[c] < ends[k]:
                    ends[c], ends[k] = ends[k], ends[c]
                    k = c
                else:
                    break
            if busy > scheduled:
                elapsed = t - last
                scheduled_area += scheduled * elapsed
                overtime_area += (busy - scheduled) * elapsed
                last = t
            busy -= 1
            busy_sum += t
        while i < n and a_t[i] == t:  # push the arrival
            k = qn
            q_cls[k], q_t[k], q_id[k], q_dur[k], q_ref[k] = a_cls[i], a_t[i], a_id[i], a_dur[i], a_ref[i]
            qn += 1
            while k > 0:
                p = (k - 1) // 2
                if _before(q_cls, q_t, q_id, k, p):
                    _swap(q_cls, q_t, q_id, q_dur, q_ref, k, p)
                    k = p
                else:
                    break
            i += 1
        while nc < n_cal and cal_t[nc] == t:
            elapsed = t - last
            scheduled_area += scheduled * elapsed
            if busy > scheduled:
                overtime_area += (busy - scheduled) * elapsed
            last = t
            scheduled = cal_n[nc]
            nc += 1
        while qn > 0 and busy < scheduled:  # dispatch the first waiting visit
            end = t + q_dur[0]
            out_ref[m] = q_ref[0]
            out_start[m] = t
            m += 1
            busy += 1
            busy_sum -= t
            qn -= 1
            _swap(q_cls, q_t, q_id, q_dur, q_ref, 0, qn)
            k = 0
            while True:
                c = 2 * k + 1
                if c >= qn:
                    break
                if c + 1 < qn and _before(q_cls, q_t, q_id, c + 1, c):
                    c += 1
                if _before(q_cls, q_t, q_id, c, k):
                    _swap(q_cls, q_t, q_id, q_dur, q_ref, c, k)
                    k = c
                else:
                    break
            if end < horizon:
                k = en
                ends[k] = end
                en += 1
                while k > 0:
                    p = (k - 1) // 2
                    if ends[k] < ends[p]:
                        ends[k], ends[p] = ends[p], ends[k]
                        k = p
                    else:
                        break
    istate[0], istate[1], istate[2], istate[3], istate[4] = scheduled, busy, nc, qn, en
    fstate[0], fstate[1], fstate[2], fstate[3] = busy_sum, scheduled_area, overtime_area, last
    return m


class PoolLoop:
    """One pool's state, carried from period to period: the waiting heap (class, arrival time,
    entity id, duration, handle), the ends of the services in hand, the calendar, and the busy
    and on-duty accounting, as the reference executor keeps them."""

    def __init__(self, calendar: list[tuple[float, int]]):
        self.cal_t = np.array([t for t, _ in calendar], dtype=np.float64)
        self.cal_n = np.array([n for _, n in calendar], dtype=np.int64)
        self.q_cls = np.empty(0, dtype=np.int64)
        self.q_t = np.empty(0)
        self.q_id = np.empty(0, dtype=np.int64)
        self.q_dur = np.empty(0)
        self.q_ref = np.empty(0, dtype=np.int64)
        self.ends = np.empty(int(self.cal_n.max()) + 1)  # never more services in hand than staff scheduled
        # scheduled, busy, next calendar change, visits waiting, services in hand
        self.istate = np.array([calendar[0][1], 0, 1, 0, 0], dtype=np.int64)
        self.fstate = np.zeros(4)  # busy sum, scheduled area, overtime area, last accounted time

    def _reserve(self, n: int) -> None:
        need = int(self.istate[3]) + n
        if need > self.q_t.size:
            size = max(need, 2 * self.q_t.size, 1024)
            for name in ("q_cls", "q_t", "q_id", "q_dur", "q_ref"):
                old = getattr(self, name)
                new = np.empty(size, dtype=old.dtype)
                new[:old.size] = old
                setattr(self, name, new)

    def run(self, t: np.ndarray, cls: np.ndarray, ids: np.ndarray, dur: np.ndarray, ref: np.ndarray,
            until: float, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Arrivals (sorted by time) join what waits; the pool runs up to ``until``; returns the
        handles and start times of the visits that started."""
        self._reserve(t.size)
        size = int(self.istate[3]) + t.size
        out_ref, out_start = np.empty(size, dtype=np.int64), np.empty(size)
        m = _run_pool(self.q_cls, self.q_t, self.q_id, self.q_dur, self.q_ref, self.ends, self.cal_t, self.cal_n,
                      self.fstate, self.istate, t, cls, ids, dur, ref, until, horizon, out_ref, out_start)
        return out_ref[:m], out_start[:m]

    def waiting_refs(self) -> np.ndarray:
        """The handles of the visits waiting, in heap order."""
        return self.q_ref[:int(self.istate[3])]

    def waiting_by_id(self) -> np.ndarray:
        """The handles of the visits waiting, by entity id."""
        n = int(self.istate[3])
        return self.q_ref[:n][np.argsort(self.q_id[:n], kind="stable")]

    def close(self, horizon: float) -> tuple[float, float]:
        busy_sum, scheduled_area, overtime_area, last = self.fstate
        scheduled, busy = int(self.istate[0]), int(self.istate[1])
        elapsed = horizon - last
        scheduled_area += scheduled * elapsed
        if busy > scheduled:
            overtime_area += (busy - scheduled) * elapsed
        return busy_sum + busy * horizon, scheduled_area + overtime_area

    @property
    def scheduled(self) -> int:
        return int(self.istate[0])

    @property
    def busy(self) -> int:
        return int(self.istate[1])


class Fast:
    def __init__(self, model, out: Output):
        self.model = model
        self.out = out
        self.horizon = model.horizon
        self.n_stages = len(model.stages)
        node_of, edges = node_graph(model)
        self.order = components(edges)
        self.n_pools = len(model.codes.pools)
        self.node_of = np.array(node_of, dtype=np.int64)  # per stage, its node
        self.pools = [PoolLoop(points) for points in model.calendars]
        self.held: dict[int, list] = {}  # serial -> [plan, visits of it waiting in pool queues]
        self.serial_of: dict[int, int] = {}
        self.next_serial = 0
        self.pending: dict[int, list] = {n: [] for n in edges}  # node -> [(plan, visits, arrival times)]

    def run(self, progress: Callable[[float, float], None] | None = None) -> None:
        for until, plan in self.model.periods():
            if plan is not None:  # the period's arrivals are the plan's first rows
                rows = np.arange(plan.first_child)
                self._arrive(plan, plan.first[rows], plan.E.created[rows])
            for component in self.order:
                self._component(component, until)
            self.out.flush(until)
            self._compact()
            if progress:
                progress(until, self.horizon)
        for pool in self.pools:  # still waiting at the horizon, by entity id
            for ref in pool.waiting_by_id().tolist():
                plan, v = self.held[ref >> HANDLE][0], ref & MASK
                self.out.open(plan, int(plan.visit_entity[v]), v)

    def _arrive(self, plan: Plan, visits: np.ndarray, times: np.ndarray) -> None:
        """Visits ``visits`` of ``plan`` reach their stages at ``times``."""
        nodes = self.node_of[plan.stage[visits]]
        for node in np.unique(nodes).tolist():
            sel = nodes == node
            self.pending[node].append((plan, visits[sel], times[sel]))

    def _take(self, node: int, until: float) -> list:
        """The pending arrivals at ``node`` before ``until``; the rest stay."""
        now, later = [], []
        for plan, visits, times in self.pending[node]:
            early = times < until
            if early.all():
                now.append((plan, visits, times))
            else:
                if early.any():
                    now.append((plan, visits[early], times[early]))
                later.append((plan, visits[~early], times[~early]))
        self.pending[node] = later
        return now

    def _component(self, nodes: list[int], until: float) -> None:
        """Time a pool, or a group of uncapacitated stages that route to each other (walked
        round by round until nothing more arrives there before ``until``)."""
        while True:
            for node in nodes:
                self._node(node, until)
            if not any(times.size and times.min() < until for node in nodes
                       for _, _, times in self.pending[node]):
                return

    def _node(self, node: int, until: float) -> None:
        arrivals = self._take(node, until)
        if node >= self.n_pools:
            for plan, visits, times in arrivals:
                plan.enter[visits] = times
                plan.start[visits] = times
                self._ended(plan, visits, times + plan.duration[visits])
            return
        parts = []
        for plan, visits, times in arrivals:
            plan.enter[visits] = times
            serial = self._hold(plan, visits.size)
            parts.append((times, plan.cls[visits].astype(np.int64), plan.E.id[plan.visit_entity[visits]],
                          plan.duration[visits], (serial << HANDLE) | visits))
        if parts:
            t, cls, ids, dur, ref = (np.concatenate(c) for c in zip(*parts, strict=True))
            order = np.argsort(t, kind="stable")
            t, cls, ids, dur, ref = t[order], cls[order], ids[order], dur[order], ref[order]
        else:
            t = dur = np.empty(0)
            cls = ids = ref = np.empty(0, dtype=np.int64)
        refs, starts = self.pools[node].run(t, cls, ids, dur, ref, until, self.horizon)
        serials = refs >> HANDLE
        for serial in np.unique(serials).tolist():
            sel = serials == serial
            plan = self._release(serial, int(sel.sum()))
            visits = refs[sel] & MASK
            plan.start[visits] = starts[sel]
            self._ended(plan, visits, starts[sel] + plan.duration[visits])

    def _hold(self, plan: Plan, n: int) -> int:
        """Keep ``plan`` alive while ``n`` more of its visits wait in a pool's queue (the queues
        hold handles, not objects); returns its serial number."""
        serial = self.serial_of.get(id(plan))
        if serial is None:
            serial = self.serial_of[id(plan)] = self.next_serial
            self.next_serial += 1
            self.held[serial] = [plan, 0]
        self.held[serial][1] += n
        return serial

    def _release(self, serial: int, n: int) -> Plan:
        entry = self.held[serial]
        entry[1] -= n
        plan = entry[0]
        if not entry[1]:
            del self.held[serial]
            del self.serial_of[id(plan)]
        return plan

    def _ended(self, plan: Plan, visits: np.ndarray, ends: np.ndarray) -> None:
        """Visits that end at ``ends`` (at or after the horizon: open)."""
        late = ends >= self.horizon
        if late.any():
            for v in visits[late].tolist():
                self.out.open(plan, int(plan.visit_entity[v]), v)
            visits, ends = visits[~late], ends[~late]
            if not visits.size:
                return
        plan.end[visits] = ends
        if plan.adds is not None:  # visits that add to a database report when they ended
            items = plan.adds[visits]
            some = items.any(axis=1)
            if some.any():
                self.model.databases.add(ends[some], items[some])
        counts = plan.child_ptr[visits + 1] - plan.child_ptr[visits]
        if counts.any():
            starts = np.repeat(plan.child_ptr[visits] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            children = plan.children_sorted[starts]
            due = np.repeat(ends, counts) + plan.child_delay[children - plan.first_child]
            ok = due < self.horizon
            self.out.pending += int((~ok).sum())
            children, due = children[ok], due[ok]
            plan.E.created[children] = due
            self.out.spawned += np.bincount(plan.E.kind[children], minlength=self.out.spawned.size)
            self._arrive(plan, plan.first[children], due)
        nxt = plan.next[visits]
        done = nxt >= self.n_stages
        if done.any():
            self.out.finished_many(plan, plan.visit_entity[visits[done]], visits[done], ends[done],
                                   (nxt[done] - self.n_stages).astype(np.int64))
        on = ~done
        if on.any():
            self._arrive(plan, visits[on] + 1, ends[on])

    def pool_totals(self) -> list[tuple[float, float, int, int]]:
        return [(*pool.close(self.horizon), pool.scheduled, pool.busy) for pool in self.pools]

    def events(self) -> int:
        return 0

    def _compact(self) -> None:
        """Copy each plan whose entities are mostly done into a plan of only the ones still in the
        process (and what they spawn), so that memory follows the work in flight: a single
        report in a long delay would otherwise keep its whole period's plan."""
        needed: dict[int, tuple[Plan, list[np.ndarray]]] = {}

        def note(plan: Plan, rows: np.ndarray) -> None:
            needed.setdefault(id(plan), (plan, []))[1].append(rows)

        for chunks in self.pending.values():
            for plan, visits, _ in chunks:
                note(plan, plan.visit_entity[visits])
        refs = np.concatenate([pool.waiting_refs() for pool in self.pools] + [np.empty(0, dtype=np.int64)])
        for serial in np.unique(refs >> HANDLE).tolist():
            plan = self.held[serial][0]
            note(plan, plan.visit_entity[refs[(refs >> HANDLE) == serial] & MASK])
        for plan, row, *_ in self.out.single:
            note(plan, np.array([row]))
        for plan, rows, *_ in self.out.chunks:
            note(plan, rows)
        new: dict[int, tuple[Plan, np.ndarray, np.ndarray]] = {}
        for plan, parts in needed.values():
            if len(plan) < COMPACT_MIN:
                continue
            keep = plan.descendants(np.concatenate(parts))
            if keep.size * COMPACT_SHARE < len(plan):
                new[id(plan)] = plan.subset(keep)
        if not new:
            return
        for node, chunks in self.pending.items():
            self.pending[node] = [(new[id(p)][0], new[id(p)][2][v], t) if id(p) in new else (p, v, t)
                                  for p, v, t in chunks]
        out = self.out
        out.single = [(new[id(p)][0], int(new[id(p)][1][r]), int(new[id(p)][2][v]), e, o) if id(p) in new
                      else (p, r, v, e, o) for p, r, v, e, o in out.single]
        out.chunks = [(new[id(p)][0], new[id(p)][1][r], new[id(p)][2][v], e, o) if id(p) in new
                      else (p, r, v, e, o) for p, r, v, e, o in out.chunks]
        remapped: dict[int, np.ndarray] = {}
        for serial, entry in self.held.items():
            if id(entry[0]) in new:
                plan, _, visit_map = new[id(entry[0])]
                del self.serial_of[id(entry[0])]
                self.serial_of[id(plan)] = serial
                entry[0] = plan
                remapped[serial] = visit_map
        for pool in self.pools:  # the heap's order is by class, time and id: unchanged
            refs = pool.waiting_refs()
            serials = refs >> HANDLE
            for serial, visit_map in remapped.items():
                at = serials == serial
                refs[at] = (serial << HANDLE) | visit_map[refs[at] & MASK]
