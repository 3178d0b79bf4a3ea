"""Hypothesis strategies that generate random but valid process configs.

Every strategy returns plain dicts (what YAML would give), so a generated
config goes through :func:`routing_sim.loader.validate_data` like a file does.

Shape of a generated config (kept small so that a run of 1-3 simulated days
has at most a couple of thousand entities and takes well under a second):

* 1-3 attributes ``a0..`` with 2-3 values ``v0..``; every kind carries every
  attribute (so any stage may read any attribute), each drawn with ``p``,
  ``cases`` (conditional on earlier or inherited attributes), ``inherit`` or
  ``decided``;
* 1-2 kinds ``k0..``; 1-3 sources ``src0..`` with small rates; the first
  source enters at the first stage;
* 1-3 pools ``p0..`` with headcount 0-4 and an ``always``, ``office_hours`` or
  ``rota`` calendar;
* 2-6 stages ``s0..``, a mix of pool stages and delays. Routing goes forward
  (to a later stage or an outcome); the default rule of each stage may loop
  back to an earlier stage (or itself) with probability at most 0.25, so every
  loop is left with probability > 0. Every stage k >= 1 is a target of the
  default rule of some earlier stage, so every stage is reachable. All service
  and delay times are strictly positive;
* spawns only go forward, to a later stage (a spawned entity comes back to
  its spawning stage only through a loop, so the number of entities stays
  small even with p = 1);
* 1-3 outcomes ``o0..``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

BACK_PROBABILITIES = [0.05, 0.1, 0.2, 0.25]
RATES = ["0.5/h", "1/h", "2/h", "3/h", "4/h", "30/d", "48/day", "0.05/min"]
HORIZONS = ["1d", "36h", "2d", "3d", "72h"]
STEPS = ["30min", "1h", "2h"]
SHIFTS = ["4h", "6h", "7h", "8h", "12h", "24h", "1d"]
HOURS_PER_WEEK = [8, 20, 37.5, 40, 84, 168]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --------------------------------------------------------------------------- small pieces


def duration_text(minutes: float, unit: str) -> str:
    """Render a positive number of minutes in one of the config's units."""
    if unit == "s":
        return f"{round(minutes * 60)}s"
    if unit == "h":
        return f"{minutes / 60!r}h"
    return f"{minutes}min"


@st.composite
def durations(draw: st.DrawFn, low: int = 1, high: int = 120) -> str:
    """A strictly positive duration between ``low`` and ``high`` minutes."""
    minutes = draw(st.integers(low, high))
    return duration_text(minutes, draw(st.sampled_from(["s", "min", "h"])))


@st.composite
def distributions(draw: st.DrawFn, low: int = 1, high: int = 120) -> dict[str, Any]:
    """A service or delay distribution whose samples are all > 0 (means in minutes)."""
    dist = draw(st.sampled_from(["fixed", "exponential", "lognormal", "gamma", "uniform", "empirical"]))
    if dist == "fixed":
        return {"dist": "fixed", "value": draw(durations(low, high))}
    if dist == "exponential":
        return {"dist": "exponential", "mean": draw(durations(low, high))}
    if dist in ("lognormal", "gamma"):
        return {"dist": dist, "mean": draw(durations(low, high)), "cv": draw(st.sampled_from([0.25, 0.5, 1.0, 1.5]))}
    if dist == "uniform":
        lo = draw(st.integers(low, high))
        hi = draw(st.integers(lo, high + 30))
        unit = draw(st.sampled_from(["s", "min", "h"]))
        return {"dist": "uniform", "low": duration_text(lo, unit), "high": duration_text(hi, unit)}
    values = draw(st.lists(durations(low, high), min_size=1, max_size=4))
    out: dict[str, Any] = {"dist": "empirical", "values": values}
    if draw(st.booleans()):
        weights = draw(st.lists(st.integers(0, 3), min_size=len(values), max_size=len(values)))
        if sum(weights) == 0:
            weights[0] = 1
        out["weights"] = [float(w) for w in weights]
    return out


@st.composite
def spawn_delays(draw: st.DrawFn) -> dict[str, Any]:
    """Delay before a spawned entity is created: fixed, uniform or exponential (known support)."""
    dist = draw(st.sampled_from(["fixed", "uniform", "exponential"]))
    if dist == "fixed":
        return {"dist": "fixed", "value": draw(durations(1, 240))}
    if dist == "uniform":
        lo = draw(st.integers(1, 240))
        hi = draw(st.integers(lo, 300))
        return {"dist": "uniform", "low": f"{lo}min", "high": f"{hi}min"}
    return {"dist": "exponential", "mean": draw(durations(1, 240))}


@st.composite
def probabilities(draw: st.DrawFn, keys: list[str]) -> dict[str, float]:
    """``{key: p}`` over a non-empty subset of ``keys``, summing to 1."""
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
    weights = draw(st.lists(st.integers(1, 5), min_size=len(chosen), max_size=len(chosen)))
    total = sum(weights)
    return {k: w / total for k, w in zip(chosen, weights, strict=True)}


@st.composite
def conditions(draw: st.DrawFn, attributes: dict[str, list[str]], allowed: list[str]) -> dict[str, Any]:
    """``{attribute: value}`` or ``{attribute: [values]}`` over 1-2 of the ``allowed`` attributes."""
    names = draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=min(2, len(allowed)), unique=True))
    cond: dict[str, Any] = {}
    for name in names:
        values = attributes[name]
        chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))
        cond[name] = chosen[0] if len(chosen) == 1 and draw(st.booleans()) else chosen
    return cond


@st.composite
def case_lists(draw: st.DrawFn, attributes: dict[str, list[str]], target: str, allowed: list[str]) -> list[dict]:
    """Cases for a conditional categorical draw of ``target``; the last case has no ``when``."""
    cases = []
    if allowed:
        for _ in range(draw(st.integers(0, 2))):
            cases.append({"when": draw(conditions(attributes, allowed)), "p": draw(probabilities(attributes[target]))})
    cases.append({"p": draw(probabilities(attributes[target]))})
    return cases


# --------------------------------------------------------------------------- calendars and pools


@st.composite
def clock_times(draw: st.DrawFn, low: int, high: int) -> str:
    """``HH:MM`` at a quarter hour between ``low`` and ``high`` quarter hours after midnight."""
    quarter = draw(st.integers(low, high))
    if quarter == 96:
        return "24:00"
    return f"{quarter // 4:02d}:{15 * (quarter % 4):02d}"


@st.composite
def calendars(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["always", "office_hours", "rota"]))
    if kind == "always":
        return {"type": "always"}
    if kind == "office_hours":
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        start = draw(st.integers(0, 92))
        end = draw(st.integers(start + 1, 96))
        return {
            "type": "office_hours",
            "days": days,
            "start": draw(clock_times(start, start)),
            "end": draw(clock_times(end, end)),
        }
    return {
        "type": "rota",
        "hours_per_week": draw(st.sampled_from(HOURS_PER_WEEK)),
        "shift": draw(st.sampled_from(SHIFTS)),
    }


@st.composite
def pools(draw: st.DrawFn) -> dict[str, Any]:
    return {"headcount": draw(st.integers(0, 4)), "calendar": draw(calendars())}


# --------------------------------------------------------------------------- routing


@st.composite
def targets(draw: st.DrawFn, forward: list[str], must: list[str], back: list[str]) -> str | dict[str, float]:
    """A rule's ``to``: a name or ``{name: p}`` over ``forward`` that includes every name in ``must``;
    with ``back`` non-empty, maybe a loop back to one of them with probability <= 0.25."""
    loop = bool(back) and draw(st.booleans())
    if not loop and not must and draw(st.booleans()):
        return draw(st.sampled_from(forward))
    if not loop and len(must) == 1 and draw(st.booleans()):
        return must[0]
    extra = draw(st.lists(st.sampled_from(forward), max_size=3, unique=True))
    chosen = list(dict.fromkeys([*must, *extra]))
    if not chosen:
        chosen = [draw(st.sampled_from(forward))]
    weights = draw(st.lists(st.integers(1, 5), min_size=len(chosen), max_size=len(chosen)))
    keep = 1.0
    out: dict[str, float] = {}
    if loop:
        q = draw(st.sampled_from(BACK_PROBABILITIES))
        keep = 1.0 - q
        out[draw(st.sampled_from(back))] = q
    total = sum(weights)
    for name, w in zip(chosen, weights, strict=True):
        out[name] = keep * w / total
    return out


# --------------------------------------------------------------------------- the whole config


@st.composite
def process_configs(draw: st.DrawFn, min_spawns: int = 0) -> dict[str, Any]:
    """A random, valid process config as a plain dict, with at least ``min_spawns`` (0-1) spawn rules."""
    n_attributes = draw(st.integers(1, 3))
    attributes = {f"a{i}": [f"v{j}" for j in range(draw(st.integers(2, 3)))] for i in range(n_attributes)}
    attr_names = list(attributes)

    # kinds: every kind carries every attribute
    kinds: dict[str, Any] = {}
    for k in range(draw(st.integers(1, 2))):
        carried: dict[str, Any] = {}
        inherited = []
        for name in attr_names:
            # a second kind (the usual target of a spawn) inherits more often
            if k == 0:
                choices = ["p", "p", "cases", "inherit", "decided"]
            else:
                choices = ["p", "cases", "inherit", "inherit", "decided"]
            how = draw(st.sampled_from(choices))
            earlier = [a for a in carried] + [a for a in inherited if a not in carried]
            if how == "cases" and not earlier:
                how = "p"
            if how == "p":
                carried[name] = {"p": draw(probabilities(attributes[name]))}
            elif how == "cases":
                carried[name] = {"cases": draw(case_lists(attributes, name, sorted(set(earlier))))}
            elif how == "inherit":
                carried[name] = {"inherit": True}
                inherited.append(name)
            else:
                carried[name] = {"decided": True}
        kinds[f"k{k}"] = {"attributes": carried}
    kind_names = list(kinds)
    # attributes that every kind draws with p or cases: set on every entity from creation on
    always_set = [a for a in attr_names if all(("p" in kd["attributes"][a] or "cases" in kd["attributes"][a])
                                               for kd in kinds.values())]

    pool_names = [f"p{i}" for i in range(draw(st.integers(1, 3)))]
    pool_specs = {name: draw(pools()) for name in pool_names}
    outcome_names = [f"o{i}" for i in range(draw(st.integers(1, 3)))]
    n_stages = draw(st.integers(2, 6))
    stage_names = [f"s{i}" for i in range(n_stages)]

    # every stage k >= 1 is a target of the default rule of an earlier stage
    must: dict[str, list[str]] = {name: [] for name in stage_names}
    for k in range(1, n_stages):
        must[stage_names[draw(st.integers(0, k - 1))]].append(stage_names[k])

    n_spawns_left = draw(st.integers(min_spawns, 2))
    n_spawns = 0
    stages: dict[str, Any] = {}
    for k, name in enumerate(stage_names):
        stage: dict[str, Any] = {}
        pool = draw(st.one_of(st.none(), st.sampled_from(pool_names)))
        if pool is not None:
            stage["pool"] = pool
            stage["service"] = draw(service_times(attributes, always_set, 1, 90))
            if draw(st.integers(0, 3)) == 0:
                stage["priority"] = draw(st.lists(conditions(attributes, attr_names), min_size=1, max_size=2))
        else:
            stage["service"] = draw(service_times(attributes, always_set, 1, 240))
        if draw(st.integers(0, 3)) == 0:
            target = draw(st.sampled_from(attr_names))
            stage["decide"] = [{"set": target, "cases": draw(case_lists(attributes, target, attr_names))}]
        force = n_spawns < min_spawns and k == n_stages - 2
        if n_spawns_left and k < n_stages - 1 and (force or draw(st.booleans())):
            n_spawns_left -= 1
            n_spawns += 1
            others = [kn for kn in kind_names if kn != kind_names[0]] or kind_names
            spawn: dict[str, Any] = {
                "kind": draw(st.sampled_from(others if draw(st.integers(0, 3)) else kind_names)),
                "to": draw(st.sampled_from(stage_names[k + 1:])),
                "p": draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])),
                "after": draw(spawn_delays()),
            }
            if draw(st.booleans()):
                spawn["when"] = draw(conditions(attributes, attr_names))
            stage["spawn"] = [spawn]
        forward = stage_names[k + 1:] + outcome_names
        rules = []
        for _ in range(draw(st.integers(0, 2))):
            rules.append({"when": draw(conditions(attributes, attr_names)), "to": draw(targets(forward, [], []))})
        back = stage_names[: k + 1] if draw(st.integers(0, 3)) == 0 else []
        rules.append({"to": draw(targets(forward, must[name], back))})
        stage["next"] = rules
        stages[name] = stage

    sources: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kind_names))
        source: dict[str, Any] = {
            "kind": kind,
            "rate": draw(st.sampled_from(RATES)),
            "to": stage_names[0] if i == 0 else draw(st.sampled_from(stage_names)),
        }
        if draw(st.integers(0, 2)) == 0:
            attribute = draw(st.sampled_from(attr_names))
            if draw(st.booleans()):
                source["attributes"] = {attribute: draw(st.sampled_from(attributes[attribute]))}
            else:
                source["attributes"] = {attribute: {"p": draw(probabilities(attributes[attribute]))}}
        sources[f"src{i}"] = source

    start = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 6)))
    return {
        "name": "generated",
        "seed": draw(st.integers(0, 2**32)),
        "time": {
            "start": start.isoformat(),
            "horizon": draw(st.sampled_from(HORIZONS)),
            "timeseries_step": draw(st.sampled_from(STEPS)),
        },
        "attributes": attributes,
        "kinds": kinds,
        "sources": sources,
        "pools": {name: spec for name, spec in pool_specs.items()  # a pool no stage uses is an error
                  if any(stage.get("pool") == name for stage in stages.values())},
        "stages": stages,
        "outcomes": {name: f"outcome {name}" for name in outcome_names},
    }


@st.composite
def service_times(draw: st.DrawFn, attributes: dict[str, list[str]], always_set: list[str],
                  low: int, high: int) -> dict[str, Any]:
    """One distribution, or (sometimes) one per value of an attribute with ``by:``.

    A ``default`` is given whenever an entity could lack a case: the attribute
    may be unset (inherited or decided somewhere) or not every value has a case.
    """
    if draw(st.integers(0, 3)):
        return draw(distributions(low, high))
    by = draw(st.sampled_from(list(attributes)))
    values = attributes[by]
    chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))
    out: dict[str, Any] = {"by": by, "cases": {v: draw(distributions(low, high)) for v in chosen}}
    complete = by in always_set and len(chosen) == len(values)
    if not complete or draw(st.booleans()):
        out["default"] = draw(distributions(low, high))
    return out
