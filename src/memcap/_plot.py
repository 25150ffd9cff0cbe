"""Figures without pyplot: no global backend switch, no pyplot state.

``mpl.use("Agg")`` flips the backend of the whole process (a notebook user's inline figures stop
showing); a :class:`matplotlib.figure.Figure` with its own Agg canvas draws to PNG and leaves the
user's backend and pyplot's figure list alone. Nothing to close: the figure is garbage-collected.
"""

from __future__ import annotations

from typing import Any

from memcap._util import require_extra

__all__ = ["subplots", "colormap"]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
             dpi: float | None = None, **kw: Any) -> tuple[Any, Any]:
    """Like ``pyplot.subplots``: a new Figure (own Agg canvas) and its axes."""
    require_extra("matplotlib", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def colormap(name: str) -> Any:
    """A registered colormap (``matplotlib.colormaps[name]``)."""
    mpl = require_extra("matplotlib", "plots")
    return mpl.colormaps[name]
