"""What every figure of the report shares: the style, the canvas, the panel grid, the colours
of the variants and the fans across replications.

No pyplot and no global backend: each figure is a :class:`matplotlib.figure.Figure`
rendered by the Agg (PNG) or SVG canvas. Stability: fixed fonts and sizes under
an ``rc_context``, ``svg.hashsalt`` fixed, no date or software in the metadata.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.figure import Figure

from routing_sim.report import measures
from routing_sim.report.study import Study, Variant

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "routing-sim-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "path.simplify": True,
}
COLOURS = ("#1f5fa8", "#d4651a", "#2e8b57", "#8e44ad", "#b8860b", "#c0392b")
MAX_VARIANTS = len(COLOURS)
WIDTH, ROW, DPI = 10.0, 2.5, 100


@dataclass
class Rendered:
    name: str
    title: str
    caption: str
    png: bytes


def style() -> AbstractContextManager[None]:
    return matplotlib.rc_context(RC)


def save(fig: Figure, folder: Path, name: str) -> bytes:
    """Write ``name.png`` and ``name.svg`` into ``folder``; return the PNG bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")  # keep the layout found for the PNG: finding it again costs time
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    (folder / f"{name}.png").write_bytes(png.getvalue())
    (folder / f"{name}.svg").write_bytes(svg.getvalue())
    return png.getvalue()


def grid(panels: int, ncols: int = 2) -> tuple[Figure, list]:
    """Panels in rows of ``ncols``, with fixed margins in inches (a layout engine would double the drawing time)."""
    ncols = 1 if panels == 1 else ncols
    rows = math.ceil(panels / ncols)
    height = ROW * rows + 0.6
    fig = Figure(figsize=(WIDTH, height))
    fig.subplots_adjust(left=0.75 / WIDTH, right=1 - 0.15 / WIDTH, bottom=0.55 / height, top=1 - 0.3 / height,
                        wspace=0.17, hspace=0.75 / ROW)
    axes = fig.subplots(rows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def shown(study: Study) -> list[Variant]:
    """Variants drawn in the time-series figures: those with tables, at most ``MAX_VARIANTS``."""
    return [v for v in study.variants if v.has_tables][:MAX_VARIANTS]


def coloured(variants: list[Variant]) -> Iterator[tuple[Variant, str]]:
    return zip(variants, COLOURS, strict=False)  # at most MAX_VARIANTS, often fewer


def draw_fan(ax, fan: measures.Fan, colour: str, label: str, scale: float = 1 / 24) -> None:
    x = fan.t * scale
    if fan.n > 1:
        ax.fill_between(x, fan.low, fan.high, color=colour, alpha=0.22, linewidth=0)
    ax.plot(x, fan.mid, color=colour, linewidth=0.9, label=label)


def fan_label(v: Variant) -> str:
    n = len(v.runs)
    return f"{v.name} (median, 5-95 % of {n})" if n > 1 else f"{v.name} (1 replication)"


def horizon(study: Study) -> float:
    return float(study.first_run.nested.get("run", {}).get("horizon_h", 0.0))


def fan_note(variants: list[Variant]) -> str:
    if all(len(v.runs) == 1 for v in variants):
        return "One replication: the line is that run (a band across replications needs several)."
    return "Line: median across replications at each time; band: 5 to 95 % of replications."
