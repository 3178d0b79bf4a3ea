"""Pools split by an attribute: one pool per value, each serving the entities of its own value.

```yaml
pools:
  national_authorities:
    by: member_state                # one pool per value listed in headcount
    headcount: {AT: 2, BE: 3, DE: 12}
    schedule: [{from: 2019-07-01, headcount: {DE: 15}}]   # per value; values not named keep theirs
    calendar: {...}                 # everything else is shared
stages:
  national_intake:
    pool: national_authorities      # served by the pool of the entity's own value
```

expands to the pools ``national_authorities_at``, ``_be``, ``_de`` and the stages
``national_intake_at``, ``_be``, ``_de``; every route or spawn to ``national_intake`` becomes
one route or spawn per value with ``when: {member_state: <value>}``. Values not listed have
no pool: the earlier ``when`` routes of the same ``next`` list must send them elsewhere, which
:func:`split_problems` checks (with the values a route could carry, "unset" included). A
deadline point on ``national_intake`` is reached at whichever copy the entity visited (the
config's ``splits`` section records the copies). Without ``by`` a pool is as it always was.

:func:`expand_splits` runs after validation (:func:`routing_sim.loader.validate_data`), so the
engine, the executors and the statistics see only plain pools and stages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from routing_sim.model.common import Condition, condition_values
from routing_sim.model.process import Pool, ProcessConfig, Route, Spawn, Split, Stage

Found = Iterator[tuple[tuple, str]]
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
UNSET = "unset"


def split_name(base: str, value: str) -> str:
    """The name of ``base``'s copy for ``value``: ``national_intake`` + ``DE`` -> ``national_intake_de``."""
    return f"{base}_{value.lower()}"


def _valid_name(name: str) -> bool:
    import re

    return re.fullmatch(NAME_PATTERN, name) is not None


def listed(cfg: ProcessConfig, pool: Pool) -> list[str]:
    """The values a split pool has a pool for, in the attribute's order."""
    assert pool.by is not None and isinstance(pool.headcount, dict)
    return [v for v in cfg.attributes.get(pool.by, []) if v in pool.headcount]


def headcount_paths(cfg: ProcessConfig) -> dict[str, str]:
    """The dotted path that sets the headcount of each pool a split made (``national_authorities_de``:
    ``pools.national_authorities.headcount.DE``), for overrides written against the config."""
    return {pool: f"pools.{name}.headcount.{value}" for name, split in cfg.splits.items()
            for value, pool in split.pools.items()}


def stage_groups(cfg: ProcessConfig) -> dict[str, list[str]]:
    """Each stage a split made copies of, with its copies (the stages a point on it can be reached at)."""
    return {stage: list(copies.values()) for split in cfg.splits.values() for stage, copies in split.stages.items()}


def _split_pools(cfg: ProcessConfig) -> dict[str, Pool]:
    return {name: pool for name, pool in cfg.pools.items() if pool.by is not None}


# --------------------------------------------------------------------------------------------
# checks


def split_problems(cfg: ProcessConfig) -> Found:
    """Every problem of the split pools of ``cfg`` (and of a ``splits`` section written by an expansion)."""
    yield from _recorded(cfg)
    splits = _split_pools(cfg)
    for name, pool in cfg.pools.items():
        path = ("pools", name)
        if pool.by is None:
            if isinstance(pool.headcount, dict):
                yield path + ("headcount",), ("a headcount per value needs 'by', the attribute whose values it "
                                              "lists (a pool that is not split takes one number)")
            for i, change in enumerate(pool.schedule):
                if isinstance(change.headcount, dict):
                    yield path + ("schedule", i, "headcount"), "a headcount per value needs a pool split 'by' an attribute"
        else:
            yield from _pool(cfg, name, pool)
    if _well_formed(cfg, splits):
        yield from _names(cfg, splits)


def split_entry_problems(cfg: ProcessConfig) -> Found:
    """Every source, route and spawn into a split pool's stage can carry only values with a pool (for a
    config whose names all resolve and whose split pools are well formed)."""
    splits = _split_pools(cfg)
    if splits and _well_formed(cfg, splits):
        yield from _entries(cfg, splits)


def _well_formed(cfg: ProcessConfig, splits: dict[str, Pool]) -> bool:
    return all(p.by in cfg.attributes and isinstance(p.headcount, dict) and p.headcount
               and set(p.headcount) <= set(cfg.attributes[p.by]) for p in splits.values())


def _recorded(cfg: ProcessConfig) -> Found:
    """A ``splits`` section (written by an expansion, read back from a resolved config) names what exists."""
    for name, split in cfg.splits.items():
        path = ("splits", name)
        if name in cfg.pools:
            yield path, f"{name!r} is both a pool and a split pool already expanded"
        if split.by not in cfg.attributes:
            yield path + ("by",), f"unknown attribute {split.by!r}"
        for value, pool in split.pools.items():
            if pool not in cfg.pools:
                yield path + ("pools", value), f"unknown pool {pool!r}"
        for stage, copies in split.stages.items():
            if stage in cfg.stages or stage in cfg.outcomes:
                yield path + ("stages", stage), f"{stage!r} is a stage or an outcome as well as a split stage"
            for value, copy in copies.items():
                if copy not in cfg.stages:
                    yield path + ("stages", stage, value), f"unknown stage {copy!r}"


def _pool(cfg: ProcessConfig, name: str, pool: Pool) -> Found:
    path = ("pools", name)
    if pool.by not in cfg.attributes:
        yield path + ("by",), f"unknown attribute {pool.by!r} (attributes: {', '.join(cfg.attributes) or 'none'})"
        return
    values = cfg.attributes[pool.by]
    if not isinstance(pool.headcount, dict):
        yield path + ("headcount",), (f"a pool split by {pool.by!r} needs a headcount per value, e.g. "
                                      f"{{{values[0]}: {pool.headcount}}}")
        return
    if not pool.headcount:
        yield path + ("headcount",), f"needs a headcount for at least one value of {pool.by!r}"
    for value in pool.headcount:
        if value not in values:
            yield path + ("headcount", value), f"{value!r} is not a value of {pool.by!r} ({', '.join(values)})"
    for i, change in enumerate(pool.schedule):
        if not isinstance(change.headcount, dict):
            yield path + ("schedule", i, "headcount"), (f"a pool split by {pool.by!r} changes its headcount per "
                                                        f"value, e.g. {{{values[0]}: {change.headcount}}}")
            continue
        for value in change.headcount:
            if value not in pool.headcount:
                yield path + ("schedule", i, "headcount", value), (
                    f"{value!r} has no pool here (values with a pool: {', '.join(pool.headcount)})")


def _names(cfg: ProcessConfig, splits: dict[str, Pool]) -> Found:
    """The copies' names are valid names and collide with nothing."""
    taken_pools = {name for name, p in cfg.pools.items() if p.by is None}
    taken_places = {name for name, s in cfg.stages.items() if s.pool not in splits} | set(cfg.outcomes)
    for name, pool in splits.items():
        stages = [s for s, st in cfg.stages.items() if st.pool == name]
        for value in listed(cfg, pool):
            for section, base, taken in [("pools", name, taken_pools)] + [("stages", s, taken_places) for s in stages]:
                copy = split_name(base, value)
                where = ("pools", name, "headcount", value)
                if not _valid_name(copy):
                    yield where, f"value {value!r} gives {section[:-1]} name {copy!r}, not a valid name (a-z, 0-9, _)"
                elif copy in taken:
                    yield where, f"value {value!r} gives {section[:-1]} name {copy!r}, which is taken"
                taken.add(copy)


def _entries(cfg: ProcessConfig, splits: dict[str, Pool]) -> Found:
    """Every source, route and spawn into a split stage can carry only values with a pool."""
    split_of = {s: st.pool for s, st in cfg.stages.items() if st.pool is not None and st.pool in splits}
    if not split_of:
        return
    reached: dict[str, set[str]] = {s: set() for s in split_of}  # values some entry brings, per split stage
    for name, source in cfg.sources.items():
        if source.to not in split_of:
            continue
        pool = splits[split_of[source.to]]
        fixed = source.attributes.get(pool.by or "")
        if not isinstance(fixed, str) or fixed not in listed(cfg, pool):
            yield ("sources", name, "to"), (
                f"enters {source.to!r}, whose pool {split_of[source.to]!r} is split by {pool.by!r}: a source can "
                f"enter it only with {pool.by!r} fixed to a value with a pool; enter at a stage before it")
        else:
            reached[source.to].add(fixed)
    unset = _maybe_unset(cfg, {p.by for p in splits.values() if p.by})
    kinds_at: dict[str, set[str]] = {}
    for kind, at in unset:
        kinds_at.setdefault(at, set()).add(kind)
    for name, stage in cfg.stages.items():
        if name not in kinds_at:
            continue  # unreachable: the reachability check says so
        for i, route in enumerate(stage.next):
            targets = [route.to] if isinstance(route.to, str) else list(route.to)
            pools = {split_of[t] for t in targets if t in split_of}
            if not pools:
                continue
            path = ("stages", name, "next", i, "to")
            if len(pools) > 1:
                yield path, f"leads to stages of split pools {', '.join(sorted(pools))}: give each its own route"
                continue
            pool_name = pools.pop()
            by = splits[pool_name].by or ""
            carried = [k for k in sorted(kinds_at[name]) if by not in cfg.kinds[k].attributes]
            if carried:
                yield path, f"kind {carried[0]!r} reaches {name!r} but has no attribute {by!r}, which the route needs"
                continue
            values = _route_values(cfg, stage, i, by, any(unset[(k, name)][by] for k in kinds_at[name]))
            values &= _inside(cfg, stage, by, splits)
            yield from _unlisted(path, targets, split_of, pool_name, splits, cfg, values,
                                 f"with an earlier 'when' of {name!r}'s next")
            for t in targets:
                if t in split_of:
                    reached[t] |= values
        for i, spawn in enumerate(stage.spawn):
            if spawn.to not in split_of:
                continue
            pool_name = split_of[spawn.to]
            by = splits[pool_name].by or ""
            draw = cfg.kinds[spawn.kind].attributes.get(by) if spawn.kind in cfg.kinds else None
            path = ("stages", name, "spawn", i, "to")
            if draw is None or not draw.inherit:
                yield path, (f"spawns {spawn.kind!r} into {spawn.to!r}, whose pool {pool_name!r} is split by {by!r}: "
                             f"kind {spawn.kind!r} must inherit {by!r} (its value then chooses the pool)")
                continue
            values = _allowed(cfg, spawn.when, by, any(unset[(k, name)][by] for k in kinds_at[name]))
            values &= _inside(cfg, stage, by, splits)
            yield from _unlisted(path, [spawn.to], split_of, pool_name, splits, cfg, values,
                                 "by the spawn's 'when'")
            reached[spawn.to] |= values
    for target, pool_name in split_of.items():
        if target not in kinds_at:
            continue
        missing = [v for v in listed(cfg, splits[pool_name]) if v not in reached[target]]
        if missing:
            yield ("pools", pool_name, "headcount"), (
                f"no source, route or spawn brings {splits[pool_name].by} {', '.join(missing)} to {target!r}: "
                "drop them or route them there")


def _inside(cfg: ProcessConfig, stage: Stage, by: str, splits: dict[str, Pool]) -> set[str]:
    """The values of ``by`` an entity can have at ``stage``: at a stage served by a pool split by ``by``
    (and that does not decide it) only those with a pool there; anywhere else any value, or none."""
    pool = splits.get(stage.pool or "")
    if pool is not None and pool.by == by and by not in {d.set for d in stage.decide}:
        return set(listed(cfg, pool))
    return {*cfg.attributes[by], UNSET}


def _unlisted(path: tuple, targets: list[str], split_of: dict[str, str], pool_name: str,
              splits: dict[str, Pool], cfg: ProcessConfig, values: set[str], how: str) -> Found:
    pool = splits[pool_name]
    have = set(listed(cfg, pool))
    ordered = [v for v in [*cfg.attributes[pool.by or ""], UNSET] if v in values - have]
    if ordered:
        them = "it" if len(ordered) == 1 else "them"
        target = next(t for t in targets if t in split_of)
        yield path, (f"may send {pool.by} {', '.join(ordered)} to {target!r}, whose pool {pool_name!r} has no "
                     f"pool for {them}: send {them} elsewhere {how}, or give {pool_name!r} a headcount for {them}")


def _allowed(cfg: ProcessConfig, when: Condition | None, by: str, may_be_unset: bool) -> set[str]:
    """The values of ``by`` that satisfy ``when`` ("unset" among them if the entity may not have one yet)."""
    if when and by in when:
        return set(condition_values(when[by]))
    return set(cfg.attributes[by]) | ({UNSET} if may_be_unset else set())


def _route_values(cfg: ProcessConfig, stage: Stage, index: int, by: str, may_be_unset: bool) -> set[str]:
    """The values of ``by`` route ``index`` of ``stage`` can carry: those its ``when`` allows, less those an
    earlier route whose ``when`` names ``by`` alone already took."""
    values = _allowed(cfg, stage.next[index].when, by, may_be_unset)
    for earlier in stage.next[:index]:
        if earlier.when is not None and set(earlier.when) == {by}:
            values -= set(condition_values(earlier.when[by]))
    return values


def _maybe_unset(cfg: ProcessConfig, attributes: set[str]) -> dict[tuple[str, str], dict[str, bool]]:
    """For each (kind, stage) an entity can be at, whether each attribute may still be unset once the
    stage's decisions are made (a forward "may" analysis over routes and spawns)."""
    def at_creation(kind: str, attribute: str, parent: dict[str, bool] | None, source: dict | None) -> bool:
        draw = cfg.kinds[kind].attributes.get(attribute)
        if source is not None and attribute in source:
            return False
        if draw is None or draw.decided:
            return True
        if draw.inherit:
            return True if parent is None else parent[attribute]
        return False

    into: dict[tuple[str, str], dict[str, bool]] = {}
    queue: deque[tuple[str, str]] = deque()

    def enter(kind: str, stage: str, state: dict[str, bool]) -> None:
        key = (kind, stage)
        old = into.get(key)
        new = state if old is None else {a: old[a] or state[a] for a in attributes}
        if new != old:
            into[key] = new
            queue.append(key)

    for source in cfg.sources.values():
        if source.kind in cfg.kinds and source.to in cfg.stages:
            enter(source.kind, source.to, {a: at_creation(source.kind, a, None, source.attributes) for a in attributes})
    after: dict[tuple[str, str], dict[str, bool]] = {}
    while queue:
        kind, name = queue.popleft()
        stage = cfg.stages[name]
        decided = {d.set for d in stage.decide}
        out = {a: into[(kind, name)][a] and a not in decided for a in attributes}
        after[(kind, name)] = out
        for route in stage.next:
            for target in [route.to] if isinstance(route.to, str) else route.to:
                if target in cfg.stages:
                    enter(kind, target, out)
        for spawn in stage.spawn:
            if spawn.kind in cfg.kinds and spawn.to in cfg.stages:
                enter(spawn.kind, spawn.to, {a: at_creation(spawn.kind, a, out, None) for a in attributes})
    return after


# --------------------------------------------------------------------------------------------
# expansion


def expand_splits(cfg: ProcessConfig) -> ProcessConfig:
    """``cfg`` with every pool split ``by`` an attribute expanded into a pool per value, the stages it
    serves into a stage per value, and the routes, spawns and sources into them chosen by the value
    (``cfg`` itself when nothing is split). ``cfg`` must have passed the checks."""
    splits = _split_pools(cfg)
    if not splits:
        return cfg
    values = {name: listed(cfg, pool) for name, pool in splits.items()}
    copies = {s: {v: split_name(s, v) for v in values[st.pool]} for s, st in cfg.stages.items() if st.pool in splits}
    by_stage = {s: splits[st.pool].by or "" for s, st in cfg.stages.items() if st.pool in splits}

    pools: dict[str, Pool] = {}
    for name, pool in cfg.pools.items():
        if name not in splits:
            pools[name] = pool
            continue
        assert isinstance(pool.headcount, dict)
        for value in values[name]:
            schedule = [c.model_copy(update={"headcount": c.headcount[value]}) for c in pool.schedule
                        if isinstance(c.headcount, dict) and value in c.headcount]
            pools[split_name(name, value)] = pool.model_copy(update={
                "by": None, "headcount": pool.headcount[value], "schedule": schedule,
                "description": f"{pool.description or name} ({pool.by} {value})"})

    def routes(stage: Stage, only: dict[str, str]) -> list[Route]:
        out: list[Route] = []
        for route in stage.next:
            targets = [route.to] if isinstance(route.to, str) else list(route.to)
            split = [t for t in targets if t in copies]
            if not split:
                out.append(route)
                continue
            by = by_stage[split[0]]
            chosen = [v for v in copies[split[0]] if v in _allowed(cfg, route.when, by, False) and only.get(by, v) == v]
            for j, value in enumerate(chosen):
                when: Condition | None = {**(route.when or {}), by: value}
                if route.when is None and j == len(chosen) - 1:
                    when = None  # the default route: the checks leave only this value to reach it
                to = (copies[route.to][value] if isinstance(route.to, str) else
                      {copies[t][value] if t in copies else t: p for t, p in route.to.items()})
                out.append(Route(when=when, to=to))
        return out

    def spawns(stage: Stage, only: dict[str, str]) -> list[Spawn]:
        out: list[Spawn] = []
        for spawn in stage.spawn:
            if spawn.to not in copies:
                out.append(spawn)
                continue
            by = by_stage[spawn.to]
            for value in copies[spawn.to]:
                if value in _allowed(cfg, spawn.when, by, False) and only.get(by, value) == value:
                    out.append(spawn.model_copy(update={"to": copies[spawn.to][value],
                                                        "when": {**(spawn.when or {}), by: value}}))
        return out

    stages: dict[str, Stage] = {}
    for name, stage in cfg.stages.items():
        if name not in copies:
            stages[name] = stage.model_copy(update={"next": routes(stage, {}), "spawn": spawns(stage, {})})
            continue
        by = by_stage[name]
        for value, copy in copies[name].items():
            only = {} if by in {d.set for d in stage.decide} else {by: value}  # the value every entity here has
            stages[copy] = stage.model_copy(update={
                "pool": split_name(stage.pool or "", value), "next": routes(stage, only), "spawn": spawns(stage, only),
                "description": f"{stage.description or name} ({by} {value})"})
    sources = {name: (src.model_copy(update={"to": copies[src.to][str(src.attributes[by_stage[src.to]])]})
                      if src.to in copies else src) for name, src in cfg.sources.items()}
    databases = {name: db.model_copy(update={"added_by": [
        rule.model_copy(update={"stage": copy}) for rule in db.added_by
        for copy in (copies[rule.stage].values() if rule.stage in copies else [rule.stage])]})
        for name, db in cfg.databases.items()}  # a visit to any copy adds, as a visit to the stage did
    recorded = {name: Split(by=pool.by or "", pools={v: split_name(name, v) for v in values[name]},
                            stages={s: c for s, c in copies.items() if cfg.stages[s].pool == name})
                for name, pool in splits.items()}
    return cfg.model_copy(update={"pools": pools, "stages": stages, "sources": sources, "databases": databases,
                                  "splits": {**cfg.splits, **recorded}})
