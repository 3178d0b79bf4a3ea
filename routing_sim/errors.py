"""Config problems as one-line messages: file, line, field path and reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config, located as precisely as known."""

    file: str
    path: tuple[str | int, ...]
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = dotted(self.path)
        text = f"{where}: {field}: {self.reason}" if field else f"{where}: {self.reason}"
        text = "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" for c in text)
        return " ".join(text.split())  # always one line, no terminal control sequences


class ConfigError(Exception):
    """A config could not be loaded; holds every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RunError(Exception):
    """A run failed after its config was accepted."""
