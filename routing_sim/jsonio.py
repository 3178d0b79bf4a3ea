"""Figures in standard JSON: NaN and infinities are written as ``null`` (what browsers, Go and
serde accept) and read back as NaN. No dependency beyond the standard library, so the statistics
and the report can use it without the engine."""

from __future__ import annotations

import math
import numbers
from typing import Any


def finite_or_null(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_or_null(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_null(v) for v in data]
    return data


def nan_for_null(data: Any) -> Any:
    """A tree of figures read from JSON, with ``null`` back as NaN."""
    if data is None:
        return math.nan
    if isinstance(data, dict):
        return {k: nan_for_null(v) for k, v in data.items()}
    if isinstance(data, list):
        return [nan_for_null(v) for v in data]
    return data


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, float | int]:
    """Nested KPIs -> ``{"stages.review.wait.mean_h": 0.4, ...}``: numbers only (whole numbers stay
    whole), in the order computed; booleans, None and text are left out."""
    out: dict[str, float | int] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool) or value is None or type(value).__name__ == "bool_":
            continue
        elif isinstance(value, numbers.Integral):
            out[name] = int(value)
        elif isinstance(value, numbers.Real):
            out[name] = float(value)
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The KPI tree of flat names again (a name under a number is dropped)."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, last = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[last] = value
    return tree
