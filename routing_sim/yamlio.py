"""Safe YAML reading with line numbers, and canonical YAML writing.

Config files are read with PyYAML's safe loader, hardened: anchors and aliases
are refused (they allow "billion laughs" documents), duplicate keys are
refused (PyYAML would silently keep the last one), and files over a size cap
are refused before parsing. Every mapping key's line is kept so that errors
can point at the line that set a value.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from routing_sim.errors import ConfigError, Problem

MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 64

Lines = dict[tuple[str | int, ...], int]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases at the event level.

    Booleans follow YAML 1.2: only ``true`` and ``false``. Under YAML 1.1 rules
    ``yes``, ``no``, ``on`` and ``off`` would turn into booleans, which breaks
    attribute values such as ``details: yes``.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise yaml.MarkedYAMLError(
                problem="anchors and aliases are not allowed in routing-sim configs",
                problem_mark=mark,
            )
        # the stubs type index as int; PyYAML passes a list position or, for a mapping value, the key's node
        return super().compose_node(parent, index)  # type: ignore[arg-type]


for _first in "tTfF":
    _StrictLoader.yaml_implicit_resolvers.setdefault(_first, []).append(
        ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )


def read_yaml(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> tuple[Any, Lines]:
    """Parse one YAML file into plain data and a map from key path to line."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError([Problem(str(path), (), f"cannot read file: {exc.strerror}")]) from None
    if size > max_bytes:
        raise ConfigError([Problem(str(path), (), f"file is {size} bytes, over the {max_bytes}-byte limit")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), (), f"cannot read file as UTF-8 text: {exc}")]) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> tuple[Any, Lines]:
    try:
        loader = _StrictLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters before parsing starts
        raise ConfigError([Problem(source, (), f"invalid YAML: {exc}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([Problem(source, (), "file is empty")])
        lines: Lines = {}
        data = _convert(node, (), lines, source, loader, 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = f"invalid YAML: {exc.problem or exc.context}"
        raise ConfigError([Problem(source, (), reason, line)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(source, (), f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([Problem(source, (), "document is nested too deeply")]) from None
    finally:
        loader.dispose()
    return data, lines


def _convert(node: Node, path: tuple, lines: Lines, source: str, loader: yaml.SafeLoader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ConfigError([Problem(source, path, f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)])
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # e.g. 2024-02-30, or an integer of 5,000 digits
            reason = f"not a valid value ({type(exc).__name__}: {str(exc)[:80]})"
            raise ConfigError([Problem(source, path, reason, node.start_mark.line + 1)]) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError([Problem(source, path, f"must be a finite number (got {node.value})", node.start_mark.line + 1)])
        return value
    plain_tags: dict[type[Node], str] = {SequenceNode: "tag:yaml.org,2002:seq", MappingNode: "tag:yaml.org,2002:map"}
    plain = plain_tags.get(type(node))
    if plain is not None and node.tag != plain:  # a tag before a list or mapping, e.g. !!python/object/new
        raise ConfigError([Problem(source, path, f"YAML tag {node.tag!r} is not allowed: write a plain list or mapping",
                                   node.start_mark.line + 1)])
    if isinstance(node, SequenceNode):
        return [_convert(item, path + (i,), lines, source, loader, depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
            except (ValueError, OverflowError, TypeError):
                key = str(key_node.value)
            key = str(key)  # every key is text: field names, stage names, attribute values
            if key in result:
                raise ConfigError([Problem(source, path + (key,), "duplicate key", key_node.start_mark.line + 1)])
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, path + (key,), lines, source, loader, depth + 1)
        return result
    raise ConfigError([Problem(source, path, f"unsupported YAML node {type(node).__name__}")])


def dump_yaml(data: Any) -> str:
    """Canonical YAML: block style, keys in the order given, no aliases."""

    class _NoAliasDumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
