"""Finding the config file a run was made from, to read the comments that source its parameters."""

from __future__ import annotations

from pathlib import Path

import routing_sim
from routing_sim.errors import ConfigError
from routing_sim.loader import load_config
from routing_sim.report.study import Study
from routing_sim.runfolder import config_hash, resolved_config


def candidates(name: str, run_folder: Path | None) -> list[Path]:
    path = Path(name)
    if path.is_absolute():
        return [path]
    roots = [Path.cwd(), Path(routing_sim.__file__).resolve().parents[1]]
    return [root / path for root in roots]


def config_file_of(study: Study) -> tuple[Path | None, list[str]]:
    """The baseline's config file, if it can be found, and notes for the reader about it."""
    run = study.first_run
    name = run.manifest.get("config_file")
    if not name:
        return None, ["The run does not name its config file: the assumptions table is empty."]
    for path in candidates(name, run.folder):
        if path.is_file():
            return path, _freshness(path, run.manifest)
    return None, [f"The config file {name} is not found from here: the assumptions table is empty "
                  "(the values are in config.resolved.yaml beside the results)."]


def _freshness(path: Path, manifest: dict) -> list[str]:
    """A note when the file no longer resolves to the config that was run."""
    try:
        cfg = load_config(path)
    except ConfigError:
        return [f"{path.name} no longer validates: the comments shown may not match the run."]
    if manifest.get("config_hash") and config_hash(resolved_config(cfg, manifest["seed"])) != manifest["config_hash"]:
        return [f"{path.name} has changed since the run: values and comments are shown as the file is now; the "
                "values that were run are in config.resolved.yaml."]
    return []
