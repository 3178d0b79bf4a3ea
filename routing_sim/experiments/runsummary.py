"""Comparing plain runs (run folders, not an experiment): per KPI, each config's mean and the
difference against the baseline config, paired where the runs share seeds.

Runs of two configs with the same (seed, replication) drew the same random numbers for every
stream the configs share (common random numbers), so their difference is paired: a t-interval of
the per-seed differences over the seeds both have (runs without a partner are left out of it).
Where no seed is shared the difference is unpaired (Welch's t-interval of two means, none with
fewer than two runs on a side). The notes say which, and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from routing_sim.experiments.stats import interval, paired
from routing_sim.experiments.summary import bottlenecks, judge, kpi_table
from routing_sim.stats import t_quantile

Key = tuple[int, int]
"""A run's (seed, replication)."""


def welch(variant: Sequence[float], baseline: Sequence[float], level: float = 0.95) -> dict[str, float | int]:
    """Difference of two means with Welch's t-interval (NaN bounds unless both sides have 2 runs)."""
    a, b = interval(variant, level), interval(baseline, level)
    n = min(a["n"], b["n"])
    mean = a["mean"] - b["mean"] if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "low": math.nan, "high": math.nan, "half_width": math.nan}
    va, vb = a["sd"] ** 2 / a["n"], b["sd"] ** 2 / b["n"]  # squared standard errors of the two means
    if va + vb == 0:
        return {"n": n, "mean": mean, "low": mean, "high": mean, "half_width": 0.0}
    df = (va + vb) ** 2 / (va**2 / (a["n"] - 1) + vb**2 / (b["n"] - 1))
    half = t_quantile(0.5 + level / 2, df) * math.sqrt(va + vb)
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half, "half_width": half}


def summarise_runs(groups: Mapping[str, Mapping[Key, Mapping[str, float]]], baseline: str,
                   level: float = 0.95) -> dict[str, Any]:
    """``groups``: per config (variant) name, the flat KPIs of each of its runs by (seed, replication)."""
    if baseline not in groups:
        raise KeyError(f"no config named {baseline!r} among the runs (configs: {', '.join(groups)})")
    names: dict[str, None] = {}
    for runs in groups.values():
        for kpis in runs.values():
            names.update(dict.fromkeys(k for k, v in kpis.items() if isinstance(v, (int, float))))
    base = groups[baseline]
    variants: dict[str, Any] = {}
    for name, runs in groups.items():
        series = {k: {key: float(kp[k]) for key, kp in runs.items() if _finite(kp.get(k))} for k in names}
        entry: dict[str, Any] = {"runs": sorted(runs), "kpis": {k: interval(list(series[k].values()), level)
                                                                 for k in names}}
        judge(entry["kpis"], next(iter(runs.values()), {}))
        if name == baseline:
            entry["vs_baseline"], entry["paired"] = None, None
        else:
            base_series = {k: {key: float(kp[k]) for key, kp in base.items() if _finite(kp.get(k))} for k in names}
            common = set(runs) & set(base)
            entry["paired"] = bool(common)
            entry["unpartnered"] = sorted((set(runs) | set(base)) - common)
            entry["vs_baseline"] = {
                k: paired(series[k], base_series[k], level) if common
                else welch(list(series[k].values()), list(base_series[k].values()), level) for k in names}
        variants[name] = entry
    return {"baseline": baseline, "level": level, "variants": variants}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def default_kpis(summary: dict[str, Any]) -> list[str]:
    """The rows shown when none are asked for: every deadline's share and 90th percentile (a row
    equal to an earlier one in every config left out), every pool's utilisation, every share tally
    (``of``), the staff cost per year."""
    names = list(next(iter(summary["variants"].values()))["kpis"])
    keep = [k for k in names if k.startswith("deadlines.") and k.endswith((".share_within", ".p90_h"))
            and k.count(".") == 2]
    keep += [k for k in names if k.startswith("pools.") and k.endswith(".utilisation")]
    keep += [k for k in names if k.startswith("tallies.") and k.endswith(".share") and k.count(".") == 2]
    keep += [k for k in names if k == "cost.staff_cost_per_year"]
    # a deadline that only breaks another down (by priority, by type) repeats its row exactly: shown once
    seen: set[tuple] = set()
    out = []
    for k in keep:
        same = (k.rsplit(".", 1)[-1], *(repr([(v["kpis"].get(k) or {}).get(f) for f in ("n", "mean", "low", "high")])
                                        for v in summary["variants"].values()))
        if not k.startswith("deadlines.") or same not in seen:
            out.append(k)
        seen.add(same)
    return out


def runs_table(summary: dict[str, Any], kpis: list[str]) -> Table:
    """Per KPI and config: the mean [CI] over its runs and the difference against the baseline."""
    pct = round(summary["level"] * 100)
    title = (f"runs compared with '{summary['baseline']}'; {pct} % t-intervals where there are two or more runs; "
             "* = CI excludes 0")
    return kpi_table(summary, kpis, title, ("KPI / config", "runs", "mean [CI]", "difference [CI]"))


def runs_notes(summary: dict[str, Any]) -> list[str]:
    """How each difference was computed, in words; which pool binds in each config."""
    def seeds(keys: list[Key]) -> str:
        return ", ".join(f"{s}" + (f"/r{r}" if r else "") for s, r in keys)

    lines = bottlenecks(summary)
    for name, v in summary["variants"].items():
        if v["paired"] is None:
            continue
        if v["paired"]:
            left = f"; runs without a partner, left out of it: seeds {seeds(v['unpartnered'])}" if v["unpartnered"] \
                else ""
            common = [k for k in v["runs"] if k not in v["unpartnered"]]
            lines.append(f"{name}: differences paired with the baseline run for run (seeds {seeds(common)}: common "
                         f"random numbers){left}")
        else:
            lines.append(f"{name}: NOT paired: its runs (seeds {seeds(v['runs'])}) share no seed with the baseline's, "
                         "so the difference is of two means (Welch's t-interval; none with fewer than 2 runs a "
                         "side). Run both configs with the same --seed for a paired difference.")
    return lines
