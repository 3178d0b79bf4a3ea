"""The KPI step's shortcuts give what the general numpy calls give."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from routing_sim.kpis import _id_order, distinct

codes = hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 2**40))


@given(codes, st.booleans())
def test_distinct_is_np_unique(values, small):
    if small:
        values = values % 97
    assert np.array_equal(distinct(values), np.unique(values))


@given(st.integers(0, 400), st.integers(0, 2**32), st.sampled_from(["permutation", "sorted", "gaps", "repeats"]))
def test_id_order_sorts_the_ids(n, seed, shape):
    rng = np.random.default_rng(seed)
    ids = {"permutation": rng.permutation(n), "sorted": np.arange(n), "gaps": rng.permutation(n) * 3,
           "repeats": rng.integers(0, max(1, n // 2), n)}[shape].astype(np.int64)
    order = _id_order(ids)
    if order is None:
        assert np.all(np.diff(ids) >= 0)
    else:
        assert np.array_equal(ids[order], np.sort(ids, kind="stable"))
        assert np.array_equal(order, np.argsort(ids, kind="stable"))
