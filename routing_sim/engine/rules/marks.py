"""Marks: the first time an entity reached each point a deadline of its kind measures
(``stage.enter``, ``stage.start``, ``stage.end``), computed from its visits' times.

A visit not reached, a start still waiting and an end still running at the horizon are NaN
and leave the mark NaN; an entity keeps only the marks its own kind's deadlines measure.
"""

from __future__ import annotations

import numpy as np

from routing_sim.codes import Codes

POINTS = ("enter", "start", "end")


class Marks:
    def __init__(self, codes: Codes):
        self.n = len(codes.marks)
        self.points = []  # (mark column, stage, point index): a point on a split stage is reached at any copy
        for j, name in enumerate(codes.marks):
            stage, point = name.rsplit(".", 1)
            self.points += [(j, s, POINTS.index(point)) for s in codes.point_stages(stage)]
        # kept[kind, j]: whether entities of that kind keep mark j
        self.kept = np.zeros((len(codes.kinds), self.n), dtype=bool)
        for kind, js in enumerate(codes.kind_marks):
            self.kept[kind, js] = True

    def first_times(self, kinds: np.ndarray, owner: np.ndarray, stage: np.ndarray,
                    times: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Marks of entities with kinds ``kinds`` (n x marks, NaN: none), from their visits: the
        visit's entity (an index into ``kinds``), stage and (enter, start, end) times."""
        out = np.full((kinds.size, self.n), np.nan)
        for j, s, p in self.points:
            at = stage == s
            if not at.any():
                continue
            t = times[p][at]
            reached = ~np.isnan(t)
            column = out[:, j]
            np.fmin.at(column, owner[at][reached], t[reached])
            out[:, j] = column
        out[~self.kept[kinds]] = np.nan
        return out
