"""An experiment folder (:mod:`routing_sim.experiments`) as a study: variants, replications, warm-up.

The folder holds the plan (``experiment.json``) and one record per task
(``tasks/<key>.json``) with the flat KPIs of one replication after the warm-up;
it holds no tables, so the report shows KPIs, intervals, paired differences and
deadline compliance but no time-series or distribution figures. The variants'
configs come from the experiment file named in the plan (the base config, with
a note, if that file is gone).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from routing_sim.errors import ConfigError, RunError
from routing_sim.loader import load_config
from routing_sim.report.study import Run, Study, Variant, read_json
from routing_sim.runfolder import resolved_config


def load_experiment_study(folder: Path, baseline: str | None) -> Study:
    from routing_sim.experiments.store import Store
    from routing_sim.experiments.summary import variant_values

    try:
        plan = read_json(folder / "experiment.json")
        names = [v["name"] for v in plan["variants"]]
        store = Store(folder)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{folder}/experiment.json: not an experiment plan this report understands ({exc})") from None
    configs, notes = _configs(plan)
    common = {"seed": plan["seed"], "experiment_file": plan.get("file"), "environment": plan.get("environment", {})}
    variants = []
    for spec in plan["variants"]:
        cfg = configs.get(spec["name"]) or configs["__base__"]
        v = Variant(spec["name"], cfg, resolved_config(cfg, plan["seed"]))
        manifest = {**common, "config_file": spec.get("config_file") or plan.get("base"),
                    "config_hash": spec.get("config_hash")}
        for r, record in sorted(variant_values(store, plan, spec).items()):
            if record.get("status") == "ok":
                v.runs.append(Run((int(plan["seed"]), int(r)), record["kpis"], manifest))
        variants.append(v)
    if not any(v.runs for v in variants):
        raise RunError(f"{folder}: no finished task records in tasks/")
    chosen = baseline or plan.get("baseline") or names[0]
    if chosen not in names:
        raise RunError(f"no variant named {chosen!r} (variants: {', '.join(names)})")
    study = Study(folder, "experiment", [v for v in variants if v.runs], chosen, notes,
                  warmup_h=float(plan.get("warmup", {}).get("hours") or 0.0))
    study.report_kpis = list(plan.get("report", []))
    study.questions = _questions(plan, study.notes)
    study.title, study.description = str(plan.get("experiment", "")), str(plan.get("description", ""))
    study.question = str(plan.get("question", ""))
    study.experiment_file = plan.get("file")
    failed = [v.name for v in variants if not v.runs]
    if failed:
        study.notes.append(f"Variants without a finished replication, left out: {', '.join(failed)}.")
    study.notes.append(_describe(plan))
    return study


def _questions(plan: dict[str, Any], notes: list[str]) -> list[Any]:
    """The plan's questions, validated as the experiment file's were (one that is not is left out, with a note)."""
    from routing_sim.experiments.spec import Question

    out = []
    for i, q in enumerate(plan.get("questions") or [], start=1):
        try:
            out.append(Question.model_validate(q))
        except ValidationError:
            notes.append(f"Question {i} in experiment.json is not one this report understands: left out.")
    return out


def _configs(plan: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validated configs per variant name (``__base__``: the base config)."""
    from routing_sim.experiments.resolve import load_experiment

    out: dict[str, Any] = {}
    notes: list[str] = []
    try:
        exp = load_experiment(plan["file"], seed=plan["seed"])
        out.update({v.name: v.cfg for v in exp.variants})
        out["__base__"] = exp.variants[0].cfg
    except (ConfigError, OSError, KeyError) as exc:
        notes.append(f"The experiment file could not be read ({exc}); every variant is described by the base "
                     "config (overrides are listed in the plan).")
        try:
            out["__base__"] = load_config(plan["base"])
        except (ConfigError, OSError, KeyError) as exc2:
            raise RunError(f"neither the experiment file nor its base config can be read: {exc2}") from None
    return out, notes


def _describe(plan: dict[str, Any]) -> str:
    reps, warm = plan.get("replications", {}), plan.get("warmup", {})
    how = ("fixed number" if reps.get("method") == "fixed" else
           f"replications algorithm (Hoad, Robinson and Davies 2010), target relative half-width "
           f"{reps.get('precision')} on {', '.join(reps.get('kpis', []))}, min {reps.get('min')}, "
           f"max {reps.get('max')}")
    return (f"Experiment {plan.get('experiment')}: {reps.get('n')} replications per variant ({how}); warm-up "
            f"{(warm.get('hours') or 0) / 24:g} d ({warm.get('method')}); root seed {plan.get('seed')}; variants "
            + "; ".join(f"{v['name']}: {_changes(v.get('overrides'))}" for v in plan["variants"])
            + " (the values are in the Assumptions section).")


def _changes(overrides: object) -> str:
    """What a variant changes, by path: a plain value with it (``stages.jurisdiction.service.mean = 1d``),
    a whole block by its path only (a new source's ten fields would fill the screen)."""
    if isinstance(overrides, str):  # experiment.json keeps them as the text of a mapping
        try:
            overrides = ast.literal_eval(overrides)
        except (ValueError, SyntaxError):
            return str(overrides)
    if not isinstance(overrides, dict) or not overrides:
        return "its config as it is"
    return ", ".join(str(k) if isinstance(v, (dict, list)) else f"{k} = {v}" for k, v in overrides.items())
