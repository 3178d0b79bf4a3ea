"""The comparison: per KPI, each variant's mean with a t-interval and the paired difference
against the baseline (replication r of every variant shares its random streams).

``summarise`` reads only the plan (``experiment.json``) and the task files, so
``routing-sim compare`` gives the same answer as the end of ``run``; the
summary holds no time stamps, so the same results give the same bytes.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from routing_sim.experiments.stats import interval, paired
from routing_sim.experiments.store import Store, replication_key
from routing_sim.kpilabels import Estimate, fmt_estimate, label, unit
from routing_sim.runfolder import write_atomic, write_json
from routing_sim.verdicts import STYLE, target_of


def variant_values(store: Store, plan: dict[str, Any], variant: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """``{replication: record}`` of one variant's replications (ok or failed) found in the store."""
    out = {}
    for r in range(plan["replications"]["n"]):
        record = store.read(replication_key(variant["config_hash"], plan["seed"], r, plan["warmup"]["hours"]))
        if record is not None:
            out[r] = record
    return out


def summarise(store: Store, plan: dict[str, Any], baseline: str | None = None) -> dict[str, Any]:
    baseline = baseline or plan["baseline"]
    names = [v["name"] for v in plan["variants"]]
    if baseline not in names:
        raise KeyError(f"no variant named {baseline!r} (variants: {', '.join(names)})")
    level, n = plan["level"], plan["replications"]["n"]
    records = {v["name"]: variant_values(store, plan, v) for v in plan["variants"]}
    ok = {name: {r: rec["kpis"] for r, rec in recs.items() if rec.get("status") == "ok"}
          for name, recs in records.items()}
    failed = [{"variant": name, "replication": r, "key": rec["key"], "error": rec.get("error")}
              for name, recs in records.items() for r, rec in sorted(recs.items()) if rec.get("status") != "ok"]
    missing = [{"variant": name, "replication": r} for name in names for r in range(n) if r not in records[name]]
    codes = sorted({session["code"] for session in plan.get("sessions", [])})
    kpi_names = _kpi_order(ok)
    base = ok[baseline]
    variants: dict[str, Any] = {}
    for spec in plan["variants"]:
        mine = ok[spec["name"]]
        series = {k: {r: kp[k] for r, kp in mine.items() if k in kp and _finite(kp[k])} for k in kpi_names}
        base_series = {k: {r: kp[k] for r, kp in base.items() if k in kp and _finite(kp[k])} for k in kpi_names}
        stats = {k: interval([series[k][r] for r in sorted(series[k])], level) for k in kpi_names}
        judge(stats, next(iter(mine.values()), {}))
        variants[spec["name"]] = {
            "config_hash": spec["config_hash"],
            "overrides": spec["overrides"],
            "replications_ok": len(mine),
            "kpis": stats,
            "vs_baseline": None if spec["name"] == baseline else
            {k: paired(series[k], base_series[k], level) for k in kpi_names},
        }
    return {
        "experiment": plan["experiment"],
        "seed": plan["seed"],
        "level": level,
        "baseline": baseline,
        "replications": plan["replications"],
        "warmup": plan["warmup"],
        "report": plan["report"],
        "tasks": {"expected": n * len(names), "ok": sum(len(v) for v in ok.values()), "failed": failed,
                  "missing": missing, "code_versions": codes},
        "variants": variants,
    }


def judge(stats: dict[str, dict[str, Any]], flat: Mapping[str, Any]) -> None:
    """Add each judged KPI's target and verdict (met, missed, uncertain) to its interval, in place;
    the targets are KPIs of the runs themselves (``flat``, any run of the variant)."""
    for kpi, s in stats.items():
        target = target_of(kpi, flat)
        if target is not None:
            s["target"] = target.text()
            s["verdict"] = target.verdict(s["mean"], s["low"], s["high"])


def _verdict_text(s: dict[str, Any] | None) -> str:
    if not s or not s.get("target"):
        return ""
    verdict = s.get("verdict")
    return f"{s['target']}: [{STYLE[verdict]}]{verdict}[/]" if verdict else f"{s['target']}: -"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _kpi_order(ok: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    names: dict[str, None] = {}
    for recs in ok.values():
        for kpis in recs.values():
            names.update(dict.fromkeys(kpis))
    return list(names)


def write_summary(store: Store, summary: dict[str, Any]) -> None:
    write_json(store.folder / "summary.json", summary)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", "kpi", "n", "mean", "ci_low", "ci_high", "diff_n", "diff_mean", "diff_low",
                     "diff_high"])
    for name, v in summary["variants"].items():
        for kpi, s in v["kpis"].items():
            d = (v["vs_baseline"] or {}).get(kpi) or {}
            writer.writerow([name, kpi, s["n"], _num(s["mean"]), _num(s["low"]), _num(s["high"]), d.get("n", ""),
                             _num(d.get("mean")), _num(d.get("low")), _num(d.get("high"))])
    write_atomic(store.folder / "summary.csv", buffer.getvalue())


def _num(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(x)


def comparison_table(summary: dict[str, Any], kpis: list[str] | None = None) -> Table:
    """A rich table: per KPI and variant, mean [CI] and the paired difference against the baseline [CI]."""
    pct = round(summary["level"] * 100)
    reps = summary["replications"]
    title = (f"{summary['experiment']}: {reps['n']} replications per variant, warm-up "
             f"{summary['warmup']['hours'] / 24:g} d, {pct} % t-intervals; differences paired against "
             f"'{summary['baseline']}' (common random numbers); * = CI excludes 0")
    return kpi_table(summary, kpis or summary["report"], title,
                     ("KPI / variant", "n", f"mean [{pct} % CI]", "difference vs baseline [CI]"))


def kpi_table(summary: dict[str, Any], kpis: list[str], title: str, headers: tuple[str, str, str, str]) -> Table:
    """Per KPI, a row per variant: its count, mean [CI], difference against the baseline [CI] and,
    where any variant has one, its target's verdict (an experiment's summary or a runs summary)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column(headers[0], overflow="fold")
    table.add_column(headers[1], justify="right", no_wrap=True)
    for header in headers[2:]:
        table.add_column(header, justify="right", overflow="fold")
    judged = any(s.get("verdict") for v in summary["variants"].values() for k, s in v["kpis"].items() if k in kpis)
    if judged:
        table.add_column("target", justify="right", overflow="fold")
    known = _means(summary)
    for kpi in kpis:
        table.add_row(f"[bold]{escape(label(kpi, known))}[/bold]", "", "", "", *([""] if judged else []))
        for i, (name, v) in enumerate(summary["variants"].items()):
            s = v["kpis"].get(kpi)
            d = (v["vs_baseline"] or {}).get(kpi)
            diff = "baseline" if v["vs_baseline"] is None else (_diff_text(kpi, d) if d else "-")
            table.add_row(f"  {escape(name)}", str(s["n"]) if s else "0", _interval_text(kpi, s) if s else "no data",
                          diff, *([_verdict_text(s)] if judged else []), end_section=i == len(summary["variants"]) - 1)
    return table


NARROW = 110
"""Below this many columns the comparison is stacked (a line per variant) instead of a table."""


def stacked(summary: dict[str, Any], kpis: list[str]) -> list[str]:
    """The comparison as lines for a narrow terminal: each KPI, then one line per variant with its
    mean [CI], its difference against the baseline and its target's verdict (rich markup)."""
    lines = []
    known = _means(summary)
    for kpi in kpis:
        lines.append(f"[bold]{escape(label(kpi, known))}[/bold]")
        for name, v in summary["variants"].items():
            s = v["kpis"].get(kpi)
            d = (v["vs_baseline"] or {}).get(kpi)
            diff = "baseline" if v["vs_baseline"] is None else (f"difference {_diff_text(kpi, d)}".rstrip() if d
                                                                 else "difference -")
            parts = [_interval_text(kpi, s) if s else "no data", diff, _verdict_text(s)]
            lines.append(f"  {escape(name)}: " + "; ".join(p for p in parts if p))
    return lines


def _means(summary: dict[str, Any]) -> dict[str, float]:
    """The baseline's mean of every KPI, for the labels (a deadline's share names its target time)."""
    base: dict[str, Any] = summary["variants"].get(summary["baseline"]) or next(iter(summary["variants"].values()), {})
    return {k: s["mean"] for k, s in base.get("kpis", {}).items()}


def _estimate(s: dict[str, Any]) -> Estimate:
    return Estimate(int(s["n"]), float(s["mean"]), float(s["low"]), float(s["high"]))


def _interval_text(kpi: str, s: dict[str, Any]) -> str:
    """Mean [CI] in the KPI's unit, written once; no interval where the runs do not vary, and a count's
    interval stops at zero (:func:`routing_sim.kpilabels.fmt_estimate`, as the report writes it)."""
    return fmt_estimate(_estimate(s), unit(kpi))


def _diff_text(kpi: str, d: dict[str, Any]) -> str:
    """The paired difference [CI] in the KPI's unit (points for a share); ``*`` where the interval excludes 0."""
    if not d["n"]:
        return "-"
    text = fmt_estimate(_estimate(d), unit(kpi), signed=True)
    if d["n"] < 2 or not (math.isfinite(d["low"]) and math.isfinite(d["high"])):
        return text
    return text + (" *" if d["low"] > 0 or d["high"] < 0 else "  ")


def bottlenecks(summary: dict[str, Any]) -> list[str]:
    """The pool that binds in each variant (the highest mean utilisation) and, where it is not the
    baseline's, that the bottleneck moves."""
    binding = {}
    for name, v in summary["variants"].items():
        pools = {k.split(".")[1]: s["mean"] for k, s in v["kpis"].items()
                 if k.startswith("pools.") and k.endswith(".utilisation") and math.isfinite(s["mean"])}
        if pools:
            binding[name] = max(pools.items(), key=lambda item: item[1])
    if not binding:
        return []
    base = binding[summary["baseline"]][0] if summary["baseline"] in binding else None
    lines = []
    for name, (pool, share) in binding.items():
        moved = base is not None and pool != base
        lines.append(f"binding pool in {name}: {pool} ({share * 100:.1f} % utilised)"
                     + (f": the bottleneck moves from {base}" if moved else ""))
    return lines


def notes(summary: dict[str, Any]) -> list[str]:
    """Plain lines under the table: how the replications and the warm-up were chosen, what failed."""
    lines = []
    reps = summary["replications"]
    if reps["method"] == "fixed":
        lines.append(f"replications: {reps['n']} per variant (fixed)")
    else:
        target = f"{reps['precision'] * 100:g} %"
        worst = max(((s["precision"], v, k) for v, seq in reps.get("sequences", {}).items() for k, s in seq.items()),
                    default=(math.nan, "-", "-"), key=lambda t: -1 if t[0] != t[0] else t[0])
        if reps.get("done"):
            lines.append(f"replications algorithm (Hoad, Robinson and Davies 2010): CI half-width <= {target} of the "
                         f"mean for {', '.join(reps['kpis'])} in every variant from n = {reps['n_solution']}, "
                         f"held over a look-ahead of {reps['lookahead']}; ran {reps['n']}; widest now "
                         f"{worst[0] * 100:.2f} % ({worst[1]}, {worst[2]})")
        else:
            lines.append(f"replications algorithm: target {target} NOT reached at the cap of {reps['n']} "
                         f"replications; widest {worst[0] * 100:.2f} % ({worst[1]}, {worst[2]})")
    warm = summary["warmup"]
    if warm["method"] == "mser5":
        flagged = [name for name, v in warm["variants"].items() if v["no_steady_state"]]
        lines.append(f"warm-up: {warm['hours'] / 24:g} d, the longest MSER-5 truncation over the variants "
                     f"(time series {warm['series']}, means over {warm['every_h']:g} h, "
                     f"{next(iter(warm['variants'].values()))['pilot_runs']} pilot runs per variant), rounded up "
                     f"to whole days" + (f"; no steady state found for: {', '.join(flagged)}" if flagged else ""))
        if warm.get("note"):
            lines.append(f"warm-up: {warm['note']}")
    else:
        lines.append(f"warm-up: {warm['hours'] / 24:g} d ({warm['method']})")
    lines += bottlenecks(summary)
    tasks = summary["tasks"]
    if tasks["failed"]:
        lines.append(f"FAILED: {len(tasks['failed'])} of {tasks['expected']} tasks (left out of the statistics):")
        lines += [f"  {f['variant']} replication {f['replication']}: {f['error']}" for f in tasks["failed"][:10]]
    if len(tasks["code_versions"]) > 1:
        lines.append(f"WARNING: runs with {len(tasks['code_versions'])} versions of the routing_sim sources "
                     f"({', '.join(tasks['code_versions'])}) computed these results; delete the tasks folder "
                     "to recompute them all with one version")
    if tasks["missing"]:
        lines.append(f"MISSING: {len(tasks['missing'])} of {tasks['expected']} tasks have no result")
    return lines
