"""The shared chart style: whole-number count axes, day axes that read as days, one look for
the alerts, overview and CCTV charts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from findme import charts
from findme.alerts import charts as alert_charts
from findme.ui import overview
from findme.video import charts as video_charts


def _alerts(days: list[dt.date], n: int = 1) -> pd.DataFrame:
    return pd.DataFrame([{"day": d, "channel": "email", "status": "sent", "alerts": n}
                         for d in days])


def test_count_axes_step_by_whole_numbers() -> None:
    for top, step in [(1, 1), (3, 1), (5, 1), (7, 2), (40, 8)]:
        fig = charts.count_axis(go.Figure(go.Bar(x=[1], y=[top])), [top])
        assert fig.layout.yaxis.dtick == step and fig.layout.yaxis.tickformat == "d"
        assert fig.layout.yaxis.tick0 == 0 and fig.layout.yaxis.range[0] == 0
    fig = alert_charts.by_channel(_alerts([dt.date(2026, 11, 28)]))  # one alert
    assert fig.layout.yaxis.dtick == 1  # never 0.2 steps


def test_one_day_of_alerts_reads_as_a_day_not_as_hours() -> None:
    day = dt.date(2026, 11, 28)
    for fig in (alert_charts.by_channel(_alerts([day])), alert_charts.by_status(_alerts([day]))):
        x = fig.layout.xaxis
        assert x.type == "date" and x.tickformat == "%b %d" and x.dtick == 86_400_000
        assert x.range == ("2026-11-27T12:00:00", "2026-11-28T12:00:00")  # half a day around


def test_thirty_days_get_about_ten_ticks() -> None:
    first = dt.date(2026, 11, 1)
    frame = pd.DataFrame([{"day": first + dt.timedelta(days=i), "decision": "match",
                           "leads": i % 3} for i in range(30)])
    fig = overview.leads_chart(frame)
    assert fig.layout.xaxis.dtick == 3 * 86_400_000 and fig.layout.xaxis.tickformat == "%b %d"
    assert fig.layout.yaxis.dtick == 1


def test_every_chart_shares_one_style_and_empty_ones_say_so() -> None:
    day = dt.date(2026, 11, 28)
    frame = pd.DataFrame([{"day": day, "decision": "match", "leads": 2}])
    sighting = {"case_id": 1, "name": "A", "decision": "match", "score": 0.9, "first_s": 1.0,
                "last_s": 3.0, "frames": 5}
    figs = [alert_charts.by_channel(_alerts([day])), overview.leads_chart(frame),
            video_charts.timeline([sighting])]
    for fig in figs:
        assert fig.layout.font.family == charts.FONT["family"]
        assert fig.layout.plot_bgcolor == "#ffffff" and fig.layout.legend.orientation == "h"
    empty = alert_charts.by_status(alert_charts.per_day([]))
    assert empty.layout.annotations[0].text == "No alerts yet"


def test_log_rate_axes_label_one_tick_per_power_of_ten() -> None:
    """The evaluation's ROC and DET rate axes (log scale) read 0.1%, 1%, 10%: no 2 and 5
    ticks between them."""
    from findme.evaluation import charts as eval_charts

    fig = eval_charts._layout(go.Figure(), "DET", "FPIR", "FNIR", log_x=True)
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.ticktext) == ["0.001%", "0.01%", "0.1%", "1%", "10%", "100%"]
    assert list(fig.layout.xaxis.tickvals) == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
