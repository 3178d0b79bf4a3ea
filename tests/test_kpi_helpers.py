"""The KPI step's building blocks give what the plain numpy calls give."""

from __future__ import annotations

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
