"""Shared fixtures: a small valid config as a dict, and a helper to write YAML files; the kind of
each test as a marker (``make check`` runs the quick kinds)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

BASE: dict[str, Any] = {
    "name": "small",
    "seed": 7,
    "time": {"start": "2024-01-01", "horizon": "2d", "timeseries_step": "1h"},
    "attributes": {"urgency": ["high", "low"], "verdict": ["accept", "reject"]},
    "kinds": {
        "case": {
            "attributes": {
                "urgency": {"p": {"high": 0.2, "low": 0.8}},
                "verdict": {"decided": True},
            }
        }
    },
    "sources": {"inbox": {"kind": "case", "rate": "6/h", "to": "triage"}},
    "pools": {"clerks": {"headcount": 2, "calendar": {"type": "always"}, "cost_per_fte_year": 50000}},
    "stages": {
        "triage": {
            "pool": "clerks",
            "service": {"dist": "exponential", "mean": "10min"},
            "priority": [{"urgency": "high"}],
            "decide": [{"set": "verdict", "cases": [{"p": {"accept": 0.7, "reject": 0.3}}]}],
            "next": [{"when": {"verdict": "accept"}, "to": "handover"}, {"to": "rejected"}],
        },
        "handover": {"service": {"dist": "fixed", "value": "1h"}, "next": [{"to": "accepted"}]},
    },
    "outcomes": {"accepted": "handed over", "rejected": "closed"},
    "deadlines": {
        "handover_within_4h": {"kind": "case", "from": "arrival", "to": "handover.end", "within": "4h"}
    },
}


@pytest.fixture
def base_config() -> dict[str, Any]:
    return copy.deepcopy(BASE)


@pytest.fixture
def write_yaml(tmp_path: Path):
    def write(data: Any, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


KIND_OF_MODULE = {"test_validation": "validation", "test_queueing": "validation", "test_report_browser": "browser"}
"""Modules whose every test is of one kind; elsewhere a hypothesis test is a property test and
any other a unit test."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if getattr(item, "module", None) else ""
        function = getattr(item, "function", None)
        kind = KIND_OF_MODULE.get(module) or (
            "property" if getattr(function, "is_hypothesis_test", False) else "unit")
        item.add_marker(kind)
