"""The report's sections, in order, from a study, its parameters and its rendered figures."""

from __future__ import annotations

import math
from pathlib import Path

from routing_sim import __version__, kpilabels
from routing_sim.report import diagram, kpitables, measures, optimisation, questions
from routing_sim.report.comments import Parameter
from routing_sim.report.drawing import Rendered
from routing_sim.report.page import Markup, esc, figure, page, para, section, shown_path, table, verdict_markup
from routing_sim.report.stress import stress_rows
from routing_sim.report.study import Study

SECTIONS = ("question", "configs", "kpis", "compliance", "backlog", "time-to-target", "staff", "conservation",
            "process", "assumptions", "stress")


def render(study: Study, parameters: list[Parameter], headers: list[tuple[str, str]], figures: list[Rendered],
           config_notes: list[str]) -> str:
    figs = {f.name: figure(f.name, f.title, f.caption, f.png) for f in figures}
    by_name = {f.name: f for f in figures}
    missing = para("No tables in this results folder (experiment task records hold KPIs only): this figure "
                   "needs run folders.", "note")
    no_entities = para("These runs kept no entity rows (routing-sim run --records summary, the default): run "
                       "with --records entities for the curves by group (the curves of every deadline above need no rows).", "note")
    to_target_missing = no_entities if any(v.has_tables for v in study.variants) else missing
    cfg = study.base.cfg
    rows = kpitables.kpi_rows(study)  # the headline table and the answers judge the same estimates
    asked = questions.questions(study)
    parts = [
        *[("questions", "Questions and answers", asked) for _ in [0] if asked],
        ("question", "Question", question(study, headers)),
        *[("answers", "Targets" if asked else "Answers", a) for a in [answers(study, rows, bool(asked))] if a],
        *[("staffing-curve", "Staffing curve", section("staffing-curve", by_name["staffing_curve"].title,
                                                       figs["staffing_curve"]))
          for _ in [0] if "staffing_curve" in figs],
        *[("time-to-targets", "Time to targets", section("time-to-targets", by_name["time_to_targets"].title,
                                                         figs["time_to_targets"]))
          for _ in [0] if "time_to_targets" in figs],
        ("backlog", "Backlog", section("backlog", "Backlog per stage over time", figs.get("backlog", missing))),
        ("staff", "Staff", section("staff", "Staff utilisation and on-duty staff",
                                   figs.get("utilisation", missing if cfg.pools else
                                            para("The config has no staff pools.", "note")),
                                   figs.get("staffing", ""), pool_table(study))),
        ("configs", "Configs", configs(study)),
        ("kpis", "Headline KPIs", kpis(study, rows)),
        ("compliance", "Deadlines", section("compliance", "Deadline compliance", figs.get("compliance", ""),
                                           figs.get("time_by_stage", ""), deadline_table(study))),
        ("time-to-target", "Time to target",
         section("time-to-target", by_name["time_to_target"].title if "time_to_target" in by_name else
                 "Time to target", figs.get("time_to_target", to_target_missing if cfg.deadlines else
                                            para("The config defines no deadlines.", "note")))),
        *[("split-pools", "Split pools", section("split-pools", "Split pools: the pools under most pressure",
                                                 *[part for name in cfg.splits
                                                   for part in (pressure_table(study, name),
                                                                figs.get(f"pressure_{name}", ""))]))
          for _ in [0] if cfg.splits],
        *[("stores", "Stores", section("stores", "Databases, repeated reports and storage", *parts))
          for parts in [stores(study, figs.get("databases", ""))] if parts],
        *[("budget", "Budget", section("budget", "Staff cost per year against the budget", figs.get("budget", ""), b))
          for b in [budget_table(study)] if b],
        ("conservation", "Conservation", conservation(study)),
        *[(id, title, html) for id, title, html in (
            ("optimise", "Optimisation", optimisation.optimisation(study.folder)),
            ("sensitivity", "Sensitivity", optimisation.sensitivity(study.folder))) if html],
        ("process", "Process", process(study, figs.get("process", ""))),
        ("assumptions", "Assumptions", assumptions(parameters, config_notes)),
        ("stress", "STRESS-DES", section("stress", "STRESS-DES checklist", para(
            "Reporting checklist for discrete-event simulation studies (Monks et al. 2018), filled from the "
            "manifest and the config."), table(("item", "topic", "report"), stress_rows(study, parameters, headers),
                                               id="stress-table", css="wide"))),
    ]
    title = f"routing-sim report: {study.title or ', '.join(v.name for v in study.variants)}"
    subtitle = study.description or cfg.description or cfg.question or cfg.name
    footer = (f"Generated by routing-sim {__version__} from the results folder '{study.folder.name}' "
              f"({study.source}: {len(study.variants)} variant(s), {study.replications} replication(s) at most).")
    return page(title, subtitle, parts, footer)


def question(study: Study, headers: list[tuple[str, str]]) -> str:
    out = []
    if study.question or (study.source == "experiment" and study.description):
        out.append(para(f"Question: {study.question or '(none given)'}"))
        out.append(para(f"Experiment: {study.description or study.title}"))
    texts: dict[tuple[str, str], list[str]] = {}
    for v in study.variants:
        texts.setdefault((v.cfg.question, v.cfg.description), []).append(v.name)
    configs = []
    for (q, d), names in texts.items():
        if len(texts) > 1:
            configs.append(f"<h3>{esc(', '.join(names))}</h3>")
        configs.append(para(f"Question: {q or '(none given)'}"))
        if len(texts) > 1 or out or d != (study.description or study.base.cfg.description):  # else the page's subtitle
            configs.append(para(f"Description: {d or '(none given)'}"))
    if out:  # the experiment's own question first; its base config's folded away
        out.append("<details><summary>The base config's question</summary>" + "".join(configs) + "</details>")
    else:
        out += configs
    notes = "".join(f"<details><summary>Notes in {esc(Path(f).name)}</summary><pre>{esc(text)}</pre></details>"
                    for f, text in headers if text)
    return section("question", "Question", *out, notes, *(para(n, "note") for n in study.notes))


def answers(study: Study, rows: list[kpitables.KpiRow], after_questions: bool = False) -> str:
    """The targets' verdicts as a table, a row per target and a column per variant (at most six),
    with the split pools' copies in one row and the pool that binds in each variant: what the
    reader asks first (after the experiment's own questions, where it asks some)."""
    rows = [r for r in rows if r.verdicts]
    variants = study.variants[:6]
    copy_rows = {p: kpitables.kpi_row(study, f"pools.{p}.utilisation", p, "share")  # once, for every variant
                 for p in {p for v in variants for sp in v.cfg.splits.values() for p in sp.pools.values()}}
    body: list[list[object]] = []
    for r in rows:
        required = r.verdicts.get(study.base.name, next(iter(r.verdicts.values())))[0]
        line: list[object] = [r.label, required]
        for v in variants:
            if v.name not in r.verdicts:
                line.append("-")
                continue
            target, verdict = r.verdicts[v.name]
            text = kpilabels.fmt_estimate(r.values[v.name], r.unit)
            line.append(verdict_markup(text, verdict, "" if target == required else target))
        body.append(line)
    for split in dict.fromkeys(s for v in variants for s in v.cfg.splits):  # a split pool's copies in one row
        line = [f"utilisation of the pools of {kpilabels.words(split)}", "", *([""] * len(variants))]
        for j, v in enumerate(variants):
            sp = v.cfg.splits.get(split)
            judged = [(p, r.verdicts[v.name]) for p in (sp.pools.values() if sp else [])
                      for r in [copy_rows.get(p)] if r is not None and v.name in r.verdicts]
            if not judged:
                continue
            line[1] = line[1] or judged[0][1][0]
            off = [f"{p.removeprefix(split + '_')} {verdict or 'no data'}" for p, (_, verdict) in judged
                   if verdict != "met"]
            worst = "missed" if any(verdict == "missed" for _, (_, verdict) in judged) else "uncertain"
            line[2 + j] = (verdict_markup(f"all {len(judged)}", "met") if not off else
                           verdict_markup(f"{len(off)} of {len(judged)} not met:", worst, ", ".join(off)))
        body.append(line)
    binding: list[object] = [""] * len(variants)
    tops: dict[str, str] = {}
    for v in study.variants:
        pools = {p: e.mean for p in v.cfg.pools
                 for e in [kpitables.estimate(list(v.values(f"pools.{p}.utilisation").values()))] if e.n}
        if pools:
            tops[v.name] = max(pools, key=lambda p: pools[p])
            if v in variants:
                top = tops[v.name]
                binding[variants.index(v)] = f"{kpilabels.words(top)} ({pools[top] * 100:.1f} %)"
    base_top = tops.get(study.base.name)
    for j, v in enumerate(variants):  # the bottleneck moves: flagged where it is not the baseline's pool
        if base_top is not None and tops.get(v.name, base_top) != base_top:
            binding[j] = Markup(f'{esc(binding[j])} <span class="verdict missed">moved</span> '
                                f'<span class="note">(from {esc(kpilabels.words(base_top))})</span>')
    if any(binding):
        body.append(["the pool that binds (most utilised)", "", *binding])
    if not rows and not any(binding):
        return ""
    note = ("Targets come from the configs (a deadline's share, a pool's utilisation ceiling): met when the "
            "whole confidence interval is on the right side, missed when it is all on the wrong side, uncertain "
            "when it straddles the target; with one replication, the value alone decides.")
    if len(study.variants) > len(variants):
        note += f" The first {len(variants)} of {len(study.variants)} variants are shown; the tables below have all."
    title = "Targets and the pool that binds" if after_questions else "Answers"
    header = ["target", "required", *[v.name for v in variants]]
    return section("answers", title, table(header, body, id="answers-table"), para(note, "note"))


def configs(study: Study) -> str:
    rows = []
    for v in study.variants:
        m = v.runs[0].manifest
        rows.append((v.name + (" (baseline)" if v.name == study.baseline else ""), v.cfg.name,
                     shown_path(m.get("config_file")), (m.get("config_hash") or "-")[:12],
                     ", ".join(str(r.key[0]) + (f"/{r.key[1]}" if r.key[1] else "") for r in v.runs),
                     f"{v.cfg.time.horizon} from {v.cfg.time.start}"))
    return section("configs", "Configs compared",
                   table(("variant", "config name", "config file", "config hash", "seeds (replications)", "period"),
                         rows, id="configs-table"))


def kpis(study: Study, rows: list[kpitables.KpiRow]) -> str:
    """The headline KPIs: with one variant a row each; with several, a row per KPI and under it a
    row per variant (its estimate, its paired difference against the baseline, its target's
    verdict), so the table keeps four columns however many variants there are."""
    base = study.base
    others = [v for v in study.variants if v is not base]
    if study.replications > 1:
        note = ("Mean over replications with its 95 % t confidence interval in brackets; differences are paired "
                "by seed (common random numbers), with their own 95 % interval.")
    else:
        note = ("One replication per variant: the values are single realisations. Confidence intervals need "
                "replications: run the config with several seeds into one results folder (routing-sim run --seed N) "
                "or as an experiment, and report on that folder.")
    if others:
        note += (" A difference shows '-' where the variants have no seed in common to pair (or one replication "
                 "each: a single difference, no interval).")

    def value(r: kpitables.KpiRow, name: str) -> Markup:
        text = kpilabels.fmt_estimate(r.values[name], r.unit)
        target, verdict = r.verdicts.get(name, (None, None))
        return verdict_markup(text, verdict, target) if target else Markup(esc(text))

    if not others:
        body = [[r.label, value(r, base.name)] for r in rows]
        return section("kpis", "Headline KPIs", para(note, "note"),
                       table(["KPI", base.name], body, id="kpi-table", numeric=(1,)))
    body, classes = [], []
    for r in rows:
        body.append([r.label, "", ""])
        classes.append("group")
        for v in study.variants:
            diff = ("baseline" if v is base else
                    kpilabels.fmt_estimate(r.diffs[v.name], r.unit, signed=True))
            body.append([Markup(f'<span class="variant">{esc(v.name)}</span>'), value(r, v.name), diff])
            classes.append("")
    header = ["KPI / variant", "value", f"difference against {base.name}"]
    return section("kpis", "Headline KPIs", para(note, "note"),
                   table(header, body, id="kpi-table", numeric=(1, 2), row_class=classes))


def deadline_table(study: Study) -> str:
    """Every deadline and every group: with one variant, its first replication in full; with several,
    a column per variant (at most six) with the share within and the 90th percentile, means over its
    replications, so the groups of every config are side by side."""
    if len(study.variants) > 1:
        return _deadline_groups_by_variant(study)
    run = study.first_run
    rows = []
    for name, d in run.nested.get("deadlines", {}).items():
        groups = [("all", d)] + list(d.get("by", {}).items())
        for label, g in groups:
            rows.append((name if label == "all" else "", label, kpilabels.fmt_hours(d["target_h"]) if label == "all"
                         else "", f"{g['n']:,.0f}", kpilabels.fmt(g["share_within"], "share"),
                         kpilabels.fmt(g["p50_h"], "hours"), kpilabels.fmt(g["p90_h"], "hours"),
                         kpilabels.fmt(g["p99_h"], "hours"), f"{g['pending_overdue']:,.0f}"))
    if not rows:
        return para("The config defines no deadlines.", "note")
    return (para(f"Per deadline and every group, {study.baseline}, first replication (seed {run.key[0]}).", "note") +
            table(("deadline", "group", "target", "reached", "share within", "p50", "p90", "p99", "pending overdue"),
                  rows, id="deadline-table", numeric=(3, 4, 5, 6, 7, 8)))


def _deadline_groups_by_variant(study: Study) -> str:
    variants = study.variants[:6]
    keys: dict[tuple[str, str], float] = {}  # (deadline, group) -> target hours, in the order first seen
    for v in variants:
        for run in v.runs[:1]:
            for name, d in run.nested.get("deadlines", {}).items():
                keys.setdefault((name, "all"), float(d.get("target_h", math.nan)))
                for group in d.get("by", {}):
                    keys.setdefault((name, group), math.nan)
    rows = []
    for (name, group), target in keys.items():
        prefix = f"deadlines.{name}" + ("" if group == "all" else f".by.{group}")
        cells = []
        for v in variants:
            share = kpitables.estimate(list(v.values(f"{prefix}.share_within").values()))
            p90 = kpitables.estimate(list(v.values(f"{prefix}.p90_h").values()))
            cells.append("-" if not share.n else
                         f"{kpilabels.fmt(share.mean, 'share')} · p90 {kpilabels.fmt(p90.mean, 'hours')}")
        rows.append((name if group == "all" else "", group,
                     kpilabels.fmt_hours(target) if group == "all" else "", *cells))
    if not rows:
        return para("The configs define no deadlines.", "note")
    note = ("Per deadline and every group, each variant's share within the target and 90th percentile (means over "
            "its replications; '-': the variant's config has no such deadline or group). The headline table gives "
            "the intervals." + (f" The first {len(variants)} of {len(study.variants)} variants."
                                if len(study.variants) > len(variants) else ""))
    return para(note, "note") + table(("deadline", "group", "target", *[v.name for v in variants]), rows,
                                      id="deadline-table", numeric=range(3, 3 + len(variants)))


def pool_table(study: Study) -> str:
    run = study.first_run
    rows = [(name, f"{p['headcount']:,.0f}", f"{p['headcount_end']:,.0f}", f"{p['fte_years']:.2f}",
             kpilabels.fmt(p["utilisation"], "share"),
             kpilabels.fmt(p["staff_cost"], "money")) for name, p in run.nested.get("pools", {}).items()]
    return table(("pool", "headcount", "at end", "FTE-years", "utilisation", "staff cost"), rows, id="pool-table",
                 numeric=(1, 2, 3, 4, 5)) if rows else ""


def pressure_table(study: Study, split: str) -> str:
    """Every pool of one split pool, those under most pressure first, with the figures the pressure is judged by; ``split`` names the pool as the config wrote it."""
    s = study.base.cfg.splits[split]
    rows = measures.split_pressure(study.base, split)
    deadline = measures.split_deadline(study.base.cfg, split)
    shown = rows  # every pool: the figure draws the PRESSURE_TOP under most pressure
    body = [(r.value, r.pool, f"{r.headcount:,.0f}", kpilabels.fmt(r.utilisation, "share"),
             f"{r.peak_backlog:,.0f}", f"{r.end_backlog:,.0f}", kpilabels.fmt(r.share_within, "share"))
            for r in shown]
    over = [r for r in rows if r.max_utilisation is not None and r.utilisation > r.max_utilisation]
    note = (f"{split}, split by {s.by} into {len(rows)} pools, all of them "
            "(sorted by utilisation, then by the backlog at the end, then at its peak), means over the "
            f"replications of {study.baseline}. Backlog: waiting at the pool's stages "
            f"({', '.join(s.stages)}). Share within: {deadline or 'no deadline is broken down by ' + s.by}."
            + (f" Above the utilisation ceiling: {', '.join(r.value for r in over)}." if over else ""))
    return (f"<h3>{esc(split)}</h3>" + para(note, "note") +
            table((s.by, "pool", "headcount", "utilisation", "backlog at peak", "backlog at end", "share within"),
                  body, id=f"pressure-{split}", numeric=(2, 3, 4, 5, 6),
                  row_class=["bad" if r in over else "" for r in shown]))


def stores(study: Study, figure: str) -> list[str]:
    """What the run kept in its stores, for the baseline's first replication: each database (size,
    additions, removals, the share it drives), each content-key space (repeats found) and each
    retention rule (what is stored at its peak and at the end)."""
    run = study.first_run.nested
    parts: list[str] = []
    rows: list[tuple[str, ...]]
    dbs = run.get("databases") or {}
    if dbs:
        rows = [(name, f"{d['initial']:,.0f}", f"{d['added']:,.0f}", f"{d['removed']:,.0f}", f"{d['final']:,.0f}",
                 f"{d['not_yet_published']:,.0f}",
                 kpilabels.fmt(d.get("share_start", math.nan), "share"), kpilabels.fmt(d.get("share_end", math.nan), "share"))
                for name, d in dbs.items()]
        parts.append(para(f"Databases grown by the process ({study.baseline}, first replication): items at the start, "
                          "published additions and stated removals over the run, the size after the last "
                          "publication, additions still waiting for publication, and the share of arrivals the "
                          "database drives at the start and at the end.", "note"))
        parts.append(table(("database", "at the start", "added", "removed", "at the end", "not yet published",
                            "share driven, start", "end"), rows, id="database-table", numeric=range(1, 8)))
        parts.append(figure)
    keys = run.get("content_keys") or {}
    if keys:
        rows = [(name, f"{k['arrivals']:,.0f}", f"{k['repeats']:,.0f}", kpilabels.fmt(k.get("repeat_share", math.nan), "share"),
                 f"{k['items_seen']:,.0f}", f"{k['items']:,.0f}") for name, k in keys.items()]
        parts.append(para("Reports matched by content key: a repeat concerns an item an open case already concerns, "
                          "whichever route it came by.", "note"))
        parts.append(table(("key space", "reports", "repeats", "repeat share", "items seen", "items in circulation"),
                           rows, id="content-key-table", numeric=range(1, 6)))
    kept = run.get("retention") or {}
    if kept:
        rows = [(name, f"{r['peak_entities']:,.0f}", f"{r['peak_items']:,.0f}", f"{r['peak_mb'] / 1e6:,.2f} TB",
                 f"{r['end_entities']:,.0f}", f"{r['end_mb'] / 1e6:,.2f} TB") for name, r in kept.items()]
        parts.append(para("Data kept under each retention rule: the most stored at any time and what is stored at "
                          "the end of the run.", "note"))
        parts.append(table(("rule", "entities at peak", "items at peak", "storage at peak", "entities at end",
                            "storage at end"), rows, id="retention-table", numeric=range(1, 6)))
    return parts


def budget_table(study: Study) -> str:
    """Staff cost per pool and calendar year beside the budget's staff share for the same days
    (the baseline's first replication: staff cost follows the schedule, not the random draws)."""
    run = study.first_run
    path = run.nested.get("cost", {}).get("by_year") or {}
    if not isinstance(path, dict) or not path:
        return ""
    pools = [p for p in study.base.cfg.pools if any(row.get("staff_cost", {}).get(p) for row in path.values())]
    budgeted = any("budget_staff" in row for row in path.values())
    header = ["year", "share of the year", *pools, "staff cost", *(("staff budget", "used") if budgeted else ())]
    rows = []
    for year, row in path.items():
        cells = [year, kpilabels.fmt(row.get("share_of_year", math.nan), "share"),
                 *(kpilabels.fmt(row["staff_cost"].get(p, 0.0), "money") for p in pools),
                 kpilabels.fmt(row.get("staff_cost_total", math.nan), "money")]
        if budgeted:
            cells += [kpilabels.fmt(row.get("budget_staff", math.nan), "money"),
                      kpilabels.fmt(row.get("staff_share_of_staff_budget", math.nan), "share")]
        rows.append(cells)
    note = (f"Staff cost per calendar year of {study.baseline} (headcount and schedule x cost per FTE-year), "
            "beside the budget's staff share for the same days" if budgeted else
            f"Staff cost per calendar year of {study.baseline}; the config states no budget to set it against")
    return para(note + ".", "note") + table(header, rows, id="budget-table", numeric=range(1, len(header)))


def conservation(study: Study) -> str:
    run = study.first_run
    cons = run.nested.get("conservation", {})
    rows, classes = [], []
    for kind, c in cons.items():
        if not isinstance(c, dict):
            continue
        ok = _balanced(c)
        rows.append((kind, f"{c['created']:,.0f}", "; ".join(f"{k} {n:,.0f}" for k, n in c.get("finished", {}).items()),
                     "; ".join(f"{k} {n:,.0f}" for k, n in c.get("in_progress", {}).items()), "yes" if ok else "NO"))
        classes.append("" if ok else "bad")
    checked = [r for v in study.variants for r in v.runs]
    balanced = sum(all(_balanced(c) for c in r.nested.get("conservation", {}).values() if isinstance(c, dict))
                   for r in checked)
    summary = (f"Every entity created is in exactly one place at the end: finished with an outcome or in progress at "
               f"a stage. Shown: {study.baseline}, seed {run.key[0]}; spawns scheduled but not yet due at the "
               f"horizon: {cons.get('pending_spawns', 0):,.0f}. Balanced in {balanced} of {len(checked)} runs.")
    return section("conservation", "Conservation of entities", para(summary),
                   table(("kind", "created", "finished (by outcome)", "in progress (by stage)", "balanced"), rows,
                         id="conservation-table", row_class=classes))


def _balanced(c: dict) -> bool:
    """The stored flag; recomputed for experiment records, which keep numbers only."""
    if "balanced" in c:
        return bool(c["balanced"])
    accounted = sum(c.get("finished", {}).values()) + sum(c.get("in_progress", {}).values())
    return c.get("created") == accounted == c.get("rows", accounted)


def process(study: Study, figure: str = "") -> str:
    cfg = study.base.cfg
    return section("process", "Process diagram and logic", figure,
                   "<details><summary>The same process as Mermaid flowchart text (for a Mermaid viewer; dotted "
                   "edges are spawns of linked entities)</summary>"
                   f'<pre id="process-diagram">{esc(diagram.mermaid(cfg))}</pre></details>',
                   "<h3>Process logic</h3>",
                   table(("stage", "pool", "service time", "queue order", "next"), diagram.stage_rows(cfg),
                         id="process-table"))


def assumptions(parameters: list[Parameter], notes: list[str]) -> str:
    rows = [(p.path, p.value, p.comment or "-", f"{Path(p.file).name}:{p.line}" if p.line else Path(p.file).name)
            for p in parameters]
    classes = ["" if p.comment else "none" for p in parameters]
    intro = para("Every parameter of the config with its value and the comment that sources it (the comment on "
                 "its line, or the comment block above it, or that of an enclosing key). Rows without a comment are "
                 "mostly structure: names, routing targets and conditions.", "note")
    return section("assumptions", "Assumptions", intro, *(para(n, "note") for n in notes),
                   table(("parameter", "value", "source (comment in the config)", "set in"), rows,
                         id="assumptions-table", css="wide", row_class=classes) if rows else "")
