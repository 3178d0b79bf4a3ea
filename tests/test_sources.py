"""Sources of the shipped configs, and no reference to anything outside the repository.

The rules, for authors of configs (docs/sources.md says the same in prose):

1. The ids. Every row of the tables in docs/sources.md starts with an id in backticks: ``S-``
   followed by upper-case words or numbers joined by hyphens (``S-NCMEC-2019-GLOBAL``). Ids are
   unique, and each row's quality column (the fourth) is exactly P, S or D.
2. Numeric lines. In every shipped config (configs/*.yaml and configs/textbook/*.yaml) a line is
   numeric when a YAML value starting on it is a number, a date, or a string with a number that is
   not part of a name: a duration ("5min", "2d"), a rate ("681500/year"), a clock time ("09:00").
   A flow list or mapping of numbers on one line makes that one line numeric. Mapping keys are
   names, never values. Values under the keys in PROSE_KEYS (at any depth) and the top-level
   sections in PROSE_SECTIONS are prose or file names, not parameters, and are skipped.
   Everything else counts, seeds and horizons included: they say "assumption" like any other choice.
3. The comment of a numeric line is its own trailing comment together with the block of whole-line
   comments directly above it (consecutive lines starting with ``#``; a blank line or a line of
   YAML ends the block). It must cite a known id in square brackets, ``[S-NCMEC-2019-GLOBAL]``, or
   contain the word "assumption". A comment above an enclosing key does not count: each numeric
   line carries its own, so moving a line never silently drops its source.
4. Every id written in any comment of a config, bracketed or not, must be listed in docs/sources.md.
5. A config comment names only files that exist in the repository (relative to the repository root
   or to the config's own folder).
6. No tracked file (``git ls-files``) names a path outside the repository: an absolute path into a
   home, user or work area of a machine, or a relative path whose ``..`` steps climb above the
   repository root when resolved from the file's folder. OUTSIDE_PATHS_ALLOWED lists the files whose
   such strings are test data, with the reason.

Failures name file:line and what is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from routing_sim.report.comments import split_comment  # the report reads config comments the same way
from tests.conftest import CONFIGS

ROOT = Path(__file__).resolve().parents[1]
SOURCES_MD = ROOT / "docs" / "sources.md"
SHIPPED = sorted(CONFIGS.rglob("*.yaml"))
SHIPPED_IDS = [str(p.relative_to(ROOT)) for p in SHIPPED]

ID = r"S-[A-Z0-9]+(?:-[A-Z0-9]+)*"
ID_ROW = re.compile(rf"^\|\s*`({ID})`\s*\|")
ANY_ID = re.compile(rf"(?<![\w-]){ID}(?![\w-])")
CITED_ID = re.compile(rf"\[({ID})\]")
ASSUMPTION = re.compile(r"\bassumption", re.I)
QUALITIES = {"P", "S", "D"}

PROSE_KEYS = {
    "name": "the config's name, not a parameter",
    "description": "prose",
    "question": "prose",
    "extends": "the file a config builds on",
}
PROSE_SECTIONS = {"outcomes": "one description per outcome, prose"}
NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z_])[0-9]")
NUMERIC_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
FILE_NAME = re.compile(r"(?<![\w./-])([\w.-]+(?:/[\w.-]+)*\.(?:md|ya?ml|py|json|csv|txt|toml|html))\b")

OUTSIDE_PATHS_ALLOWED = {
    "tests/test_hostile_input.py": "path-traversal and absolute-path strings are the hostile input the tests feed "
                                   "to the runner, which must refuse them",
}
ABSOLUTE_OUTSIDE = re.compile(r"(?<![\w.~:/-])"
                              r"(?:/(?:home|Users|root|work|mnt|srv)/[\w.-]+|~/[\w.-]+|[A-Za-z]:\\Users\\)")
CLIMBING = re.compile(r"(?<![\w.])(?:\.\.[/\\])+[\w.-]*")


def read_sources() -> tuple[dict[str, int], list[str]]:
    """Id -> line of docs/sources.md, and the problems of the table (duplicate ids, bad quality)."""
    ids: dict[str, int] = {}
    problems = []
    for number, line in enumerate(SOURCES_MD.read_text(encoding="utf-8").splitlines(), start=1):
        match = ID_ROW.match(line)
        if not match:
            continue
        name = match.group(1)
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if name in ids:
            problems.append(f"docs/sources.md:{number}: id {name} already defined on line {ids[name]}")
        if len(cells) < 4 or cells[3] not in QUALITIES:
            got = cells[3] if len(cells) >= 4 else "no fourth column"
            problems.append(f"docs/sources.md:{number}: {name}: quality must be P, S or D (got {got!r})")
        ids[name] = number
    return ids, problems


def source_ids() -> dict[str, int]:
    return read_sources()[0]


def comment_of(lines: list[str], number: int) -> str:
    """Rule 3: the trailing comment of line ``number`` (1-based) and the comment block directly above it."""
    parts = [split_comment(lines[number - 1])[1]]
    above = number - 2
    while above >= 0 and lines[above].lstrip().startswith("#"):
        parts.append(lines[above].lstrip()[1:].strip())
        above -= 1
    return " ".join(reversed(parts)).strip()


def numeric_lines(text: str) -> dict[int, str]:
    """Rule 2: line number (1-based) -> the dotted key path of the first numeric value on that line."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found: dict[int, str] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value)
                if name in PROSE_KEYS or (not path and name in PROSE_SECTIONS):
                    continue
                walk(value, path + (name,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (str(i),))
        elif isinstance(node, yaml.ScalarNode):
            text_value = str(node.value)
            numeric = node.tag in NUMERIC_TAGS or (node.tag == "tag:yaml.org,2002:str"
                                                   and NUMBER_IN_TEXT.search(text_value))
            if numeric:
                found.setdefault(node.start_mark.line + 1, ".".join(path))

    if root is not None:
        walk(root, ())
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_sources_md_lists_unique_ids_each_with_a_quality():
    ids, problems = read_sources()
    assert not problems, "\n".join(problems)
    assert len(ids) >= 10, f"docs/sources.md: only {len(ids)} ids found; is the table format `| `S-...` | ... |`?"


@pytest.mark.parametrize("path", SHIPPED, ids=SHIPPED_IDS)
def test_every_numeric_line_cites_a_known_id_or_says_assumption(path: Path):
    known = source_ids()
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    missing = []
    for number, key in sorted(numeric_lines(text).items()):
        comment = comment_of(lines, number)
        cited = [i for i in CITED_ID.findall(comment) if i in known]
        if not cited and not ASSUMPTION.search(comment):
            why = (f"its comment {comment!r} cites no known [S-...] id and does not say 'assumption'" if comment
                   else "it has no comment, on the line or directly above: cite an [S-...] id or say 'assumption'")
            missing.append(f"{rel(path)}:{number}: {key} ({split_comment(lines[number - 1])[0].strip()}) has a number "
                           f"but {why}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("path", SHIPPED, ids=SHIPPED_IDS)
def test_every_id_cited_in_a_config_is_in_sources_md(path: Path):
    known = source_ids()
    unknown = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for name in ANY_ID.findall(split_comment(line)[1]):
            if name not in known:
                unknown.append(f"{rel(path)}:{number}: cites {name}, which docs/sources.md does not list")
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("path", SHIPPED, ids=SHIPPED_IDS)
def test_config_comments_name_only_files_of_the_repository(path: Path):
    wrong = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for name in FILE_NAME.findall(split_comment(line)[1]):
            inside = [p.resolve() for p in (ROOT / name, path.parent / name)]
            if not any(p.is_file() and p.is_relative_to(ROOT) for p in inside):
                wrong.append(f"{rel(path)}:{number}: the comment names {name}, which is not a file of the "
                             "repository: copy what it says into docs/sources.md and cite the id")
    assert not wrong, "\n".join(wrong)


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (or git missing): nothing to list")
    return [name for name in out.stdout.decode("utf-8").split("\0") if name]


def test_no_tracked_file_names_a_path_outside_the_repository():
    root = ROOT.resolve()
    found = []
    for name in tracked_files():
        if name in OUTSIDE_PATHS_ALLOWED:
            continue
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary or unreadable: no text to name a path
        for number, line in enumerate(text.splitlines(), start=1):
            for match in ABSOLUTE_OUTSIDE.finditer(line):
                found.append(f"{name}:{number}: names {match.group(0)!r}, an absolute path outside the repository")
            for match in CLIMBING.finditer(line):
                target = Path(os.path.normpath(path.parent.resolve() / match.group(0).replace("\\", "/")))
                if not target.is_relative_to(root):
                    found.append(f"{name}:{number}: names {match.group(0)!r}, which climbs out of the repository "
                                 f"from {Path(name).parent}/")
    assert not found, "\n".join(found)
