"""The numbers on the overview page: cases, leads, matches, alerts, store health, activity.

Input: an open :class:`~findme.workspace.Workspace`. Output: an :class:`Overview` value and a
Plotly figure of leads per day; nothing here draws widgets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import plotly.express as px

from findme.alerts import store as alert_store
from findme.cases import leads
from findme.charts import count_axis, day_axis, is_empty, nothing_yet, styled
from findme.provision import weights
from findme.search.decision import LEAD_DECISIONS, Decision
from findme.workspace import Workspace


@dataclass(frozen=True)
class Overview:
    """Headline counts of a workspace."""

    open_cases: int
    found_cases: int
    leads_waiting: int
    matches_week: int
    alerts_sent_week: int
    models_ok: bool
    faces_per_model: dict[str, int]
    #: photos with a face in the vector store (each photo counted once, whatever the models)
    photos_stored: int = 0


def overview(ws: Workspace) -> Overview:
    """Counts for the overview page."""
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    by_status = ws.records.cases_by_status()
    waiting = leads.count(ws.records, status="new")
    matches = leads.count(ws.records, decision="match", since=week_ago)
    sent = alert_store.sent_since(ws.records, week_ago)
    ids = {m: ws.store.ids(m) for m in ws.settings.models}
    faces = {m: len(v) for m, v in ids.items()}
    return Overview(by_status.get("open", 0), by_status.get("found", 0), waiting or 0,
                    matches or 0, sent, weights.defaults_ok(weights.check(ws.settings)), faces,
                    len(set().union(*ids.values())))


def leads_per_day(ws: Workspace, days: int = 30) -> pd.DataFrame:
    """Leads created per day and decision over the last ``days`` days (zero rows included)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    rows = leads.made_since(ws.records, since)
    frame = pd.DataFrame([(t.date(), d) for t, d in rows], columns=["day", "decision"])
    all_days = pd.date_range(since.date(), dt.date.today()).date
    counts = frame.groupby(["day", "decision"]).size() if len(frame) else pd.Series(dtype=int)
    out = [{"day": d, "decision": dec, "leads": int(counts.get((d, dec), 0))}
           for d in all_days for dec in (Decision.MATCH.value, Decision.POSSIBLE.value)]
    return pd.DataFrame(out)


def leads_chart(frame: pd.DataFrame):  # -> plotly Figure
    """Stacked bars of leads per day by decision."""
    fig = px.bar(frame, x="day", y="leads", color="decision",
                 color_discrete_map={d.value: d.colour for d in LEAD_DECISIONS},
                 title="Leads per day (last 30 days)")
    styled(fig).update_layout(bargap=0.15)
    if is_empty(frame["leads"]):
        return nothing_yet(fig, "leads")
    count_axis(fig, frame.groupby("day")["leads"].sum())
    return day_axis(fig, frame["day"])
