"""Config layering: a config may ``extends:`` another and override any field.

The child is merged into its parent (recursively, mapping by mapping): a
mapping merges key by key, any other value replaces the parent's, and ``null``
removes the key. Every value remembers the file and line that set it, so that
a problem found in the merged config names the file to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing_sim.errors import ConfigError, Problem
from routing_sim.yamlio import Lines, read_yaml

MAX_LAYERS = 16


@dataclass
class Origins:
    """Where each key path was set: ``path -> (file, line)``; ``default`` for the rest."""

    default: str
    where: dict[tuple, tuple[str, int | None]] = field(default_factory=dict)

    @classmethod
    def of_file(cls, source: str, lines: Lines | None) -> Origins:
        return cls(source, {path: (source, line) for path, line in (lines or {}).items()})

    def locate(self, path: tuple) -> tuple[str, int | None]:
        for end in range(len(path), -1, -1):
            if path[:end] in self.where:
                return self.where[path[:end]]
        return self.default, None

    def chain(self) -> list[str]:
        return sorted({file for file, _ in self.where.values()})


def read_layered(path: Path, _children: tuple[Path, ...] = ()) -> tuple[Any, Origins]:
    """Read ``path`` and, recursively, the configs it extends; return merged data and origins."""
    data, lines = read_yaml(path)
    source = str(path)
    origins = Origins.of_file(source, lines)
    if not isinstance(data, dict) or "extends" not in data:
        return data, origins
    parent_ref = data.pop("extends")
    line = lines.get(("extends",))
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise ConfigError([Problem(source, ("extends",), "must be the path of another config file", line)])
    if "\x00" in parent_ref:
        raise ConfigError([Problem(source, ("extends",), "must be the path of another config file", line)])
    parent = (path.parent / parent_ref).resolve()
    chain = _children + (path.resolve(),)
    if parent in chain:
        raise ConfigError([Problem(source, ("extends",), f"circular: {parent_ref} extends this file again", line)])
    if len(chain) >= MAX_LAYERS:
        raise ConfigError([Problem(source, ("extends",), f"more than {MAX_LAYERS} layers", line)])
    if not parent.is_file():
        raise ConfigError([Problem(source, ("extends",), f"no such file: {parent_ref}", line)])
    base, base_origins = read_layered(parent, chain)
    if not isinstance(base, dict):
        raise ConfigError([Problem(str(parent), (), "the top level must be a mapping of sections", 1)])
    merged = merge(base, data)
    combined = Origins(source, dict(base_origins.where))
    for key_path in origins.where:
        if key_path and key_path[0] != "extends":
            # a child value replaces the parent's whole subtree unless both are mappings
            combined.where[key_path] = origins.where[key_path]
    _forget_replaced(combined, base, data, ())
    return merged, combined


def merge(base: Any, override: Any) -> Any:
    """Recursive merge: mappings key by key, anything else replaced, ``None`` deletes."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _forget_replaced(origins: Origins, base: Any, override: Any, path: tuple) -> None:
    """Drop the parent's locations under values the child replaced (not merged)."""
    if not isinstance(override, dict):
        return
    for key, value in override.items():
        sub = path + (key,)
        if isinstance(value, dict) and isinstance(base, dict) and isinstance(base.get(key), dict):
            _forget_replaced(origins, base[key], value, sub)
        else:
            for p in [p for p in origins.where if p[: len(sub)] == sub and len(p) > len(sub)]:
                if origins.where[p][0] != origins.where.get(sub, (None,))[0]:
                    del origins.where[p]
