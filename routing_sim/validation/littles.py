"""Little's law ``L = lambda W`` at every stage of the EU pipeline (``configs/eu-centre-2019.yaml``
with a shorter horizon), checked two ways on one replication: from the records (an identity of
the accounting) and from the sampled time series (within a sampling tolerance).

``eu_pipeline`` loads the config; ``littles_law`` reads a finished run's tables and returns one
``LittleRow`` per stage. The run itself is made by the caller (through ``routing_sim.api``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from routing_sim.model.process import ProcessConfig
from routing_sim.validation.systems import CONFIGS

EU_CONFIG = CONFIGS / "eu-centre-2019.yaml"

if TYPE_CHECKING:
    from routing_sim.api import RunResult


@dataclass
class LittleRow:
    """Little's law at one stage: from the records, and from the sampled time series."""

    stage: str
    entered: int
    lam_per_h: float
    sojourn_h: float  # mean over every visit, still-open ones counted up to the horizon
    l_records: float  # kpis stages.<s>.mean_inside
    l_series: float  # time average of inside.<stage> over the grid points t < horizon
    tolerance: float  # allowed |l_series - l_records|
    samples: int
    off_grid: int  # grid samples outside the counts the records allow at that time

    @property
    def lam_w(self) -> float:
        return self.lam_per_h * self.sojourn_h


def eu_pipeline(horizon: str = "28d") -> ProcessConfig:
    """The shipped EU Centre config with a shorter horizon."""
    from routing_sim.loader import validate_data
    from routing_sim.yamlio import read_yaml

    data, lines = read_yaml(EU_CONFIG)
    data["time"]["horizon"] = horizon
    return validate_data(data, str(EU_CONFIG), lines)


LITTLE_Z = 4.0
"""Tolerance of the time-series check, in standard errors of the grid average (see below)."""


def littles_law(result: RunResult) -> list[LittleRow]:
    """Little's law at every stage of one replication.

    Records: ``L = mean_inside`` (kpis) must equal ``lambda x W`` with ``lambda`` the
    entries per hour and ``W`` the mean sojourn of every visit, censored visits counted up
    to the horizon. Time series: the grid average of ``inside.<stage>`` estimates the same
    time average from n samples; the tolerance is ``LITTLE_Z x s / sqrt(n)`` with s the
    standard deviation of the samples (the error of n equally spaced samples is no larger
    than that of n samples at random times, whose standard error is s / sqrt(n), for the
    decreasing correlations of a queue length). Each sample is also checked against the
    number of open visits the records give at that time (ties at the sample time allowed).
    """
    kpis = result.kpis["stages"]
    v = result.visits
    codes = result.codes
    stage = np.asarray(v.column("stage").to_numpy())
    enter = np.asarray(v.column("enter").to_numpy())
    end = np.asarray(v.column("end").to_numpy())
    horizon = result.summary.horizon
    ts = result.timeseries
    t = np.asarray(ts.column("t").to_numpy())
    grid = t < horizon - 1e-9
    rows = []
    for i, name in enumerate(codes.stages):
        mask = stage == i
        e, x = enter[mask], end[mask]
        clipped = np.where(np.isnan(x), horizon, x)
        sojourn = float((clipped - e).mean()) if mask.any() else 0.0
        series = np.asarray(ts.column(f"inside.{name}").to_numpy())[grid].astype(float)
        n = series.size
        s = float(series.std(ddof=1)) if n > 1 else 0.0
        ends = np.sort(clipped[~np.isnan(x)])
        enters = np.sort(e)
        lower = np.searchsorted(enters, t[grid], "left") - np.searchsorted(ends, t[grid], "right")
        upper = np.searchsorted(enters, t[grid], "right") - np.searchsorted(ends, t[grid], "left")
        off = int(((series < lower) | (series > upper)).sum())
        k = kpis[name]
        rows.append(LittleRow(
            stage=name,
            entered=k["entered"],
            lam_per_h=k["arrival_rate_per_h"],
            sojourn_h=sojourn,
            l_records=k["mean_inside"],
            l_series=float(series.mean()) if n else 0.0,
            tolerance=LITTLE_Z * s / math.sqrt(n) + 1e-9 if n else math.inf,
            samples=n,
            off_grid=off,
        ))
    return rows
