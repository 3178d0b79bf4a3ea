"""The floors of the house: the statistics never load the engine, and nothing but running the
reference executor loads SimPy.

Each check imports modules in a fresh interpreter whose import of simpy fails, then lists which
routing_sim modules got loaded."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import routing_sim

BLOCK_SIMPY = "import sys; sys.modules['simpy'] = None\n"


def loaded_by(*modules: str) -> list[str]:
    code = BLOCK_SIMPY + "".join(f"import {m}\n" for m in modules) + (
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith(('routing_sim', 'numba')))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("module", ["routing_sim.kpis", "routing_sim.stats", "routing_sim.codes",
                                    "routing_sim.calendars", "routing_sim.summary", "routing_sim.folders"])
def test_the_statistics_and_the_shared_vocabulary_load_no_engine(module):
    assert [m for m in loaded_by(module) if m.startswith("routing_sim.engine")] == []


@pytest.mark.parametrize("module", ["routing_sim.report", "routing_sim.experiments.runner",
                                    "routing_sim.optimise.drive", "routing_sim.cli", "routing_sim.api"])
def test_nothing_loads_simpy_or_numba_until_an_executor_runs(module):
    """The fast executor's numba and the reference executor's SimPy are imported when a run picks
    them, not by importing the package, its CLI, the report or the experiments."""
    loaded = loaded_by(module)
    assert "routing_sim.engine.kernel" not in loaded and "routing_sim.engine.fast" not in loaded
    assert not [m for m in loaded if m.startswith("numba")]


# --- the import graph, read from the sources (function-level imports included) ---------------

PACKAGE = Path(routing_sim.__file__).parent
ABOVE_ENGINE_FREE = ("routing_sim.kpis", "routing_sim.stats", "routing_sim.report", "routing_sim.experiments",
                     "routing_sim.optimise", "routing_sim.codes", "routing_sim.calendars", "routing_sim.summary",
                     "routing_sim.folders", "routing_sim.jsonio", "routing_sim.units", "routing_sim.kpilabels")
"""The statistics, the report, the experiments, the optimiser and the shared vocabulary: none of
them imports the engine or SimPy (they reach a simulation through routing_sim.api or runfolder)."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("routing_sim", *path.relative_to(PACKAGE).with_suffix("").parts))
        out[name.removesuffix(".__init__")] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> tuple[set[str], set[str]]:
    """The package's modules that ``name`` imports anywhere in its source, and every name imported.
    ``from pkg import sub`` counts as importing the module ``pkg.sub``, not the package's __init__."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    raw: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            raw |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
            raw |= subs if len(subs) == len(node.names) else {base, *subs}
    return {m for m in raw if m in modules} - {name}, raw


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    modules = _modules()
    edges, raw = {}, {}
    for name, path in modules.items():
        edges[name], raw[name] = imports_of(name, path, modules)
    return edges, raw


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a circle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return circles


def test_the_cycle_finder_finds_a_circle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_in_a_circle():
    """No import cycles, between packages or between modules of one package, counting imports
    inside functions too (they hide a circle, they do not remove it)."""
    edges, _ = _graph()
    assert strongly_connected(edges) == []


def test_the_upper_floors_import_neither_the_engine_nor_simpy():
    _, raw = _graph()
    wrong = {name: sorted(m for m in imported if m.startswith(("routing_sim.engine", "simpy", "numba")))
             for name, imported in raw.items() if name.startswith(ABOVE_ENGINE_FREE)}
    # the KPI step's compiled loops are numba's (imported inside the functions that run them)
    wrong = {name: [m for m in found if not (name.startswith("routing_sim.kpis") and m == "numba")]
             for name, found in wrong.items()}
    assert {name: found for name, found in wrong.items() if found} == {}


FLOORS = {
    0: {"routing_sim", "errors", "units"},
    1: {"yamlio", "jsonio", "logs", "model"},
    2: {"layering", "folders", "codes", "calendars", "summary", "stats", "verdicts", "kpilabels"},
    3: {"loader"},
    4: {"engine", "kpis"},
    5: {"api", "runfolder"},
    6: {"experiments", "validation"},
    7: {"optimise"},
    8: {"report"},
    9: {"cli"},
}
"""The floors of docs/architecture.md: a package or top-level module imports only from floors
below its own."""


def test_every_import_goes_down_a_floor():
    floor_of = {name: floor for floor, names in FLOORS.items() for name in names}
    edges, _ = _graph()

    def top(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    unplaced = sorted({top(m) for m in edges} - set(floor_of))
    assert unplaced == [], f"place these in FLOORS and docs/architecture.md: {unplaced}"
    upward = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                    if top(a) != top(b) and floor_of[top(a)] <= floor_of[top(b)])
    assert upward == []
