"""The queueing formulas the textbook systems are checked against: pure functions of numbers
(rates per hour, times in hours); the second moment E[S^2] of a service time is the
distribution's own (``second_moment_hours``).

- Erlang C and the mean wait of M/M/c;
- Pollaczek-Khinchine for M/G/1;
- Cobham's waits per class of a non-preemptive priority M/G/1 queue;
- the traffic equations of an open Jackson network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def erlang_c(offered: float, servers: int) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lambda / mu`` (Erlang C)."""
    rho = offered / servers
    if rho >= 1:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion: B(k) = a B(k-1) / (k + a B(k-1))
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return servers * blocking / (servers - offered * (1 - blocking))


def mmc_wait(lam: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c: ``Wq = C(c, a) / (c mu - lambda)``; ``inf`` when unstable."""
    mu = 1.0 / mean_service
    if lam >= servers * mu:
        return math.inf
    return erlang_c(lam / mu, servers) / (servers * mu - lam)


def pollaczek_khinchine_wait(lam: float, mean: float, second_moment: float) -> float:
    """Mean wait in queue of M/G/1: ``Wq = lambda E[S^2] / (2 (1 - rho))``."""
    rho = lam * mean
    return math.inf if rho >= 1 else lam * second_moment / (2 * (1 - rho))


def cobham_waits(lams: Sequence[float], means: Sequence[float], second_moments: Sequence[float]) -> list[float]:
    """Mean wait per class of a non-preemptive priority M/G/1 queue, class 0 served first:
    ``Wq_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k))`` with ``W0 = sum_i lambda_i E[S_i^2] / 2`` and
    ``sigma_k = rho_0 + ... + rho_k`` (Cobham 1954)."""
    w0 = sum(lam * m2 for lam, m2 in zip(lams, second_moments, strict=True)) / 2
    out, sigma = [], 0.0
    for lam, mean in zip(lams, means, strict=True):
        before = sigma
        sigma += lam * mean
        out.append(math.inf if sigma >= 1 else w0 / ((1 - before) * (1 - sigma)))
    return out


def traffic_equations(external: dict[str, float], routing: dict[str, dict[str, float]]) -> dict[str, float]:
    """Total arrival rate at each station of an open network: ``lambda = gamma + P^T lambda``.

    ``routing[s][t]`` is the probability of going from station s to t; targets that are not
    stations (outcomes) leave the network.
    """
    names = list(routing)
    index = {n: i for i, n in enumerate(names)}
    p = np.zeros((len(names), len(names)))
    for s, targets in routing.items():
        for t, prob in targets.items():
            if t in index:
                p[index[s], index[t]] += prob
    gamma = np.array([external.get(n, 0.0) for n in names])
    lam = np.linalg.solve(np.eye(len(names)) - p.T, gamma)
    return {n: float(lam[index[n]]) for n in names}

