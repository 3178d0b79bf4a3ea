"""An experiment's own questions answered in sentences, in the order its file asks them.

Each question names a KPI; each variant it asks about gets one sentence: the mean over the
replications with its t-interval, the paired difference against the comparison variant (by
replication: common random numbers) with its interval, and the verdict where the KPI has a
target. The numbers are those of the headline table (:mod:`routing_sim.report.kpitables`), so the
sentences and the table never disagree.
"""

from __future__ import annotations

from typing import Any

from routing_sim import kpilabels
from routing_sim.report import kpitables
from routing_sim.report.page import esc, para, section
from routing_sim.report.study import Study, Variant


def questions(study: Study) -> str:
    """The "Questions and answers" section; empty when the experiment asks none."""
    if not study.questions:
        return ""
    parts = []
    for i, q in enumerate(study.questions, start=1):
        parts.append(f"<h3>{i}. {esc(q.ask)}</h3>")
        parts.append(para(f"KPI {q.kpi}; differences against {q.against or study.baseline}.", "note"))
        parts.append(f'<ul class="answers">{"".join(answer(study, q))}</ul>')
    note = ("Each answer gives the mean over the replications with its 95 % t confidence interval in "
            "brackets, and the difference against the comparison variant, paired by replication (common random "
            "numbers: replication r of every variant has the same seed) with its own interval. A target is met "
            "when the whole interval is on its right side, missed when it is all on the wrong side, uncertain "
            "when it straddles it. The headline table below holds the same numbers.")
    return section("questions", "Questions and answers", *parts, para(note, "note"))


def answer(study: Study, q: Any) -> list[str]:
    """The question's sentences as list items: the comparison variant first, then the others asked about."""
    by_name = {v.name: v for v in study.variants}
    against_name = q.against or study.baseline
    against = by_name.get(against_name)
    unit = q.unit or kpilabels.unit(q.kpi)
    row = kpitables.kpi_row(study, q.kpi, q.kpi, unit, against)
    words = tuple(q.direction) if q.direction else None
    says = f" {q.says}" if q.says else ""
    asked = [against_name] + [n for n in (q.variants or list(by_name)) if n != against_name]
    compared = against is not None and row.values[against.name].n > 0
    items = []
    for name in asked:
        v = by_name.get(name)
        head = f"<b>{esc(name)}</b>" + (" (the comparison)" if name == against_name else "")
        if v is None:
            items.append(f"<li>{head}: no finished replication, so no answer.</li>")
            continue
        e = row.values[name]
        if e.n == 0:
            items.append(f"<li>{head}: {esc(missing(v, q.kpi))}.</li>")
            continue
        text = kpitables.say_estimate(e, unit) + says
        if name != against_name and compared:
            text += ", " + kpitables.say_difference(row.diffs[name], unit, against_name, words)
        verdict = ""
        if name in row.verdicts:
            target, word = row.verdicts[name]
            verdict = (f"; target {esc(target)}: "
                       f'<span class="verdict {esc(word or "-")}">{esc(word or "no data")}</span>')
        items.append(f"<li>{head}: {esc(text)}{verdict}.</li>")
    return items


def missing(v: Variant, kpi: str) -> str:
    """Why a variant has no value of a KPI, in words."""
    if not any(kpi in r.flat for r in v.runs):
        return f"its config ({v.cfg.name}) does not produce this KPI"
    return f"no value in any of its {len(v.runs)} replication(s): nothing was there to measure"
