"""The reference network written the idiomatic SimPy way: a process per report, simpy.Resource.

This is the baseline the engine is compared with (issue 6). Time in minutes: Poisson arrivals at
rate 1; relevance, 4 servers, exponential mean 3.4; then 40 % to A (2 servers, mean 3.5), 25 % to
B (1, mean 2.8), 15 % to C (3, mean 12), 20 % closed; after A, B and C a complaint follows with
probability 10 %, 5 % and 20 % after an exponential delay of mean 30, handled by 1 server (mean 8).
"""

from __future__ import annotations

import random

import simpy


def run(minutes: float, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    env = simpy.Environment()
    relevance = simpy.Resource(env, 4)
    stations = {"a": (simpy.Resource(env, 2), 3.5, 0.10), "b": (simpy.Resource(env, 1), 2.8, 0.05),
                "c": (simpy.Resource(env, 3), 12.0, 0.20)}
    complaints = simpy.Resource(env, 1)
    waits: list[float] = []
    arrived = [0]

    def complaint():
        yield env.timeout(rng.expovariate(1 / 30))
        with complaints.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1 / 8))

    def report():
        arrival = env.now
        with relevance.request() as req:
            yield req
            waits.append(env.now - arrival)
            yield env.timeout(rng.expovariate(1 / 3.4))
        u = rng.random()
        name = "a" if u < 0.40 else "b" if u < 0.65 else "c" if u < 0.80 else None
        if name is None:
            return
        resource, mean, p_complaint = stations[name]
        with resource.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1 / mean))
        if rng.random() < p_complaint:
            env.process(complaint())

    def source():
        while True:
            yield env.timeout(rng.expovariate(1.0))
            arrived[0] += 1
            env.process(report())

    env.process(source())
    env.run(until=minutes)
    return {"arrivals": arrived[0], "relevance_wait_mean_min": sum(waits) / len(waits)}


if __name__ == "__main__":  # the whole-command baseline: python benchmarks/idiomatic_simpy.py [MINUTES]
    import sys

    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
