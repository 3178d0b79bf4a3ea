"""Where the fast executor applies: the graph of pools and uncapacitated stages.

A node is a pool (all its stages together) or an uncapacitated stage; routes and spawns are
the edges. The fast executor times one node at a time in topological order, so it needs every
pool off every cycle; uncapacitated stages that route to each other (a report sent back to its
provider and returned) form a component that is walked round by round. No rule is here, and
no numba: choosing the executor costs nothing.
"""

from __future__ import annotations


def node_graph(model) -> tuple[list[int], dict[int, set[int]]]:
    """Per stage its node (pools first, then one node per uncapacitated stage) and the edges
    between nodes."""
    n_pools = len(model.codes.pools)
    node_of = []
    extra = 0
    for pool in model.stage_pool:
        if pool >= 0:
            node_of.append(pool)
        else:
            node_of.append(n_pools + extra)
            extra += 1
    n_stages = len(model.stages)
    edges: dict[int, set[int]] = {n: set() for n in range(n_pools + extra)}
    for rules in model.stages:
        here = node_of[rules.index]
        targets = {p for p in rules.routes.places if p < n_stages} | {sp.entry for sp in rules.spawns}
        edges[here].update(node_of[t] for t in targets)
    return node_of, edges


def components(edges: dict[int, set[int]]) -> list[list[int]]:
    """Strongly connected components, in an order where every edge between two of them goes
    forward (Kosaraju's algorithm, iterative)."""
    seen: set[int] = set()
    finished: list[int] = []
    for root in sorted(edges):
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(edges[root])))]
        while stack:
            node, it = stack[-1]
            for t in it:
                if t not in seen:
                    seen.add(t)
                    stack.append((t, iter(sorted(edges[t]))))
                    break
            else:
                stack.pop()
                finished.append(node)
    reverse: dict[int, set[int]] = {n: set() for n in edges}
    for n, targets in edges.items():
        for t in targets:
            reverse[t].add(n)
    assigned: set[int] = set()
    out = []
    for root in reversed(finished):
        if root in assigned:
            continue
        component: list[int] = []
        pending = [root]  # the depth-first search's stack above holds (node, iterator) pairs
        assigned.add(root)
        while pending:
            node = pending.pop()
            component.append(node)
            for t in reverse[node]:
                if t not in assigned:
                    assigned.add(t)
                    pending.append(t)
        out.append(sorted(component))
    return out


def fast_applies(model) -> tuple[bool, str]:
    """Whether the fast executor can run ``model``, and why (or why not)."""
    zero = [r.name for r in model.stages if r.pool >= 0 and r.durations.can_be_zero]
    if zero:
        return False, f"the service of pool stage {zero[0]!r} can take zero time"
    _, edges = node_graph(model)
    n_pools = len(model.codes.pools)
    for component in components(edges):
        pools = [model.codes.pools[n] for n in component if n < n_pools]
        if pools and (len(component) > 1 or component[0] in edges[component[0]]):
            return False, f"pool {pools[0]!r} is on a cycle of routes or spawns"
    return True, "the pools form an acyclic graph"
