"""Benchmark harness: `.venv/bin/python benchmarks/run.py [--quick]`.

Each case runs in a fresh subprocess so that wall time and peak resident memory (ru_maxrss of the
child) are its own. Prints a table and writes benchmarks/out/results.json. Cases:
  reference-simpy      idiomatic SimPy (process per report, simpy.Resource) on the reference network
  reference-engine     the same network as a config (configs/textbook/reference-network.yaml)
  eu-2019              configs/eu-centre-2019.yaml, one replication of one year (simulation only)
  global-2019          configs/global-2019-stress.yaml, one year (skipped with --quick)
  memory-1y / -5y      the EU baseline over 1 and 5 years, records flushed to Parquet in batches (simulation)
  full-1y / -5y        the same through `routing-sim run`'s path: simulation, Parquet, KPIs, manifest
  workers-1 / -2       an experiment of 4 replications of 120 days of the EU baseline, through the
                       experiments runner (routing-sim run EXPERIMENT --workers 1 / 2)
  simpy-floor          SimPy's own cost per event (step + one heappush, trivial callback), with 10
                       and with 1,700 events queued: the lower bound of any model on SimPy's queue
Both reference cases are checked against Erlang C for the relevance stage (4 servers, rho 0.85).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


CASES = {
    "reference-simpy": """
import time, sys; sys.path.insert(0, "benchmarks")
from idiomatic_simpy import run
t = time.perf_counter(); r = run(MINUTES); wall = time.perf_counter() - t
print(dict(wall=wall, arrivals=r["arrivals"], wait=r["relevance_wait_mean_min"]))
""",
    "simpy-floor": """
import time, random
from heapq import heappush
import simpy
from simpy.events import NORMAL
class Ev:
    __slots__ = ("callbacks",)
    _ok = True
per = {}
start = time.perf_counter()
for queued in (10, 1700):
    env = simpy.Environment(); q = env._queue; eid = env._eid; draw = random.Random(1).expovariate
    def again(e):
        e.callbacks = loop
        heappush(q, (env._now + draw(1.0), NORMAL, next(eid), e))
    loop = [again]
    for _ in range(queued):
        e = Ev(); e.callbacks = loop; heappush(q, (draw(1.0), NORMAL, next(eid), e))
    t = time.perf_counter(); env.run(until=2_000_000 / queued); per[queued] = (time.perf_counter() - t) / (next(eid) - queued)
print(dict(wall=time.perf_counter() - start, arrivals=0, us_per_event_10=per[10] * 1e6, us_per_event_1700=per[1700] * 1e6))
""",
    "reference-engine": """
import time
from routing_sim.loader import load_data, validate_data
from routing_sim.api import simulate_config
data, _ = load_data("configs/textbook/reference-network.yaml"); data["time"]["horizon"] = f"{MINUTES}min"
cfg = validate_data(data)
t = time.perf_counter(); r = simulate_config(cfg, engine="ENGINE"); wall = time.perf_counter() - t
arr = sum(r.summary.arrived_by_source.values())
print(dict(wall=wall, arrivals=arr, wait=r.kpis["stages"]["relevance"]["wait"]["mean_h"] * 60))
""",
    "eu-2019": """
import time
from routing_sim.loader import load_config
from routing_sim.api import simulate_config
cfg = load_config("configs/eu-centre-2019.yaml")
t = time.perf_counter(); r = simulate_config(cfg, engine="ENGINE"); wall = time.perf_counter() - t
print(dict(wall=wall, arrivals=sum(r.summary.arrived_by_source.values())))
""",
    "global-2019": """
import time, tempfile, pathlib
from routing_sim.loader import load_config
from routing_sim.runfolder import run_to_folder
cfg = load_config("configs/global-2019-stress.yaml")
t = time.perf_counter(); rec = run_to_folder(cfg, results=pathlib.Path(tempfile.mkdtemp())); wall = time.perf_counter() - t
print(dict(wall=wall, arrivals=rec.manifest["counts"]["arrivals_from_sources"], simulation_s=rec.manifest["simulation_seconds"]))
""",
    "memory-1y": """
import time, tempfile, pathlib
from routing_sim.loader import load_data, validate_data
from routing_sim.engine.build import build
from routing_sim.engine.simulate import simulate, Outputs, timeseries_schema
from routing_sim.engine.records import ParquetSink, VISITS, entity_schema
data, _ = load_data("configs/eu-centre-2019.yaml"); data["time"]["horizon"] = "YEARSy"
m = build(validate_data(data)); d = pathlib.Path(tempfile.mkdtemp())
out = Outputs(ParquetSink(d / "v.parquet", VISITS), ParquetSink(d / "e.parquet", entity_schema(m.codes.attributes, m.codes.counts, m.codes.marks)),
              ParquetSink(d / "t.parquet", timeseries_schema(m)))
t = time.perf_counter(); s = simulate(m, out); wall = time.perf_counter() - t
print(dict(wall=wall, arrivals=sum(s.arrived_by_source.values())))
""",
    "full": """
import time, tempfile, pathlib
from routing_sim.loader import load_data, validate_data
from routing_sim.runfolder import run_to_folder
data, _ = load_data("configs/eu-centre-2019.yaml"); data["time"]["horizon"] = "YEARSy"
cfg = validate_data(data)
t = time.perf_counter(); rec = run_to_folder(cfg, results=pathlib.Path(tempfile.mkdtemp())); wall = time.perf_counter() - t
print(dict(wall=wall, arrivals=rec.manifest["counts"]["arrivals_from_sources"], simulation_s=rec.manifest["simulation_seconds"]))
""",
    "workers": """
import time, tempfile, pathlib
from routing_sim.experiments.runner import run_experiment
folder = pathlib.Path(tempfile.mkdtemp())
spec = folder / "workers.yaml"
base = pathlib.Path("configs/eu-centre-2019.yaml").resolve()
lines = ["name: workers", f"base: {base}", "seed: 2019", "overrides: {time.horizon: 120d}", "replications: 4",
         "warmup: 10d", "report: [deadlines.forwarded_within_24h.share_within]"]
spec.write_text("".join(line + chr(10) for line in lines))
t = time.perf_counter()
summary = run_experiment(spec, results=folder / "results", workers=WORKERS)
wall = time.perf_counter() - t
assert summary["tasks"]["ok"] == 4 and not summary["tasks"]["failed"], summary["tasks"]
print(dict(wall=wall, arrivals=0))
""",
}


def run_case(name: str, code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"case": name, "error": proc.stderr.strip().splitlines()[-1]}
    result = eval(proc.stdout.strip().splitlines()[-1])  # a dict printed by our own snippet
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["case"] = name
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller reference run, no global year")
    parser.add_argument("--no-global", action="store_true", help="skip the global year (minutes, GBs of memory)")
    parser.add_argument("--only", nargs="+", metavar="CASE", help="run only these cases (names as in the table)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the cases N times, interleaved, and keep each case's fastest run (for a "
                             "machine whose speed drifts: ratios are then taken between runs of the same round)")
    args = parser.parse_args()
    minutes = 200_000 if args.quick else 1_000_000
    plan = [
        ("reference-simpy", CASES["reference-simpy"].replace("MINUTES", str(minutes))),
        ("reference-engine", CASES["reference-engine"].replace("MINUTES", str(minutes)).replace("ENGINE", "fast")),
        ("reference-engine-simpy",
         CASES["reference-engine"].replace("MINUTES", str(minutes)).replace("ENGINE", "simpy")),
        ("eu-2019", CASES["eu-2019"].replace("ENGINE", "fast")),
        ("eu-2019-simpy", CASES["eu-2019"].replace("ENGINE", "simpy")),
        ("memory-1y", CASES["memory-1y"].replace("YEARS", "1")),
        ("memory-5y", CASES["memory-1y"].replace("YEARS", "5")),
        ("full-1y", CASES["full"].replace("YEARS", "1")),
        ("full-5y", CASES["full"].replace("YEARS", "5")),
        ("workers-1", CASES["workers"].replace("WORKERS", "1")),
        ("workers-2", CASES["workers"].replace("WORKERS", "2")),
        ("simpy-floor", CASES["simpy-floor"]),
    ]
    if not (args.quick or args.no_global) or (args.only and "global-2019" in args.only):
        plan.append(("global-2019", CASES["global-2019"]))
    if args.only:
        unknown = set(args.only) - {name for name, _ in plan}
        if unknown:
            parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
        plan = [(name, code) for name, code in plan if name in args.only]
    runs: dict[str, list[dict]] = {name: [] for name, _ in plan}
    for round_ in range(1, args.repeat + 1):
        for name, code in plan:
            # ru_maxrss of children is a running maximum: each case runs from a fresh harness child
            t = time.perf_counter()
            runs[name].append(_isolated(name, code))
            print(f"[{round_}] {name:18s} {json.dumps(runs[name][-1])}  ({time.perf_counter() - t:.1f} s)", flush=True)
    results = [_fastest(name, found) for name, found in runs.items()]
    theory = erlang_c_wait(1.0, 1 / 3.4, 4)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"erlang_c_wait_min": theory, "results": results}, indent=2))
    _table(results, theory)


def _fastest(name: str, found: list[dict]) -> dict:
    ok = [r for r in found if "error" not in r]
    if not ok:
        return found[-1]
    best = dict(min(ok, key=lambda r: r["wall"]))
    best["runs"] = len(ok)
    best["walls"] = [round(r["wall"], 2) for r in ok]
    return best


def _isolated(name: str, code: str) -> dict:
    """Run one case in its own harness child so its peak RSS is not mixed with earlier cases."""
    runner = (
        "import sys, json; sys.path.insert(0, 'benchmarks'); import run as h; "
        f"print(json.dumps(h.run_case({name!r}, sys.stdin.read())))"
    )
    proc = subprocess.run([sys.executable, "-c", runner], input=code, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"case": name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(results: list[dict], theory: float) -> None:
    print(f"\nErlang C mean wait at relevance: {theory:.3f} min")
    print(f"{'case':18s} {'wall s':>8s} {'arrivals/s':>12s} {'peak MB':>8s}  notes")
    for r in results:
        if "error" in r:
            print(f"{r['case']:18s} error: {r['error']}")
            continue
        rate = r["arrivals"] / r["wall"] if r.get("arrivals") else float("nan")
        notes = f"wait {r['wait']:.3f} min" if "wait" in r else ""
        if "simulation_s" in r:
            notes = f"simulation {r['simulation_s']:.1f} s"
        if "us_per_event_10" in r:
            notes = f"{r['us_per_event_10']:.2f} us/event with 10 queued, {r['us_per_event_1700']:.2f} with 1,700"
        if r.get("runs", 1) > 1:
            notes += f" (fastest of {r['walls']})"
        print(f"{r['case']:18s} {r['wall']:8.2f} {rate:12,.0f} {r['peak_rss_mb']:8.0f}  {notes}")
    walls = {r["case"]: r["wall"] for r in results if "error" not in r}
    for slow, fast, label in (("reference-simpy", "reference-engine", "reference network, fast executor vs idiomatic SimPy"),
                              ("reference-simpy", "reference-engine-simpy",
                               "reference network, reference executor vs idiomatic SimPy"),
                              ("eu-2019-simpy", "eu-2019", "EU year, fast executor vs reference executor"),
                              ("workers-1", "workers-2", "experiment replications, 2 workers vs 1")):
        if slow in walls and fast in walls:
            print(f"speed-up {label}: {walls[slow] / walls[fast]:.2f}x")


if __name__ == "__main__":
    main()
