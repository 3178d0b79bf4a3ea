"""The engine against queueing theory: M/M/1 and M/M/c (Erlang C) mean waits.

Each test runs independent replications of a shipped textbook config and
checks that the theoretical mean wait lies within the replications' 99 %
t-interval (and that the interval is narrow enough to mean something).
"""

from __future__ import annotations

import math

import pytest

from routing_sim.api import simulate_config
from routing_sim.loader import load_config
from routing_sim.stats import t_interval, t_quantile
from tests.conftest import CONFIGS


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (hours when rates are per hour)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def mean_waits(config: str, replications: int) -> list[float]:
    cfg = load_config(CONFIGS / "textbook" / config)
    return [
        simulate_config(cfg, seed=1000 + r).kpis["stages"]["service"]["wait"]["mean_h"] for r in range(replications)
    ]


@pytest.mark.parametrize("p,df,expected", [(0.975, 1, 12.706), (0.975, 9, 2.262), (0.995, 29, 2.756),
                                            (0.95, 120, 1.658), (0.025, 4, -2.776)])
def test_t_quantile_matches_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-3)


def test_mm1_mean_wait_matches_theory():
    lam, mu = 0.8 * 60, 60.0  # per hour, from configs/textbook/mm1.yaml
    theory = lam / (mu * (mu - lam))
    mean, low, high = t_interval(mean_waits("mm1.yaml", 12), level=0.99)
    assert low <= theory <= high, (theory, mean, low, high)
    assert (high - low) / 2 < 0.1 * theory


def test_mmc_mean_wait_matches_erlang_c():
    theory = erlang_c_wait(lam=3.0, mu=1.2, c=3)
    mean, low, high = t_interval(mean_waits("mmc.yaml", 10), level=0.99)
    assert low <= theory <= high, (theory, mean, low, high)
    assert (high - low) / 2 < 0.15 * theory
