"""The shipped EU Centre config: it validates, and a short run respects the
process's own causality (nothing forwarded that was not reviewed or matched; no
complaint without a removal). That every number is sourced is checked in
tests/test_sources.py."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from routing_sim.api import simulate_config
from routing_sim.loader import load_config, validate_data
from routing_sim.yamlio import read_yaml
from tests.conftest import CONFIGS

SHIPPED = sorted(CONFIGS.rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_configs_validate(path):
    load_config(path)


@pytest.fixture(scope="module")
def short_run():
    data, _ = read_yaml(CONFIGS / "eu-centre-2019.yaml")
    data["time"]["horizon"] = "21d"
    return simulate_config(validate_data(data), seed=11)


def test_eu_centre_volumes_and_provider_share():
    cfg = load_config(CONFIGS / "eu-centre-2019.yaml")
    from routing_sim.units import parse_rate

    # the 725,000 EU-related reports of 2019 came from providers and the public; hotline reports are extra
    reports = {n: parse_rate(s.rate) * 8760 for n, s in cfg.sources.items() if s.kind == "report" and n != "hotlines"}
    assert sum(reports.values()) == pytest.approx(725_000, rel=0.001)
    assert max(reports.values()) / sum(reports.values()) == pytest.approx(0.94, abs=0.005)


def test_eu_centre_conservation(short_run):
    for kind, row in short_run.kpis["conservation"].items():
        if kind != "pending_spawns":
            assert row["balanced"], (kind, row)


def test_nothing_forwarded_that_was_not_reviewed_or_matched(short_run):
    codes = short_run.codes
    v = short_run.visits.to_pydict()
    stage = {name: codes.stages.index(name) for name in ("relevance_review", "fast_path", "forwarding")}
    seen: dict[int, set[int]] = defaultdict(set)
    order = np.lexsort((np.array(v["enter"]), np.array(v["entity"])))
    forwarded = 0
    decision = codes.attr("decision")
    ents = short_run.entities.to_pydict()
    final_decision = dict(zip(ents["entity"], ents["attr.decision"], strict=True))
    for row in order:
        e, s = v["entity"][row], v["stage"][row]
        if s == stage["forwarding"]:
            forwarded += 1
            assert seen[e] & {stage["relevance_review"], stage["fast_path"]}, f"entity {e} forwarded unchecked"
            assert final_decision[e] == codes.value("decision", "forward")
        seen[e].add(s)
    assert forwarded > 1000
    assert decision >= 0


def test_no_complaint_without_a_removal(short_run):
    """A complaint about the Centre's notice comes after the removal it complains about; the others
    arrive from users, about a provider's own removal."""
    codes = short_run.codes
    ents = short_run.entities.to_pydict()
    v = short_run.visits.to_pydict()
    removal = codes.stages.index("removal_check")
    removed_at = {e: end for e, s, end in zip(v["entity"], v["stage"], v["end"], strict=True) if s == removal and end == end}
    kind = {e: k for e, k in zip(ents["entity"], ents["kind"], strict=True)}
    about = codes.attr("complaint_about")
    complaints = [(e, p, c, a) for e, k, p, c, a in zip(ents["entity"], ents["kind"], ents["parent"], ents["created"],
                                                        ents["attr.complaint_about"], strict=True)
                  if k == codes.kinds.index("complaint")]
    assert complaints, "a 21-day run should already produce complaints"
    spawned = 0
    for _entity, parent, created, topic in complaints:
        if parent < 0:
            assert topic == codes.value("complaint_about", "provider_removal")
            continue
        spawned += 1
        assert topic == codes.value("complaint_about", "centre_notice")
        assert kind[parent] == codes.kinds.index("takedown")
        assert parent in removed_at and removed_at[parent] <= created
    assert spawned and about >= 0


def eu_run(seed: int, days: int = 14):
    data, _ = read_yaml(CONFIGS / "eu-centre-2019.yaml")
    data["time"]["horizon"] = f"{days}d"
    return simulate_config(validate_data(data), seed=seed)


def visits_by_stage(run, column: str = "end") -> dict[str, dict[int, float]]:
    """Per stage, each entity's time there (``column``: enter or end; NaN: not yet at the horizon)."""
    v = run.visits.to_pydict()
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for e, s, t in zip(v["entity"], v["stage"], v[column], strict=True):
        out[run.codes.stages[s]][e] = t
    return out


@pytest.mark.slow
@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.generate))  # a run is too slow to shrink
@given(st.integers(0, 2**31))
def test_the_process_invariants_hold_for_any_seed(seed):
    """For any seed: (1) no report reaches a member state's authority without passing relevance
    (review or a match of known material) and being decided a forward; (2) every recall follows its
    forward; (3) Europol's load is the forwards plus the reports whose member state is unclear;
    (4) the indicator database grows only by the files of forwarded new material, published a week
    after the review, less its stated removals."""
    run = eu_run(seed)
    codes = run.codes
    at = visits_by_stage(run)
    entered = visits_by_stage(run, "enter")
    e = run.entities.to_pydict()
    decision = dict(zip(e["entity"], e["attr.decision"], strict=True))
    forward = codes.value("decision", "forward")
    intake = [s for s in codes.stages if s.startswith("national_intake")]
    reached = [x for s in intake for x in at[s]]
    assert len(reached) > 1000
    for x in reached:  # (1)
        assert x in at["relevance_review"] or x in at["fast_path"], f"report {x} reached a member state unchecked"
        assert decision[x] == forward
        assert at["forwarding"][x] <= min(entered[s].get(x, np.inf) for s in intake)
    parent = dict(zip(e["entity"], e["parent"], strict=True))
    created = dict(zip(e["entity"], e["created"], strict=True))
    outcome = dict(zip(e["entity"], e["outcome"], strict=True))
    recalls = {codes.outcomes.index("forward_recalled"), codes.outcomes.index("recalled_and_reinstated")}
    recalled = [x for x, o in outcome.items() if o in recalls]
    for x in recalled:  # (2)
        report = parent[x]
        assert decision[report] == forward and at["forwarding"][report] <= created[x]
    copies = [x for x, k in zip(e["entity"], e["kind"], strict=True) if k == codes.kinds.index("europol_copy")]
    forwards = [x for x, end in at["forwarding"].items() if end == end]
    assert sorted(parent[x] for x in copies) == sorted(forwards)  # (3): one copy per forward, none else
    assert sorted(at["europol_crosscheck"]) == sorted(copies)  # every copy is Europol's work, done or queued
    unclear = codes.value("member_state", "unclear")
    placed = [x for x, end in at["jurisdiction"].items() if end == end and x in at["europol_jurisdiction"]]
    assert placed and all(x in at["europol_jurisdiction"] for x in placed)
    assert all(decision[x] == forward for x in at["europol_jurisdiction"]) and unclear >= 0
    db = {d.name: d for d in run.summary.databases}["indicators"]  # (4)
    files = dict(zip(e["entity"], e["count.files"], strict=True))
    rtype = dict(zip(e["entity"], e["attr.report_type"], strict=True))
    confirmed = sum(files[x] for x, end in at["relevance_review"].items()
                    if end == end and rtype[x] == codes.value("report_type", "new_material") and decision[x] == forward)
    assert db.added + db.pending == confirmed > 0
    assert db.final == db.initial + db.added - db.removed


