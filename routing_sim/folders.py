"""Reading result folders without trusting them: JSON that must be a mapping, and files checked
against the checksums their run recorded in ``manifest.json``.

A run folder may be truncated (a disk filled up, a copy was cut short), edited by hand, or come
from another program. Every reader goes through here, so such a folder gets one line that names
the file and what is wrong with it, never a traceback or, worse, figures computed from half a table.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from routing_sim.errors import RunError

CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_mapping(path: Path) -> dict[str, Any]:
    """A JSON file whose top level must be a mapping, or RunError naming the file and the problem."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path}: not readable as JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON mapping, found {type(data).__name__}") from None
    return data


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file the manifest lists against its recorded SHA-256 (a folder written before
    checksums were recorded lists none and is read as it is)."""
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise RunError(f"{folder / 'manifest.json'}: 'files' is not a mapping of names to checksums")
    for name, recorded in files.items():
        path = folder / str(name)
        if "/" in str(name) or not path.is_file():
            raise RunError(f"{path}: listed in manifest.json but missing")
        if file_digest(path) != recorded:
            raise RunError(f"{path}: does not match the checksum in manifest.json (truncated, replaced or edited?)")
