"""The assumptions table: every parameter of a config with its value and the comment that sources it.

Comments are paired with key paths by a line-based pass over each file of the
``extends:`` chain (:func:`routing_sim.layering.read_layered` says which file
and line set each value): a parameter's source is the comment at the end of
its own line, else the block of whole-line comments directly above it, else
the nearest such comment of an enclosing key (so a comment above ``p:`` covers
every probability in it). ``#`` inside quotes does not start a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from routing_sim.layering import MAX_LAYERS, Origins, read_layered
from routing_sim.yamlio import read_yaml

SKIPPED_KEYS = {"description", "question", "name", "extends"}
SKIPPED_SECTIONS = {"outcomes"}  # descriptions of outcomes, not parameters
SOURCE_TAGS = (("assumption", re.compile(r"\bassumption\b", re.I)),
               ("reference", re.compile(r"\[S-[A-Z0-9-]+\]|\((?:P|S|D)(?:, ?[PSD])*\)|^D:")))
"""A comment that says "assumption" anywhere counts as one (a published figure used beyond what
it measures, such as a global share used for the EU, is an assumption); otherwise a source id of
docs/sources.md (or a quality mark) makes it a reference."""


@dataclass(frozen=True)
class Parameter:
    path: str
    value: str
    comment: str
    file: str
    line: int | None

    @property
    def source_kind(self) -> str:
        """``reference`` (a figure of docs/sources.md), ``assumption``, ``other`` or ``none``."""
        if not self.comment:
            return "none"
        for kind, pattern in SOURCE_TAGS:
            if pattern.search(self.comment):
                return kind
        return "other"


def split_comment(line: str) -> tuple[str, str]:
    """``(code, comment)`` of one YAML line; ``#`` starts a comment at the start or after a space, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " :[{,-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i], line[i + 1:].strip()
    return line, ""


@lru_cache(maxsize=32)
def file_comments(path: str) -> tuple[dict[int, str], dict[int, str], str]:
    """Per line number: the trailing comment, the whole-line comment block just above; and the header block."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    trailing: dict[int, str] = {}
    above: dict[int, str] = {}
    block: list[str] = []
    header: list[str] = []
    in_header = True
    for number, text in enumerate(lines, start=1):
        code, comment = split_comment(text)
        if not code.strip():
            if comment or text.strip().startswith("#"):
                block.append(comment)
                if in_header:
                    header.append(comment)
            else:
                block = []
                if in_header and header:
                    header.append("")
            continue
        in_header = False
        if comment:
            trailing[number] = comment
        if block:
            above[number] = " ".join(b for b in block if b)
        block = []
    return trailing, above, "\n".join(header).strip()


def comment_for(path: tuple, origins: Origins, data: Any) -> tuple[str, str, int | None]:
    """The comment that sources ``path``, with the file and line that set it.

    An enclosing key lends its comment only when everything under it is a plain value (``p:``
    over probabilities, ``service:`` over dist and mean), so a section heading such as
    ``# 3. relevance review`` above a stage is not taken for the source of its routing rules.
    """
    file, line = origins.locate(path)
    for end in range(len(path), 0, -1):
        if end < len(path) and not _flat(_get(data, path[:end])):
            break
        f, ln = origins.locate(path[:end])
        if ln is None or not Path(f).is_file():
            continue
        trailing, above, _ = file_comments(f)
        text = trailing.get(ln) or above.get(ln, "")
        if text:
            return text, file, line
    return "", file, line


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _flat(value: Any) -> bool:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return all(not isinstance(c, (dict, list)) or (isinstance(c, list) and _flat(c)) for c in children)


def leaves(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Scalars and lists of scalars, with their key paths, in file order."""
    if isinstance(data, dict):
        out = []
        for key, value in data.items():
            if key in SKIPPED_KEYS or (not path and key in SKIPPED_SECTIONS):
                continue
            out += leaves(value, path + (key,))
        return out
    if isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        return [leaf for i, v in enumerate(data) for leaf in leaves(v, path + (i,))]
    return [(path, data)]


def show_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def assumptions(config_file: Path, prefix: str = "") -> tuple[list[Parameter], list[tuple[str, str]]]:
    """The parameters of ``config_file`` (following ``extends:``) and the header comments of its files;
    ``prefix`` goes before each path (``experiment`` for the rows of an experiment file)."""
    data, origins = read_layered(config_file)
    rows = []
    for path, value in leaves(data):
        comment, file, line = comment_for(path, origins, data)
        rows.append(Parameter(".".join(str(p) for p in (prefix, *path) if p != ""), show_value(value), comment, file,
                              line))
    return rows, headers(config_file)


def headers(config_file: Path) -> list[tuple[str, str]]:
    """The header comment of each file of the ``extends:`` chain, the file itself first."""
    out, path = [], config_file
    for _ in range(MAX_LAYERS):
        out.append((str(path), file_comments(str(path))[2]))
        data, _lines = read_yaml(path)
        parent = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(parent, str):
            break
        path = (path.parent / parent).resolve()
    return out
