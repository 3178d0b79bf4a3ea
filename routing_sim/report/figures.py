"""The report's figures, drawn with matplotlib and saved as PNG and SVG, byte-stable for the same
results: the time series, the stores, the budget, the process, the staffing curve and the split
pools here; the deadlines' figures in :mod:`.deadlinefigures`; what all of them share in :mod:`.drawing`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from routing_sim.report import deadlinefigures, diagram, measures
from routing_sim.report.drawing import (
    COLOURS,
    WIDTH,
    Rendered,
    coloured,
    draw_fan,
    fan_label,
    fan_note,
    grid,
    horizon,
    save,
    shown,
    style,
)
from routing_sim.report.study import Study, Variant
from routing_sim.stats import t_interval


def backlog_figure(study: Study) -> tuple[Figure, str]:
    variants = shown(study)
    cfg = study.base.cfg
    hidden = split_members(study)
    stages = [s for s, st in cfg.stages.items() if st.pool and s not in hidden] or list(cfg.stages)
    column = "queued" if any(st.pool for st in cfg.stages.values()) else "inside"
    daily_max = horizon(study) > measures.LONG_H
    fig, axes = grid(len(stages))
    for ax, stage in zip(axes, stages, strict=True):
        for v, colour in coloured(variants):
            if stage in v.cfg.stages:
                draw_fan(ax, measures.column_fan(v, f"{column}.{stage}", daily_max), colour, fan_label(v))
        pool = cfg.stages[stage].pool
        ax.set_title(f"{stage}" + (f" (pool {pool})" if pool else ""), loc="left", fontsize=9)
        ax.set_ylabel("waiting" if column == "queued" else "inside")
    axes[-1].set_xlabel(f"days from {cfg.time.start}")
    axes[0].legend(loc="upper left", fontsize=7.5)
    caption = (f"Entities {'waiting (queued, not yet in service)' if column == 'queued' else 'inside'} per "
               f"{'staffed ' if column == 'queued' else ''}stage, sampled every {cfg.time.timeseries_step}"
               f"{'; each point is the maximum of one day' if daily_max else ''}. ")
    return fig, caption + _split_note(study, hidden) + fan_note(variants)


def _split_note(study: Study, hidden: set[str]) -> str:
    if not hidden:
        return ""
    return (f"Of each split pool ({', '.join(study.base.cfg.splits)}), the 3 pools under most pressure are drawn; "
            "the section on split pools shows them all. ")


def database_figure(study: Study) -> tuple[Figure, str]:
    """Each database's size over time and, where it drives one, the share of arrivals it drives."""
    variants = shown(study)
    cfg = study.base.cfg
    panels = [(f"database.{n}", f"{n}: items in use", "items") for n in cfg.databases]
    panels += [(f"share.{n}", f"{n}: share of {d.drives.value} among {', '.join(d.drives.sources)}", "share")
               for n, d in cfg.databases.items() if d.drives is not None]
    fig, axes = grid(len(panels))
    for ax, (column, title, unit) in zip(axes, panels, strict=True):
        for v, colour in coloured(variants):
            if column.split(".", 1)[1] in v.cfg.databases:
                draw_fan(ax, measures.column_fan(v, column), colour, fan_label(v))
        ax.set_title(title, loc="left", fontsize=9)
        ax.set_ylabel(unit)
        if unit == "share":  # a share's axis spans at least 10 points, so a small drift looks small
            lo, hi = ax.get_ylim()
            middle = (lo + hi) / 2
            ax.set_ylim(max(0.0, min(lo, middle - 0.05)), min(1.0, max(hi, middle + 0.05)))
        else:
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes[-1].set_xlabel(f"days from {cfg.time.start}")
    axes[0].legend(loc="upper left", fontsize=7.5)
    caption = ("Databases grown by the process itself: the items in use (published) and the share of new "
               "arrivals they drive, sampled every " f"{cfg.time.timeseries_step}. ")
    return fig, caption + fan_note(variants)




def budget_figure(study: Study) -> tuple[Figure, str] | None:
    """Staff cost per calendar year, stacked by pool, against the budget's staff share for the same
    days (the baseline's first replication: the cost follows the schedule, not the draws)."""
    path = study.first_run.nested.get("cost", {}).get("by_year") or {}
    if not isinstance(path, dict) or len(path) < 2:
        return None  # one year: the table says it all
    years = list(path)
    pools = [p for p in study.base.cfg.pools if any(row.get("staff_cost", {}).get(p) for row in path.values())]
    fig, (ax,) = grid(1)
    bottom = [0.0] * len(years)
    for i, pool in enumerate(pools):
        values = [path[y]["staff_cost"].get(pool, 0.0) / 1e6 for y in years]
        ax.bar(years, values, bottom=bottom, color=COLOURS[i % len(COLOURS)], label=pool, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    budgeted = all("budget_staff" in path[y] for y in years)
    if budgeted:
        ax.plot(years, [path[y]["budget_staff"] / 1e6 for y in years], color="black", linewidth=1.2, marker="_",
                markersize=18, linestyle="none", label="staff share of the budget")
    top = max(bottom + ([path[y]["budget_staff"] / 1e6 for y in years] if budgeted else []))
    ax.set_ylim(0, top * 1.35 if top > 0 else 1)  # room for the legend above the bars and the budget marks
    ax.set_ylabel("EUR million")
    ax.legend(loc="upper left", fontsize=7.5, ncols=3)
    caption = (f"Staff cost per calendar year of {study.baseline}, stacked by pool (headcount and schedule x cost "
               "per FTE-year; a partial year counts its days)" +
               (", against the budget's staff share for the same days. " if budgeted else ". "))
    return fig, caption


def process_figure(study: Study) -> tuple[Figure, str]:
    """The process as a picture, top to bottom: each node in the row of its longest path from a source,
    ordered within the row by where its arrows come from; staffed stages filled, delays outlined,
    spawns dashed."""
    from matplotlib.patches import FancyArrowPatch

    cfg = study.base.cfg
    order, kinds, edges = diagram.graph(cfg)
    depth = diagram.layers(order, edges)
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(depth[n], []).append(n)
    preds: dict[str, list[str]] = {n: [] for n in order}
    for a, b, _ in edges:
        if depth[a] < depth[b]:
            preds[b].append(a)
    width = max(len(names) for names in layers.values())
    nrows = max(layers) + 1
    fig = Figure(figsize=(WIDTH, 0.55 * nrows + 0.4))
    ax = fig.add_axes((0.005, 0.005, 0.99, 0.99))
    ax.set_axis_off()
    pos: dict[str, tuple[float, float]] = {}
    for row in range(nrows):  # top to bottom; within a row, ordered by where the arrows come from
        names = layers.get(row, [])
        key = {n: (sum(pos[p][0] for p in preds[n]) / len(preds[n]) if preds[n] else -1.0) for n in names}
        names = sorted(names, key=lambda n: key[n])
        for i, n in enumerate(names):
            pos[n] = ((i + 0.5) / len(names) if len(names) < width else (i + 0.5) / width, 1 - (row + 0.5) / nrows)
    style = {"source": dict(boxstyle="round,pad=0.25", fc="#fff4e6", ec="#d4651a"),
             "staffed": dict(boxstyle="square,pad=0.25", fc="#dce8f6", ec="#1f5fa8"),
             "delay": dict(boxstyle="square,pad=0.25", fc="white", ec="#5b6475"),
             "outcome": dict(boxstyle="round,pad=0.25", fc="#eef6ee", ec="#2e8b57")}
    for a, b, spawn in edges:
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-|>", mutation_scale=6, lw=0.5,
                                     color="#8e44ad" if spawn else "#9aa3b2", linestyle="--" if spawn else "-",
                                     shrinkA=14, shrinkB=14, zorder=1))
    pools = {name: st.pool for name, st in cfg.stages.items()}
    split_of = {stage: split for split, sp in cfg.splits.items() for stage in sp.stages}
    for n in order:
        label = n.replace("source ", "")
        if kinds[n] == "staffed":
            pool = f"{split_of[n]} (split)" if n in split_of else pools.get(n)
            label += f"\n[{pool}]"
        ax.text(*pos[n], label, ha="center", va="center", fontsize=6, bbox=style[kinds[n]], zorder=2)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    caption = ("The process as the config declares it, top to bottom: sources (orange), staffed stages (blue, with "
               "their pool), delays without staff (outlined), outcomes (green); solid arrows route an entity, dashed "
               "purple arrows spawn a linked one. A stage a split pool copied is drawn once. Loops back (an "
               "incomplete report returning to intake) point upwards. ")
    return fig, caption




def utilisation_figure(study: Study) -> tuple[Figure, str]:
    variants = shown(study)
    hidden = split_members(study)
    pools = [p for p in study.base.cfg.pools if p not in hidden]
    period = measures.staff_period(horizon(study))
    fig, axes = grid(len(pools))
    for ax, pool in zip(axes, pools, strict=True):
        for v, colour in coloured(variants):
            if pool in v.cfg.pools:
                draw_fan(ax, measures.utilisation_fan(v, pool, period), colour, fan_label(v))
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{pool} ({study.base.cfg.pools[pool].staff} staff)", loc="left", fontsize=9)
        ax.set_ylabel("utilisation")
    axes[-1].set_xlabel(f"days from {study.base.cfg.time.start}")
    axes[0].legend(loc="lower left", fontsize=7.5)
    caption = (f"Utilisation per pool and {'day' if period == 24 else 'week'}: busy staff-hours over on-duty "
               "staff-hours" + (" (gaps: nobody on duty, e.g. weekends for office hours). " if period == 24 else ". ")
               + _split_note(study, hidden) + fan_note(variants))
    return fig, caption


def staffing_figure(study: Study) -> tuple[Figure, str]:
    variants = shown(study)
    hidden = split_members(study)
    pools = [p for p in study.base.cfg.pools if p not in hidden]
    period = measures.staff_period(horizon(study))
    fig, axes = grid(len(pools))
    for ax, pool in zip(axes, pools, strict=True):
        for v, colour in coloured(variants):
            if pool not in v.cfg.pools:
                continue
            hours, duty, busy = measures.staffing(v.runs[0], pool, period)
            day = hours / 24
            ax.step(day, duty, where="post", color=colour, linewidth=1.0, label=f"{v.name}: on duty")
            ax.step(day, busy, where="post", color=colour, linewidth=0.8, linestyle=":", label=f"{v.name}: busy")
        ax.set_title(pool, loc="left", fontsize=9)
        ax.set_ylabel(f"staff ({'daily' if period == 24 else 'weekly'} mean)")
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel(f"days from {study.base.cfg.time.start}")
    axes[0].legend(loc="lower left", fontsize=7.5)
    caption = (f"Staff on duty (solid) and busy (dotted) per pool, {'daily' if period == 24 else 'weekly'} means of "
               "the time series, first replication "
               "of each variant. On duty follows the calendar and the headcount schedule; a server whose shift ends "
               "while busy counts as on duty until it finishes. " + _split_note(study, hidden))
    return fig, caption.strip()




def sweep_points(study: Study) -> tuple[str, dict[str, list[tuple[float, Variant]]]] | None:
    """An experiment's sweep read from its variant names (``<group> <label>=<value>``): the swept
    label and, per group, its points in order; None unless one label takes two or more numbers."""
    found: dict[str, dict[str, list[tuple[float, Variant]]]] = {}
    for v in study.variants:
        head, _, last = v.name.rpartition(" ")
        label, equals, value = last.partition("=")
        try:
            x = float(value)
        except ValueError:
            continue
        if equals:
            found.setdefault(label, {}).setdefault(head or "all", []).append((x, v))
    for label, groups in found.items():
        if any(len(points) >= 2 for points in groups.values()):
            return label, {g: sorted(points, key=lambda p: p[0]) for g, points in groups.items()}
    return None


def staffing_curve_figure(study: Study) -> tuple[Figure, str] | None:
    """The swept value against each targeted KPI (mean and interval, the target as a line) and the
    staff cost: the curve a staffing sweep exists to draw."""
    sweep = sweep_points(study)
    if sweep is None:
        return None
    label, groups = sweep
    first = study.variants[0].runs[0].flat if study.variants[0].runs else {}
    targeted = [k for k in first if (k.endswith(".share_within") and f"{k.rpartition('.')[0]}.target_share" in first)
                or (k.endswith(".utilisation") and f"{k.rpartition('.')[0]}.max_utilisation" in first)][:3]
    panels = [*targeted, "cost.staff_cost_per_year"]
    fig, axes = grid(len(panels), ncols=min(2, len(panels)))
    for ax, kpi in zip(axes, panels, strict=False):
        share = not kpi.startswith("cost.")
        for (group, points), colour in zip(groups.items(), COLOURS, strict=False):
            xs, means, lows, highs = [], [], [], []
            for x, v in points:
                values = list(v.values(kpi).values())
                if not values:
                    continue
                mean, low, high = t_interval(values)
                xs.append(x)
                means.append(mean)
                lows.append(low if math.isfinite(low) else mean)
                highs.append(high if math.isfinite(high) else mean)
            if xs:
                ax.plot(xs, means, marker="o", color=colour, label=group, linewidth=1.2)
                ax.fill_between(xs, lows, highs, color=colour, alpha=0.15)
        bound = first.get(f"{kpi.rpartition('.')[0]}.{'target_share' if kpi.endswith('share_within') else 'max_utilisation'}")
        if share and isinstance(bound, (int, float)):
            ax.axhline(bound, color="#cf222e", linestyle="--", linewidth=1, label="target")
        ax.set_title(kpi.removeprefix("deadlines.").removeprefix("pools."), fontsize=8.5)
        ax.set_xlabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=all(x.is_integer() for ps in groups.values() for x, _ in ps)))
        if share:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        else:
            ax.set_ylabel("EUR per year")
    axes[0].legend(fontsize=7)
    caption = (f"Each target's KPI and the staff cost against the swept {label}: mean over replications and, "
               "shaded, its 95 % t confidence interval; the dashed line is the target.")
    return fig, caption


PRESSURE_TOP = 12  # pools of a split pool shown in its pressure table and figure


def pressure_figure(study: Study, split: str) -> tuple[Figure, str]:
    """The pools of a split pool under most pressure: utilisation, backlog at its peak and at the end,
    share within the split's deadline, side by side, one row per value."""
    rows = measures.split_pressure(study.base, split)[:PRESSURE_TOP]
    deadline = measures.split_deadline(study.base.cfg, split)
    fig = Figure(figsize=(WIDTH, 1.0 + 0.26 * len(rows)), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    y = np.arange(len(rows))
    labels = [f"{r.value} ({r.headcount})" for r in rows]
    axes[0].barh(y, [r.utilisation for r in rows], color=COLOURS[0])
    limits = {r.max_utilisation for r in rows if r.max_utilisation is not None}
    for limit in limits:
        axes[0].axvline(limit, color="#222222", linestyle="--", linewidth=0.8)
    axes[0].set_xlim(0, 1.05)
    axes[0].xaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].set_xlabel("utilisation")
    axes[1].barh(y - 0.2, [r.peak_backlog for r in rows], height=0.4, color=COLOURS[1], label="peak")
    axes[1].barh(y + 0.2, [r.end_backlog for r in rows], height=0.4, color=COLOURS[2], label="at end")
    axes[1].set_xlabel("waiting")
    axes[1].legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize=7.5)
    axes[2].barh(y, [r.share_within for r in rows], color=COLOURS[3])
    target = study.base.cfg.deadlines[deadline].share if deadline else None
    if target is not None:
        axes[2].axvline(target, color="#222222", linestyle="--", linewidth=0.8)
    axes[2].set_xlim(0, 1.05)
    axes[2].xaxis.set_major_formatter(PercentFormatter(1.0))
    axes[2].set_xlabel(f"within {deadline}" if deadline else "no deadline by this attribute")
    axes[0].set_yticks(y, labels)
    axes[0].invert_yaxis()
    s = study.base.cfg.splits[split]
    caption = (f"The pools of {split} (one per {s.by}, headcount in brackets) under most pressure, at most "
               f"{PRESSURE_TOP} of {len(s.pools)}: sorted by utilisation, then by the backlog at the end; dashed lines: "
               "the utilisation ceiling and the deadline's target share. Means over the replications of "
               f"{study.baseline}.")
    return fig, caption


def split_members(study: Study, keep: int = 3) -> set[str]:
    """Pools and stages of split pools left out of the per-pool and per-stage figures: all but the
    ``keep`` pools of each split under most pressure (the pressure figure shows them all side by side)."""
    cfg = study.base.cfg
    out: set[str] = set()
    for name, s in cfg.splits.items():
        for r in measures.split_pressure(study.base, name)[keep:]:
            out.add(r.pool)
            out |= {copies[r.value] for copies in s.stages.values() if r.value in copies}
    return out


def render_all(study: Study, folder: Path, compliance_rows: list) -> list[Rendered]:
    """Draw every figure the data allows, save them under ``folder``, return them in report order."""
    out: list[Rendered] = []

    def add(name: str, title: str, made: tuple[Figure, str]) -> None:
        fig, caption = made
        out.append(Rendered(name, title, caption, save(fig, folder, name)))

    with style():
        if compliance_rows:
            add("compliance", "Deadline compliance per variant",
                deadlinefigures.compliance_figure(study, compliance_rows))
        to_target = deadlinefigures.time_to_target_figure(study)  # from the KPIs: any record level, experiments too
        if to_target is not None:
            add("time_to_targets", "Time to each deadline's end point against its targets", to_target)
        for split in study.base.cfg.splits:  # from the KPIs: experiment records draw it too
            add(f"pressure_{split}", f"The pools of {split} under most pressure", pressure_figure(study, split))
        spent = deadlinefigures.time_by_stage_figure(study)
        if spent is not None:
            add("time_by_stage", "Where the time goes", spent)
        add("process", "The process", process_figure(study))  # from the config alone
        curve = staffing_curve_figure(study)
        if curve is not None:
            add("staffing_curve", "The staffing curve: targets and cost against the swept value", curve)
        if shown(study):
            add("backlog", "Backlog per stage over time", backlog_figure(study))
            chosen = measures.distribution_deadline(study.base.cfg)
            if chosen and any(v.has_entities for v in shown(study)):
                name, deadline = chosen
                by = f" by {deadline.by[0]}" if deadline.by else ""
                add("time_to_target", f"Time to {deadline.end.split('.')[0]}{by} ({name}), by group",
                    deadlinefigures.deadline_figure(study, name, deadline))
            if study.base.cfg.databases:
                add("databases", "Databases over time", database_figure(study))
            budget = budget_figure(study)
            if budget is not None:
                add("budget", "Staff cost per year against the budget", budget)
            if study.base.cfg.pools:
                add("utilisation", "Staff utilisation per pool over time", utilisation_figure(study))
                add("staffing", "On-duty and busy staff per pool", staffing_figure(study))
    return out
