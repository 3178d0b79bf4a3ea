"""The shipped EU Centre config: it validates, every number is sourced, and a
short run respects the process's own causality (nothing forwarded that was not
reviewed or matched; no complaint without a removal)."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from routing_sim.api import simulate_config
from routing_sim.loader import load_config, validate_data
from routing_sim.yamlio import read_yaml
from tests.conftest import CONFIGS

SHIPPED = sorted(CONFIGS.rglob("*.yaml"))
NUMBER = re.compile(r"(?<![A-Za-z_])[0-9]+(\.[0-9]+)?")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_configs_validate(path):
    load_config(path)


SOURCE_WORDS = ("assumption", "reference-data", "(p)", "(s)", "(d)", "d:")
PROSE = {"name", "description", "question", "extends"}


def _comment_near(lines: list[str], line_no: int) -> str:
    """The comment on a line plus the block of comment lines directly above it."""
    text = [lines[line_no - 1].split("#", 1)[1] if "#" in lines[line_no - 1] else ""]
    back = line_no - 2
    while back >= 0 and lines[back].strip().startswith("#"):
        text.append(lines[back])
        back -= 1
    return " ".join(text).lower()


def _numbers(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            if key not in PROSE:
                yield from _numbers(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _numbers(value, path + (i,))
    elif isinstance(data, (int, float)) and not isinstance(data, bool) or (
        isinstance(data, str) and NUMBER.search(data) and not re.fullmatch(r"[A-Za-z_]+[0-9_A-Za-z]*", data)
    ):
        yield path


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_number_in_a_shipped_config_cites_a_source_or_says_assumption(path):
    """Every numeric value has a comment, on its line, just above it, or on one of its two
    enclosing keys, that cites reference-data.md or a P/S/D source, or says 'assumption'."""
    data, lines_of = read_yaml(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    missing = []
    for where in _numbers(data):
        candidates = {lines_of[where[:k]] for k in range(len(where), max(len(where) - 3, 0), -1) if where[:k] in lines_of}
        if not any(any(w in _comment_near(lines, n) for w in SOURCE_WORDS) for n in candidates):
            missing.append(f"{path.name}:{lines_of.get(where)}: {'.'.join(map(str, where))}")
    assert not missing, "\n".join(missing[:20])


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
    final_decision = dict(zip(ents["entity"], ents["attr.decision"]))
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
    removed_at = {e: end for e, s, end in zip(v["entity"], v["stage"], v["end"]) if s == removal and end == end}
    kind = {e: k for e, k in zip(ents["entity"], ents["kind"])}
    complaints = [(e, p, c) for e, k, p, c in zip(ents["entity"], ents["kind"], ents["parent"], ents["created"])
                  if k == codes.kinds.index("complaint")]
    assert complaints, "a 21-day run should already produce complaints"
    for entity, parent, created in complaints:
        assert kind[parent] == codes.kinds.index("takedown")
        assert parent in removed_at and removed_at[parent] <= created
