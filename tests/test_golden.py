"""The golden run: the EU baseline's first 14 days give exactly the committed KPIs.

A change that moves any figure, even by 2 % everywhere, fails here. A deliberate change
regenerates the file with ``make golden`` (which prints what moved) and commits it.
"""

from __future__ import annotations

import json

from tests.golden.regenerate import KPIS, differences, golden_kpis


def test_the_golden_run_gives_the_committed_kpis_exactly():
    moved = differences(json.loads(KPIS.read_text(encoding="utf-8")), golden_kpis())
    assert not moved, (f"{len(moved)} figure(s) moved from {KPIS.name} (after a deliberate change: make golden):\n"
                       + "\n".join(moved[:30]))


def test_the_comparison_sees_a_small_shift():
    old = {"a": {"p50_h": 1.0, "n": 3}, "b": None}
    assert differences(old, {"a": {"p50_h": 1.02, "n": 3}, "b": None}) == ["/a/p50_h: 1.0 -> 1.02 (+0.02 relative)"]
    assert differences(old, {"a": {"p50_h": 1.0, "n": 3.0}, "b": None}) == ["/a/n: 3 -> 3.0"]
    assert differences(old, old) == []
