"""The engine against queueing theory and Little's law (marker ``validation``).

The formulas, the systems with their theory and replication settings, and the
Little's law check live in ``routing_sim/validation/`` (``formulas``, ``systems``,
``estimates``, ``littles``), whose ``document`` module also writes
``docs/validation.md``; these tests check the same numbers the report shows:

- the formulas against known values and against each other;
- for each textbook system (M/M/1, M/M/c, M/G/1 with lognormal service, two-class
  non-preemptive priority M/M/1, a three-station Jackson network with feedback),
  the theoretical mean wait lies within the replications' 99 % t-interval, and the
  interval is narrow enough for that to mean something;
- Little's law L = lambda W at every stage of the EU pipeline, from the records
  and from the time series.
"""

from __future__ import annotations

import math
from functools import cache

import pytest

from routing_sim.api import simulate_config
from routing_sim.loader import load_config
from routing_sim.validation.estimates import TEST_LEVEL, Estimate, estimate
from routing_sim.validation.formulas import (
    cobham_waits,
    erlang_c,
    mmc_wait,
    pollaczek_khinchine_wait,
    traffic_equations,
)
from routing_sim.validation.littles import eu_pipeline, littles_law
from routing_sim.validation.systems import SYSTEMS, TEXTBOOK, load_textbook, system

pytestmark = pytest.mark.validation


# --------------------------------------------------------------------------- formulas


def test_erlang_c_matches_the_textbook_sum():
    lam, mu, c = 3.0, 1.2, 3
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert erlang_c(a, c) == pytest.approx(p_wait, rel=1e-12)
    assert mmc_wait(lam, 1 / mu, c) == pytest.approx(p_wait / (c * mu - lam), rel=1e-12)
    assert erlang_c(0.8, 1) == pytest.approx(0.8)  # M/M/1: P(wait) = rho
    assert mmc_wait(5.0, 1.0, 4) == math.inf  # unstable
    assert 0 < erlang_c(900.0, 1000) < 1  # large pools do not overflow


def test_pollaczek_khinchine_reduces_to_known_cases():
    lam, mean = 0.7, 1.0
    assert pollaczek_khinchine_wait(lam, mean, 2 * mean**2) == pytest.approx(mmc_wait(lam, mean, 1))  # M/M/1
    assert pollaczek_khinchine_wait(lam, mean, mean**2) == pytest.approx(mmc_wait(lam, mean, 1) / 2)  # M/D/1


def test_cobham_with_one_class_is_pk_and_conserves_work():
    lam, mean = 0.8, 1.0
    (w,) = cobham_waits([lam], [mean], [2 * mean**2])
    assert w == pytest.approx(mmc_wait(lam, mean, 1))
    lams = [0.24, 0.56]
    waits = cobham_waits(lams, [mean, mean], [2 * mean**2] * 2)
    assert waits[0] < mmc_wait(lam, mean, 1) < waits[1]
    # Kleinrock's conservation law: with equal service times the weighted mean equals FCFS
    assert sum(lk * wk for lk, wk in zip(lams, waits, strict=True)) / lam == pytest.approx(mmc_wait(lam, mean, 1))


def test_traffic_equations_of_a_tandem_with_feedback():
    lam = traffic_equations({"a": 1.0}, {"a": {"b": 1.0}, "b": {"a": 0.5, "out": 0.5}})
    assert lam == pytest.approx({"a": 2.0, "b": 2.0})


def test_second_moments_of_the_distributions():
    from routing_sim.model.distributions import Empirical, Exponential, Fixed, Gamma, Lognormal, Uniform

    assert Exponential(dist="exponential", mean="2h").second_moment_hours == pytest.approx(8.0)
    assert Lognormal(dist="lognormal", mean="1h", cv=1.5).second_moment_hours == pytest.approx(3.25)
    assert Gamma(dist="gamma", mean="1h", cv=1.5).second_moment_hours == pytest.approx(3.25)
    assert Fixed(dist="fixed", value="3h").second_moment_hours == pytest.approx(9.0)
    assert Uniform(dist="uniform", low="0h", high="3h").second_moment_hours == pytest.approx(3.0)
    assert Empirical(dist="empirical", values=["1h", "3h"], weights=[1, 3]).second_moment_hours == pytest.approx(7.0)


def test_theory_read_from_the_configs_matches_their_comments():
    """The header comment of each textbook config states the theory; the code reads the same numbers."""
    by_key = {s.key: {m.label: m.theory_h * 60 for m in s.theory(load_textbook(s))} for s in SYSTEMS}
    assert by_key["mm1"]["Wq at service"] == pytest.approx(4.0)
    assert by_key["mg1"]["Wq at service"] == pytest.approx(0.7 * 3.25 / 0.6)
    assert by_key["priority"]["Wq of class high"] == pytest.approx(0.8 / 0.76)
    assert by_key["priority"]["Wq of class low"] == pytest.approx(0.8 / (0.76 * 0.2))
    assert by_key["priority"]["Wq, all classes"] == pytest.approx(4.0)
    lam_a = 1 / 0.855
    assert by_key["jackson"]["Wq at a"] == pytest.approx(mmc_wait(lam_a, 1.25, 2))
    assert by_key["jackson"]["Wq at b"] == pytest.approx(mmc_wait(0.3 * lam_a, 2.0, 1))
    assert by_key["jackson"]["Wq at c"] == pytest.approx(mmc_wait(0.7 * lam_a, 3.0, 3))


# --------------------------------------------------------------------------- simulation against theory


@cache
def estimates(key: str) -> tuple[Estimate, ...]:
    return tuple(estimate(system(key)))


@pytest.mark.parametrize("key", [s.key for s in SYSTEMS])
def test_theoretical_mean_wait_lies_in_the_replications_ci(key):
    sys_ = system(key)
    failures = []
    for est in estimates(key):
        mean, low, high = est.interval(TEST_LEVEL)
        where = f"{est.measure.label}: theory {est.measure.theory_h * 60:.4f} min, simulated {mean * 60:.4f} " \
                f"[{low * 60:.4f}, {high * 60:.4f}] (99 %)"
        if not est.covers(TEST_LEVEL):
            failures.append("outside the CI: " + where)
        if est.rel_halfwidth(TEST_LEVEL) > sys_.max_rel_halfwidth:
            failures.append(f"CI too wide to be informative (> {sys_.max_rel_halfwidth:.0%} of theory): " + where)
        assert len(est.means) == sys_.replications
    assert not failures, "\n".join(failures)


def test_replications_are_independent_and_reproducible():
    cfg = load_config(TEXTBOOK / "mm1.yaml")
    waits = [simulate_config(cfg, replication=r).kpis["stages"]["service"]["wait"]["mean_h"] for r in (0, 1, 0)]
    assert waits[0] == waits[2]
    assert waits[0] != waits[1]


# --------------------------------------------------------------------------- Little's law on the EU pipeline


@pytest.fixture(scope="module")
def eu_little():
    cfg = eu_pipeline("28d")
    return littles_law(simulate_config(cfg, replication=0))


def test_littles_law_from_the_records_at_every_stage(eu_little):
    """kpis mean_inside = arrival_rate_per_h x mean sojourn (censored visits counted up to the horizon)."""
    visited = [row for row in eu_little if row.entered]
    assert len(visited) >= 0.8 * len(eu_little), "most stages should see work in 28 days"
    for row in eu_little:
        assert row.l_records == pytest.approx(row.lam_w, rel=1e-9, abs=1e-12), row


def test_littles_law_from_the_time_series_at_every_stage(eu_little):
    """The time average of inside.<stage> on the grid equals the records' L within the
    sampling tolerance, and every sample equals the records' count at its time."""
    bad = [row for row in eu_little if abs(row.l_series - row.l_records) > row.tolerance or row.off_grid]
    assert not bad, "\n".join(map(str, bad))
    # the tolerance must leave the check some power: well below L where L is large
    busy = [row for row in eu_little if row.l_records > 20]  # the bursty small queues (L of 5 to 20) vary too much
    assert busy and all(row.tolerance < 0.2 * row.l_records for row in busy)


@pytest.mark.slow
def test_face_validity_rows_take_their_figures_from_both_shipped_configs():
    """Every row of the face-validity table is filled from a run of the Centre baseline and of today's
    route (here 30 days), names a source id that docs/sources.md lists, and shows a number."""
    import re

    from routing_sim.validation.face import ROWS, face_validity

    lines = face_validity(horizon="30d")
    rows = [line for line in lines if line.startswith("| ") and "`S-" in line]
    assert len(rows) == len(ROWS)
    sources = TEXTBOOK.parents[1] / "docs" / "sources.md"
    listed = set(re.findall(r"`(S-[A-Z0-9-]+)`", sources.read_text(encoding="utf-8")))
    for line in rows:
        ids = re.findall(r"`(S-[A-Z0-9-]+)`", line.split(" | ")[1])
        assert ids and set(ids) <= listed, line
        assert re.search(r"\d+\.\d %|\d+\.\d days|\d+ h", line.split(" | ")[2]), line
    assert "today's route" in rows[0]
