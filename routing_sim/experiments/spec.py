"""The experiment file: what to compare, how many replications, which warm-up.

```yaml
name: eu-centre-staffing
base: ../configs/eu-centre-2019.yaml      # relative to this file
seed: 2019                                # one root seed for every variant (common random numbers)
overrides: {time.horizon: 60d}            # applied to every variant
variants:                                 # named overrides by dotted path
  volume_2019: {}
  surge_x1.5: {sources.dominant_provider.rate: 1022250/year}
sweep:                                    # optional grid, crossed with the variants
  pools.reviewers.headcount: [31, 40, 50]
baseline: volume_2019 headcount=31        # default: the first variant
replications: 10                          # or {min: 5, max: 40, precision: 0.05, kpis: [...]}
warmup: 7d                                # or {mser5: queued.relevance_review, every: 6h, pilot: 3}
report: [deadlines.forwarded_within_24h.share_within, pools.reviewers.utilisation]
questions:                                # optional: what the report answers first, in this order
  - ask: Do 40 reviewers forward reports within 24 hours?
    kpi: deadlines.forwarded_within_24h.share_within
    says: of reports are forwarded within 24 hours   # the words after the value (optional)
    variants: [volume_2019 headcount=40]   # default: every variant
    against: volume_2019 headcount=31      # default: the baseline
```

The file is validated like a process config (``extra="forbid"``, one line per
problem: ``file:line: field.path: reason``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, model_validator

from routing_sim.errors import ConfigError, Problem
from routing_sim.layering import Origins
from routing_sim.loader import _problems_from_pydantic
from routing_sim.model.common import Duration, Hours, PositiveDuration, Strict
from routing_sim.yamlio import Lines, read_yaml

DottedPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")]
"""A path into the config, e.g. ``pools.reviewers.headcount`` or ``stages.review.next.0.to``."""

VariantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")]
KpiName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.+-]{1,300}$")]
EXPERIMENT_KEYS = ("base", "variants")
"""A YAML file with one of these top-level keys is an experiment, not a process config."""


class UntilPrecise(Strict):
    """Hoad, Robinson and Davies (2010): add replications until the CI half-width of every listed
    KPI, in every variant, is at most ``precision`` x |mean| and stays so for ``lookahead`` more."""

    min: int = Field(5, ge=3)
    max: int = Field(50, ge=3, le=10_000)
    precision: float = Field(gt=0, lt=1)
    kpis: list[KpiName] = Field(min_length=1)
    lookahead: int = Field(5, ge=0, le=1000)

    @model_validator(mode="after")
    def _bounds(self) -> UntilPrecise:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Mser5(Strict):
    """Warm-up chosen from the data: MSER-5 on a time-series column (``queued.<stage>``,
    ``inside.<stage>``, ``busy.<pool>``, ``on_duty.<pool>``) averaged over windows of ``every``,
    over the mean of ``pilot`` replications of each variant."""

    mser5: str = Field(pattern=r"^(inside|queued|busy|on_duty)\.[a-z][a-z0-9_]*$")
    every: PositiveDuration = Hours("1d")
    pilot: int = Field(3, ge=1, le=100)


class Question(Strict):
    """A question the report answers in sentences: per variant, the mean of ``kpi`` with its interval
    and the paired difference against ``against``, with the target's verdict where there is one."""

    ask: str = Field(min_length=1)
    kpi: KpiName
    variants: list[str] = Field(default_factory=list)  # default: every variant, in the experiment's order
    against: str | None = None  # default: the experiment's baseline
    says: str = ""  # the words after the value, e.g. "of reports reach the police within 3 days"
    unit: Literal["share", "hours", "count", "money", "ratio"] | None = None  # default: from the KPI's name
    direction: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=2, max_length=2)] | None = None
    """The words for a difference above and below the comparison (default by unit: longer/shorter for
    hours, more/fewer for counts, higher/lower for ratios, more/less for shares and money)."""


class ExperimentSpec(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]  # also the results folder
    description: str = ""
    question: str = ""  # what the experiment answers (the report opens with it, not with the base config's)
    base: str = Field(min_length=1)
    bases: dict[VariantName, str] = Field(default_factory=dict)
    """Variants that start from another config than ``base`` (e.g. today's route beside the options);
    the overrides apply to them as to the others, and KPIs of the same name are compared."""
    seed: int = Field(ge=0)
    level: float = Field(0.95, gt=0.5, lt=1)
    overrides: dict[DottedPath, Any] = Field(default_factory=dict)
    variants: dict[VariantName, dict[DottedPath, Any]] = Field(default_factory=dict)
    sweep: dict[DottedPath, list[Any]] = Field(default_factory=dict)
    baseline: str | None = None
    replications: Annotated[int, Field(ge=2, le=10000)] | UntilPrecise
    warmup: Duration | Mser5 | None = None
    report: list[KpiName] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sweep_values(self) -> ExperimentSpec:
        for path, values in self.sweep.items():
            if not values:
                raise ValueError(f"sweep {path}: give at least one value")
        for name in self.bases:
            if name not in self.variants:
                raise ValueError(f"bases: no variant named {name!r} (variants: {', '.join(self.variants) or 'none'})")
        return self


def is_experiment(data: Any) -> bool:
    return isinstance(data, dict) and any(key in data for key in EXPERIMENT_KEYS)


def is_experiment_file(path: Path) -> bool:
    """Whether ``path`` is an experiment file (a mapping with a top-level ``base:`` or ``variants:``)."""
    try:
        data, _ = read_yaml(path)
    except Exception:  # noqa: BLE001 - not readable as an experiment: the process-config loader reports it
        return False
    return is_experiment(data)


def read_spec(path: Path) -> tuple[ExperimentSpec, dict[str, Any], Lines]:
    """Read and validate an experiment file; raise ConfigError with one-line problems."""
    data, lines = read_yaml(path)
    source = str(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, (), "the top level must be a mapping (name, base, variants, ...)", 1)])
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from_pydantic(exc, data, Origins.of_file(source, lines))
        raise ConfigError([_better_hint(p) for p in problems]) from None
    return spec, data, lines


def _better_hint(problem: Problem) -> Problem:
    """The loader suggests process-config field names; suggest experiment field names instead."""
    if not problem.reason.startswith("unknown field") or not problem.path:
        return problem
    name = str(problem.path[-1])
    known = [*ExperimentSpec.model_fields, *UntilPrecise.model_fields, *Mser5.model_fields, *Question.model_fields]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return Problem(problem.file, problem.path, f"unknown field {name!r}{hint}", problem.line)
