"""The HTML report: every section and figure, byte-stable, offline, from runs, replications and experiments.

- A run folder of the EU Centre config gives a report with every section, the KPI table, every figure
  inline (base64 PNG) and saved as PNG and SVG, the assumptions with their source comments, the
  process diagram and the STRESS-DES items.
- Generating again (here, or on a copy of the folder elsewhere) gives the same bytes: HTML and figures.
- Nothing in the page is fetched: no script, no external URL.
- A folder of several runs is read as variants and replications: 95 % intervals, paired differences,
  the fan chart; an experiment folder gives the intervals without the figures that need tables.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from routing_sim import logs
from routing_sim.cli import app
from routing_sim.report import write_report
from routing_sim.report.comments import assumptions, split_comment
from routing_sim.report.html import SECTIONS
from tests.reporting import eu_short, run, small

FIGURES = ("compliance", "time_to_targets", "time_by_stage", "pressure_national_authorities", "process", "backlog",
           "time_to_target", "databases", "utilisation", "staffing")
STRESS_ITEMS = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5.1", "2.5.2", "2.5.3", "2.5.4", "2.5.5",
                "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2", "5.3", "5.4", "6.1")


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


@pytest.fixture(scope="module")
def eu_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("eu")
    folder = run(eu_short(base), base / "results")
    write_report(folder)
    return folder


@pytest.mark.slow
def test_report_has_every_section_figure_and_table(eu_run: Path):
    html = (eu_run / "report.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    for name in FIGURES:
        assert re.search(rf'<figure id="fig-{name}" class="report-figure"><img alt="[^"]+" '
                         rf'src="data:image/png;base64,[A-Za-z0-9+/=]{{1000,}}">', html), name
        assert (eu_run / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (eu_run / "figures" / f"{name}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    for table in ("kpi-table", "configs-table", "deadline-table", "pool-table", "conservation-table",
                  "process-table", "assumptions-table", "stress-table"):
        assert f'id="{table}"' in html, table
    assert "Time to forwarding by urgency (forwarded_by_priority)" in html
    assert "Confidence intervals need replications" in html
    for item in STRESS_ITEMS:
        assert f"<td>{item}</td>" in html, item
    assert "flowchart LR" in html and "s_indicator_matching --&gt;|&quot;report_type=known_material&quot;| " \
                                       "s_fast_path" in html


def test_assumptions_pair_values_with_their_source_comments(eu_run: Path):
    html = (eu_run / "report.html").read_text(encoding="utf-8")
    row = re.search(r"<tr><td>sources\.dominant_provider\.rate</td><td>681500/year</td><td>([^<]*)</td>"
                    r"<td>eu-centre-2019\.yaml:\d+</td></tr>", html)
    assert row and "[S-COM607-2019-EU-REPORTS] (P)" in row.group(1)
    horizon = re.search(r"<tr><td>time\.horizon</td><td>3d</td><td>([^<]*)</td><td>eu-short\.yaml:4</td>", html)
    assert horizon and "short, so the tests stay fast" in horizon.group(1)
    assert "Notes in eu-centre-2019.yaml" in html and "Key assumptions" in html


@pytest.mark.slow
def test_regenerating_gives_the_same_bytes_even_elsewhere(eu_run: Path, tmp_path: Path):
    """The report of a copy of the run folder, in another place, is byte-identical (HTML and figures)."""
    first = {p.relative_to(eu_run): p.read_bytes() for p in [eu_run / "report.html", *(eu_run / "figures").iterdir()]}
    copy = tmp_path / "elsewhere" / eu_run.name
    shutil.copytree(eu_run, copy, ignore=shutil.ignore_patterns("report.html", "figures"))
    write_report(copy)
    assert len(first) == 1 + 2 * len(FIGURES)
    for rel, data in first.items():
        assert (copy / rel).read_bytes() == data, rel


def test_the_page_fetches_nothing(eu_run: Path):
    html = (eu_run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"https?://|//cdn|@import|url\(", html)
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(link.startswith(("data:", "#")) for link in links)


@pytest.mark.slow
def test_runs_of_two_configs_and_three_seeds_give_intervals_paired_differences_and_fans(tmp_path: Path):
    results = tmp_path / "results"
    for seed in (1, 2, 3):
        run(small(tmp_path), results, seed)
        run(small(tmp_path, "small-three-clerks", headcount=3), results, seed)
    write_report(results)
    html = (results / "report.html").read_text(encoding="utf-8")
    assert "<th>KPI / variant</th><th>value</th><th>difference against small</th>" in html
    table = html[html.index('id="kpi-table"'):]
    wait = table[table.index("<td>waiting at triage: mean</td>"):]
    rows = re.findall(r'<tr[^>]*><td><span class="variant">([^<]*)</span></td><td class="num">([^<]*)</td>'
                      r'<td class="num">([^<]*)</td></tr>', wait)[:2]
    assert [r[0] for r in rows] == ["small", "small-three-clerks"]
    assert "[" in rows[0][1] and "[" in rows[1][1] and rows[0][2] == "baseline"
    assert rows[1][2].startswith("-") and "[" in rows[1][2]  # more staff: a shorter wait, with a CI
    assert "median, 5-95 % of 3" in html or "5 to 95 % of replications" in html
    assert "Balanced in 6 of 6 runs" in html
    write_report(results, baseline="small-three-clerks")
    assert "<th>difference against small-three-clerks</th>" in (results / "report.html").read_text(encoding="utf-8")


def reported_experiment(tmp_path: Path, name: str, body: str, targets: bool = False) -> tuple[Path, str]:
    """Run the experiment ``name`` (its file's lines after ``name`` and ``base``) on the small config;
    return its results folder and the text of its report."""
    from routing_sim.experiments.runner import run_experiment

    small(tmp_path, targets=targets)
    (tmp_path / "exp.yaml").write_text(f"# A test experiment.\nname: {name}\nbase: small.yaml\n{body}", encoding="utf-8")
    run_experiment(tmp_path / "exp.yaml", tmp_path / "results")
    folder = tmp_path / "results" / name
    write_report(folder)
    return folder, (folder / "report.html").read_text(encoding="utf-8")


def test_an_experiment_folder_gives_intervals_without_table_figures(tmp_path: Path):
    _, html = reported_experiment(tmp_path, "staffing", "seed: 5\nvariants:\n  two: {}\n"
                                  "  three: {pools.clerks.headcount: 3}   # assumption: one more clerk\nreplications: 3\n")
    assert "routing-sim report: staffing" in html
    # variants as rows under each KPI: four columns however many variants
    assert "<th>KPI / variant</th><th>value</th><th>difference against two</th>" in html
    table = html[html.index('id="kpi-table"'):]
    table = table[:table.index("</table>")]
    assert table.count('<span class="variant">two</span>') == table.count('<span class="variant">three</span>') > 3
    assert 'id="fig-compliance"' in html and 'id="fig-backlog"' not in html
    assert "experiment task records hold KPIs only" in html
    assert "experiment.variants.three.pools.clerks.headcount" in html and "one more clerk" in html
    assert str(tmp_path) not in html  # files named by their folder and name, not the machine's path
    # every variant's groups side by side, not the first config's alone
    groups = html[html.index('id="deadline-table"'):]
    groups = groups[:groups.index("</table>")]
    assert "<th>deadline</th><th>group</th><th>target</th><th>two</th><th>three</th>" in groups
    assert re.search(r'<td class="num">[\d.]+ % · p90 [\d.]+ (min|h|d)</td><td class="num">[\d.]+ % · p90', groups)


def test_cli_report_writes_the_file_and_refuses_a_folder_without_runs(tmp_path: Path):
    folder = run(small(tmp_path, days=1), tmp_path / "results")
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report: {folder / 'report.html'}"
    assert (folder / "report.html").is_file() and (folder / "figures" / "backlog.svg").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["report", str(empty)])
    assert result.exit_code == 2 and "no complete run folder" in result.output


def test_comments_are_split_outside_quotes_and_follow_extends(tmp_path: Path):
    assert split_comment('  start: "09:00"   # office # hours') == ('  start: "09:00"   ', "office # hours")
    assert split_comment("  name: 'a #b'") == ("  name: 'a #b'", "")
    assert split_comment("  # only a comment") == ("  ", "only a comment")
    rows, headers = assumptions(small(tmp_path))
    by_path = {r.path: r for r in rows}
    assert by_path["pools.clerks.headcount"].comment == "assumption: two clerks on the desk"
    assert by_path["pools.clerks.headcount"].source_kind == "assumption"
    assert by_path["pools.clerks.cost_per_fte_year"].comment == ""
    assert headers[0][1] == "A small test process."


def test_deadline_times_from_marks_equal_those_from_visits(eu_run: Path, tmp_path: Path):
    """The report takes a deadline's times from the entity rows' marks; a folder written before
    entity rows carried marks gives the same times from its visits."""
    import numpy as np
    import pyarrow.parquet as pq

    from routing_sim.report import measures
    from routing_sim.report.load import load_study

    old = tmp_path / "old"
    shutil.copytree(eu_run, old)
    entities = pq.read_table(old / "entities.parquet")
    pq.write_table(entities.select([n for n in entities.column_names if not n.startswith("mark.")]),
                   old / "entities.parquet")
    manifest = json.loads((old / "manifest.json").read_text())
    manifest.pop("files")  # folders written before marks had no checksums either
    (old / "manifest.json").write_text(json.dumps(manifest))
    (new_variant,), (old_variant,) = load_study(eu_run).variants, load_study(old).variants
    compared = 0
    for name, deadline in new_variant.cfg.deadlines.items():
        a = measures.elapsed_by_group(new_variant.runs[0], new_variant.cfg, deadline)
        b = measures.elapsed_by_group(old_variant.runs[0], old_variant.cfg, deadline)
        assert a.keys() == b.keys(), name
        for group in a:
            assert np.array_equal(a[group], b[group]), (name, group)
            compared += a[group].size
    assert compared > 0


def test_an_interval_is_written_in_one_unit_and_only_where_the_runs_vary():
    from routing_sim.kpilabels import Estimate, fmt_estimate

    assert fmt_estimate(Estimate(3, -0.387, -3.5, 2.7), "hours", signed=True) == "-0.4 h [-3.5, +2.7]"
    assert fmt_estimate(Estimate(3, 0.2, 0.1, 0.3), "hours") == "12.0 min [6.0, 18.0]"
    assert fmt_estimate(Estimate(3, 4.17e6, 4.17e6, 4.17e6), "money") == "EUR 4,170,000"  # no variation
    assert fmt_estimate(Estimate(3, 2.0, -1.0, 5.0), "count") == "2 [0, 5]"  # a count is never negative
    assert fmt_estimate(Estimate(1, 0.936, math.nan, math.nan), "share") == "93.6 %"


def test_a_sweep_draws_the_staffing_curve_with_the_target_line(tmp_path: Path):
    """An experiment that sweeps a headcount gets the figure the sweep exists for: each targeted
    KPI and the staff cost against the swept value, with intervals and the target."""
    from routing_sim.report.figures import sweep_points

    folder, html = reported_experiment(tmp_path, "sweep", "seed: 5\nsweep: {pools.clerks.headcount: [1, 2, 3]}   "
                                       "# assumption: the levels to compare\nreplications: 3\n", targets=True)
    assert 'id="fig-staffing_curve"' in html and (folder / "figures" / "staffing_curve.svg").is_file()
    from routing_sim.report.load import load_study

    label, groups = sweep_points(load_study(folder))
    assert label == "headcount" and [x for x, _ in next(iter(groups.values()))] == [1.0, 2.0, 3.0]


def test_an_experiment_report_opens_with_the_experiments_own_question(tmp_path: Path):
    _, html = reported_experiment(tmp_path, "q", "seed: 5\nquestion: Does a third clerk pay for itself?\nvariants:\n"
                                  "  two: {}\n  three: {pools.clerks.headcount: 3}   # assumption: one more clerk\n"
                                  "replications: 2\n")
    first = html.index("Question: Does a third clerk pay for itself?")
    assert first < html.index("Question: Do two clerks hand cases over within 4 h?")
    assert "<summary>The base config&#x27;s question</summary>" in html or "<summary>The base config's question" in html


def test_the_answers_flag_a_bottleneck_that_moves(tmp_path: Path):
    """Two pools in series: with six police officers they bind (70 % against the clerks' 50 %); with
    nine the clerks do, and the report's answers say the bottleneck moved, from which pool."""
    from routing_sim.experiments.runner import run_experiment

    small(tmp_path)
    data = yaml.safe_load((tmp_path / "small.yaml").read_text(encoding="utf-8"))
    data["pools"]["police"] = {"headcount": 6, "calendar": {"type": "always"}, "cost_per_fte_year": 60000}
    data["stages"]["handover"]["pool"] = "police"
    (tmp_path / "small.yaml").write_text("# Two pools in series.\n" + yaml.safe_dump(data, sort_keys=False),
                                         encoding="utf-8")
    (tmp_path / "exp.yaml").write_text("# A test experiment.\nname: moves\nbase: small.yaml\nseed: 5\nvariants:\n"
                                       "  six: {}\n  nine: {pools.police.headcount: 9}   # assumption: three more\n"
                                       "replications: 2\n", encoding="utf-8")
    run_experiment(tmp_path / "exp.yaml", tmp_path / "results")
    html = write_report(tmp_path / "results" / "moves").read_text(encoding="utf-8")
    answers = html[html.index('id="answers-table"'):]
    row = answers[answers.index("the pool that binds"):answers.index("</tr>", answers.index("the pool that binds"))]
    assert re.findall(r"<th>(.*?)</th>", answers[:answers.index("</thead>")]) == ["target", "required", "six", "nine"]
    required, six, nine = re.findall(r"<td>(.*?)</td>", row)  # after the label's cell
    assert required == "" and six.startswith("police (") and "moved" not in six
    assert nine.startswith("clerks (") and 'class="verdict missed">moved</span>' in nine and "(from police)" in nine
