"""The deadlines' figures: the share within each target per variant, every deadline's time to its
end point against its target, the distribution by group from the entity rows, and where the time
goes stage by stage."""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from routing_sim import kpilabels
from routing_sim.kpis.deadlines import GRID_H, REACHED_GRID, Path
from routing_sim.model.process import Deadline
from routing_sim.report import measures
from routing_sim.report.drawing import COLOURS, MAX_VARIANTS, WIDTH, grid, shown
from routing_sim.report.study import Study, Variant
from routing_sim.stats import t_interval


def time_by_stage_figure(study: Study) -> tuple[Figure, str] | None:
    """For each targeted deadline, its mean time split into the stages it is spent at (waiting
    lighter, in service darker), in the baseline (mean over its replications)."""
    runs = study.base.runs
    names = [n for n, d in study.base.cfg.deadlines.items() if d.share is not None
             and any(n in r.nested.get("deadlines", {}) and "time_by_stage" in r.nested["deadlines"][n] for r in runs)]
    if not names:
        return None
    parts: dict[str, dict[str, tuple[float, float]]] = {}
    for n in names:
        got = [r.nested["deadlines"][n].get("time_by_stage", {}) for r in runs]
        stages = sorted({s for g in got for s in g})
        parts[n] = {s: (float(np.mean([g.get(s, {}).get("wait_h", 0.0) for g in got])),
                        float(np.mean([g.get(s, {}).get("service_h", 0.0) for g in got]))) for s in stages}
    fig = Figure(figsize=(WIDTH, 0.5 * len(names) + 0.9))
    fig.subplots_adjust(left=2.6 / WIDTH, right=1 - 0.15 / WIDTH, bottom=0.55 / (0.5 * len(names) + 0.9),
                        top=1 - 0.15 / (0.5 * len(names) + 0.9))
    ax = fig.add_subplot()
    colour_of: dict[str, Any] = {}
    for row, n in enumerate(names):
        total = sum(w + sv for w, sv in parts[n].values())
        left = 0.0
        for stage, (w, sv) in sorted(parts[n].items(), key=lambda item: -(item[1][0] + item[1][1])):
            colour = colour_of.setdefault(stage, matplotlib.colormaps["tab20"](len(colour_of) % 20))
            for value, alpha, hatch in ((w, 0.35, "//"), (sv, 0.9, "")):
                if value > 0 and total > 0:
                    ax.barh([row], [value / total], left=left, color=colour, alpha=alpha, hatch=hatch,
                            edgecolor="white", linewidth=0.3, height=0.62)
                    left += value / total
            if total > 0 and (w + sv) / total > 0.12:
                ax.text(left - (w + sv) / total / 2, row, stage, ha="center", va="center", fontsize=6.5)
    d_of = study.base.cfg.deadlines
    ax.set_yticks(range(len(names)),
                  [f"{n}\n(mean {kpilabels.fmt_hours(sum(w + sv for w, sv in parts[n].values()))}, target {d_of[n].within})"
                   for n in names], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of the deadline's mean time")
    ax.grid(axis="y", visible=False)
    caption = (f"Where the time goes in {study.baseline}: the mean time of each deadline with a target (in its "
               "label), split into the stages it is spent at, waiting (hatched, lighter) and in service (solid), as "
               "shares of that mean; a stage's colour is the same in every bar, and stages under 12 % are not named. For a deadline from the origin, before_creation is the time before the "
               "entity existed (a notice's report being reviewed and forwarded). ")
    one_in = max((int(r.nested["deadlines"][n].get("time_by_stage_one_in", 1)) for r in runs for n in names), default=1)
    if one_in > 1:
        caption += f"Computed on a fixed subset of the entities, one in {one_in} (the run is too large to hold all). "
    return fig, caption


def deadline_figure(study: Study, name: str, deadline: Deadline) -> tuple[Figure, str]:
    variants = [v for v in shown(study) if name in v.cfg.deadlines and v.has_entities][:4]
    targets = measures.targets_for(study.base.cfg, deadline)
    fig, axes = grid(len(variants))
    for ax, v in zip(axes, variants, strict=True):
        pooled: dict[str, list[np.ndarray]] = {}
        for run in v.runs:
            for group, values in measures.elapsed_by_group(run, v.cfg, v.cfg.deadlines[name]).items():
                pooled.setdefault(group, []).append(values)
        colours = dict(zip(pooled, COLOURS, strict=False))  # usually fewer groups than colours
        for group, arrays in pooled.items():
            values = np.concatenate(arrays)
            x, p = measures.quantile_curve(np.maximum(values, 1 / 3600))
            ax.step(x, p, where="post", color=colours[group], linewidth=1.1, label=f"{group} (n={values.size:,})")
        _mark_targets(ax, targets, colours)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"hours from {deadline.start} to {deadline.end} (log scale)")
        ax.set_ylabel("share reached")
        ax.set_title(v.name, loc="left", fontsize=9)
        ax.legend(loc="lower right", fontsize=7.5)
    by = f" by {deadline.by[0]}" if deadline.by else ""
    caption = (f"Empirical distribution of the time from {deadline.start} to {deadline.end} ({deadline.kind}){by}, "
               f"over entities that reached both points, pooled over replications; dashed lines mark the targets "
               f"of the deadlines between these two points (coloured: a target for one group only). "
               f"Entities still pending at the horizon are not in the curves; the KPI tables count them.")
    return fig, caption


def _mark_targets(ax, targets: list[tuple[str, float, str]], colours: dict[str, str]) -> None:
    seen: set[tuple[float, str]] = set()
    for _, hours, group in targets:
        if (hours, group) in seen:
            continue
        seen.add((hours, group))
        colour = colours.get(group, "#444444") if group else "#444444"
        ax.axvline(hours, color=colour, linestyle="--", linewidth=0.8)
        label = kpilabels.short_hours(hours) + (f" ({group})" if group else "")
        ax.annotate(label, (hours, 1.0), xytext=(2, -10), textcoords="offset points", fontsize=7, color=colour,
                    rotation=90, va="top")


def compliance_figure(study: Study, rows: list[tuple[str, str, float, float, float]]) -> tuple[Figure, str]:
    """Horizontal bars: ``rows`` of ``(deadline, variant, mean, low, high)`` shares."""
    deadlines = list(dict.fromkeys(r[0] for r in rows))
    variants = list(dict.fromkeys(r[1] for r in rows))[:MAX_VARIANTS]
    fig = Figure(figsize=(WIDTH, 0.9 + 0.28 * len(deadlines) * max(1, len(variants))), layout="constrained")
    ax = fig.subplots()
    height = 0.8 / max(1, len(variants))
    for j, (variant, colour) in enumerate(zip(variants, COLOURS, strict=False)):
        for i, d in enumerate(deadlines):
            for _, _, mean, low, high in (r for r in rows if r[0] == d and r[1] == variant):
                y = i + j * height
                ax.barh(y, mean, height=height * 0.9, color=colour, label=variant if i == 0 else None)
                if math.isfinite(low):
                    ax.errorbar(mean, y, xerr=[[mean - low], [high - mean]], color="#222222", capsize=2, linewidth=0.8)
                ax.annotate(f"{mean:.1%}", (min(mean, 1.0), y), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7)
    ax.set_yticks([i + height * (len(variants) - 1) / 2 for i in range(len(deadlines))], deadlines)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("share within target (pending work past its target counts as missed)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=min(3, len(variants)), fontsize=7.5)
    caption = ("Share of entities within each deadline's target. " +
               ("Bars: mean over replications, whiskers: 95 % t confidence interval." if study.replications > 1 else
                "One replication: no confidence interval."))
    return fig, caption



def deadline_paths(deadlines: dict[str, Deadline]) -> list[list[str]]:
    """Deadlines grouped by what they time (kind, condition, start and end points), in their order:
    the 24 h, 48 h and 3 d targets of one path, and its breakdowns, in one group."""
    groups: dict[tuple, list[str]] = {}
    for name, d in deadlines.items():
        groups.setdefault(Path.signature(d), []).append(name)
    return list(groups.values())


def curve(variant: Variant, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A deadline's share reached within each time of the grid, in one variant: the mean over its
    replications and the 95 % t-interval's ends (NaN with one replication); None without the KPIs."""
    rows = [t_interval(list(variant.values(f"deadlines.{name}.reached_within.{t}").values())) for t in REACHED_GRID]
    if all(math.isnan(mean) for mean, _, _ in rows):
        return None
    mean, low, high = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    return mean, low, high


def time_to_target_figure(study: Study) -> tuple[Figure, str] | None:
    """Every deadline's time to its end point against its targets, from the KPIs (no entity rows):
    one panel per path, the share reached within each time per variant, and each target as the
    corner the curve must pass above (its time, its share)."""
    variants = [v for v in study.variants if v.runs][:MAX_VARIANTS]
    deadlines: dict[str, Deadline] = {}  # the baseline's, then those only other variants have
    for v in [study.base, *variants]:
        deadlines.update({n: d for n, d in v.cfg.deadlines.items() if n not in deadlines})
    panels = []
    for names in deadline_paths(deadlines):
        curves = [(v, colour, got) for v, colour in zip(variants, COLOURS, strict=False)
                  if names[0] in v.cfg.deadlines for got in [curve(v, names[0])] if got is not None]
        if curves:
            panels.append((names, curves))
    if not panels:
        return None
    panels.sort(key=lambda p: not any(deadlines[n].share is not None for n in p[0]))  # the judged first
    fig, axes = grid(len(panels), ncols=3)
    for ax, (names, curves) in zip(axes, panels, strict=True):
        for v, colour, (mean, low, high) in curves:
            ax.plot(GRID_H, mean, color=colour, linewidth=1.1, marker=".", markersize=3,
                    label=v.name if len(variants) > 1 else None)
            if np.isfinite(low).any():
                ax.fill_between(GRID_H, np.clip(low, 0, 1), np.clip(high, 0, 1), color=colour, alpha=0.2,
                                linewidth=0)
        targets = sorted({(float(deadlines[n].within), deadlines[n].share) for n in names},
                         key=lambda t: (t[0], -1.0 if t[1] is None else t[1]))
        for hours, share in targets:
            ax.axvline(hours, color="#444444", linestyle="--", linewidth=0.7)
            if share is None:
                ax.annotate(kpilabels.short_hours(hours), (hours, 0.02), xytext=(2, 0), textcoords="offset points", fontsize=6.5,
                            color="#444444")
                continue
            ax.plot([GRID_H[0], hours], [share, share], color="#222222", linestyle="--", linewidth=0.7)
            ax.plot([hours], [share], marker="s", markersize=4, color="#222222", zorder=3)
            ax.annotate(f"{kpilabels.short_hours(hours)}, {share:.0%}", (hours, share), xytext=(3, -9), textcoords="offset points",
                        fontsize=6.5, color="#222222")
        ax.set_xscale("log")
        ax.set_xlim(GRID_H[0], GRID_H[-1])
        ax.set_xticks([1 / 6, 1, 24, 168, 720, 8760], ["10 min", "1 h", "1 d", "1 w", "30 d", "1 y"])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        judged = [n for n in names if deadlines[n].share is not None]
        ax.set_title(kpilabels.words((judged or names)[0]), loc="left", fontsize=8)
    axes[0].set_ylabel("share reached")
    if len(variants) > 1:
        axes[0].legend(loc="lower right", fontsize=7)
    caption = ("Every deadline's time from its start to its end point: the share of entities that reached the end "
               "within each time (log scale), with pending work judged as at the target (counted as missed once "
               "older than the time). Dashed lines and squares mark the targets (a time and a share): a target is met "
               "where the curve passes above its square. ")
    caption += ("Line: mean over replications; band: 95 % t-interval. " if study.replications > 1 else
                "One replication: no interval. ")
    return fig, caption + ("Each panel is named after a deadline with a target on its path (the other deadlines "
                           "timing the same two points share the panel).")
