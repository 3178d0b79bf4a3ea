"""The event log: the columns process-mining tools read, one start and one complete per visit, and pm4py.

- ``events.csv`` has the five standard columns; each started visit gives a start event and each
  finished visit a complete event, at the config's start date plus the simulated hours, with the
  stage's pool (or ``system``) as resource.
- pm4py reads the CSV and the XES and discovers the same directly-follows graph, which holds the EU
  Centre pipeline in order: intake -> indicator matching -> relevance review or fast path ->
  jurisdiction -> forwarding -> national intake, and never the reverse.
- Streaming in several passes over the visits gives the same bytes as one pass; ``--max-cases``
  keeps the first N cases.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from routing_sim import logs
from routing_sim.cli import app
from routing_sim.report.eventlog import CSV_COLUMNS, export_log
from tests.reporting import eu_short, need, run

PIPELINE = [("intake", "indicator_matching"), ("indicator_matching", "relevance_review"),
            ("indicator_matching", "fast_path"), ("relevance_review", "jurisdiction"), ("fast_path", "jurisdiction"),
            ("jurisdiction", "forwarding"), ("forwarding", "national_intake")]


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


@pytest.fixture(scope="module")
def eu_log(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("eulog")
    folder = run(eu_short(base, days=2), base / "results")
    export_log(folder)
    return folder


def test_csv_has_the_standard_columns_and_an_event_per_visit_start_and_end(eu_log: Path):
    with open(eu_log / "events.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    visits = pq.read_table(eu_log / "visits.parquet")
    start, end = visits.column("start").to_numpy(), visits.column("end").to_numpy()
    assert sum(r["lifecycle:transition"] == "start" for r in rows) == int((~np.isnan(start)).sum())
    assert sum(r["lifecycle:transition"] == "complete" for r in rows) == int((~np.isnan(end)).sum())
    resources = {r["concept:name"]: r["org:resource"] for r in rows}
    assert resources["relevance_review"] == "reviewers" and resources["national_intake"].startswith("national_authorities_")
    assert resources["intake"] == "system"
    first = dt.datetime.fromisoformat(rows[0]["time:timestamp"])
    assert first.tzinfo is not None and first.date() == dt.date(2019, 1, 1)
    case0 = [r for r in rows if r["case:concept:name"] == rows[0]["case:concept:name"]]
    stamps = [dt.datetime.fromisoformat(r["time:timestamp"]) for r in case0]
    assert stamps == sorted(stamps) and case0[0]["lifecycle:transition"] == "start"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Install the optional requirement:UserWarning")
def test_pm4py_reads_csv_and_xes_and_finds_the_pipeline_in_order(eu_log: Path):
    pm4py = need("pm4py")
    import pandas as pd

    frame = pd.read_csv(eu_log / "events.csv", dtype={"case:concept:name": str})
    frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"], format="ISO8601")
    frame = pm4py.format_dataframe(frame, case_id="case:concept:name", activity_key="concept:name",
                                   timestamp_key="time:timestamp")
    xes = pm4py.read_xes(str(eu_log / "events.xes"), show_progress_bar=False)
    assert set(CSV_COLUMNS[:5]) <= set(xes.columns) and xes["case:concept:name"].nunique() == \
        frame["case:concept:name"].nunique()
    graphs = []
    for log in (frame, xes):
        completes = log[log["lifecycle:transition"] == "complete"]
        dfg, starts, _ = pm4py.discover_dfg(completes)
        graphs.append(dfg)
        for edge in PIPELINE:
            assert dfg.get(edge, 0) > 0, edge
            assert dfg.get(edge[::-1], 0) == 0, edge[::-1]
        assert "intake" in starts
    assert graphs[0] == graphs[1]


def test_several_passes_give_the_same_bytes_and_max_cases_keeps_the_first(eu_log: Path, tmp_path: Path):
    one_pass = {name: (eu_log / name).read_bytes() for name in ("events.csv", "events.xes")}
    export_log(eu_log, per_pass=97)
    for name, data in one_pass.items():
        assert (eu_log / name).read_bytes() == data, name
    result = CliRunner().invoke(app, ["export-log", str(eu_log), "--max-cases", "25", "--formats", "csv"])
    assert result.exit_code == 0, result.output
    cases = {int(r["case:concept:name"]) for r in csv.DictReader(io.StringIO((eu_log / "events.csv").read_text()))}
    ids = np.sort(pq.read_table(eu_log / "entities.parquet", columns=["entity"]).column(0).to_numpy())
    assert cases <= set(ids[:25].tolist()) and len(cases) >= 20
    export_log(eu_log)  # leave the full log for the other tests


def test_export_log_refuses_a_folder_that_is_not_a_run(tmp_path: Path):
    result = CliRunner().invoke(app, ["export-log", str(tmp_path)])
    assert result.exit_code == 2 and "not a complete run folder" in result.output
    result = CliRunner().invoke(app, ["export-log", str(tmp_path), "--formats", "pdf"])
    assert result.exit_code == 2
