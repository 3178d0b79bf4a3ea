"""The shipped EU Centre config: it validates, and a short run respects the
process's own causality (nothing forwarded that was not reviewed or matched; no
complaint without a removal). That every number is sourced is checked in
tests/test_sources.py."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

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

    reports = {n: parse_rate(s.rate) * 8760 for n, s in cfg.sources.items() if s.kind == "report"}
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
    codes = short_run.codes
    ents = short_run.entities.to_pydict()
    v = short_run.visits.to_pydict()
    removal = codes.stages.index("provider_removal")
    removed_at = {e: end for e, s, end in zip(v["entity"], v["stage"], v["end"], strict=True) if s == removal and end == end}
    kind = {e: k for e, k in zip(ents["entity"], ents["kind"], strict=True)}
    complaints = [(e, p, c) for e, k, p, c in zip(ents["entity"], ents["kind"], ents["parent"], ents["created"], strict=True)
                  if k == codes.kinds.index("complaint")]
    assert complaints, "a 21-day run should already produce complaints"
    for _entity, parent, created in complaints:
        assert kind[parent] == codes.kinds.index("takedown")
        assert parent in removed_at and removed_at[parent] <= created
