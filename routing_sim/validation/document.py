"""The report ``docs/validation.md``: the textbook systems against their theory, Little's law on
the EU pipeline, the fixed text on the metamorphic and hostile-input tests, and the shipped
configs beside published figures (face validity), as markdown.

Regenerate it (about a minute on two cores) with::

    .venv/bin/python -m routing_sim.validation --out docs/validation.md

which runs ``main`` here (through ``routing_sim/validation/__main__.py``); without ``--out`` the
markdown goes to standard output. Every run is deterministic (fixed seeds and replication
indices). The simulations run through ``routing_sim.api``, imported inside ``report``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from routing_sim.validation.estimates import estimate
from routing_sim.validation.face import face_validity
from routing_sim.validation.littles import LITTLE_Z, eu_pipeline, littles_law
from routing_sim.validation.systems import SYSTEMS, load_textbook

DESCRIPTION = "Validation of the engine against queueing theory, and the report ``docs/validation.md``."
"""The description ``--help`` shows."""


def _fmt(hours: float) -> str:
    return f"{hours * 60:.3f}"


def report(progress: Callable[[str], None] = lambda _: None) -> str:
    """The markdown of docs/validation.md (deterministic: fixed seeds and replication indices)."""
    from routing_sim.api import simulate_config

    lines = [
        "# Validation of routing-sim",
        "",
        "Regenerate this file with",
        "",
        "```sh",
        ".venv/bin/python -m routing_sim.validation --out docs/validation.md",
        "```",
        "",
        "The figures below come from the package `routing_sim/validation/`, which the tests "
        "(`tests/test_validation.py`, marker `validation`) call with the same settings. Every "
        "run is deterministic (fixed root seed, replication index r = 0, 1, ...), so the file "
        "only changes when the engine or a config changes. The runs use the reference executor "
        "(SimPy's event queue); the fast executor writes the same tables wherever it applies "
        "(`tests/test_executors.py`), so its figures would be these.",
        "",
        "## 1. Analytic validation against queueing theory",
        "",
        "Each textbook system is a config in `configs/textbook/`, written in the engine's own "
        "vocabulary (every number commented as an assumption). The theory is computed from the "
        "config's own numbers. Each replication gives one mean wait in queue over the visits "
        "that entered after a warm-up and before a cool-down (a visit still waiting at the "
        "horizon counts its wait so far); the interval is the Student t interval over the "
        "replication means. The tests require the theoretical mean inside the **99 %** "
        "interval (several measures are tested at once) and the 99 % half-width below a "
        "stated share of theory, so that a pass is informative. Times are in **minutes**.",
        "",
    ]
    for sys_ in SYSTEMS:
        progress(sys_.key)
        cfg = load_textbook(sys_)
        ests = estimate(sys_)
        lines += [
            f"### {sys_.title}",
            "",
            f"Config `configs/textbook/{sys_.config}`; {sys_.replications} replications of "
            f"{cfg.time.horizon}, warm-up {sys_.warmup}, cool-down {sys_.cooldown}, root seed {cfg.seed}.",
            "",
            f"Formula: `{sys_.formula}`",
            "",
            "| measure | theory | simulated mean | 95 % CI | 99 % CI | in 99 % CI | 99 % half-width / theory |",
            "|---|---:|---:|---|---|:---:|---:|",
        ]
        for est in ests:
            mean, lo95, hi95 = est.interval(0.95)
            _, lo99, hi99 = est.interval(0.99)
            lines.append(
                f"| {est.measure.label} | {_fmt(est.measure.theory_h)} | {_fmt(mean)} | "
                f"[{_fmt(lo95)}, {_fmt(hi95)}] | [{_fmt(lo99)}, {_fmt(hi99)}] | "
                f"{'yes' if est.covers(0.99) else '**no**'} | {est.rel_halfwidth(0.99):.1%} "
                f"(max {sys_.max_rel_halfwidth:.0%}) |"
            )
        visits = max(e.counted for e in ests) // max(1, sys_.replications)
        censored = max(e.censored for e in ests)
        lines += ["", f"Up to {visits:,} visits per replication and measure in the measurement window; "
                      f"{censored} of them still waiting at the horizon.", ""]

    progress("little")
    cfg = eu_pipeline()
    result = simulate_config(cfg, replication=0, engine="simpy")
    rows = littles_law(result)
    lines += [
        "## 2. Little's law at every stage of the EU pipeline",
        "",
        f"`configs/eu-centre-2019.yaml` with the horizon shortened to {cfg.time.horizon} "
        f"(root seed {cfg.seed}, replication 0), time series every {cfg.time.timeseries_step}.",
        "",
        "- **Records**: `L = lambda W`, with L = `kpis.stages.<s>.mean_inside` (the integral of the "
        "number inside over the horizon, divided by the horizon), lambda = entries per hour and W "
        "the mean sojourn of every visit, open visits counted up to the horizon. This is an "
        "identity of the accounting; the test requires agreement to 1e-9 (relative).",
        "- **Time series**: the average of `inside.<stage>` over the grid points before the "
        f"horizon estimates L from n samples; the test allows {LITTLE_Z:g} s / sqrt(n), with s "
        "the standard deviation of the samples (equally spaced samples estimate a time average "
        "at least as well as n samples at random times). Every sample must also lie between "
        "the numbers of visits the records show open just before and just after its time "
        "(column 'off-grid', must be 0). The engine computes the series from the visit records "
        "as they are flushed (`routing_sim/engine/series.py`), so this checks that computation "
        "and the grid approximation of the time average, not an independent counter.",
        "",
        "| stage | entered | lambda (/h) | W (h) | L records | lambda W | L time series | tolerance | off-grid |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.stage} | {row.entered:,} | {row.lam_per_h:.4g} | {row.sojourn_h:.4g} | {row.l_records:.4g} | "
            f"{row.lam_w:.4g} | {row.l_series:.4g} | {row.tolerance:.3g} | {row.off_grid} |"
        )
    lines += ["", METAMORPHIC_AND_HOSTILE]
    progress("face validity")
    lines += face_validity(progress)
    return "\n".join(lines) + "\n"


METAMORPHIC_AND_HOSTILE = """## 3. Metamorphic tests (common random numbers)

`tests/test_metamorphic.py` (marker `validation`). Every random stream is named, so two runs
with the same seed and replication share every stream the change does not touch.

- **One more server never raises the wait.** In a single FCFS multi-server stage fed by one
  source with an always-on pool, the k-th customer to start service draws the k-th service
  time, and FCFS starts customers in arrival order, so with c and c + 1 servers every customer
  gets the same service time. The Kiefer-Wolfowitz workload recursion is monotone in the
  initial workload vector (c + 1 servers = c servers plus one with zero instead of infinite
  work), so **every customer's** wait is no longer with c + 1 servers: checked per entity, and
  for the mean wait with waits still open at the horizon counted up to it. (The KPI "mean wait
  of the visits that started" is not pathwise monotone: with more servers, long-waiting
  customers that had not started by the horizon enter the mean.) In networks (the Jackson
  config, each pool in turn; the EU reviewers) arrival orders change, so the check compares
  means over replications: the paired difference (c + 1 minus c) must not be significantly
  positive (its 99 % t interval must reach down to 0 or below).
- **Time scaling.** Multiplying every arrival rate by k and dividing every service time, the
  horizon and the time-series step by k gives the same sample path on a clock running k times
  faster: with the same streams the visits are the same, in the same order, routed the same
  way, every visit's times multiplied by k equal the original ones to 1e-12 (relative; the
  observed difference is about 1e-15, rounding only), and so does utilisation. Checked for
  k = 2, 3 and 0.25 on the Jackson network, the M/G/1 queue and the reference network (with
  spawns and an uncapacitated delay). Calendars other than `always` are tied to the wall
  clock and are not scaled, so the statement is only made for always-on pools.
- **No errors in, no wrong decisions out.** In the EU config, setting the probabilities of
  wrong decisions to 0 (relevance review, fast path, complaint review, audit false alarms)
  makes every wrong-decision tally 0, while the same run with errors has them positive; with
  only the review's errors switched off, the wrong forwards are exactly those of the fast path
  (which the review's decision streams do not touch). The report arrivals and their true
  nature are unchanged (same streams). The fast path forwards every hash hit, so switching its
  errors off also routes what it judges unfounded to provider feedback; then no report that is
  not abuse reaches forwarding at all.

## 4. Hostile input

`tests/test_hostile_input.py`: hypothesis generates YAML documents (arbitrary text, random
YAML trees with wrong types, NaN and infinities, huge numbers, unicode, deep nesting, empty
files) and config dictionaries (mutations of a valid config: values replaced by hostile ones,
keys deleted, unknown keys added). Each must either validate or give exit code 2 from
`routing-sim validate` with one line per problem, each starting with the file path; no other
exception may escape. Hostile output names (`../`, absolute paths, separators) never leave the
results folder (`routing_sim.runfolder.safe_child` and the config `name` pattern); `routing-sim
run` with such a name exits 2 and writes nothing. An alias bomb and an oversized file are
rejected in under a second (`tests/test_bad_input.py`). The last section of the test file holds
one test per gap the fuzzing found, each naming the function to fix.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routing_sim.validation", description=DESCRIPTION)
    parser.add_argument("--out", type=Path, help="write the report here (default: standard output)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    text = report(lambda step: print(f"validating: {step}", file=sys.stderr))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

