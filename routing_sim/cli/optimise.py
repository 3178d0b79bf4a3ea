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
    seed: int | None = typer.Option(None, min=0, help="Root seed (default: the file's)."),
    results: Path = typer.Option(Path("results"), "--out", help="Results folder."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (1: serial)."),
    dask: str | None = typer.Option(None, "--dask", help="'local' or a scheduler address."),
) -> None:
    """The cheapest headcounts whose targets all hold with the chosen confidence (common random numbers)."""
    # here, not at the top: keeps --help fast
    from routing_sim.optimise.drive import optimise_file
    from routing_sim.optimise.evaluate import parse_sets
    from routing_sim.optimise.search import parse_target

    def work() -> dict[str, Any]:
        overrides = parse_sets(set_)
        if horizon:
            overrides["time.horizon"] = horizon
        chosen = [p.strip() for p in pools.split(",") if p.strip()]
        return optimise_file(config, [parse_target(t) for t in target], chosen,
                             results=results, overrides=overrides, seed=seed, workers=workers, dask=dask,
                             max_headcount=max_headcount, min_headcount=min_headcount, warmup=warmup,
                             n0=replications, cap=max(cap, replications), level=level, load_bound=not no_load_bound)

    _print_optimum(_guard(work), results)


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
