"""What a results folder holds, read as a study: run folders or an experiment."""

from __future__ import annotations

from pathlib import Path

from routing_sim.report.experiment import load_experiment_study
from routing_sim.report.study import Study, load_run_study


def load_study(folder: Path, baseline: str | None = None) -> Study:
    """Read a run folder, a folder of run folders or an experiment folder; raise RunError if none."""
    folder = Path(folder)
    if (folder / "experiment.json").is_file():
        return load_experiment_study(folder, baseline)
    return load_run_study(folder, baseline)
