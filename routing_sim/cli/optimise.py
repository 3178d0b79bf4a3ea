"""``routing-sim optimise`` and ``routing-sim sensitivity``: the staffing questions, answered directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from routing_sim.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, fail, out, report_config_error
from routing_sim.errors import ConfigError, Problem, RunError


def _fmt(x: float) -> str:
    return f"{x:.4g}" if x == x else "nan"


def optimise(
    config: Path = typer.Argument(..., help="A process config, or an experiment file (one optimum per variant)."),
    target: list[str] = typer.Option(..., "--target", help="KPI >= X or KPI <= X (repeat)."),
    pools: str = typer.Option(..., "--pools", help="Pools to staff, comma-separated."),
    max_headcount: list[str] | None = typer.Option(None, "--max-headcount",
                                                   help="N or POOL=N (default 3 x config)."),
    min_headcount: list[str] | None = typer.Option(None, "--min-headcount", help="N or POOL=N (default 1)."),
    horizon: str | None = typer.Option(None, "--horizon", help="Override time.horizon, e.g. 30d."),
    warmup: str | None = typer.Option(None, "--warmup", help="KPIs after this warm-up, e.g. 7d."),
    set_: list[str] | None = typer.Option(None, "--set", help="PATH=VALUE override (repeat)."),
    replications: int = typer.Option(5, "--replications", min=2, help="Replications per candidate at first."),
    cap: int = typer.Option(40, "--cap", min=2, help="At most this many replications per candidate."),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="Joint confidence for all targets."),
    no_load_bound: bool = typer.Option(False, "--no-load-bound", help="Do not use the offered-load lower bound."),
    per: str | None = typer.Option(None, "--per", help="year or quarter: a plan, the cheapest headcounts of each "
                                                       "period of the horizon (writes a schedule: block)."),
    max_hires: list[str] | None = typer.Option(None, "--max-hires",
                                               help="With --per: N or POOL=N hired at most per period (repeat)."),
    max_leavers: list[str] | None = typer.Option(None, "--max-leavers",
                                                 help="With --per: N or POOL=N leaving at most per period (repeat)."),
    headcount_before: list[str] | None = typer.Option(
        None, "--headcount-before", help="With --per: N or POOL=N before the first period, so the hiring limits "
                                         "bind it too (default: the first period is free)."),
    seed: int | None = typer.Option(None, min=0, help="Root seed (default: the file's)."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (1: serial)."),
    dask: str | None = typer.Option(None, "--dask", help="'local' or a scheduler address."),
) -> None:
    """The cheapest headcounts whose targets all hold with the chosen confidence (common random numbers);
    with --per, a plan: the cheapest headcounts of every year or quarter."""
    # here, not at the top: keeps --help fast
    import shlex
    import sys

    from routing_sim.optimise.drive import optimise_file, plan_file
    from routing_sim.optimise.evaluate import parse_sets
    from routing_sim.optimise.search import parse_target

    def work() -> dict[str, Any]:
        overrides = parse_sets(set_)
        if horizon:
            overrides["time.horizon"] = horizon
        chosen = [p.strip() for p in pools.split(",") if p.strip()]
        targets = [parse_target(t) for t in target]
        if per is None:
            given = [flag for flag, value in (("--max-hires", max_hires), ("--max-leavers", max_leavers),
                                              ("--headcount-before", headcount_before)) if value]
            if given:
                raise ConfigError([_problem(f"{given[0]}: only with --per year or --per quarter (a plan)")])
            return optimise_file(config, targets, chosen,
                                 results=results, overrides=overrides, seed=seed, workers=workers, dask=dask,
                                 max_headcount=max_headcount, min_headcount=min_headcount, warmup=warmup,
                                 n0=replications, cap=max(cap, replications), level=level,
                                 load_bound=not no_load_bound)
        words = sys.argv[sys.argv.index("optimise") + 1:] if "optimise" in sys.argv else None
        command = "" if words is None else "routing-sim optimise " + " ".join(shlex.quote(a) for a in words)
        return plan_file(config, targets, chosen, per, results=results, overrides=overrides, seed=seed,
                         workers=workers, dask=dask, max_headcount=max_headcount, min_headcount=min_headcount,
                         max_hires=max_hires, max_leavers=max_leavers, headcount_before=headcount_before,
                         warmup=warmup, n0=replications, cap=max(cap, replications), level=level,
                         load_bound=not no_load_bound, command=command)

    answer = _guard(work)
    if per is None:
        _print_optimum(answer, results)
    else:
        _print_plan(answer, results)


def sensitivity(
    config: Path = typer.Argument(..., help="A process config."),
    kpi: str = typer.Option(..., "--kpi", help="The KPI (flat name)."),
    param: list[str] = typer.Option(..., "--param", help="PATH=LOW:HIGH (repeat, at most ten for Morris)."),
    method: str = typer.Option("both", "--method", help="oat, morris, both (oat and morris), sobol or all."),
    samples: int = typer.Option(64, "--samples", min=2, help="Sobol': base samples N, a power of two "
                                                              "(N x (parameters + 2) points)."),
    replications: int = typer.Option(3, "--replications", min=1, help="Replications per point (CRN)."),
    trajectories: int = typer.Option(10, "--trajectories", min=2, help="Morris trajectories."),
    levels: int = typer.Option(4, "--levels", min=2, help="Morris grid levels."),
    horizon: str | None = typer.Option(None, "--horizon", help="Override time.horizon, e.g. 30d."),
    warmup: str | None = typer.Option(None, "--warmup", help="KPIs after this warm-up, e.g. 7d."),
    set_: list[str] | None = typer.Option(None, "--set", help="PATH=VALUE override (repeat)."),
    seed: int | None = typer.Option(None, min=0, help="Root seed (default: the file's)."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (1: serial)."),
    dask: str | None = typer.Option(None, "--dask", help="'local' or a scheduler address."),
) -> None:
    """One-at-a-time ranges (tornado.png) and Morris elementary effects for one KPI."""
    # here, not at the top: keeps --help fast
    from routing_sim.optimise.drive import sensitivity_file
    from routing_sim.optimise.evaluate import parse_sets

    methods = {"both": ("oat", "morris"), "oat": ("oat",), "morris": ("morris",), "sobol": ("sobol",),
               "all": ("oat", "morris", "sobol")}.get(method)

    def work() -> dict[str, Any]:
        if methods is None:
            raise ConfigError([_problem(f"--method: oat, morris, both, sobol or all (got {method!r})")])
        overrides = parse_sets(set_)
        if horizon:
            overrides["time.horizon"] = horizon
        return sensitivity_file(config, kpi, param, results=results, overrides=overrides, seed=seed,
                                workers=workers, dask=dask, replications=replications,
                                trajectories=trajectories, levels=levels, methods=methods, warmup=warmup,
                                samples=samples)

    _print_sensitivity(_guard(work), results)


def _problem(text: str) -> Any:
    return Problem("<command line>", (), text)


def _guard(work: Any) -> dict[str, Any]:
    try:
        return work()
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None  # reported above
    except RunError as exc:
        fail(EXIT_FAILED, str(exc))
    except KeyboardInterrupt:
        fail(EXIT_INTERRUPTED, "interrupted: finished replications are kept; run the same command to resume")


def _print_optimum(answer: dict[str, Any], results: Path) -> None:
    say = lambda text: out.print(text, markup=False, soft_wrap=True)  # noqa: E731
    for name, v in answer["variants"].items():
        best = v["optimum"]
        if best is None:
            say(f"{name}: {v['status']}")
            continue
        staff = ", ".join(f"{p} {h}" for p, h in best["headcount"].items())
        say(f"{name}: {staff}; cost {best['cost']:,.0f} ({v['cost_basis']}); {best['n']} replications")
        for j in best["targets"]:
            say(f"  {j['target']}: mean {_fmt(j['mean'])}, one-sided {j['level']:.3g} bound {_fmt(j['bound'])}")
        for x in v["cheaper_failing"][:3]:
            why = "; ".join(f"{j['target']} ({j['verdict']}: mean {_fmt(j['mean'])}, bound {_fmt(j['bound'])})"
                            for j in x["failing"])
            say(f"  cheaper, fails: {x['headcount']} cost {x['cost']:,.0f}"
                f"{' (undecided at cap)' if x['undecided'] else ''}: {why}")
    say(f"results: {results / answer['name'] / 'optimise.json'}")


def _print_plan(answer: dict[str, Any], results: Path) -> None:
    say = lambda text: out.print(text, markup=False, soft_wrap=True)  # noqa: E731
    from rich.table import Table

    pools = answer["pools"]
    for name, v in answer["variants"].items():
        table = Table(title=f"{answer['name']}{'' if name == 'base' else f' [{name}]'}: plan per {answer['per']} "
                            f"({answer['level']:.0%} joint confidence; bounds one-sided, "
                            f"split over the targets)")
        for col in ("period", *pools, "targets", f"staff cost ({v['cost_basis']})", "replications"):
            table.add_column(col, justify="right" if col not in ("period", "targets") else "left")
        for row in v["periods"]:
            met = "met" if row["status"] == "optimum" else row["status"]
            lines = [met] + [f"{j['target']}: mean {_fmt(j['mean'])}, bound {_fmt(j['bound'])}"
                             f"{'' if j['verdict'] == 'pass' else ' (' + j['verdict'] + ')'}" for j in row["targets"]]
            table.add_row(row["period"], *[str(row["headcount"][p]) for p in pools], "\n".join(lines),
                          f"{row['cost']:,.0f}", str(row["n"]))
        out.print(table)
        if v["periods_missed"]:
            say(f"{name}: targets missed in {', '.join(v['periods_missed'])} (the plan takes the most the "
                "limits allow there; see the table)")
        say(f"schedule block: {results / answer['name'] / v['schedule_yaml']}")
    say(f"results: {results / answer['name'] / 'plan.json'} ({answer['elapsed_s']:g} s)")


def _print_sensitivity(answer: dict[str, Any], results: Path) -> None:
    say = lambda text: out.print(text, markup=False, soft_wrap=True)  # noqa: E731
    if "one_at_a_time" in answer:
        oat = answer["one_at_a_time"]
        say(f"tornado of {oat['kpi']} (base {_fmt(oat['base'])}):")
        for r in oat["rows"]:
            say(f"  {r['param']} {r['low']}..{r['high']}: {_fmt(r['kpi_at_low'])} .. {_fmt(r['kpi_at_high'])}"
                f"  swing {_fmt(r['swing'])}")
    if "morris" in answer:
        say("Morris elementary effects:")
        for r in answer["morris"]["rows"]:
            say(f"  {r['param']}: mu* {_fmt(r['mu_star'])}, mu {_fmt(r['mu'])}, sigma {_fmt(r['sigma'])}")
    if "sobol" in answer:
        found = answer["sobol"]
        say(f"Sobol' indices ({round(found['level'] * 100)} % intervals, {found['points']} points):")
        for r in found["rows"]:
            say(f"  {r['param']}: total {_fmt(r['ST'])} +/- {_fmt(r['ST_conf'])}, "
                f"first order {_fmt(r['S1'])} +/- {_fmt(r['S1_conf'])}")
    say(f"results: {results / answer['name']}/sensitivity.json")
