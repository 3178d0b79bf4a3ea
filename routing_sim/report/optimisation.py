"""Report sections for the staffing optimiser and the sensitivity analysis, when their results exist.

``routing-sim optimise`` and ``routing-sim sensitivity`` write ``optimise.json``,
``sensitivity.json`` and ``tornado.png`` into ``results/<config name>/``; a report on that folder,
or on a run folder inside it, shows them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from routing_sim.jsonio import nan_for_null
from routing_sim.report.page import esc, para, section, table


def _find(folder: Path, name: str) -> Path | None:
    for place in (folder, folder.parent):
        path = place / name
        if path.is_file():
            return path
    return None


def _num(x: object) -> str:
    return f"{x:,.4g}" if isinstance(x, (int, float)) else esc(x)


def _headcount(h: dict) -> str:
    return ", ".join(f"{pool} {n}" for pool, n in h.items())


def optimisation(folder: Path) -> str:
    path = _find(folder, "optimise.json")
    if path is None:
        return ""
    data = nan_for_null(json.loads(path.read_text(encoding="utf-8")))
    parts = [para(f"Cheapest headcount of {', '.join(data.get('pools', []))} whose targets all hold with "
                  f"{data.get('level', 0.95):.0%} confidence (one-sided t bounds, split over the targets), "
                  f"under common random numbers; from {esc(path.name)}. Targets: "
                  f"{'; '.join(data.get('targets', []))}.")]
    rows = []
    for variant, v in data.get("variants", {}).items():
        best = v.get("optimum") or {}
        rows.append((variant, v.get("status", ""), _headcount(best.get("headcount", {})), _num(best.get("cost")),
                     best.get("n", ""), _headcount(v.get("base_headcount", {}) or {}), _num(v.get("base_cost"))))
    parts.append(table(("variant", "status", "optimum", "cost / year", "replications", "configured", "cost / year"),
                       rows, id="optimise-table"))
    checks = []
    for variant, v in data.get("variants", {}).items():
        for label, candidate in [("optimum", v.get("optimum") or {}), *[("cheaper, fails", c)
                                                                       for c in v.get("cheaper_failing", [])]]:
            for t in candidate.get("targets", []):
                checks.append((variant, label, _headcount(candidate.get("headcount", {})), t["target"],
                               _num(t["mean"]), _num(t["bound"]), t["verdict"]))
    if checks:
        parts.append(table(("variant", "candidate", "headcount", "target", "mean", "bound", "verdict"), checks,
                           id="optimise-evidence"))
    return section("optimise", "Staffing optimisation", *parts)


def sensitivity(folder: Path) -> str:
    path = _find(folder, "sensitivity.json")
    if path is None:
        return ""
    data = nan_for_null(json.loads(path.read_text(encoding="utf-8")))
    oat = data.get("one_at_a_time", {})
    parts = [para(f"KPI {esc(data.get('kpi'))}: one parameter at a time from low to high, the others at the base "
                  f"(base value {_num(oat.get('base'))}), then Morris elementary effects; from {esc(path.name)}.")]
    parts.append(table(("parameter", "low", "high", "KPI at low", "KPI at high", "swing"),
                       [(r["param"], r["low"], r["high"], _num(r["kpi_at_low"]), _num(r["kpi_at_high"]),
                         _num(r["swing"])) for r in oat.get("rows", [])], id="tornado-table"))
    png = path.parent / str(data.get("tornado_png", "tornado.png"))
    if png.is_file():
        encoded = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f'<figure id="fig-tornado" class="report-figure"><img alt="Tornado chart" '
                     f'src="data:image/png;base64,{encoded}"><figcaption><b>Tornado chart.</b> Swing of the KPI '
                     f"over each parameter's range. File: {esc(png.name)}.</figcaption></figure>")
    morris = data.get("morris") or {}
    if morris.get("rows"):
        parts.append(table(("parameter", "mu*", "mu", "sigma"),
                           [(r["param"], _num(r["mu_star"]), _num(r["mu"]), _num(r["sigma"])) for r in morris["rows"]],
                           id="morris-table"))
    found = data.get("sobol") or {}
    if found.get("rows"):
        level = round(float(found.get("level", 0.95)) * 100)
        parts.append(para(f"Variance-based ranking (Sobol' indices, SALib): the share of the KPI's variance over "
                          f"the parameters' ranges that each parameter explains alone (first order) and with its "
                          f"interactions (total), with {level} % bootstrap intervals; {found.get('points')} points, "
                          f"{found.get('replications')} replications each."))
        parts.append(table(("parameter", "total index", f"{level} % interval", "first-order index",
                            f"{level} % interval"),
                           [(r["param"], _num(r["ST"]), f"± {_num(r['ST_conf'])}", _num(r["S1"]),
                             f"± {_num(r['S1_conf'])}") for r in found["rows"]], id="sobol-table"))
        png = path.parent / str(data.get("sobol_png", "sobol.png"))
        if png.is_file():
            encoded = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(f'<figure id="fig-sobol" class="report-figure"><img alt="Sobol indices" '
                         f'src="data:image/png;base64,{encoded}"><figcaption><b>Sobol\' indices.</b> Total and '
                         f"first-order index of each parameter with its interval. File: {esc(png.name)}."
                         f"</figcaption></figure>")
    return section("sensitivity", "Sensitivity", *parts)
