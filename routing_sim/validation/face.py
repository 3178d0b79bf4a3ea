"""Face validity: the shipped EU configs' figures beside the published ones they should resemble.

Each row names a published figure (with its id in ``docs/sources.md``), the model's figure (a KPI
of a one-year run of the Centre baseline or of today's route) and why the two agree or differ.
The reasons are fixed text written for the figures as they stand; the numbers are recomputed
whenever ``docs/validation.md`` is regenerated, so a change to a config shows here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CENTRE = ROOT / "configs" / "eu-centre-2019.yaml"
TODAY = ROOT / "configs" / "eu-status-quo-2019.yaml"


@dataclass(frozen=True)
class Row:
    published: str
    source: str
    model: Callable[[dict[str, Any], dict[str, Any]], str]  # (Centre KPIs, today's-route KPIs) -> text
    why: str


def _share(x: float) -> str:
    return f"{x * 100:.1f} %"


def _deadline(k: dict[str, Any], name: str) -> dict[str, Any]:
    return k["deadlines"][name]


def _tally(k: dict[str, Any], name: str) -> dict[str, Any]:
    return k["tallies"][name]


ROWS = [
    Row("82 % of confirmed material reported to police within 3 days (INHOPE hotlines, 2023)",
        "`S-INHOPE-2023-POLICE-3D` (P)",
        lambda c, t: (f"Centre: {_share(_deadline(c, 'at_police_within_3d')['share_within'])} of reports taken in by the "
                      f"national authority within 3 days of receipt (`at_police_within_3d`; median "
                      f"{_deadline(c, 'at_police_within_3d')['p50_h']:.0f} h, p90 {_deadline(c, 'at_police_within_3d')['p90_h']:.0f} h); "
                      f"today's route: {_share(_deadline(t, 'at_police_within_3d')['share_within'])} (median "
                      f"{_deadline(t, 'at_police_within_3d')['p50_h']:.0f} h)"),
        "Not like for like. INHOPE's hotlines assess URLs by hand and route them through national hotlines; the "
        "Centre's reports are mostly hash matches forwarded within minutes, and what remains is the wait for the "
        "national intake's office hours (weekend arrivals wait until Monday). Today's route adds NCMEC's hand-off "
        "to Europol (about two days, an assumption) and the police's own relevance checks. The two runs bracket "
        "the published figure."),
    Row("median ~2.5 days from a hotline's receipt of a report to the removal (INHOPE, 2023)",
        "`S-INHOPE-2023-REMOVAL-MEDIAN` (S)",
        lambda c, t: (f"median {_deadline(c, 'takedown_within_3d')['p50_h']:.1f} h = "
                      f"{_deadline(c, 'takedown_within_3d')['p50_h'] / 24:.1f} days from the Centre's receipt to the "
                      "removal (`takedown_within_3d`, from origin)"),
        "The provider classes (a tenth within a day, most around 3 days, a tenth after two weeks or more) come from "
        "`S-C3P-REMOVAL-SPREAD` and `S-NCMEC-NOTICE-3D`; they were not fitted to this median."),
    Row("58 % removed within 3 days (INHOPE, 2018)", "`S-INHOPE-2018-REMOVAL` (S)",
        lambda c, t: (f"{_share(_deadline(c, 'takedown_within_3d')['share_within'])} within 3 days of receipt; "
                      f"{_share(_deadline(c, 'takedown_after_notice_3d')['share_within'])} within 3 days of the notice"),
        "The clock from receipt includes the Centre's review, forwarding and the notice's hour."),
    Row("~3 days on average from NCMEC's notice to the removal", "`S-NCMEC-NOTICE-3D` (S)",
        lambda c, t: (f"mean {_deadline(c, 'takedown_after_notice_3d')['mean_h'] / 24:.1f} days from the notice "
                      f"(`takedown_after_notice_3d`), median {_deadline(c, 'takedown_after_notice_3d')['p50_h'] / 24:.1f} days"),
        "The slowest tenth of providers (14 to 45 days, uniform, an assumption shaped by `S-C3P-REMOVAL-SPREAD`) adds "
        "about 3 days to the mean on its own; NCMEC's average covers its own provider mix and may leave refused "
        "notices out. The medians agree with the 2.5 days above: the gap is in the tail, which no source here pins "
        "down."),
    Row("NCMEC separates actionable referrals from informational reports", "`S-NCMEC-PRIORITY` (S)",
        lambda c, t: (f"the Centre forwards {_share(_tally(c, 'forwarded_share_all')['share'])} of the reports it "
                      "decides (`forwarded_share_all`)"),
        "Not comparable as a share: the Centre's bar is \"not manifestly unfounded\" (`S-EDPB-2022-FORWARDING`), "
        "which forwards informational reports too; NCMEC's split is about what police can act on. No EU split is "
        "published."),
    Row("~45 % of reports forwarded to police or child welfare (Cybertip.ca)", "`S-CYBERTIP-FORWARDED` (P)",
        lambda c, t: (f"{_share(_tally(c, 'forwarded_share_public')['share'])} of public reports forwarded "
                      f"(`forwarded_share_public`, 95 % interval {_share(_tally(c, 'forwarded_share_public')['share_low'])} "
                      f"to {_share(_tally(c, 'forwarded_share_public')['share_high'])})"),
        "Cybertip.ca's reports come mostly from the public, as the model's public channel does; the model's share "
        "follows from the 26-29 % confirmation rate of public reports (`S-IWF-2022-PUBLIC-CONFIRMED`) and the "
        "assumed 25 % of non-abuse reports forwarded as not manifestly unfounded."),
    Row("68-70 % of hotline reports confirmed illegal (IWF; INHOPE 69 %)", "`S-IWF-INHOPE-HOTLINE-CONFIRMED` (P)",
        lambda c, t: (f"the hotline reports' ground truth is this input (69 % abuse); the Centre forwards "
                      f"{_share(_tally(c, 'forwarded_share_hotline')['share'])} of them (`forwarded_share_hotline`)"),
        "The confirmation rate is an input, so it cannot validate the model; the forwarded share is higher than "
        "the confirmed share because the Centre's bar is lower than a hotline's confirmation, as the proposal "
        "intends."),
]


def face_validity(progress: Callable[[str], None] = lambda _: None, horizon: str | None = None) -> list[str]:
    """The markdown of the face-validity section: one-year runs of both configs (seed as shipped)."""
    from routing_sim.api import simulate_config
    from routing_sim.loader import load_config
    from routing_sim.model.common import Hours

    kpis = []
    for path in (CENTRE, TODAY):
        progress(path.stem)
        cfg = load_config(path)
        if horizon is not None:
            cfg = cfg.model_copy(update={"time": cfg.time.model_copy(update={"horizon": Hours(horizon)})})
        kpis.append(simulate_config(cfg).kpis)
    centre, today = kpis
    span = horizon or "one year"
    lines = [
        "## 5. Face validity: the shipped configs beside published figures",
        "",
        "The checks above show that the engine computes what a process says. This part asks whether the shipped "
        f"process says something recognisable: figures of a run of {span} of `configs/eu-centre-2019.yaml` and of "
        "today's route, `configs/eu-status-quo-2019.yaml` (seeds as shipped, replication 0, the executor `auto` "
        "chooses), set beside the published figures they should resemble, with the source's id in "
        "[sources.md](sources.md). Where they differ, the last column says why. Nothing was tuned to close a gap "
        "after it was seen: the configs' numbers are the ones their comments cite or state as assumptions.",
        "",
        "| published figure | source | model | agreement, and why it differs |",
        "|---|---|---|---|",
    ]
    for row in ROWS:
        lines.append(f"| {row.published} | {row.source} | {row.model(centre, today)} | {row.why} |")
    lines += [
        "",
        "What this does not show: the Centre's staff figures, minutes per report, complaint and audit rates have no "
        "published counterpart (see the end of [sources.md](sources.md)); they are assumptions, and the experiments "
        "and the optimiser are the tools to see how much the answers depend on them.",
        "",
    ]
    return lines
