"""One table of KPI labels and units: every KPI a run writes gets words and a unit from its name,
and an estimate is written in one unit, as the terminal, compare and the report all write it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from routing_sim.jsonio import flatten
from routing_sim.kpilabels import UNITS, Estimate, fmt, fmt_estimate, label, unit

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden" / "eu-centre-14d.kpis.json"


def test_every_kpi_of_the_eu_run_has_words_and_a_unit():
    """No label falls back to the raw name (dots, or a config's identifiers with underscores), and
    the units follow the name: times in hours, shares, money, MB, counts."""
    flat = flatten(json.loads(GOLDEN.read_text(encoding="utf-8")))
    assert len(flat) > 1000
    for kpi in flat:
        text = label(kpi, flat)
        assert "." not in text.replace(" d", "").split(":")[0] and " / " not in text, (kpi, text)
        assert "_" not in text, (kpi, text)
        assert unit(kpi) in UNITS, kpi
    assert label("deadlines.forwarded_within_24h.share_within", flat) == "forwarded within 24h: share within 24 h"
    assert label("stages.relevance_review.wait.p90_h") == "waiting at relevance review: 90th percentile"
    assert label("pools.national_authorities_de.utilisation") == "utilisation of national authorities de"
    assert label("cost.by_year.2019.staff_cost.reviewers") == "staff cost of reviewers in 2019"
    expected = {"deadlines.forwarded_within_24h.p90_h": "hours", "deadlines.audit_within_30d.reached_within.3d": "share",
                "pools.reviewers.utilisation": "share", "pools.reviewers.staff_cost": "money",
                "cost.staff_cost_per_arrival": "money", "cost.arrivals_from_sources": "count",
                "retention.forwarded_reports.peak_mb": "MB", "stages.intake.arrival_rate_per_h": "per hour",
                "tallies.audit_error_rate_unfounded.share_low": "share", "databases.indicators.added": "count"}
    assert {k: unit(k) for k in expected} == expected


def test_an_estimate_is_written_in_the_unit_of_its_largest_number():
    assert fmt_estimate(Estimate(5, 0.2, 0.05, 3.0), "hours") == "0.2 h [0.1, 3.0]"  # not 12.0 min [3.0 min, 3.0 h]
    assert fmt_estimate(Estimate(5, 30.0, -20.0, 80.0), "hours", signed=True) == "+1.2 d [-0.8, +3.3]"
    assert fmt_estimate(Estimate(5, 0.026, 0.02, 0.03), "share", signed=True) == "+2.6 pp [+2.0, +3.0]"
    assert fmt_estimate(Estimate(5, 12.0, -3.0, 27.0), "MB") == "12 MB [0 MB, 27 MB]"  # never below zero
    assert fmt(math.nan, "share") == "-" and fmt(0.967, "share") == "96.7 %"
