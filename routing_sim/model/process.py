"""The process description: kinds, sources, pools, stages, outcomes, deadlines.

Field-level rules live on the models; rules that relate several parts of the
config (every ``to:`` names a stage or an outcome, every pool exists, no stage
is unreachable) live in :mod:`routing_sim.model.checks`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from routing_sim.model.common import (
    Condition,
    Duration,
    Hours,
    Name,
    NonNegative,
    PositiveDuration,
    Probability,
    Rate,
    Strict,
    Value,
    check_distribution,
)
from routing_sim.model.distributions import Distribution, ServiceTime
from routing_sim.model.volumes import Batches, Constant, CountDistribution, Headcount, HeadcountChange, Shock, Step

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class Case(Strict):
    """One row of a conditional categorical distribution."""

    when: Condition | None = None
    p: dict[Value, Probability] = Field(min_length=1)

    _sums = field_validator("p")(check_distribution)


class Draw(Strict):
    """How an attribute gets its value when an entity is created.

    Exactly one of: ``p`` (categorical), ``cases`` (categorical conditional on
    attributes drawn earlier; the last case has no ``when``), ``inherit``
    (copied from the entity that spawned this one) or ``decided`` (unset until
    a stage's ``decide`` sets it).
    """

    p: dict[Value, Probability] | None = None
    cases: list[Case] | None = Field(default=None, min_length=1)
    inherit: Literal[True] | None = None
    decided: Literal[True] | None = None

    _sums = field_validator("p")(check_distribution)

    @model_validator(mode="after")
    def _exactly_one(self) -> Draw:
        given = [k for k in ("p", "cases", "inherit", "decided") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of p, cases, inherit, decided (got {', '.join(given) or 'none'})")
        if self.cases is not None and self.cases[-1].when is not None:
            raise ValueError("the last case must have no 'when' (it is the default)")
        return self


class Kind(Strict):
    """A kind of entity (report, complaint, audit task) and its attributes."""

    description: str = ""
    attributes: dict[Name, Draw] = Field(default_factory=dict)


class Source(Strict):
    """A (non-homogeneous) Poisson stream of new entities of one kind entering at one stage.

    ``rate`` is the average rate at the start; see :mod:`routing_sim.model.volumes`
    for the trend, the weekly and daily profiles, batches, duplicates and counts.
    """

    kind: Name
    rate: Rate
    to: Name
    attributes: dict[Name, Value | Draw] = Field(default_factory=dict)
    description: str = ""
    growth_per_year: Annotated[float, Field(gt=-1.0, le=100.0)] = 0.0
    weekly: dict[Weekday, NonNegative] | None = None
    daily: list[NonNegative] | None = Field(default=None, min_length=24, max_length=24)
    duplicates: CountDistribution | None = None
    batches: Batches | None = None
    counts: dict[Name, CountDistribution] = Field(default_factory=dict)
    content_key: Name | None = Field(default=None, exclude_if=lambda key: key is None)
    """The content-key space (``content_keys:``) its entities draw the item they concern from."""

    @model_validator(mode="after")
    def _profiles(self) -> Source:
        if self.weekly is not None:
            if set(self.weekly) != {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}:
                raise ValueError("weekly needs a weight for each of mon, tue, wed, thu, fri, sat, sun")
            if sum(self.weekly.values()) <= 0:
                raise ValueError("weekly weights must not all be zero")
        if self.daily is not None and sum(self.daily) <= 0:
            raise ValueError("daily weights must not all be zero")
        if self.duplicates is not None and isinstance(self.duplicates, Constant) and self.duplicates.value < 1:
            raise ValueError("duplicates must be at least 1 report per incident")
        return self


class Always(Strict):
    """Every member of the pool is on duty at all times (machines, textbook servers)."""

    type: Literal["always"]


class OfficeHours(Strict):
    """The whole pool is on duty on the given days between start and end."""

    type: Literal["office_hours"]
    days: list[Weekday] = Field(min_length=1)
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _order(self) -> OfficeHours:
        if self.end <= self.start:
            raise ValueError(f"end must be after start (got {self.start}-{self.end})")
        return self


class Rota(Strict):
    """Round-the-clock cover: each member works ``hours_per_week`` in shifts,
    spread as evenly as whole people allow over the week's shifts."""

    type: Literal["rota"]
    hours_per_week: Annotated[float, Field(gt=0, le=168)]
    shift: PositiveDuration

    @field_validator("shift")
    @classmethod
    def _divides_week(cls, hours: Hours) -> Hours:
        if hours > 168 or abs(168 / hours - round(168 / hours)) > 1e-9:
            raise ValueError(f"shift length must divide a week of 168 h (got {hours.text})")
        return hours


Calendar = Annotated[Always | OfficeHours | Rota, Field(discriminator="type")]


class ExposureCap(Strict):
    """At most ``hours_per_day`` of work on this pool's stages per person and day."""

    hours_per_day: PositiveDuration


class Pool(Strict):
    """Staff (or machines) that serve stages; capacity follows the calendar.

    ``headcount`` holds from the start; ``schedule`` changes it from given
    dates. ``absence`` (a share) and ``exposure_cap`` reduce the number of
    people available on duty; see :mod:`routing_sim.calendars`.

    ``by`` splits the pool by an attribute: one pool per value ``headcount`` lists
    (``{AT: 2, BE: 3}``), each serving the entities of its own value; the rest is
    shared. :mod:`routing_sim.model.splits` expands it after validation, so every pool
    the engine and the statistics see has one headcount.
    """

    by: Name | None = Field(default=None, exclude_if=lambda by: by is None)
    headcount: Headcount | dict[Value, Headcount]
    calendar: Calendar
    cost_per_fte_year: NonNegative = 0.0
    schedule: list[HeadcountChange] = Field(default_factory=list)
    absence: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    exposure_cap: ExposureCap | None = None
    max_utilisation: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """A ceiling the pool's utilisation should stay under (a target: judged, not enforced)."""
    description: str = ""

    @property
    def staff(self) -> int:
        """The headcount of a pool with one number (every pool once split pools are expanded)."""
        if isinstance(self.headcount, dict):
            raise ValueError(f"a pool split by {self.by!r} has a headcount per value until it is expanded")
        return self.headcount

    @model_validator(mode="after")
    def _schedule_sorted(self) -> Pool:
        dates = [c.start for c in self.schedule]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("schedule dates must be strictly increasing")
        return self


class Decide(Strict):
    """Set an attribute with probabilities conditional on other attributes."""

    set: Name
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_last(self) -> Decide:
        if self.cases[-1].when is not None:
            raise ValueError("the last case must have no 'when' (it is the default)")
        return self


class Route(Strict):
    """One routing rule: where an entity goes if ``when`` holds.

    ``to`` is a stage or outcome name, or ``{name: probability, ...}``.
    """

    when: Condition | None = None
    to: Name | dict[Name, Probability]

    @field_validator("to")
    @classmethod
    def _sums(cls, value: str | dict[str, float]) -> str | dict[str, float]:
        if isinstance(value, dict):
            if not value:
                raise ValueError("needs at least one target")
            check_distribution(value)
        return value


class Spawn(Strict):
    """After this stage, with probability ``p`` (if ``when`` holds), create a
    linked entity of ``kind`` that enters stage ``to`` after the delay ``after``."""

    kind: Name
    to: Name
    p: Probability
    when: Condition | None = None
    after: Distribution


LONGEST_OF_MAX = 100_000
"""The most draws ``longest_of`` takes in one visit: every count it names must stay at or below it
(checked against the largest value each source's count distribution can give). The k-th draw of a
visit has counters of its own (see :func:`routing_sim.engine.rules.randomness.draw_counter`)."""


class Stage(Strict):
    """A step of the process: served by a pool, or a delay with no capacity limit."""

    description: str = ""
    pool: Name | None = None
    service: ServiceTime
    longest_of: Name | None = Field(
        default=None, description="A count the entity carries, e.g. copies: the visit takes the longest of that "
        "many independent draws of service (a request done when the last of its copies is removed). An entity "
        f"with none of them takes no time here (duration 0). At most {LONGEST_OF_MAX:,} draws per visit.")
    per_item: dict[Name, PositiveDuration] = Field(
        default_factory=dict, description="Time added to each visit per counted item the entity carries, e.g. "
        "{files: 2min}: a report with 4 files takes 8 min more (the counts its source draws).")
    priority: list[Condition] = Field(default_factory=list, max_length=16)
    decide: list[Decide] = Field(default_factory=list)
    spawn: list[Spawn] = Field(default_factory=list)
    next: list[Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _routing(self) -> Stage:
        if self.next[-1].when is not None:
            raise ValueError("the last 'next' rule must have no 'when' (it is the default route)")
        if self.priority and self.pool is None:
            raise ValueError("priority needs a pool: an uncapacitated delay has no queue")
        return self


POINT_PATTERN = r"^(arrival|origin|[a-z][a-z0-9_]*\.(enter|start|end))$"
Point = Annotated[str, Field(pattern=POINT_PATTERN)]

ENTITY_POINTS = {"arrival": "created", "origin": "origin"}
"""Points that are a column of the entity row itself rather than a visit's time: ``arrival``, when
the entity was created (arrived from its source, or was spawned), and ``origin``, when its first
ancestor arrived from a source (an entity that arrived from a source is its own first ancestor)."""


def point_column(point: str) -> str:
    """The entity-table column that holds the time ``point`` was first reached: ``created`` or
    ``origin`` for the entity's own points, ``mark.<stage>.<enter|start|end>`` for a visit's."""
    return ENTITY_POINTS.get(point, f"mark.{point}")


class Deadline(Strict):
    """A target time between two points of an entity's path (e.g. receipt to forwarding).

    A point is ``arrival`` (the entity's creation), ``origin`` (the arrival of its first ancestor:
    a takedown notice spawned by a report measured from when the report arrived) or
    ``stage.enter|start|end`` (the first time the entity reached it)."""

    kind: Name
    start: Point = Field(alias="from")
    end: Point = Field(alias="to")
    within: PositiveDuration
    share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """The target share of entities to reach ``end`` within the time (judged met, missed or uncertain)."""
    when: Condition | None = None
    by: list[Name] = Field(default_factory=list)
    description: str = ""

    model_config = Strict.model_config | {"populate_by_name": True}


class Tally(Strict):
    """Count entities of a kind whose final attributes match ``when``.

    With ``of`` (a condition; ``{}``: every entity of the kind) it is a share: of the entities of
    the kind matching ``of`` (the denominator), how many also match ``when`` (the count), with a
    95 % Wilson score interval, e.g. audits that found an error among the audits decided. An
    attribute not set by the horizon (work in progress) matches neither."""

    kind: Name
    when: Condition
    of: Condition | None = None
    description: str = ""


class DatabaseAdds(Strict):
    """Which visits add items to a database: a visit to ``stage`` that ends with the entity's
    attributes matching ``when`` adds ``items`` (a count the entity carries; one if not given)."""

    stage: Name
    when: Condition | None = None
    items: Name | None = None


class DatabaseDrive(Strict):
    """The share of new arrivals (from ``sources``) whose ``attribute`` is ``value`` follows the
    database: at the start it is the share the kind's (or source's) ``p`` gives; every
    ``halving_items`` items added halve the gap between it and ``ceiling``. The attribute's other
    values keep their proportions."""

    attribute: Name
    value: Value
    sources: list[Name] = Field(min_length=1)
    ceiling: Probability
    halving_items: Annotated[NonNegative, Field(gt=0.0)]


class Database(Strict):
    """A store of items that grows from the process's own confirmations, e.g. a database of
    indicators of known material fed by confirmed new material.

    An item added at time ``c`` is published (in use) from the first publication at or after
    ``c + delay``; publications are every ``publish_every`` from the start. At each
    publication a share ``removed_per_year`` (pro rata) of the items is removed (stated
    removals). Nothing else changes the size. ``delay`` is at least a day: the engine plans
    arrivals a period at a time, at most ``delay`` ahead, so that every addition a publication
    includes has already happened when arrivals that see it are planned.
    """

    description: str = ""
    initial: Annotated[int, Field(ge=0, le=10**15)]
    added_by: list[DatabaseAdds] = Field(min_length=1)
    publish_every: PositiveDuration
    delay: PositiveDuration
    removed_per_year: Probability = 0.0
    drives: DatabaseDrive | None = None

    @field_validator("delay")
    @classmethod
    def _at_least_a_day(cls, value: Hours) -> Hours:
        if value < 24:
            raise ValueError(f"delay must be at least 1d (got {value.text})")
        return value


class ContentKeySpace(Strict):
    """Items in circulation that reports concern, shared by the sources that list it
    (``content_key:``): a provider and a hotline can report the same item.

    Each arrival (each incident: its reports share one key) concerns one of ``items`` items, drawn
    uniformly and order-free. At arrival, ``attribute`` is set to ``repeat`` if the item was
    already reported by an earlier arrival of any of these sources (earlier time; at one time, a
    smaller entity id) and to ``first`` otherwise. With a ``window``, a report is a repeat only if
    the first report of the item's current case is at most ``window`` old; a later report opens a
    new case (it is ``first``).
    """

    description: str = ""
    items: Annotated[int, Field(ge=1, le=10**9)]
    attribute: Name
    first: Value
    repeat: Value
    window: PositiveDuration | None = None

    @model_validator(mode="after")
    def _two_values(self) -> ContentKeySpace:
        if self.first == self.repeat:
            raise ValueError(f"first and repeat must be two different values (both {self.first!r})")
        return self


class Retention(Strict):
    """How long stored entities of ``kind`` (matching ``when``, on their final attributes) are kept:
    ``keep`` after their end (``from: end``; an entity still open is stored) or after their arrival
    (``from: arrival``, whether or not it has ended). Each carries ``items`` (a count it carries,
    0 where its source draws none; one if not given) of ``size_per_item_mb`` megabytes."""

    kind: Name
    when: Condition | None = None
    keep: Duration
    start: Literal["end", "arrival"] = Field(default="end", alias="from")
    items: Name | None = None
    size_per_item_mb: NonNegative
    description: str = ""

    model_config = Strict.model_config | {"populate_by_name": True}


class Limits(Strict):
    """The most work a config may ask for before validation refuses it as a likely mistake (a rate of
    1e12/h, a horizon of a million years): raise them here to run such a config anyway."""

    max_arrivals: Annotated[float, Field(gt=0)] = 1e9
    max_series_points: Annotated[float, Field(gt=0)] = 1e7


class Budget(Strict):
    """A reference budget to compare the staff cost with (e.g. the EU Centre's at full operation)."""

    total_per_year: NonNegative
    staff_share: Probability
    currency: str = "EUR"
    description: str = ""


class TimeSettings(Strict):
    start: dt.date
    horizon: PositiveDuration
    timeseries_step: PositiveDuration = Hours("1h")


class Split(Strict):
    """What the expansion of a pool split ``by`` an attribute made: the pool of each value and, for
    each stage the pool served, that stage's copy per value. A deadline point naming such a stage
    (``national_intake.end``) is reached at whichever copy the entity visited. The expansion writes
    this section (a resolved config keeps it); a config need not write it."""

    by: Name
    pools: dict[Value, Name] = Field(min_length=1)
    stages: dict[Name, dict[Value, Name]]


class ProcessConfig(Strict):
    """A whole process: what arrives, who serves it, how it is routed, what is measured."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    description: str = ""
    question: str = ""
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    time: TimeSettings
    attributes: dict[Name, list[Value]] = Field(default_factory=dict)
    kinds: dict[Name, Kind] = Field(min_length=1)
    sources: dict[Name, Source] = Field(min_length=1)
    pools: dict[Name, Pool] = Field(default_factory=dict)
    stages: dict[Name, Stage] = Field(min_length=1)
    outcomes: dict[Name, str] = Field(min_length=1)
    shocks: dict[Name, Shock] = Field(default_factory=dict)
    steps: dict[Name, Step] = Field(default_factory=dict)
    deadlines: dict[Name, Deadline] = Field(default_factory=dict)
    tallies: dict[Name, Tally] = Field(default_factory=dict)
    databases: dict[Name, Database] = Field(default_factory=dict)
    splits: dict[Name, Split] = Field(default_factory=dict, exclude_if=lambda splits: not splits)
    content_keys: dict[Name, ContentKeySpace] = Field(default_factory=dict, exclude_if=lambda spaces: not spaces)
    retention: dict[Name, Retention] = Field(default_factory=dict, exclude_if=lambda rules: not rules)
    budget: Budget | None = None
    limits: Limits = Field(default_factory=Limits)

    @field_validator("attributes")
    @classmethod
    def _distinct_values(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in value.items():
            if not values:
                raise ValueError(f"attribute {name!r} needs at least one value")
            if len(set(values)) != len(values):
                raise ValueError(f"attribute {name!r} lists a value twice")
        return value
