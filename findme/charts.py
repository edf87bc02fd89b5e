"""What every chart of the dashboard shares: how an empty one looks.

A bar chart with no data lets Plotly pick an axis from -1 to 1, which reads as a broken chart;
:func:`nothing_yet` gives it a zero-based axis and a plain "nothing yet" note instead.
"""

from __future__ import annotations

import plotly.graph_objects as go


def nothing_yet(fig: go.Figure, what: str) -> go.Figure:
    """``fig`` with a 0-1 y axis, no x ticks and the note "No <what> yet" in the middle;
    returns it (for charts whose data is empty or all zero)."""
    fig.update_yaxes(range=[0, 1], showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.add_annotation(text=f"No {what} yet", x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font={"size": 16, "color": "#57606a"})
    return fig


def is_empty(values: object) -> bool:
    """Whether a column of counts (any iterable of numbers) holds nothing but zeros."""
    return not any(float(v) for v in values)  # type: ignore[union-attr]
