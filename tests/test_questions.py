"""An experiment's questions: the file lists them, the report answers them first, in order, in sentences.

- Each variant's sentence gives the mean and interval of summary.json (the statistics of `compare`),
  the paired difference against the comparison variant and the target's verdict; a variant whose
  config lacks the KPI says so in words.
- A question naming an unknown KPI or variant is one line naming the file and the field (exit 2);
  a KPI that only a variant from another config (``bases:``) produces is accepted.
- The sentences' numbers are the report's own formatting, in one unit, with the direction in words.
"""

from __future__ import annotations

import json
import math
import re
from html import escape, unescape
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from routing_sim import logs
from routing_sim.cli import app
from routing_sim.report.kpitables import Estimate, say_difference, say_estimate

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "configs" / "textbook" / "mmc.yaml"
MM1 = ROOT / "configs" / "textbook" / "mm1.yaml"
CEILING = {"pools.servers.max_utilisation": 0.7}

QUESTIONS = [
    {"ask": "How busy are the servers with a fourth one?", "kpi": "pools.servers.utilisation",
     "says": "of the servers' time busy", "variants": ["four", "single"]},
    {"ask": "How long do jobs wait?", "kpi": "stages.service.wait.mean_h", "against": "four"},
    {"ask": "Is the single server busy?", "kpi": "pools.server.utilisation"},  # only the mm1 variant has it
]


@pytest.fixture(autouse=True)
def quiet_logs():
    logs.configure("warning")


def spec(**changes) -> dict:
    data = {"name": "mmc-questions", "base": str(MMC), "bases": {"single": str(MM1)}, "seed": 3,
            "overrides": {"time.horizon": "2d"},
            "variants": {"three": dict(CEILING), "four": {"pools.servers.headcount": 4, **CEILING}, "single": {}},
            "replications": 3, "questions": QUESTIONS}
    data.update(changes)
    return data


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_line_error(tmp_path: Path, data: dict | str) -> str:
    path = write(tmp_path, data)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "results")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:"), result.output
    return lines[0]


def items(html: str, number: int) -> list[str]:
    """The sentences answering question ``number`` (1-based), tags stripped."""
    section = html[html.index('<section id="questions">'):]
    section = section[:section.index("</section>")]
    answers = re.findall(r'<ul class="answers">(.*?)</ul>', section, re.S)[number - 1]
    return [unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li>(.*?)</li>", answers, re.S)]


def pct(x: float) -> str:
    return f"{x * 100:.1f}"


def test_the_report_answers_the_questions_in_order_with_the_summarys_numbers(tmp_path: Path):
    path = write(tmp_path, spec())
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "results"), "-q"]).exit_code == 0
    folder = tmp_path / "results" / "mmc-questions"
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    html = (folder / "report.html").read_text(encoding="utf-8")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["variants"]

    # first, and in the file's order; the generic verdicts follow as "Targets"
    starts = [html.index(f"<h3>{n}. {escape(q['ask'])}</h3>") for n, q in enumerate(QUESTIONS, start=1)]
    assert html.index('<section id="questions">') < starts[0] < starts[1] < starts[2] < html.index(
        '<section id="question">') < html.index('<section id="answers">')
    assert "<h2>Targets and the pool that binds</h2>" in html
    # each variant's own config file (``bases:``), shown relative to the working folder
    configs = html[html.index('id="configs-table"'):]
    configs = configs[:configs.index("</table>")]
    assert "<td>single</td><td>mm1</td><td>configs/textbook/mm1.yaml</td>" in configs
    assert "<td>four</td><td>mmc</td><td>configs/textbook/mmc.yaml</td>" in configs

    # 1: the comparison (the baseline, three) first, then the variants asked about, in their order
    three, four, single = items(html, 1)
    kpi = "pools.servers.utilisation"
    for sentence, name in ((three, "three"), (four, "four")):
        s = summary[name]["kpis"][kpi]
        assert s["n"] == 3 and s["low"] < s["mean"] < s["high"]
        value = f"{pct(s['mean'])} % ({pct(s['low'])} to {pct(s['high'])} %) of the servers' time busy"
        assert sentence.startswith(f"{name}{' (the comparison)' if name == 'three' else ''}: {value}"), sentence
        assert sentence.endswith(f"; target <= 70 %: {s['verdict']}."), sentence
    d = summary["four"]["vs_baseline"][kpi]
    assert d["n"] == 3 and d["high"] < 0  # a fourth server: less busy in every pair, clearly
    assert f", {pct(-d['mean'])} points ({pct(-d['high'])} to {pct(-d['low'])}) less than three;" in four
    assert summary["three"]["kpis"][kpi]["verdict"] == "missed" and "missed" in three
    assert single == "single: its config (mm1) does not produce this KPI."

    # 2: against four: every other variant's difference is paired against it
    four, three, single = items(html, 2)
    kpi = "stages.service.wait.mean_h"
    for sentence, name in ((three, "three"), (single, "single")):
        s = summary[name]["kpis"][kpi]
        value = say_estimate(Estimate(s["n"], s["mean"], s["low"], s["high"]), "hours")
        assert sentence.startswith(f"{name}: {value}, ")
        diff = paired_difference(folder, name, "four", kpi)  # by replication, from the task records
        assert sentence.endswith(", " + say_difference(diff, "hours", "four") + "."), sentence
    assert four.startswith("four (the comparison): ") and "than" not in four
    assert " longer than four." in three  # three servers: longer waits than four
    # 3: a KPI of the mm1 variant only
    three, four, single = items(html, 3)
    assert three.startswith("three (the comparison): its config (mmc) does not produce this KPI")
    s = summary["single"]["kpis"]["pools.server.utilisation"]
    assert single == f"single: {pct(s['mean'])} % ({pct(s['low'])} to {pct(s['high'])} %)."


def paired_difference(folder: Path, name: str, against: str, kpi: str) -> Estimate:
    """The paired difference recomputed from the task records: variant minus comparison, by replication."""
    from routing_sim.stats import t_interval

    plan = json.loads((folder / "experiment.json").read_text(encoding="utf-8"))
    hashes = {v["name"]: v["config_hash"] for v in plan["variants"]}
    values: dict[str, dict[int, float]] = {name: {}, against: {}}
    for task in (folder / "tasks").glob("*.json"):
        record = json.loads(task.read_text(encoding="utf-8"))
        for variant in values:
            if record.get("config_hash") == hashes[variant]:
                values[variant][record["replication"]] = record["kpis"][kpi]
    diffs = [values[name][r] - values[against][r] for r in sorted(values[name])]
    assert len(diffs) == 3
    return Estimate(3, *t_interval(diffs))


def test_a_bad_question_is_one_line_naming_the_file_and_field(tmp_path: Path):
    line = one_line_error(tmp_path, spec(questions=[{"ask": "How busy?", "kpi": "pools.servers.utilisaton"}]))
    assert "questions.0.kpi: unknown KPI 'pools.servers.utilisaton'" in line and "'pools.servers.utilisation'" in line
    line = one_line_error(tmp_path, spec(questions=[QUESTIONS[0], {"ask": "?", "kpi": "pools.servers.utilisation",
                                                                  "variants": ["five"]}]))
    assert "questions.1.variants.0: no variant named 'five'" in line
    line = one_line_error(tmp_path, spec(questions=[{"ask": "?", "kpi": "pools.servers.utilisation",
                                                    "against": "nobody"}]))
    assert "questions.0.against: no variant named 'nobody'" in line
    line = one_line_error(tmp_path, spec(questions=[{"asks": "?", "ask": "?", "kpi": "pools.servers.utilisation"}]))
    assert "unknown field 'asks' (did you mean 'ask'?)" in line
    line = one_line_error(tmp_path, spec(questions=[{"ask": "?", "kpi": "pools.servers.utilisation",
                                                    "unit": "percent"}]))
    assert "questions.0.unit" in line


def test_sentences_write_one_unit_and_the_direction_in_words():
    assert say_estimate(Estimate(3, 0.842, 0.839, 0.845), "share") == "84.2 % (83.9 to 84.5 %)"
    assert say_estimate(Estimate(1, 0.842, math.nan, math.nan), "share") == "84.2 %"
    assert say_estimate(Estimate(3, 40.0, 30.0, 50.0), "hours") == "1.7 d (1.2 to 2.1 d)"  # one unit: days
    assert say_estimate(Estimate(0, math.nan, math.nan, math.nan), "count") == "-"
    assert (say_difference(Estimate(3, 0.121, 0.118, 0.124), "share", "today's route")
            == "12.1 points (11.8 to 12.4) more than today's route")
    assert say_difference(Estimate(3, -3.0, -4.0, -2.0), "hours", "A") == "3.0 h (2.0 to 4.0) shorter than A"
    assert say_difference(Estimate(3, -120.0, -150.0, -90.0), "count", "A") == "120 (90 to 150) fewer than A"
    assert (say_difference(Estimate(3, 2.0, 1.0, 3.0), "count", "A", ("more reports", "fewer reports"))
            == "2 (1 to 3) more reports than A")
    assert (say_difference(Estimate(3, 0.003, -0.002, 0.008), "share", "A")
            == "+0.3 points (-0.2 to +0.8) against A: no clear difference (the interval includes 0)")
    assert say_difference(Estimate(3, 0.0, 0.0, 0.0), "money", "A") == "the same as A in every replication"
    assert say_difference(Estimate(0, math.nan, math.nan, math.nan), "share", "A") == "no replication in common with A to pair"
    assert (say_difference(Estimate(3, 1.5e6, 1.2e6, 1.8e6), "money", "A")
            == "EUR 1,500,000 (EUR 1,200,000 to EUR 1,800,000) more than A")


def test_the_impact_assessment_asks_its_questions():
    from routing_sim.experiments.resolve import load_experiment

    exp = load_experiment(ROOT / "scenarios" / "impact-assessment.yaml")
    kpis = [q.kpi for q in exp.spec.questions]
    assert kpis[:2] == ["deadlines.at_police_within_3d.share_within", "deadlines.at_police_within_3d.p90_h"]
    assert "cost.staff_cost_per_year" in kpis and all(not q.variants and q.against is None for q in exp.spec.questions)
    assert all(k in exp.kpi_names for k in kpis)  # today's route (the baseline) has every one
