"""When each entity first reached a point of its path, from the visit rows."""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes
from routing_sim.model.process import ENTITY_POINTS


def point_times(point: str, codes: Codes, v: dict[str, np.ndarray], ents: dict[str, np.ndarray]) -> np.ndarray:
    """Time each entity (row of ``ents``) first reached a point (``arrival``, ``origin`` or
    ``stage.enter|start|end``, at any copy of a stage a split pool made copies of), from the visit
    rows (the entity rows carry the deadlines' points as ``mark.*``); NaN if never. ``arrival`` and
    ``origin`` are the entity's own columns."""
    if point in ENTITY_POINTS:
        return np.asarray(ents[ENTITY_POINTS[point]], dtype=float).copy()
    stage, which = point.split(".")
    mask = np.isin(v["stage"], codes.point_stages(stage)) & ~np.isnan(v[which])
    by_id = np.argsort(ents["entity"])
    rows = by_id[np.searchsorted(ents["entity"][by_id], v["entity"][mask])]
    times = np.full(ents["entity"].size, np.inf)
    np.minimum.at(times, rows, v[which][mask])
    times[np.isinf(times)] = np.nan
    return times
