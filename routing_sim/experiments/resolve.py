"""From an experiment file to validated variants: overrides by dotted path, the sweep grid, checks.

Each variant is the base config's data with the common overrides, the
variant's own and one point of the sweep grid applied (in that order), then
validated like any config. A problem in an overridden value is reported at the
line of the experiment file that set it; a path that does not exist in the
base config is a one-line error naming the experiment file and the path.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing_sim.errors import ConfigError, Problem
from routing_sim.experiments.spec import ExperimentSpec, Mser5, UntilPrecise, read_spec
from routing_sim.layering import Origins
from routing_sim.loader import load_data, validate_data
from routing_sim.model.common import Hours
from routing_sim.model.process import ProcessConfig
from routing_sim.runfolder import config_hash, resolved_config
from routing_sim.yamlio import Lines


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any]  # every override applied, in order, as written in the experiment file
    data: dict[str, Any]  # the config data handed to the task function (validated again there)
    cfg: ProcessConfig
    config_hash: str  # of the resolved config with the experiment's seed


@dataclass(frozen=True)
class Experiment:
    spec: ExperimentSpec
    file: Path
    base_file: Path
    seed: int
    variants: list[Variant]
    baseline: str
    report: list[str]
    warmup_h: float | None  # fixed warm-up in hours; None when MSER-5 chooses it
    mser: Mser5 | None = None
    kpi_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return self.spec.name

    def config_file(self, variant: str) -> Path:
        """The config file a variant starts from: its ``bases:`` file, else the experiment's base."""
        named = {name: of for name, of, _ in _plan(self.spec)}.get(variant)
        other = self.spec.bases.get(named) if named is not None else None
        return (self.file.parent / other).resolve() if other else self.base_file

    @property
    def fixed_replications(self) -> int | None:
        return self.spec.replications if isinstance(self.spec.replications, int) else None

    @property
    def until(self) -> UntilPrecise | None:
        return self.spec.replications if isinstance(self.spec.replications, UntilPrecise) else None


class _Where:
    """Problems in the experiment file, located by key path."""

    def __init__(self, source: str, lines: Lines):
        self.source, self.lines = source, lines

    def problem(self, path: tuple, reason: str) -> Problem:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return Problem(self.source, path, reason, self.lines[path[:end]])
        return Problem(self.source, path, reason)


def load_experiment(path: str | Path, seed: int | None = None) -> Experiment:
    """Read an experiment file and resolve every variant; raise ConfigError with one-line problems."""
    from routing_sim.experiments.tasks import kpi_names

    path = Path(path)
    spec, _, lines = read_spec(path)
    where = _Where(str(path), lines)
    base_file = (path.parent / spec.base).resolve()
    if not base_file.is_file():
        raise ConfigError([where.problem(("base",), f"no such config file: {spec.base}")])
    loaded: dict[str | None, tuple[Any, Origins]] = {None: load_data(base_file)}
    for variant, other in spec.bases.items():
        other_file = (path.parent / other).resolve()
        if not other_file.is_file():
            raise ConfigError([where.problem(("bases", variant), f"no such config file: {other}")])
        loaded[variant] = load_data(other_file)
    root_seed = spec.seed if seed is None else seed
    plan = _plan(spec)
    variants = [_variant(name, steps, *loaded[named if named in loaded else None], where, root_seed)
                for name, named, steps in plan]
    names = [v.name for v in variants]
    baseline = spec.baseline or names[0]
    if baseline not in names:
        raise ConfigError([where.problem(("baseline",), f"no variant named {baseline!r} (variants: {', '.join(names)})")])
    base_cfg = variants[names.index(baseline)].cfg
    known = kpi_names(base_cfg)
    report = list(spec.report) or default_report(base_cfg)
    problems = _check_kpis(spec, report, known, base_cfg, where)
    other_base = {name: spec.bases[named] for name, named, _ in plan if named in spec.bases}
    problems += _check_questions(spec, variants, baseline, known, other_base, where)
    warmup_h, mser = _warmup(spec, variants, where, problems)
    if problems:
        raise ConfigError(problems)
    return Experiment(spec, path, base_file, root_seed, variants, baseline, report, warmup_h, mser, frozenset(known))


Step = tuple[tuple, str, Any]  # (location in the experiment file, dotted path, value)


def _plan(spec: ExperimentSpec) -> list[tuple[str, str, list[Step]]]:
    """Variant names, the named variant each comes from, and their override steps: common, then the
    variant's, then a sweep point."""
    common = [(("overrides", p), p, v) for p, v in spec.overrides.items()]
    named = [(name, [(("variants", name, p), p, v) for p, v in ov.items()]) for name, ov in spec.variants.items()]
    if not spec.sweep:
        return [(name, name, common + steps) for name, steps in (named or [("base", [])])]
    lasts = [p.rsplit(".", 1)[-1] for p in spec.sweep]
    labels = [last if lasts.count(last) == 1 else p for p, last in zip(spec.sweep, lasts, strict=True)]
    axes = [[(("sweep", p, i), p, v) for i, v in enumerate(values)] for p, values in spec.sweep.items()]
    out = []
    for name, steps in named or [("", [])]:
        for point in itertools.product(*axes):
            label = " ".join(f"{lab}={step[2]}" for lab, step in zip(labels, point, strict=True))
            out.append((f"{name} {label}".strip(), name, common + steps + list(point)))
    return out


def _variant(name: str, steps: list[Step], base: dict, origins: Origins, where: _Where, seed: int) -> Variant:
    data = copy.deepcopy(base)
    located = Origins(origins.default, dict(origins.where))
    for loc, dotted, value in steps:
        key_path = apply_override(data, dotted, value, where, loc)
        for p in [p for p in located.where if p[: len(key_path)] == key_path]:
            del located.where[p]
        located.where[key_path] = (where.source, where.lines.get(loc))
    cfg = validate_data(data, origins=located)
    digest = config_hash(resolved_config(cfg, seed))
    return Variant(name, {dotted: value for _, dotted, value in steps}, data, cfg, digest)


def with_overrides(data: dict, overrides: dict[str, Any], source: str = "<--set>") -> dict:
    """A copy of ``data`` with dotted-path overrides (``pools.reviewers.headcount: 40``), each naming
    a path that exists but for its last step; an unknown name is a problem with "did you mean"."""
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        apply_override(data, dotted, value, _Where(source, {}), (dotted,))
    return data


def apply_override(data: dict, dotted: str, value: Any, where: _Where, loc: tuple) -> tuple:
    """Set ``dotted`` in ``data`` to a copy of ``value``; every step but the last must exist."""
    parts = dotted.split(".")
    node: Any = data
    key_path: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            key: str | int = int(part)
        elif isinstance(node, dict) and (part in node or last):
            key = part
        else:
            raise ConfigError([where.problem(loc, _unknown(dotted, parts[:depth], part, node))])
        key_path.append(key)
        if last:
            node[key] = copy.deepcopy(value)
        else:
            node = node[key]
    return tuple(key_path)


def _unknown(dotted: str, parent: list[str], part: str, node: Any) -> str:
    inside = ".".join(parent) or "the top level"
    if isinstance(node, dict):
        close = difflib.get_close_matches(part, [str(k) for k in node], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(map(str, list(node)[:12]))})"
        return f"unknown path {dotted!r}: no {part!r} in {inside}{hint}"
    if isinstance(node, list):
        return f"unknown path {dotted!r}: {inside} is a list of {len(node)}, {part!r} is not an index in it"
    return f"unknown path {dotted!r}: {inside} is a value, not a section"


def default_report(cfg: ProcessConfig) -> list[str]:
    """The table's KPIs when the file names none: deadline shares, pool utilisation, waits at pooled stages."""
    out = [f"deadlines.{name}.share_within" for name in cfg.deadlines]
    out += [f"pools.{name}.utilisation" for name in cfg.pools]
    out += [f"stages.{name}.wait.mean_h" for name, s in cfg.stages.items() if s.pool]
    return out


def _kpi_known(name: str, known: set[str], cfg: ProcessConfig) -> bool:
    if name in known:
        return True
    parts = name.split(".")  # breakdowns by attribute value exist only where there was data
    return len(parts) >= 5 and parts[0] == "deadlines" and parts[1] in cfg.deadlines and parts[2] == "by"


def _check_kpis(spec: ExperimentSpec, report: list[str], known: set[str], cfg: ProcessConfig,
                where: _Where) -> list[Problem]:
    listed: list[tuple[tuple, str]] = [(("report", i), n) for i, n in enumerate(spec.report)]
    if isinstance(spec.replications, UntilPrecise):
        listed += [(("replications", "kpis", i), n) for i, n in enumerate(spec.replications.kpis)]
    problems = []
    for loc, name in listed:
        if not _kpi_known(name, known, cfg):
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(where.problem(loc, f"unknown KPI {name!r}{hint}"))
    return problems


def _check_questions(spec: ExperimentSpec, variants: list[Variant], baseline: str, known: set[str],
                     other_base: dict[str, str], where: _Where) -> list[Problem]:
    """Each question names variants that exist and a KPI that the baseline, or one of the variants it
    asks about that starts from another config (``other_base``: variant -> its ``bases:`` file), produces."""
    from routing_sim.experiments.tasks import kpi_names

    by_name = {v.name: v for v in variants}
    names = ", ".join(by_name)
    others: dict[str, set[str]] = {}  # KPI names per other config file, computed when a question needs them
    problems = []
    for i, q in enumerate(spec.questions):
        located: list[tuple[tuple, str]] = [(("questions", i, "variants", j), n) for j, n in enumerate(q.variants)]
        located += [(("questions", i, "against"), q.against)] if q.against is not None else []
        bad = [where.problem(loc, f"no variant named {name!r} (variants: {names})")
               for loc, name in located if name not in by_name]
        problems += bad
        if bad or _kpi_known(q.kpi, known, by_name[baseline].cfg):
            continue
        asked = [by_name[n] for n in [*(q.variants or by_name), q.against or baseline]]
        for v in asked:
            if v.name in other_base and other_base[v.name] not in others:
                others[other_base[v.name]] = kpi_names(v.cfg)
            if v.name in other_base and _kpi_known(q.kpi, others[other_base[v.name]], v.cfg):
                break
        else:
            pool = sorted(known.union(*others.values()))
            close = difflib.get_close_matches(q.kpi, pool, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(where.problem(("questions", i, "kpi"), f"unknown KPI {q.kpi!r}{hint}"))
    return problems


def _warmup(spec: ExperimentSpec, variants: list[Variant], where: _Where,
            problems: list[Problem]) -> tuple[float | None, Mser5 | None]:
    shortest = min(float(v.cfg.time.horizon) for v in variants)
    if spec.warmup is None:
        return 0.0, None
    if isinstance(spec.warmup, Hours):
        hours = float(spec.warmup)
        if hours % 24 != 0:
            problems.append(where.problem(("warmup",), f"must be whole days (got {spec.warmup.text!r})"))
        elif hours >= shortest:
            problems.append(where.problem(("warmup",), f"{spec.warmup} is not shorter than the horizon"))
        return hours, None
    mser = spec.warmup
    for v in variants:
        columns = {f"{w}.{s}" for s in v.cfg.stages for w in ("inside", "queued")}
        columns |= {f"{w}.{p}" for p in v.cfg.pools for w in ("busy", "on_duty")}
        if mser.mser5 not in columns:
            problems.append(where.problem(("warmup", "mser5"), f"no time series {mser.mser5!r} in variant {v.name!r}"))
            break
        step, every = v.cfg.time.timeseries_step, mser.every
        if every < step or not math.isclose(every / step, round(every / step)):
            problems.append(where.problem(("warmup", "every"), f"must be a multiple of the time-series step "
                                                                f"{v.cfg.time.timeseries_step} of {v.name!r}"))
            break
        if shortest / every < 20:
            problems.append(where.problem(("warmup", "every"), f"gives fewer than 20 windows over the horizon "
                                                                f"of {v.name!r}: MSER-5 needs more"))
            break
    return None, mser
