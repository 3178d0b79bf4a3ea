"""Figures in standard JSON: NaN and infinities are written as ``null`` (what browsers, Go and
serde accept) and read back as NaN. No dependency beyond the standard library, so the statistics
and the report can use it without the engine."""

from __future__ import annotations

import math
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
