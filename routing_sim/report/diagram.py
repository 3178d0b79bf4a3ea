"""The process drawn from the config, as Mermaid flowchart text (paste it into any Mermaid viewer).

Sources are stadium shapes, staffed stages name their pool, outcomes are
circles; routing rules label their edges with the condition or probability,
spawns are dotted edges.
"""

from __future__ import annotations

from routing_sim.model.process import ProcessConfig


def _cond(when: dict | None) -> str:
    if not when:
        return ""
    return " & ".join(f"{a}={v if isinstance(v, str) else '/'.join(v)}" for a, v in when.items())


def _node(cfg: ProcessConfig, name: str) -> str:
    return f"s_{name}" if name in cfg.stages else f"o_{name}"


def _edge(src: str, dst: str, label: str, dotted: bool = False) -> str:
    arrow = "-.->" if dotted else "-->"
    label = label.replace('"', "'").replace("|", "/")
    return f"  {src} {arrow}|\"{label}\"| {dst}" if label else f"  {src} {arrow} {dst}"


def mermaid(cfg: ProcessConfig) -> str:
    lines = ["flowchart LR"]
    for name, src in cfg.sources.items():
        lines.append(f'  src_{name}(["{name}<br/>{src.kind}, {src.rate}"])')
    for name, stage in cfg.stages.items():
        pool = f"<br/>pool {stage.pool}" if stage.pool else ""
        lines.append(f'  s_{name}["{name}{pool}"]')
    for name in cfg.outcomes:
        lines.append(f'  o_{name}(("{name}"))')
    for name, src in cfg.sources.items():
        lines.append(_edge(f"src_{name}", _node(cfg, src.to), ""))
    for name, stage in cfg.stages.items():
        for i, route in enumerate(stage.next):
            cond = _cond(route.when) or ("otherwise" if i and i == len(stage.next) - 1 else "")
            if isinstance(route.to, str):
                lines.append(_edge(f"s_{name}", _node(cfg, route.to), cond))
            else:
                for dst, p in route.to.items():
                    lines.append(_edge(f"s_{name}", _node(cfg, dst), " ".join(x for x in (cond, f"p={p:g}") if x)))
        for spawn in stage.spawn:
            label = " ".join(x for x in (f"spawn {spawn.kind}", f"p={spawn.p:g}", _cond(spawn.when)) if x)
            lines.append(_edge(f"s_{name}", _node(cfg, spawn.to), label, dotted=True))
    return "\n".join(lines) + "\n"


def stage_rows(cfg: ProcessConfig) -> list[tuple[str, str, str, str, str]]:
    """``(stage, pool, service, priority, next)`` for a plain table of the process logic."""
    rows = []
    for name, stage in cfg.stages.items():
        service = stage.service.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        prio = " then ".join(_cond(rule) for rule in stage.priority) + (" then FIFO" if stage.priority else "FIFO")
        nexts = []
        for route in stage.next:
            to = route.to if isinstance(route.to, str) else ", ".join(f"{k} {v:g}" for k, v in route.to.items())
            nexts.append(f"{_cond(route.when)} -> {to}" if route.when else to)
        nexts += [f"spawn {s.kind} -> {s.to} (p={s.p:g})" for s in stage.spawn]
        text = _service_text(service)
        if stage.longest_of:
            text = f"longest of one draw per {stage.longest_of} ({text}; none: 0)"
        text += "".join(f" + {hours.text} per {count}" for count, hours in stage.per_item.items())
        rows.append((name, stage.pool or "none (delay)", text, prio if stage.pool else "-", "; ".join(nexts)))
    return rows


def _service_text(service: dict) -> str:
    if "cases" in service:
        cases = ", ".join(f"{k}: {_service_text(v)}" for k, v in service["cases"].items())
        default = f", otherwise {_service_text(service['default'])}" if service.get("default") else ""
        return f"by {service.get('by')}: {cases}{default}"
    return " ".join(f"{k}={v}" for k, v in service.items())


def graph(cfg: ProcessConfig) -> tuple[list[str], dict[str, str], list[tuple[str, str, bool]]]:
    """Nodes (sources, stages, outcomes; a split pool's copies of a stage drawn as that one stage),
    their kind (``source``, ``staffed``, ``delay``, ``outcome``) and the edges ``(from, to, spawn)``."""
    original = {c: stage for sp in cfg.splits.values() for stage, copies in sp.stages.items() for c in copies.values()}

    def node(name: str) -> str:
        return original.get(name, name)

    kinds: dict[str, str] = {}
    edges: set[tuple[str, str, bool]] = set()
    for name, src in cfg.sources.items():
        kinds[f"source {name}"] = "source"
        edges.add((f"source {name}", node(src.to), False))
    for name, stage in cfg.stages.items():
        kinds[node(name)] = "staffed" if stage.pool else "delay"
        for route in stage.next:
            for dst in ([route.to] if isinstance(route.to, str) else list(route.to)):
                edges.add((node(name), node(dst), False))
        for spawn in stage.spawn:
            edges.add((node(name), node(spawn.to), True))
    for name in cfg.outcomes:
        kinds[name] = "outcome"
    order = list(kinds)
    return order, kinds, sorted(e for e in edges if e[0] != e[1])


def layers(order: list[str], edges: list[tuple[str, str, bool]]) -> dict[str, int]:
    """Each node's column: the longest path to it from a source, after dropping the edges that close
    a cycle (found by a depth-first search in config order)."""
    out: dict[str, list[str]] = {n: [] for n in order}
    for a, b, _ in edges:
        out[a].append(b)
    state: dict[str, int] = {}
    forward: list[tuple[str, str]] = []

    def visit(n: str) -> None:
        state[n] = 1
        for m in out[n]:
            if state.get(m) == 1:
                continue  # a back edge: a loop (e.g. back to intake)
            forward.append((n, m))
            if m not in state:
                visit(m)
        state[n] = 2

    for n in order:
        if n not in state:
            visit(n)
    depth = {n: 0 for n in order}
    for _ in order:  # relax: at most one pass per node on an acyclic graph
        changed = False
        for a, b in forward:
            if depth[b] < depth[a] + 1:
                depth[b] = depth[a] + 1
                changed = True
        if not changed:
            break
    return depth
