"""Databases that grow from the process's own confirmations, and the arrival shares they drive.

A database (config ``databases:``) starts with ``initial`` items. A visit the planner marks as
adding (:class:`Adds`: its stage, a condition on the attributes after the visit's decisions, and
a count of items) reports its end time to the database when an executor finds it. Items added
at ``c`` are published at the first publication ``p_k = k * publish_every`` (k = 1, 2, ...) with
``c + delay <= p_k``; at each publication a share of the items is removed (``removed_per_year``
pro rata, rounded to whole items). Between publications the size is constant.

The database can drive the share of one attribute value among new arrivals (``drives``):
``share = ceiling - (ceiling - share_0) * 2 ** (-(size - initial) / halving_items)``.

Why this keeps the rules order-free: the arrivals of a period ``[a, b)`` are planned at ``a``,
and the period is never longer than the shortest ``delay``. A publication ``p_k < b`` only holds
additions with ``c <= p_k - delay < b - delay <= a``, and every visit that ended before ``a``
has been timed by then, by either executor. So the sizes (and the shares) are a function of the
visits' times, which the executors agree on, and not of when an executor happened to time a
visit (the fast one times a pool's visits up to the period's end, and writes ends beyond it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.conditions import Condition
from routing_sim.errors import RunError
from routing_sim.model.process import ProcessConfig
from routing_sim.summary import DatabaseTotals

HOURS_PER_YEAR = 8760.0


@dataclass
class Adds:
    """One ``added_by`` rule, compiled: visits to ``stage`` matching ``when`` add ``count`` items
    (the entity's count column ``count``; -1: one item)."""

    database: int
    stage: int
    when: Condition
    count: int

    def weights(self, attrs: np.ndarray, counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Items each visit adds (attributes after the visit's decisions)."""
        hit = self.when.mask(attrs)
        items = counts[rows, self.count] if self.count >= 0 else np.ones(rows.size, dtype=np.int64)
        return np.where(hit, items, 0).astype(np.int64)


class Database:
    """One database's additions and publications."""

    def __init__(self, name: str, initial: int, every: float, delay: float, removed_per_year: float):
        self.name = name
        self.initial = initial
        self.every = every
        self.delay = delay
        self.removal = removed_per_year * every / HOURS_PER_YEAR  # share removed per publication
        self._times: list[np.ndarray] = []  # additions not published yet
        self._items: list[np.ndarray] = []
        self.sizes = [initial]  # after publication k (k = 0: the start)
        self.added = [0]
        self.removed = [0]
        self.additions = 0  # items reported by the executors (published or not)

    def add(self, times: np.ndarray, items: np.ndarray) -> None:
        self._times.append(times)
        self._items.append(items)
        self.additions += int(items.sum())

    def publish(self, until: float, known: float) -> None:
        """Every publication before ``until``; additions are known up to (not including) ``known``."""
        k = len(self.sizes)
        if k * self.every >= until:
            return
        times = np.concatenate(self._times) if self._times else np.empty(0)
        items = np.concatenate(self._items) if self._items else np.empty(0, dtype=np.int64)
        while k * self.every < until:
            p = k * self.every
            if p - self.delay >= known:
                raise RunError(f"database {self.name!r}: publication at {p:g} h needs additions up to "
                               f"{p - self.delay:g} h, timed only up to {known:g} h")
            due = times + self.delay <= p
            added = int(items[due].sum())
            times, items = times[~due], items[~due]
            removed = int(round(self.sizes[-1] * self.removal))
            self.sizes.append(self.sizes[-1] - removed + added)
            self.added.append(added)
            self.removed.append(removed)
            k += 1
        self._times, self._items = [times], [items]

    def size_at(self, t: np.ndarray) -> np.ndarray:
        """The size in use at times ``t`` (publications up to ``max(t)`` must be done)."""
        k = np.floor(np.asarray(t, dtype=float) / self.every).astype(np.int64)
        sizes = np.asarray(self.sizes, dtype=np.int64)
        if k.size and k.max() >= sizes.size:
            raise RunError(f"database {self.name!r}: size asked at {float(np.max(t)):g} h before it was published")
        return sizes[k]


class Drive:
    """The share of one attribute value among a set of sources' arrivals, following a database."""

    def __init__(self, database: Database, value: str, base: float, ceiling: float, halving: float):
        self.database = database
        self.value_name = value
        self.base = base
        self.ceiling = ceiling
        self.halving = halving

    def share(self, t: np.ndarray) -> np.ndarray:
        grown = (self.database.size_at(t) - self.database.initial) / self.halving
        share = self.ceiling - (self.ceiling - self.base) * np.exp2(-grown)
        return np.clip(share, 0.0, 1.0)


class Databases:
    """Every database of a run."""

    def __init__(self, cfg: ProcessConfig, codes: Codes):
        self.names = list(cfg.databases)
        self.items = [Database(name, db.initial, float(db.publish_every), float(db.delay), db.removed_per_year)
                      for name, db in cfg.databases.items()]
        self.adds: list[list[Adds]] = [[] for _ in codes.stages]
        for d, db in enumerate(cfg.databases.values()):
            for rule in db.added_by:
                stage = codes.stages.index(rule.stage)
                count = codes.counts.index(rule.items) if rule.items is not None else -1
                self.adds[stage].append(Adds(d, stage, Condition(codes, rule.when), count))
        self.drives: dict[str, dict[str, Drive]] = {}  # source -> attribute -> drive
        self.drive_of: dict[str, tuple[str, Drive]] = {}  # database -> (attribute, drive)
        for d, (name, db) in enumerate(cfg.databases.items()):
            if db.drives is None:
                continue
            for source in db.drives.sources:
                src = cfg.sources[source]
                draw = src.attributes.get(db.drives.attribute, cfg.kinds[src.kind].attributes.get(db.drives.attribute))
                if draw is None or isinstance(draw, str) or draw.p is None:  # refused by validation
                    raise RunError(f"database {name!r}: source {source!r} must draw {db.drives.attribute!r} with p")
                base = draw.p[db.drives.value]
                drive = Drive(self.items[d], db.drives.value, base, db.drives.ceiling, db.drives.halving_items)
                self.drives.setdefault(source, {})[db.drives.attribute] = drive
                self.drive_of.setdefault(self.names[d], (db.drives.attribute, drive))

    def __len__(self) -> int:
        return len(self.items)

    def shortest_delay(self) -> float:
        return min((db.delay for db in self.items), default=math.inf)

    def add(self, ends: np.ndarray, items: np.ndarray) -> None:
        """Visits that added ``items`` (one column per database) ended at ``ends``."""
        for d, db in enumerate(self.items):
            some = items[:, d] > 0
            if some.any():
                db.add(ends[some], items[some, d])

    def publish(self, until: float, known: float) -> None:
        for db in self.items:
            db.publish(until, known)

    def totals(self, horizon: float) -> list[DatabaseTotals]:
        out = []
        for name, db in zip(self.names, self.items, strict=True):
            drive = self.drive_of.get(name)
            ends = np.array([0.0, np.nextafter(horizon, 0.0)])
            shares = drive[1].share(ends).tolist() if drive else [math.nan, math.nan]
            out.append(DatabaseTotals(
                name=name, initial=db.initial, added=int(sum(db.added)), removed=int(sum(db.removed)),
                final=int(db.sizes[-1]), publications=len(db.sizes) - 1, pending=db.additions - int(sum(db.added)),
                drives=drive[0] if drive else "", share_start=shares[0], share_end=shares[1]))
        return out
