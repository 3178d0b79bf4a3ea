"""The report shows the optimiser's and the sensitivity analysis's results when they exist."""

from __future__ import annotations

import json

import pytest

from routing_sim.report import write_report
from tests.reporting import run, small


@pytest.mark.slow
def test_report_shows_optimisation_and_sensitivity_when_present(tmp_path):
    folder = run(small(tmp_path), tmp_path / "results")
    html = write_report(folder).read_text(encoding="utf-8")
    assert 'id="optimise"' not in html and 'id="sensitivity"' not in html

    target = {"target": "stages.triage.wait.p90_h <= 0.5", "kpi": "stages.triage.wait.p90_h", "n": 5,
              "verdict": "pass", "mean": 0.31, "bound": 0.42}
    failing = {**target, "verdict": "fail", "mean": 0.9, "bound": 1.1}
    (folder.parent / "optimise.json").write_text(json.dumps({
        "pools": ["clerks"], "level": 0.95, "targets": [target["target"]],
        "variants": {"base": {"status": "optimum", "base_headcount": {"clerks": 2}, "base_cost": 100000.0,
                              "optimum": {"headcount": {"clerks": 3}, "cost": 150000.0, "n": 5, "targets": [target]},
                              "cheaper_failing": [{"headcount": {"clerks": 2}, "cost": 100000.0, "targets": [failing]}]}},
    }), encoding="utf-8")
    (folder.parent / "sensitivity.json").write_text(json.dumps({
        "kpi": "stages.triage.wait.p90_h",
        "one_at_a_time": {"base": 0.3, "rows": [{"param": "pools.clerks.headcount", "low": "1", "high": "4",
                                                  "kpi_at_low": 2.5, "kpi_at_high": 0.1, "swing": 2.4}]},
        "morris": {"rows": [{"param": "pools.clerks.headcount", "mu_star": 1.2, "mu": -1.2, "sigma": 0.4}]},
    }), encoding="utf-8")
    html = write_report(folder).read_text(encoding="utf-8")
    for marker in ('id="optimise"', 'id="optimise-table"', 'id="optimise-evidence"', "clerks 3", "cheaper, fails",
                   'id="sensitivity"', 'id="tornado-table"', 'id="morris-table"', "pools.clerks.headcount"):
        assert marker in html, marker
