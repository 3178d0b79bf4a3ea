"""Cross-checks that relate several parts of a process config.

Each check yields ``(path, reason)`` pairs; the loader turns them into one-line
problems with file and line. Checks run only on a config whose fields already
passed pydantic validation.
"""

from __future__ import annotations

import difflib
import math
from collections import deque
from collections.abc import Iterator

from routing_sim.model.common import condition_values
from routing_sim.model.distributions import ByAttribute
from routing_sim.model.process import ENTITY_POINTS, LONGEST_OF_MAX, Draw, ProcessConfig, Stage
from routing_sim.model.splits import split_entry_problems, split_problems, stage_groups
from routing_sim.model.volumes import CountDistribution
from routing_sim.units import parse_rate

Found = Iterator[tuple[tuple, str]]


def check_process(cfg: ProcessConfig) -> list[tuple[tuple, str]]:
    """Return every cross-field problem of ``cfg`` (empty when it is consistent)."""
    problems: list[tuple[tuple, str]] = []
    for check in (_names, _kinds, _sources, _windows, _stages, _unused_pools, _measures, _work, _databases,
                  _content_keys, _retention, split_problems):
        problems.extend(check(cfg))
    if not problems:  # reachability only makes sense once every name resolves
        problems.extend(_reachability(cfg))
        problems.extend(_zero_time_loops(cfg))
    if not problems:  # which values reach a split pool's stages: once every name resolves
        problems.extend(split_entry_problems(cfg))
    return problems


def keyed_attributes(cfg: ProcessConfig, kind: str) -> dict[str, str]:
    """The attributes a content key sets at arrival on entities of ``kind`` (attribute -> key space):
    those of the key spaces its sources list."""
    out: dict[str, str] = {}
    for source in cfg.sources.values():
        space = cfg.content_keys.get(source.content_key or "")
        if source.kind == kind and space is not None:
            out.setdefault(space.attribute, source.content_key or "")
    return out


def carried(cfg: ProcessConfig, kind: str) -> set[str]:
    """The attributes entities of ``kind`` carry: the kind's own, and those a content key sets."""
    return set(cfg.kinds[kind].attributes) | set(keyed_attributes(cfg, kind))


def _values(cfg: ProcessConfig, attribute: str, path: tuple) -> Found:
    if attribute not in cfg.attributes:
        yield path, f"unknown attribute {attribute!r} (declare it under 'attributes')"


def _condition(cfg: ProcessConfig, cond: dict | None, path: tuple, allowed: set[str] | None = None) -> Found:
    for attribute, value in (cond or {}).items():
        if attribute not in cfg.attributes:
            yield path + (attribute,), f"unknown attribute {attribute!r}"
            continue
        if allowed is not None and attribute not in allowed:
            yield path + (attribute,), f"attribute {attribute!r} is not available here"
        for v in condition_values(value):
            if v not in cfg.attributes[attribute]:
                yield path + (attribute,), f"{v!r} is not a value of {attribute!r} ({', '.join(cfg.attributes[attribute])})"


def _probabilities(cfg: ProcessConfig, attribute: str, p: dict, path: tuple) -> Found:
    for value in p:
        if attribute in cfg.attributes and value not in cfg.attributes[attribute]:
            yield path + (value,), f"{value!r} is not a value of {attribute!r}"


def _names(cfg: ProcessConfig) -> Found:
    for name in cfg.stages:
        if name in cfg.outcomes:
            yield ("outcomes", name), f"{name!r} is both a stage and an outcome"


def _draw(cfg: ProcessConfig, attribute: str, draw: Draw, path: tuple, earlier: set[str]) -> Found:
    if draw.p is not None:
        yield from _probabilities(cfg, attribute, draw.p, path + ("p",))
    for i, case in enumerate(draw.cases or []):
        yield from _condition(cfg, case.when, path + ("cases", i, "when"), earlier)
        yield from _probabilities(cfg, attribute, case.p, path + ("cases", i, "p"))


def _kinds(cfg: ProcessConfig) -> Found:
    for kind_name, kind in cfg.kinds.items():
        inherited = {a for a, d in kind.attributes.items() if d.inherit}
        earlier = set(inherited)
        for attribute, draw in kind.attributes.items():
            path = ("kinds", kind_name, "attributes", attribute)
            if attribute not in cfg.attributes:
                yield path, f"unknown attribute {attribute!r} (declare it under 'attributes')"
                continue
            yield from _draw(cfg, attribute, draw, path, earlier)
            earlier.add(attribute)


def _sources(cfg: ProcessConfig) -> Found:
    for name, source in cfg.sources.items():
        path = ("sources", name)
        if source.kind not in cfg.kinds:
            yield path + ("kind",), f"unknown kind {source.kind!r}"
            continue
        if source.to not in cfg.stages:
            yield path + ("to",), f"unknown stage {source.to!r}"
        kind = cfg.kinds[source.kind]
        space = cfg.content_keys.get(source.content_key or "")
        if source.content_key is not None and space is None:
            yield path + ("content_key",), (f"unknown content key space {source.content_key!r} "
                                            f"(content_keys: {', '.join(cfg.content_keys) or 'none'})")
        keyed = keyed_attributes(cfg, source.kind)
        for attribute, override in source.attributes.items():
            apath = path + ("attributes", attribute)
            if attribute in keyed:
                yield apath, (f"set at arrival by content_keys.{keyed[attribute]} (a content key of this kind's "
                              "sources): a source cannot fix or draw it")
            elif attribute not in kind.attributes:
                yield apath, f"kind {source.kind!r} has no attribute {attribute!r}"
            elif isinstance(override, str):
                if override not in cfg.attributes.get(attribute, []):
                    yield apath, f"{override!r} is not a value of {attribute!r}"
            elif override.inherit or override.decided:
                yield apath, "a source can only fix a value or give p / cases"
            else:
                yield from _draw(cfg, attribute, override, apath, set(kind.attributes))


def _windows(cfg: ProcessConfig) -> Found:
    for section in ("shocks", "steps"):
        for name, window in getattr(cfg, section).items():
            for i, source in enumerate(window.sources or []):
                if source not in cfg.sources:
                    yield (section, name, "sources", i), f"unknown source {source!r}"


def _stage_attributes(stage: Stage) -> Iterator[tuple[tuple, str]]:
    """Every attribute a stage reads or sets, with the path that names it."""
    if isinstance(stage.service, ByAttribute):
        yield ("service", "by"), stage.service.by
    for i, cond in enumerate(stage.priority):
        for a in cond:
            yield ("priority", i, a), a
    for i, decide in enumerate(stage.decide):
        yield ("decide", i, "set"), decide.set
        for j, case in enumerate(decide.cases):
            for a in case.when or {}:
                yield ("decide", i, "cases", j, "when", a), a
    for i, spawn in enumerate(stage.spawn):
        for a in spawn.when or {}:
            yield ("spawn", i, "when", a), a
    for i, route in enumerate(stage.next):
        for a in route.when or {}:
            yield ("next", i, "when", a), a


def _work(cfg: ProcessConfig) -> Found:
    """An estimate of the work a config asks for, refused above ``limits`` with the numbers: an
    upper bound on the expected arrivals (every source at its rate, grown over the horizon, under
    the largest shock or step, times its mean incident and batch sizes) and the time-series points."""
    hours = float(cfg.time.horizon)
    years = hours / 8760.0
    multiplier = max([1.0, *(w.multiplier for w in [*cfg.shocks.values(), *cfg.steps.values()])])
    by_source = {}
    for name, src in cfg.sources.items():
        growth = math.exp(min(700.0, years * math.log1p(src.growth_per_year))) if src.growth_per_year > 0 else 1.0
        size = _mean_count(src.duplicates) if src.duplicates is not None else 1.0
        by_source[name] = parse_rate(src.rate) * hours * growth * multiplier * size
        if src.batches is not None:
            by_source[name] += parse_rate(src.batches.rate) * hours * _mean_count(src.batches.size)
    arrivals = sum(by_source.values())
    if arrivals > cfg.limits.max_arrivals:
        largest = max(by_source, key=lambda name: by_source[name])  # named where its rate was set
        yield ("sources", largest, "rate"), (f"the config asks for about {arrivals:.3g} arrivals over {cfg.time.horizon} "
                                    f"(limit {cfg.limits.max_arrivals:.3g}): check the rates and the horizon, or "
                                    "raise limits.max_arrivals to run it anyway")
    points = hours / cfg.time.timeseries_step
    if points > cfg.limits.max_series_points:
        yield ("time", "timeseries_step"), (f"{points:.3g} time-series points ({cfg.time.horizon} every "
                                            f"{cfg.time.timeseries_step}; limit {cfg.limits.max_series_points:.3g}): "
                                            "use a longer step, or raise limits.max_series_points")


def _mean_count(dist: CountDistribution) -> float:
    return float(dist.mean)


def _unused_pools(cfg: ProcessConfig) -> Found:
    """A pool no stage uses is almost always a misspelt override in a config that extends another
    (``pools: {reviewer: ...}`` beside ``reviewers``): the analyst would believe it was tested."""
    used = {stage.pool for stage in cfg.stages.values()}
    for name in cfg.pools:
        if name not in used:
            close = difflib.get_close_matches(name, [p for p in used if p], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (remove it, or give a stage 'pool: " + name + "')"
            yield ("pools", name), f"pool {name!r} is used by no stage{hint}"


def _stages(cfg: ProcessConfig) -> Found:
    targets = set(cfg.stages) | set(cfg.outcomes)
    for name, stage in cfg.stages.items():
        path = ("stages", name)
        if stage.pool is not None and stage.pool not in cfg.pools:
            yield path + ("pool",), f"unknown pool {stage.pool!r} (pools: {', '.join(cfg.pools) or 'none'})"
        if isinstance(stage.service, ByAttribute):
            by = stage.service.by
            if by not in cfg.attributes:
                yield path + ("service", "by"), f"unknown attribute {by!r}"
            else:
                for value in stage.service.cases:
                    if value not in cfg.attributes[by]:
                        yield path + ("service", "cases", value), f"{value!r} is not a value of {by!r}"
                missing = [v for v in cfg.attributes[by] if v not in stage.service.cases]
                if missing and stage.service.default is None:
                    yield path + ("service",), f"no default and no case for {', '.join(missing)}"
        counted = sorted({c for source in cfg.sources.values() for c in source.counts})
        for count in stage.per_item:
            if count not in counted:
                yield path + ("per_item", count), f"unknown count {count!r} (counts: {', '.join(counted) or 'none'})"
        if stage.longest_of is not None:
            yield from _longest_of(cfg, stage.longest_of, counted, path + ("longest_of",))
        for i, cond in enumerate(stage.priority):
            yield from _condition(cfg, cond, path + ("priority", i))
        for i, decide in enumerate(stage.decide):
            yield from _values(cfg, decide.set, path + ("decide", i, "set"))
            for j, case in enumerate(decide.cases):
                yield from _condition(cfg, case.when, path + ("decide", i, "cases", j, "when"))
                yield from _probabilities(cfg, decide.set, case.p, path + ("decide", i, "cases", j, "p"))
        for i, spawn in enumerate(stage.spawn):
            spath = path + ("spawn", i)
            if spawn.kind not in cfg.kinds:
                yield spath + ("kind",), f"unknown kind {spawn.kind!r}"
            if spawn.to not in cfg.stages:
                yield spath + ("to",), f"unknown stage {spawn.to!r}"
            yield from _condition(cfg, spawn.when, spath + ("when",))
        for i, route in enumerate(stage.next):
            yield from _condition(cfg, route.when, path + ("next", i, "when"))
            for target in [route.to] if isinstance(route.to, str) else route.to:
                if target not in targets:
                    yield path + ("next", i, "to"), f"{target!r} is neither a stage nor an outcome"


def _measures(cfg: ProcessConfig) -> Found:
    groups = stage_groups(cfg)  # a stage a split pool made copies of: reached at whichever copy
    for section, items in (("deadlines", cfg.deadlines), ("tallies", cfg.tallies)):
        for name, item in items.items():
            path = (section, name)
            if item.kind not in cfg.kinds:
                yield path + ("kind",), f"unknown kind {item.kind!r}"
                continue
            has = carried(cfg, item.kind)
            yield from _condition(cfg, item.when, path + ("when",), has)
            yield from _condition(cfg, getattr(item, "of", None), path + ("of",), has)
            for field in ("start", "end", "by"):
                for value in _as_list(getattr(item, field, None)):
                    stage = value.split(".")[0]
                    if field == "by" and value not in has:
                        yield path + ("by",), f"kind {item.kind!r} has no attribute {value!r}"
                    elif field != "by" and value not in ENTITY_POINTS and stage not in cfg.stages \
                            and stage not in groups:
                        alias = {"start": "from", "end": "to"}[field]
                        yield path + (alias,), f"unknown stage {stage!r}"


def _databases(cfg: ProcessConfig) -> Found:
    counted = sorted({c for source in cfg.sources.values() for c in source.counts})
    for name, db in cfg.databases.items():
        path = ("databases", name)
        for i, adds in enumerate(db.added_by):
            apath = path + ("added_by", i)
            if adds.stage not in cfg.stages:
                yield apath + ("stage",), f"unknown stage {adds.stage!r}"
            yield from _condition(cfg, adds.when, apath + ("when",))
            if adds.items is not None and adds.items not in counted:
                yield apath + ("items",), f"unknown count {adds.items!r} (counts: {', '.join(counted) or 'none'})"
        drive = db.drives
        if drive is None:
            continue
        dpath = path + ("drives",)
        if drive.attribute not in cfg.attributes:
            yield dpath + ("attribute",), f"unknown attribute {drive.attribute!r}"
            continue
        if drive.value not in cfg.attributes[drive.attribute]:
            yield dpath + ("value",), f"{drive.value!r} is not a value of {drive.attribute!r}"
            continue
        for i, source_name in enumerate(drive.sources):
            spath = dpath + ("sources", i)
            source = cfg.sources.get(source_name)
            if source is None:
                yield spath, f"unknown source {source_name!r}"
                continue
            kind = cfg.kinds.get(source.kind)
            draw = source.attributes.get(drive.attribute, kind.attributes.get(drive.attribute) if kind else None)
            if draw is None or isinstance(draw, str) or draw.p is None or drive.value not in draw.p:
                yield spath, (f"source {source_name!r} must draw {drive.attribute!r} with a plain 'p' that "
                              f"includes {drive.value!r} for the database to drive its share")
            elif draw.p[drive.value] >= 1.0:
                yield spath, f"source {source_name!r} gives {drive.attribute!r} = {drive.value!r} always: nothing to drive"


def _content_keys(cfg: ProcessConfig) -> Found:
    used = {source.content_key for source in cfg.sources.values()}
    for name, space in cfg.content_keys.items():
        path = ("content_keys", name)
        if name not in used:
            yield path, f"content key space {name!r} is listed by no source (give a source 'content_key: {name}')"
        if space.attribute not in cfg.attributes:
            yield path + ("attribute",), f"unknown attribute {space.attribute!r} (declare it under 'attributes')"
            continue
        values = cfg.attributes[space.attribute]
        for field in ("first", "repeat"):
            if getattr(space, field) not in values:
                yield path + (field,), (f"{getattr(space, field)!r} is not a value of {space.attribute!r} "
                                        f"({', '.join(values)})")
        for kind_name in sorted({s.kind for s in cfg.sources.values() if s.content_key == name}):
            kind = cfg.kinds.get(kind_name)
            if kind is not None and space.attribute in kind.attributes:
                yield ("kinds", kind_name, "attributes", space.attribute), (
                    f"set at arrival by content_keys.{name} (a content key of this kind's sources): "
                    "remove it from the kind")


def _retention(cfg: ProcessConfig) -> Found:
    for name, rule in cfg.retention.items():
        path = ("retention", name)
        if rule.kind not in cfg.kinds:
            yield path + ("kind",), f"unknown kind {rule.kind!r}"
            continue
        yield from _condition(cfg, rule.when, path + ("when",), carried(cfg, rule.kind))
        if rule.items is not None:
            drawn = sorted({c for s in cfg.sources.values() if s.kind == rule.kind for c in s.counts})
            if rule.items not in drawn:
                yield path + ("items",), (f"no source of kind {rule.kind!r} draws the count {rule.items!r} "
                                          f"(counts of its sources: {', '.join(drawn) or 'none'})")


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def stage_targets(stage: Stage) -> set[str]:
    out: set[str] = set()
    for route in stage.next:
        out.update([route.to] if isinstance(route.to, str) else route.to)
    return out


def _reachability(cfg: ProcessConfig) -> Found:
    """Walk (kind, stage) pairs from the sources; report unreachable stages
    and attributes read at a stage by a kind that does not carry them."""
    start = [(s.kind, s.to) for s in cfg.sources.values()]
    seen: set[tuple[str, str]] = set(start)
    queue = deque(start)
    while queue:
        kind, name = queue.popleft()
        stage = cfg.stages[name]
        nxt = [(kind, t) for t in stage_targets(stage) if t in cfg.stages]
        nxt += [(spawn.kind, spawn.to) for spawn in stage.spawn]
        for pair in nxt:
            if pair not in seen:
                seen.add(pair)
                queue.append(pair)
    reached = {name for _, name in seen}
    for name in cfg.stages:
        if name not in reached:
            yield ("stages", name), "unreachable: no source, route or spawn leads here"
    for kind, name in sorted(seen):
        has = carried(cfg, kind)
        for sub, attribute in _stage_attributes(cfg.stages[name]):
            if attribute not in has:
                yield ("stages", name) + sub, f"kind {kind!r} reaches this stage but has no attribute {attribute!r}"
        for i, spawn in enumerate(cfg.stages[name].spawn):
            for attribute, draw in cfg.kinds[spawn.kind].attributes.items():
                if draw.inherit and attribute not in has:
                    yield ("stages", name, "spawn", i, "kind"), (
                        f"{spawn.kind!r} inherits {attribute!r}, which {kind!r} does not carry"
                    )


def _longest_of(cfg: ProcessConfig, count: str, counted: list[str], path: tuple) -> Found:
    if count not in counted:
        yield path, f"unknown count {count!r} (counts: {', '.join(counted) or 'none'})"
        return
    for name, source in cfg.sources.items():
        dist = source.counts.get(count)
        if dist is None:
            continue
        largest = dist.largest if dist.mean <= LONGEST_OF_MAX else None  # a mean above the cap: no need to look
        if largest is None or largest > LONGEST_OF_MAX:
            reach = f"{largest:,}" if largest is not None else f"far more (mean {dist.mean:g})"
            yield path, (f"count {count!r} of source {name!r} can reach {reach}, more than the "
                         f"{LONGEST_OF_MAX:,} draws longest_of takes in one visit")
            return


def may_carry_none(cfg: ProcessConfig, stage_name: str) -> bool:
    """Whether an entity carrying none of the count that stage ``stage_name``'s ``longest_of``
    names may visit it (and take no time there): one from a source that does not draw the count
    or can draw 0, or any spawned entity (spawned entities carry no counts), reaching the stage
    along the routes from where it enters. For a valid config (every name resolves)."""
    count = cfg.stages[stage_name].longest_of
    if count is None:
        return False
    entries = {src.to for src in cfg.sources.values() if count not in src.counts or src.counts[count].smallest == 0}
    entries |= {spawn.to for stage in cfg.stages.values() for spawn in stage.spawn}
    seen = {e for e in entries if e in cfg.stages}
    pending = list(seen)
    while pending:
        for target in stage_targets(cfg.stages[pending.pop()]):
            if target in cfg.stages and target not in seen:
                seen.add(target)
                pending.append(target)
    return stage_name in seen


def can_take_zero_time(stage: Stage) -> bool:
    """Whether the stage's service distribution names a zero duration (``longest_of`` aside: see
    :func:`may_carry_none`)."""
    if isinstance(stage.service, ByAttribute):
        dists = [*stage.service.cases.values(), *([stage.service.default] if stage.service.default else [])]
    else:
        dists = [stage.service]
    return any(d.names_zero for d in dists)


def _zero_time_loops(cfg: ProcessConfig) -> Found:
    """A cycle through stages that can all take zero time (by routing, or by spawns with a delay
    that can be zero) would never let the clock advance. Iterative depth-first search."""
    zero = {name for name, stage in cfg.stages.items() if can_take_zero_time(stage) or may_carry_none(cfg, name)}
    graph = {
        name: sorted({t for t in stage_targets(cfg.stages[name]) if t in zero}
                     | {sp.to for sp in cfg.stages[name].spawn if sp.to in zero and sp.after.names_zero})
        for name in zero
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(zero):
        if root in state:
            continue
        stack = [(root, iter(graph[root]))]
        state[root] = 1
        while stack:
            node, successors = stack[-1]
            nxt = next(successors, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                yield ("stages", nxt, "next"), "loop through stages that can take zero time (routing or spawns)"
                return
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(graph[nxt])))
