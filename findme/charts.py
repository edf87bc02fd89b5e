"""What every chart of the dashboard shares: one style, count and date axes, the empty look.

* :func:`styled` gives a figure the dashboard's look (font, margins, legend on top, height).
* :func:`count_axis` makes an axis of counts step by whole numbers (never 0.2) from zero.
* :func:`day_axis` makes an axis of days read as days ("Nov 28"), never "23:59:59.9995".
* :func:`nothing_yet` gives an empty chart a zero-based axis and a plain "nothing yet" note
  (a bar chart with no data lets Plotly pick an axis from -1 to 1, which reads as broken).

The alerts, video and overview charts go through these, so they look alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import plotly.graph_objects as go

FONT = {"family": "sans-serif", "size": 13, "color": "#1b1f24"}
MUTED = "#57606a"
GRID = "#e6eaef"


def styled(fig: go.Figure, height: int = 300) -> go.Figure:
    """``fig`` in the shared style (white plot, light grid, legend above the plot, small
    margins, ``height`` pixels); returns it."""
    fig.update_layout(height=height, font=FONT, plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, title_font={"size": 15},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0,
                              "xanchor": "right", "x": 1.0, "title": None})
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID)
    return fig


def count_axis(fig: go.Figure, counts: Iterable[float], axis: str = "y") -> go.Figure:
    """Make ``axis`` ("x" or "y") of ``fig`` a count axis for bars whose stacked heights are
    ``counts``: whole-number ticks from 0, about five of them; returns ``fig``."""
    top = max([float(c) for c in counts] + [1.0])
    step = max(1, math.ceil(top / 5))
    spec = {"tick0": 0, "dtick": step, "rangemode": "tozero", "tickformat": "d",
            "range": [0, top * 1.08]}
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(**spec)
    return fig


def day_axis(fig: go.Figure, days: Iterable[dt.date], axis: str = "x") -> go.Figure:
    """Make ``axis`` of ``fig`` an axis of the whole days ``days`` (the data's days): ticks on
    days ("Nov 28"), about ten at most, the range half a day beyond the first and last (one day
    of data no longer zooms into hours); returns ``fig``."""
    known = sorted({d if not isinstance(d, dt.datetime) else d.date() for d in days})
    first, last = (known[0], known[-1]) if known else (dt.date.today(), dt.date.today())
    span = (last - first).days + 1
    step = max(1, math.ceil(span / 10))
    half = dt.timedelta(hours=12)
    spec = {"type": "date", "tickformat": "%b %d", "dtick": step * 86_400_000,
            "tick0": first.isoformat(), "hoverformat": "%Y-%m-%d",
            "range": [(dt.datetime.combine(first, dt.time()) - half).isoformat(),
                      (dt.datetime.combine(last, dt.time()) + half).isoformat()]}
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**spec)
    return fig


def nothing_yet(fig: go.Figure, what: str) -> go.Figure:
    """``fig`` with a 0-1 y axis, no x ticks and the note "No <what> yet" in the middle;
    returns it (for charts whose data is empty or all zero)."""
    fig.update_yaxes(range=[0, 1], showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.add_annotation(text=f"No {what} yet", x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 16, "color": MUTED})
    return fig


def is_empty(values: object) -> bool:
    """Whether a column of counts (any iterable of numbers) holds nothing but zeros."""
    return not any(float(v) for v in values)  # type: ignore[union-attr]
