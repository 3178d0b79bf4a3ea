"""Content keys: which reports concern an item already reported (config ``content_keys:``).

A key space holds ``items`` items. Each arrival of a source that lists the space concerns one
item, drawn uniformly and order-free: ``floor(u * items)`` with ``u`` the uniform of the
source's stream ``content_key.<source>`` (``.batches`` for its bulk batches) at the arrival's
group id, so the reports of one incident (``duplicates:``) concern one item, and the entities of a
bulk batch one each.

At arrival the space's attribute is set to ``repeat`` if an earlier arrival from any source of
the space concerned the same item, and to ``first`` otherwise. "Earlier" is the order (arrival
time, entity id): so within an incident, whose reports arrive together, the report with the
smallest id comes first and the others are repeats. With a ``window`` a report is a repeat only
if the first report of the item's current case is at most ``window`` old (``t - opened <=
window``); otherwise it is ``first`` and opens a new case.

The state lives across periods: per space, a byte per item (has it been seen?), or, with a
window, the time the item's current case was opened (8 bytes per item: 80 MB for 10 M items).
The periods partition time and each period is processed in (time, id) order, so the result is
that of one pass over the whole horizon whatever the period length, and it is fixed before any
executor runs.
"""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.engine.rules.randomness import uniforms
from routing_sim.engine.sources import Cohort
from routing_sim.model.process import ProcessConfig
from routing_sim.summary import ContentKeyTotals


class KeySpace:
    """One key space's state: which items have been reported (and when their case opened)."""

    def __init__(self, name: str, items: int, attribute: int, first: int, repeat: int, window: float | None):
        self.name = name
        self.items = items
        self.attribute = attribute
        self.first = first
        self.repeat = repeat
        self.window = window
        if window is None:
            self.seen = np.zeros(items, dtype=bool)
        else:
            self.opened = np.full(items, -np.inf)
        self.arrivals = 0
        self.repeats = 0

    def keys(self, key: int, groups: np.ndarray) -> np.ndarray:
        """The item each arrival concerns (``groups``: its incident's first id, or its own id)."""
        return np.minimum((uniforms(key, groups) * self.items).astype(np.int64), self.items - 1)

    def mark(self, created: np.ndarray, ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Which arrivals are repeats; every arrival of a period is given at once."""
        order = np.lexsort((ids, created))  # (time, id): the order of arrival
        order = order[np.argsort(keys[order], kind="stable")]  # grouped by item, each group in arrival order
        k = keys[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        repeat_sorted = np.ones(k.size, dtype=bool)
        if self.window is None:
            repeat_sorted[starts] = self.seen[k[starts]]
            self.seen[k[starts]] = True
        else:  # a case stays open for ``window``: take the r-th arrival of every item in turn
            t = created[order]
            lengths = np.diff(np.append(starts, k.size))
            for r in range(int(lengths.max(initial=0))):
                at = starts[lengths > r] + r
                item, when = k[at], t[at]
                again = when - self.opened[item] <= self.window
                self.opened[item] = np.where(again, self.opened[item], when)
                repeat_sorted[at] = again
        repeat = np.empty(k.size, dtype=bool)
        repeat[order] = repeat_sorted
        self.arrivals += int(k.size)
        self.repeats += int(repeat.sum())
        return repeat

    def items_seen(self) -> int:
        return int(self.seen.sum()) if self.window is None else int(np.isfinite(self.opened).sum())


class ContentKeys:
    """Every key space of a run, and which arrival streams draw from which."""

    def __init__(self, cfg: ProcessConfig, codes: Codes):
        self.spaces = [
            KeySpace(name, space.items, codes.attr(space.attribute), codes.value(space.attribute, space.first),
                     codes.value(space.attribute, space.repeat),
                     None if space.window is None else float(space.window))
            for name, space in cfg.content_keys.items()
        ]
        index = {name: i for i, name in enumerate(cfg.content_keys)}
        self.of_source = {name: index[src.content_key] for name, src in cfg.sources.items()
                          if src.content_key is not None}  # source -> the key space it lists

    def __len__(self) -> int:
        return len(self.spaces)

    def mark(self, parts: list[tuple[int, int, Cohort]]) -> None:
        """Set the attribute of a period's arrivals: ``parts`` are (space, stream key, cohort) for the
        arrivals of every stream that draws content keys; the cohorts' attributes are set in place."""
        for s, space in enumerate(self.spaces):
            mine = [(key, cohort) for i, key, cohort in parts if i == s]
            if not mine:
                continue
            keys = np.concatenate([space.keys(key, cohort.group) for key, cohort in mine])
            created = np.concatenate([cohort.created for _, cohort in mine])
            ids = np.concatenate([cohort.id for _, cohort in mine])
            repeat = space.mark(created, ids, keys)
            at = 0
            for _, cohort in mine:
                n = len(cohort)
                cohort.attrs[:, space.attribute] = np.where(repeat[at:at + n], space.repeat, space.first)
                at += n

    def totals(self) -> list[ContentKeyTotals]:
        return [ContentKeyTotals(name=s.name, items=s.items, arrivals=s.arrivals, repeats=s.repeats,
                                 items_seen=s.items_seen()) for s in self.spaces]
