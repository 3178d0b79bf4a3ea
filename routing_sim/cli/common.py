"""What every command shares: the exit codes, the two consoles and the error printing.

Exit codes: 0 success, 1 a run failed, 2 bad input (config problems, bad
options), 130 interrupted. Config problems print one line each, never a
traceback.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from routing_sim.errors import ConfigError

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130

out = Console(highlight=False, emoji=False, soft_wrap=True)  # lines meant for pipes never wrap; no emoji codes: ':100:' in 'file.yaml:100:' stays text
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def report_config_error(exc: ConfigError) -> None:
    """Every problem of a config on its own line on stderr."""
    for problem in exc.problems:
        err.print(str(problem), markup=False, soft_wrap=True)


def fail(code: int, message: str) -> NoReturn:
    """Print ``message`` on stderr as it is (no markup) and exit with ``code``."""
    err.print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def fail_plain(code: int, message: str) -> NoReturn:
    """:func:`fail` through click's echo, as ``report`` and ``export-log`` have always printed: the
    line exactly as given (rich would expand tabs and drop control characters), ANSI codes dropped
    when stderr is not a terminal."""
    typer.echo(message, err=True)
    raise typer.Exit(code) from None
