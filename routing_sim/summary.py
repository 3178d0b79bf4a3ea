"""What a simulation knows at its end that its tables do not hold: arrivals and spawns counted,
pools' busy and on-duty hours. Shared by the engine, which fills it, and the statistics, which
read it, so the statistics need not import the engine."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PoolTotals:
    name: str
    busy_hours: float
    on_duty_hours: float
    scheduled_end: int
    busy_end: int


@dataclass
class DatabaseTotals:
    """A database's figures over the run (see :mod:`routing_sim.engine.databases`)."""

    name: str
    initial: int
    added: int  # published by the horizon
    removed: int
    final: int  # the size after the last publication
    publications: int
    pending: int  # added by the process, not published by the horizon
    drives: str = ""  # the attribute whose share it drives
    share_start: float = float("nan")
    share_end: float = float("nan")


@dataclass
class ContentKeyTotals:
    """A content-key space's figures over the run (see :mod:`routing_sim.engine.contentkeys`)."""

    name: str
    items: int  # in the key space
    arrivals: int  # arrivals that drew a key
    repeats: int  # of which concerned an item already reported (within the window, if any)
    items_seen: int  # distinct items reported by the horizon


@dataclass
class RetentionTotals:
    """What a retention rule keeps stored (see :mod:`routing_sim.engine.series`): the peaks on the
    time-series grid, and the exact figures at the horizon."""

    name: str
    stored_ever: int  # entities that matched the rule
    peak_entities: int
    peak_entities_at: float  # hours
    peak_items: int
    peak_items_at: float
    peak_mb: float
    end_entities: int
    end_items: int
    end_mb: float


@dataclass
class SimulationSummary:
    """What the engine knows at the end that the tables do not hold."""

    horizon: float
    events: int
    arrived_by_source: dict[str, int]
    pending_spawns: int
    spawned_by_kind: dict[str, int]
    pools: list[PoolTotals]
    visits_written: int
    entities_written: int
    engine: str = "simpy"  # the executor that ran
    engine_reason: str = ""
    streams: list[str] = field(default_factory=list)  # the named random streams the rules drew from
    databases: list[DatabaseTotals] = field(default_factory=list)
    content_keys: list[ContentKeyTotals] = field(default_factory=list)
    retention: list[RetentionTotals] = field(default_factory=list)
