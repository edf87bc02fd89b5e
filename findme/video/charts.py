"""The CCTV page's timeline: when each registered child was seen in a scan (Plotly)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from findme.charts import nothing_yet, styled
from findme.search.decision import LEAD_DECISIONS, Decision


def timeline(sightings: Sequence[dict], title: str = "Sightings") -> go.Figure:
    """Horizontal bars from first to last second of each sighting, one row per case."""
    fig = go.Figure()
    for decision in sorted(LEAD_DECISIONS, key=list(Decision).index):
        rows = [s for s in sightings if s["decision"] == decision]
        if not rows:
            continue
        fig.add_bar(y=[f"#{s['case_id']} {html.escape(str(s['name']))}" for s in rows],
                    x=[max(0.2, s["last_s"] - s["first_s"]) for s in rows],
                    base=[s["first_s"] for s in rows], orientation="h", name=decision.value,
                    marker_color=decision.colour,
                    customdata=[[s["score"], s["frames"]] for s in rows],
                    hovertemplate="%{y}<br>%{base:.1f}-%{x:.1f} s<br>score %{customdata[0]:.2f}"
                                  ", %{customdata[1]} frames<extra></extra>")
    # plotly renders some HTML in titles and labels: names stay text
    styled(fig, height=170 + 40 * len({s["case_id"] for s in sightings}))
    fig.update_layout(title=html.escape(title), xaxis_title="seconds from the start of the video",
                      barmode="overlay")
    fig.update_xaxes(rangemode="tozero")
    return fig if sightings else nothing_yet(fig, "sightings")
