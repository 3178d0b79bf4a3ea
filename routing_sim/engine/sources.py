"""Arrivals from the sources, a period at a time: times, incident sizes, ids, attributes, counts.

Each source has one arrival stream, and a second one for its bulk batches. The entities of
stream number ``slot`` (from 1, in config order) get the ids ``slot * 2**40 + n`` for
n = 0, 1, ... in arrival order, so an id depends on nothing but its own stream. Duplicates of one
incident share one attribute draw (the incident's first id) and that id as their group; a bulk
batch brings independent entities at one time. A source that lists a content-key space draws the
item each incident concerns (:mod:`routing_sim.engine.contentkeys`) from a stream of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing_sim.engine.arrivals import ArrivalTimes, hourly_intensity
from routing_sim.engine.rules.attributes import AttributeDraws
from routing_sim.engine.rules.randomness import Streams
from routing_sim.engine.rules.variates import Sampler, count_sampler
from routing_sim.model.process import Source
from routing_sim.units import parse_rate

SLOT = 1 << 40


@dataclass
class Cohort:
    """New entities as columns (the planner's input)."""

    id: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    parent: np.ndarray
    group: np.ndarray
    created: np.ndarray  # NaN for a spawned entity until its parent's visit has ended
    origin: np.ndarray  # when its first ancestor arrived from a source (an arrival: its own time); known when planned
    entry: np.ndarray  # the stage it enters
    attrs: np.ndarray  # (n, attributes)
    counts: np.ndarray  # (n, counts)

    def __len__(self) -> int:
        return self.id.size

    @staticmethod
    def concat(parts: list[Cohort]) -> Cohort:
        if len(parts) == 1:
            return parts[0]
        return Cohort(*(np.concatenate([getattr(p, f) for p in parts]) for f in Cohort.__dataclass_fields__))


class ArrivalStream:
    """One source's arrivals (or its batches'), generated up to a time on request."""

    def __init__(self, slot: int, source: int, name: str, kind: int, entry: int, times: ArrivalTimes,
                 attributes: AttributeDraws, size: tuple[Sampler, int] | None, same_incident: bool,
                 counts: list[tuple[Sampler, int] | None], content_key: tuple[int, int] | None = None):
        self.slot = slot
        self.source = source
        self.name = name
        self.kind = kind
        self.entry = entry
        self.times = times
        self.attributes = attributes
        self.size = size
        self.same_incident = same_incident
        self.counts = counts
        self.content_key = content_key  # (key space, stream key): its arrivals draw the item they concern
        self.arrivals = 0  # arrival events so far (incidents or batches)
        self.arrived = 0  # entities so far

    def until(self, end: float) -> Cohort | None:
        times = self.times.until(end)
        if not times.size:
            return None
        index = np.arange(self.arrivals, self.arrivals + times.size)
        self.arrivals += times.size
        if self.size is None:
            sizes = None
            n = times.size
        else:
            sampler, key = self.size
            sizes = sampler(key, index).astype(np.int64)
            n = int(sizes.sum())
            if not n:
                return None
        base = self.slot * SLOT + self.arrived
        ids = np.arange(base, base + n, dtype=np.int64)
        self.arrived += n
        if sizes is None:
            attrs, group, t = self.attributes.draw(ids, times=times), ids, times
        else:
            keep = sizes > 0
            first = (np.cumsum(sizes) - sizes)[keep]
            if self.same_incident:  # duplicates of one incident: one draw and one group per incident
                attrs = np.repeat(self.attributes.draw(ids[first], times=times[keep]), sizes[keep], axis=0)
                group = np.repeat(ids[first], sizes[keep])
            else:  # a bulk batch: independent entities arriving together
                attrs, group = self.attributes.draw(ids, times=np.repeat(times[keep], sizes[keep])), ids
            t = np.repeat(times[keep], sizes[keep])
        counts = np.zeros((n, len(self.counts)), dtype=np.int64)
        for j, count in enumerate(self.counts):
            if count is not None:
                sampler, key = count
                counts[:, j] = sampler(key, ids)
        return Cohort(ids, np.full(n, self.kind, dtype=np.int64), np.full(n, self.source, dtype=np.int64),
                      np.full(n, -1, dtype=np.int64), group, t, t.copy(), np.full(n, self.entry, dtype=np.int64),
                      attrs, counts)


def arrival_streams(cfg, codes, streams: Streams, horizon: float, drives: dict | None = None,
                    key_spaces: dict[str, int] | None = None) -> list[ArrivalStream]:
    """Every arrival stream of a config, in config order (a source's batches after it); ``drives``
    (source -> attribute -> a database's drive) makes an attribute's share follow a database;
    ``key_spaces`` (source -> the index of the content-key space it lists) gives those sources'
    streams a draw of the item each arrival concerns."""
    drives = drives or {}
    key_spaces = key_spaces or {}
    out: list[ArrivalStream] = []
    for i, (name, src) in enumerate(cfg.sources.items()):
        kind = codes.kinds.index(src.kind)
        entry = codes.stages.index(src.to)
        attributes = cfg.kinds[src.kind].attributes

        def counts(prefix: str, src: Source = src) -> list[tuple[Sampler, int] | None]:
            return [(count_sampler(src.counts[c]), streams.key(f"counts.{prefix}.{c}")) if c in src.counts else None
                    for c in codes.counts]

        times = ArrivalTimes(hourly_intensity(cfg, name, horizon), streams.key(f"arrivals.{name}"))
        size = (count_sampler(src.duplicates), streams.key(f"duplicates.{name}")) if src.duplicates else None
        space = key_spaces.get(name, -1)

        def keyed(stream: str, space: int = space) -> tuple[int, int] | None:
            return (space, streams.key(stream)) if space >= 0 else None

        out.append(ArrivalStream(len(out) + 1, i, name, kind, entry, times,
                                 AttributeDraws(codes, attributes, src.attributes, streams, f"attributes.{name}",
                                                drives.get(name)),
                                 size, True, counts(name), keyed(f"content_key.{name}")))
        if src.batches is not None:
            rate = parse_rate(src.batches.rate)
            batch_times = ArrivalTimes(np.full(max(1, int(np.ceil(horizon))), rate), streams.key(f"batches.{name}"))
            out.append(ArrivalStream(
                len(out) + 1, i, name, kind, entry, batch_times,
                AttributeDraws(codes, attributes, src.attributes, streams, f"attributes.{name}.batches",
                               drives.get(name)),
                (count_sampler(src.batches.size), streams.key(f"batches.{name}.size")), False,
                counts(f"{name}.batches"), keyed(f"content_key.{name}.batches")))
    return out
