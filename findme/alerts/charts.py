"""Charts of the Alerts page: alerts per day by channel and by status (Plotly figures)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from findme.alerts.store import AlertRecord
from findme.charts import is_empty, nothing_yet

STATUS_COLOURS = {"sent": "#2e7d32", "pending": "#f9a825", "sending": "#1565c0",
                  "failed": "#c62828"}


def per_day(items: Sequence[AlertRecord]) -> pd.DataFrame:
    """Counts per day, channel and status."""
    frame = pd.DataFrame([{"day": a.created_at.date(), "channel": a.channel, "status": a.status}
                          for a in items], columns=["day", "channel", "status"])
    if frame.empty:
        return frame.assign(alerts=[])
    return frame.groupby(["day", "channel", "status"]).size().reset_index(name="alerts")


def by_channel(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: alerts per day by channel."""
    fig = px.bar(frame, x="day", y="alerts", color="channel", title="Alerts per day by channel")
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return nothing_yet(fig, "alerts") if is_empty(frame["alerts"]) else fig


def by_status(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: alerts per day by delivery status."""
    fig = px.bar(frame, x="day", y="alerts", color="status", title="Alerts per day by status",
                 color_discrete_map=STATUS_COLOURS)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return nothing_yet(fig, "alerts") if is_empty(frame["alerts"]) else fig
