"""Charts of the Alerts page: alerts per day by channel and by status (Plotly figures)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from findme.alerts.store import AlertRecord
from findme.charts import count_axis, day_axis, is_empty, nothing_yet, styled

STATUS_COLOURS = {"sent": "#2e7d32", "pending": "#f9a825", "sending": "#1565c0",
                  "failed": "#c62828"}


def per_day(items: Sequence[AlertRecord]) -> pd.DataFrame:
    """Counts per day, channel and status."""
    frame = pd.DataFrame([{"day": a.created_at.date(), "channel": a.channel, "status": a.status}
                          for a in items], columns=["day", "channel", "status"])
    if frame.empty:
        return frame.assign(alerts=[])
    return frame.groupby(["day", "channel", "status"]).size().reset_index(name="alerts")


def _per_day(fig: go.Figure, frame: pd.DataFrame) -> go.Figure:
    """The shared style, whole-number counts and day ticks for a stacked per-day chart."""
    styled(fig)
    if is_empty(frame["alerts"]):
        return nothing_yet(fig, "alerts")
    count_axis(fig, frame.groupby("day")["alerts"].sum())
    return day_axis(fig, frame["day"])


def by_channel(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: alerts per day by channel."""
    fig = px.bar(frame, x="day", y="alerts", color="channel", title="Alerts per day by channel")
    return _per_day(fig, frame)


def by_status(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: alerts per day by delivery status."""
    fig = px.bar(frame, x="day", y="alerts", color="status", title="Alerts per day by status",
                 color_discrete_map=STATUS_COLOURS)
    return _per_day(fig, frame)
