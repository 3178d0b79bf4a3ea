"""The KPI step's building blocks give what the plain numpy calls give."""

from __future__ import annotations

import copy
import math
import re
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from routing_sim.kpis import columns as kpi_columns
from routing_sim.kpis.columns import Columns
from routing_sim.kpis.percentiles import Groups, Percentiles, sortable, unsortable

floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(hnp.arrays(np.float64, st.integers(0, 200), elements=floats))
def test_sortable_keys_sort_like_the_values_and_come_back(values):
    keys = sortable(values)
    assert np.array_equal(np.sort(values), unsortable(np.sort(keys)))
    assert np.array_equal(unsortable(keys), values + 0.0)  # -0.0 comes back as 0.0


def _value_groups(draw_kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if draw_kind == "exponential":
        return rng.exponential(2.0, n)
    if draw_kind == "zeros_and_waits":  # most entities do not wait
        return np.where(rng.random(n) < 0.7, 0.0, rng.exponential(1.0, n))
    if draw_kind == "fixed_with_rounding":  # a fixed 5 min computed as end - start
        t = rng.uniform(0, 9000, n)
        return (t + 5 / 60) - t
    if draw_kind == "few_values":
        return rng.choice([0.25, 1.0, 24.0], n)
    if draw_kind == "signed":
        return rng.normal(0.0, 3.0, n)
    if draw_kind == "wide":  # beyond both ends of the first pass's bins
        return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-15, 12, n)
    return np.full(n, 1.5)


kinds = st.sampled_from(["exponential", "zeros_and_waits", "fixed_with_rounding", "few_values", "signed", "wide", "constant"])


@given(st.lists(st.tuples(kinds, st.integers(0, 3000)), min_size=1, max_size=6), st.integers(0, 2**32 - 1),
       st.integers(1, 700), st.sampled_from([4, 64, 1 << 16]), st.sampled_from([2, 16, 4096]))
@settings(max_examples=80, deadline=None)
def test_percentiles_in_passes_are_numpy_percentile(groups, seed, chunk, collect, bins):
    """Whatever the values (ties, zeros, rounding noise, negatives), the chunking and the
    collection and bin sizes that force the histogram passes, each group's 50th, 90th and 99th
    percentiles are exactly ``numpy.percentile``'s."""
    values = [_value_groups(kind, n, seed + i) for i, (kind, n) in enumerate(groups)]
    group = np.concatenate([np.full(v.size, g) for g, v in enumerate(values)]).astype(np.int64)
    flat = np.concatenate(values)
    order = np.random.default_rng(seed).permutation(flat.size)
    group, flat = group[order], flat[order]

    def pieces(wanted=None):
        for lo in range(0, flat.size, chunk):
            yield group[lo:lo + chunk], flat[lo:lo + chunk]

    summary = Groups(len(values))
    for k, v in pieces():
        summary.add(k, v)
    finder = Percentiles(summary)
    finder.SPLIT, finder.BUDGET = bins, collect
    found = finder.run(pieces)
    totals = summary.totals()
    for g, v in enumerate(values):
        assert summary.counts[g] == v.size
        if v.size:
            assert found[g] == np.percentile(v, [50, 90, 99]).tolist(), (groups[g], g)
            assert totals[g] == pytest.approx(v.sum(), rel=1e-12, abs=1e-12)
        else:
            assert g not in found


@given(st.lists(st.integers(0, 900), min_size=1, max_size=6), st.integers(1, 400))
@settings(max_examples=40, deadline=None)
def test_chunks_are_cut_at_the_same_rows_from_parquet_and_from_memory(tmp_path_factory, batch_sizes, chunk_rows):
    """The same rows come out in the same chunks from a Parquet file (row group by row group) and
    from a table in memory (batch by batch), so sums over chunks agree to the last bit."""
    original = kpi_columns.CHUNK
    kpi_columns.CHUNK = chunk_rows
    try:
        schema = pa.schema([("x", pa.float64()), ("k", pa.int32())])
        start = np.cumsum([0, *batch_sizes])
        batches = [pa.record_batch([pa.array(np.arange(lo, hi) / 7.0), pa.array(np.arange(lo, hi, dtype=np.int32))],
                                   schema=schema) for lo, hi in pairwise(start)]
        path = tmp_path_factory.mktemp("chunks") / "t.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            for b in batches:
                if b.num_rows:
                    writer.write_batch(b, row_group_size=max(1, b.num_rows // 2))
        table = pa.Table.from_batches(batches, schema=schema)
        from_memory = list(Columns.of_table(table).chunks(["x", "k"]))
        from_file = list(Columns.of_parquet(path).chunks(["k", "x"]))
    finally:
        kpi_columns.CHUNK = original
    assert [c["x"].size for c in from_memory] == [c["x"].size for c in from_file]
    assert all(c["x"].size == chunk_rows for c in from_memory[:-1])
    assert sum(c["x"].size for c in from_memory) == sum(batch_sizes)
    for a, b in zip(from_memory, from_file, strict=True):
        assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["k"], b["k"])


def test_the_budget_path_splits_staff_cost_by_calendar_year_and_prorates_the_budget(base_config):
    """A pool of 2 that becomes 4 on 1 July 2024, at EUR 50,000 a year each, over 1 Oct 2023 to
    30 Sep 2025: 2023 has a quarter year of 2 people; 2024 half a year of 2 and half of 4 (by
    days of a leap year); the budget's staff share is prorated to the same days."""
    import datetime as dt

    from routing_sim.kpis.money import budget_path
    from routing_sim.loader import validate_data

    base_config["time"] = {"start": "2023-10-01", "horizon": "731d", "timeseries_step": "1d"}
    base_config["pools"]["clerks"]["schedule"] = [{"from": "2024-07-01", "headcount": 4}]
    base_config["budget"] = {"total_per_year": 1_000_000, "staff_share": 0.5}
    cfg = validate_data(base_config)
    path = budget_path(cfg, 731 * 24.0)
    assert list(path) == ["2023", "2024", "2025"]
    q4 = (dt.date(2024, 1, 1) - dt.date(2023, 10, 1)).days / 365
    assert path["2023"]["share_of_year"] == pytest.approx(q4)
    assert path["2023"]["staff_cost"]["clerks"] == pytest.approx(2 * 50_000 * q4)
    first_half = (dt.date(2024, 7, 1) - dt.date(2024, 1, 1)).days / 366
    assert path["2024"]["staff_cost_total"] == pytest.approx(50_000 * (2 * first_half + 4 * (1 - first_half)))
    assert path["2024"]["budget_staff"] == pytest.approx(500_000)
    assert path["2025"]["budget_other"] == pytest.approx(500_000 * path["2025"]["share_of_year"])
    assert path["2025"]["staff_share_of_staff_budget"] == pytest.approx(4 * 50_000 / 500_000)


@pytest.mark.parametrize("successes,n,low,high", [
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score, no continuity correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)])
def test_wilson_interval_gives_the_published_intervals(successes, n, low, high):
    from routing_sim.stats import wilson_interval

    share, lo, hi = wilson_interval(successes, n)
    assert share == successes / n
    assert lo == pytest.approx(low, abs=5e-5) and hi == pytest.approx(high, abs=5e-5)


@given(st.integers(1, 10_000), st.data())
def test_wilson_bounds_are_where_the_score_test_just_rejects(n, data):
    """Inside the bounds the score statistic |share - p| / sqrt(p (1 - p) / n) stays under z; at an
    inner bound it equals z. Mirrored counts give mirrored intervals; 99 % is wider than 95 %."""
    from statistics import NormalDist

    from routing_sim.stats import wilson_interval

    x = data.draw(st.integers(0, n))
    share, low, high = wilson_interval(x, n)
    z = NormalDist().inv_cdf(0.975)
    assert 0.0 <= low <= share <= high <= 1.0 and low < high
    for p in (low, high):
        if 0.0 < p < 1.0:
            assert abs(share - p) / math.sqrt(p * (1 - p) / n) == pytest.approx(z, rel=1e-9)
    _, m_low, m_high = wilson_interval(n - x, n)
    assert m_low == pytest.approx(1 - high, abs=1e-12) and m_high == pytest.approx(1 - low, abs=1e-12)
    _, w_low, w_high = wilson_interval(x, n, level=0.99)
    assert w_low <= low and w_high >= high
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def _tally_config(base: dict) -> dict:
    cfg = copy.deepcopy(base)
    cfg["tallies"] = {
        "accepted": {"kind": "case", "when": {"verdict": "accept"}},
        "accept_rate": {"kind": "case", "when": {"verdict": "accept"}, "of": {"verdict": ["accept", "reject"]}},
        "urgent_accept_rate": {"kind": "case", "when": {"verdict": "accept"},
                               "of": {"urgency": "high", "verdict": ["accept", "reject"]}},
        "high_share": {"kind": "case", "when": {"urgency": "high"}, "of": {}},
    }
    return cfg


def test_a_tally_of_a_condition_is_a_share_with_its_wilson_interval(base_config):
    """``of`` makes a tally a share: of the entities of the kind matching ``of``, those also matching
    ``when``; entities not yet decided (in progress) match neither. A tally without ``of`` stays a count."""
    from routing_sim.api import simulate_config
    from routing_sim.jsonio import flatten
    from routing_sim.loader import validate_data
    from routing_sim.stats import wilson_interval

    result = simulate_config(validate_data(_tally_config(base_config)), engine="fast")
    e = {name: result.entities.column(name).to_numpy() for name in result.entities.column_names}
    verdict, urgency = e["attr.verdict"], e["attr.urgency"]
    accept, high = result.codes.value("verdict", "accept"), result.codes.value("urgency", "high")
    decided = verdict >= 0
    assert (~decided).sum() > 0, "some cases still undecided at the horizon"
    tallies = result.kpis["tallies"]
    assert tallies["accepted"] == int((verdict == accept).sum())
    expected = {"accept_rate": ((verdict == accept).sum(), decided.sum()),
                "urgent_accept_rate": (((verdict == accept) & (urgency == high)).sum(), (decided & (urgency == high)).sum()),
                "high_share": ((urgency == high).sum(), verdict.size)}
    for name, (count, n) in expected.items():
        share, low, high_ = wilson_interval(int(count), int(n))
        assert tallies[name] == {"count": int(count), "denominator": int(n), "share": share, "share_low": low,
                                 "share_high": high_}, name
        assert 0 < low < share < high_ < 1
    flat = flatten(result.kpis)
    assert flat["tallies.accepted"] == tallies["accepted"]
    assert [k for k in flat if k.startswith("tallies.accept_rate")] == [
        "tallies.accept_rate.count", "tallies.accept_rate.denominator", "tallies.accept_rate.share",
        "tallies.accept_rate.share_low", "tallies.accept_rate.share_high"]


def test_run_prints_a_share_tally_and_compare_shows_it(base_config, write_yaml, tmp_path):
    """``routing-sim run`` prints a share tally as ``count of denominator: share [low, high]``;
    ``compare`` of two runs shows the share as a percentage row by default."""
    from typer.testing import CliRunner

    from routing_sim.cli import app
    from routing_sim.cli.run import _tally_text

    path = write_yaml(_tally_config(base_config))
    out = tmp_path / "results"
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(path), "--out", str(out), "--seed", "1"], env={"COLUMNS": "160"})
    assert first.exit_code == 0, first.output
    line = next(line for line in first.output.splitlines() if "accept rate" in line and "urgent" not in line)
    assert re.search(r"accept rate\s*│\s*\d[\d,]* of \d[\d,]*: \d+\.\d % \[\d+\.\d, \d+\.\d\]", line), line
    assert _tally_text({"count": 0, "denominator": 0, "share": math.nan, "share_low": math.nan,
                        "share_high": math.nan}) == "0 of 0: -"
    second = runner.invoke(app, ["run", str(path), "--out", str(out), "--seed", "2", "--set", "name=other"],
                           env={"COLUMNS": "160"})
    assert second.exit_code == 0, second.output
    compared = runner.invoke(app, ["compare", str(out)], env={"COLUMNS": "200"})
    assert compared.exit_code == 0, compared.output
    lines = compared.output.splitlines()
    shown = [line.split("│")[1].strip() for line in lines if "rate: share" in line or "high share: share" in line]
    assert sorted(shown) == ["accept rate: share", "high share: share", "urgent accept rate: share"]
    at = next(i for i, line in enumerate(lines) if "│ accept rate: share" in line)
    assert re.search(r"│\s+1 │\s+\d+\.\d % │\s+baseline │", lines[at + 1]), lines[at + 1]  # one run of each
    assert re.search(r"│\s+1 │\s+\d+\.\d % │\s+[+-]\d+\.\d pp │", lines[at + 2]), lines[at + 2]
    # the report's headline rows: the share (as a share) and the count it is of
    from routing_sim.report.kpitables import kpi_rows
    from routing_sim.report.study import load_run_study

    rows = {r.kpi: r for r in kpi_rows(load_run_study(out / "small"))}
    assert rows["tallies.accept_rate.share"].unit == "share" and rows["tallies.accept_rate.count"].unit == "count"
    assert rows["tallies.accepted"].unit == "count" and "tallies.accept_rate" not in rows
