"""Short runs written to folders, shared by the report, event-log and browser tests."""

from __future__ import annotations

import copy
import importlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from routing_sim.loader import load_config
from routing_sim.runfolder import run_to_folder
from tests.conftest import BASE

ROOT = Path(__file__).resolve().parents[1]
EU = ROOT / "configs" / "eu-centre-2019.yaml"


def eu_short(folder: Path, days: int = 3) -> Path:
    """The shipped EU Centre config over a few days (an ``extends:`` layer with its own comment)."""
    path = folder / "eu-short.yaml"
    path.write_text(f"# The EU Centre baseline over {days} days, for the report tests.\n"
                    f"extends: {EU}\n"
                    f"time:\n  horizon: {days}d    # assumption: short, so the tests stay fast\n", encoding="utf-8")
    return path


def small(folder: Path, name: str = "small", headcount: int = 2, days: int = 3, targets: bool = False) -> Path:
    data: dict[str, Any] = copy.deepcopy(BASE)
    data["name"] = name
    if targets:  # a share no run reaches (the handover alone takes 1 h) and a ceiling every run keeps
        data["deadlines"]["handover_within_4h"]["within"] = "70min"
        data["deadlines"]["handover_within_4h"]["share"] = 0.9999
        data["pools"]["clerks"]["max_utilisation"] = 0.99
    data["question"] = "Do two clerks hand cases over within 4 h?"
    data["time"]["horizon"] = f"{days}d"
    data["pools"]["clerks"]["headcount"] = headcount
    path = folder / f"{name}.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    text = text.replace("  clerks:\n    headcount:",
                        "  clerks:\n    # assumption: two clerks on the desk\n    headcount:")
    path.write_text("# A small test process.\n" + text, encoding="utf-8")
    return path


def run(config: Path, results: Path, seed: int | None = None) -> Path:
    return run_to_folder(load_config(config), seed=seed, results=results, config_file=str(config),
                         records="visits").folder


def need(module: str) -> Any:
    """Import a test extra; skipped where it is missing, except in CI, where a missing extra fails."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
