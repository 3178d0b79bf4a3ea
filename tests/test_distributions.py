"""Each duration distribution answers for itself: its draws agree with its own mean and second
moment, a draw depends on its own uniforms only, and it says whether it can give zero."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from routing_sim.engine.rules.randomness import SUBDRAWS
from routing_sim.engine.rules.variates import Draws, duration_sampler
from routing_sim.model.distributions import Distribution

DISTRIBUTIONS = [
    {"dist": "fixed", "value": "10min"},
    {"dist": "exponential", "mean": "2h"},
    {"dist": "lognormal", "mean": "30min", "cv": 0.8},
    {"dist": "gamma", "mean": "1h", "cv": 0.5},
    {"dist": "gamma", "mean": "3h", "cv": 1.6},  # shape below 1: the boosted sampler
    {"dist": "uniform", "low": "90s", "high": "2h"},
    {"dist": "empirical", "values": ["1h", "3h", "0s"], "weights": [1, 3, 0.5]},
]


def _dist(spec: dict) -> object:
    return TypeAdapter(Distribution).validate_python(spec)


@pytest.mark.parametrize("spec", DISTRIBUTIONS, ids=lambda s: s["dist"])
def test_draws_agree_with_the_mean_and_second_moment_the_distribution_states(spec):
    dist = _dist(spec)
    ids = np.arange(200_000)
    x = duration_sampler(dist)(11, ids, np.zeros(ids.size, dtype=np.int64))
    assert (x >= 0).all()
    assert x.mean() == pytest.approx(dist.mean_hours, rel=0.02)
    assert (x * x).mean() == pytest.approx(dist.second_moment_hours, rel=0.06)


@pytest.mark.parametrize("spec", DISTRIBUTIONS, ids=lambda s: s["dist"])
def test_a_draw_is_the_same_in_any_batch(spec):
    """The gamma sampler draws again for the rejected draws only: a draw still depends on its own
    id and counter, not on the others in its batch."""
    sample = duration_sampler(_dist(spec))
    ids = np.arange(5000) * 7919
    counter = (np.arange(5000) % 5) * SUBDRAWS
    whole = sample(3, ids, counter)
    part = np.concatenate([sample(3, ids[i:i + 7], counter[i:i + 7]) for i in range(0, ids.size, 7)])
    assert np.array_equal(whole, part)


def test_uniforms_of_a_draw_are_its_counters_and_their_number_is_bounded():
    ids = np.array([5, 9, 12])
    draws = Draws(2, ids, 3 * SUBDRAWS)
    rows = np.array([2, 0])
    assert np.array_equal(draws(4, rows), draws(4)[rows])
    with pytest.raises(RuntimeError, match="uniforms"):
        draws(SUBDRAWS)


def test_zero_durations():
    assert _dist({"dist": "fixed", "value": "0s"}).can_be_zero
    assert _dist({"dist": "uniform", "low": "0h", "high": "1h"}).can_be_zero
    assert not _dist({"dist": "exponential", "mean": "1h"}).can_be_zero
    listed = _dist({"dist": "empirical", "values": ["0s", "1h"], "weights": [0, 1]})
    assert not listed.can_be_zero and listed.names_zero  # never drawn, but the checks stay cautious
    assert _dist({"dist": "empirical", "values": ["0s", "1h"]}).can_be_zero


def test_memoryless_means_exponential():
    assert _dist({"dist": "exponential", "mean": "1h"}).memoryless
    assert _dist({"dist": "gamma", "mean": "1h", "cv": 1}).memoryless
    assert not _dist({"dist": "gamma", "mean": "1h", "cv": 0.5}).memoryless
    assert not _dist({"dist": "lognormal", "mean": "1h", "cv": 1}).memoryless
