"""Load and validate process configs: YAML -> ProcessConfig, or one-line problems.

``load_config`` is the only way a config file enters the program. It reads the
file with the hardened YAML reader, validates it with pydantic, runs the
cross-checks, and turns everything wrong into :class:`ConfigError` whose
problems each name the file, the line, the field path and the reason.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from routing_sim.errors import ConfigError, Problem
from routing_sim.layering import Origins, read_layered
from routing_sim.model.checks import check_process
from routing_sim.model.process import POINT_PATTERN, ProcessConfig
from routing_sim.model.splits import expand_splits
from routing_sim.yamlio import Lines

_TYPE_WORDS = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "list_type": "must be a list",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "finite_number": "must be a finite number",
}
MAX_PROBLEMS = 50  # more would not help a reader, and a hostile file could ask for millions
_WEAK = {"string_type", "list_type", "dict_type", "model_type", "literal_error"}


def load_config(path: str | Path) -> ProcessConfig:
    """Read (following ``extends:``), validate and cross-check one config file."""
    data, origins = read_layered(Path(path))
    return validate_data(data, origins=origins)


def load_data(path: str | Path) -> tuple[Any, Origins]:
    """The merged data of a config and where each value was set, before validation."""
    return read_layered(Path(path))


def validate_data(
    data: Any, source: str = "<config>", lines: Lines | None = None, origins: Origins | None = None
) -> ProcessConfig:
    """Validate already-parsed data (a dict from YAML or built in Python); pools split ``by`` an
    attribute come back expanded (:mod:`routing_sim.model.splits`)."""
    origins = origins or Origins.of_file(source, lines)
    if not isinstance(data, dict):
        raise ConfigError([Problem(origins.default, (), "the top level must be a mapping of sections (name, stages, ...)", 1)])
    try:
        cfg = ProcessConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems_from_pydantic(exc, data, origins)) from None
    found = check_process(cfg)
    if found:
        problems = [_problem(origins, path, reason) for path, reason in found[:MAX_PROBLEMS]]
        if len(found) > MAX_PROBLEMS:
            problems.append(Problem(origins.default, (), f"... and {len(found) - MAX_PROBLEMS} more problems not shown"))
        raise ConfigError(problems)
    return expand_splits(cfg)


def _problem(origins: Origins, path: tuple, reason: str) -> Problem:
    file, line = origins.locate(path)
    return Problem(file, path, reason, line)


def _data_path(data: Any, loc: Iterable) -> tuple:
    """Keep the parts of a pydantic location that exist in the data (drop union tags)."""
    out: list = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            out.append(part)
    return tuple(out)


def _problems_from_pydantic(exc: ValidationError, data: Any, origins: Origins) -> list[Problem]:
    by_path: dict[tuple, list[ErrorDetails]] = {}
    for err in exc.errors(include_url=False):
        by_path.setdefault(_data_path(data, err["loc"]), []).append(err)
    problems = []
    for n, (path, errs) in enumerate(by_path.items()):
        if n == MAX_PROBLEMS:
            problems.append(Problem(origins.default, (), f"... and {len(by_path) - n} more problems not shown"))
            break
        strong = [e for e in errs if e["type"] not in _WEAK] or errs
        err = max(strong, key=lambda e: len(e["loc"]))
        if err["type"] in ("extra_forbidden", "missing"):
            path = path + tuple(str(p) for p in err["loc"][-1:] if p not in path[-1:])
        problems.append(_problem(origins, path, _reason(err) + _new_entry_hint(data, path, err["type"])))
    return problems


NAMED = {"pools": "pool", "stages": "stage", "sources": "source", "kinds": "kind"}


def _new_entry_hint(data: Any, path: tuple, kind: str) -> str:
    """For a required field missing from an entry of pools, stages, sources or kinds whose name is
    close to another entry's: the entry is new, probably a misspelt override in a config that
    extends another (``pools: {reviewer: {headcount: 40}}`` beside ``reviewers``)."""
    if kind != "missing" or len(path) < 3 or path[0] not in NAMED or not isinstance(data.get(path[0]), dict):
        return ""
    others = [str(k) for k in data[path[0]] if k != path[1]]
    close = difflib.get_close_matches(str(path[1]), others, n=1)
    return f" (a new {NAMED[path[0]]} {path[1]!r}: did you mean {close[0]!r}?)" if close else ""


def _got(value: Any) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer past Python's digit limit, a structure nested too deep
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(err: ErrorDetails) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        close = [c for c in difflib.get_close_matches(name, _known_fields(), n=2) if c != name][:1]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {name!r}{hint}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit} (got {_got(value)})"
    if kind == "union_tag_invalid":
        field = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {field} {ctx.get('tag')!r} (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "")).strip("'")
        return f"missing {field!r}: it says which kind of entry this is"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == POINT_PATTERN:
        return f"not a point (got {_got(value)}; use arrival, origin or <stage>.enter|start|end)"
    if kind == "string_pattern_mismatch":
        return f"not a valid name or value (got {_got(value)}; use letters, digits and _ )"
    if kind in ("too_short", "too_long"):
        return err["msg"].replace("List", "list").replace("Dictionary", "mapping") + f" (got {_got(value)})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')} (got {_got(value)})"
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]} (got {_got(value)})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']} (got {_got(value)})"


@functools.lru_cache(maxsize=1)
def _known_fields() -> list[str]:
    names: set[str] = set()
    stack: list[type[BaseModel]] = [ProcessConfig]
    seen: set[type] = set()
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            names.add(field.alias or name)
            stack.extend(_models_in(field.annotation))
    return sorted(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]
