"""The metric code against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from findme.evaluation import metrics


def test_auc_hand_values() -> None:
    assert metrics.roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert metrics.roc_auc(np.array([0.1]), np.array([0.9])) == 0.0
    # pairs (g, i): (.5,.4) win, (.5,.6) loss, (.7,.4) win, (.7,.6) win -> 3/4
    assert metrics.roc_auc(np.array([0.5, 0.7]), np.array([0.4, 0.6])) == pytest.approx(0.75)
    # a tie counts half: (.5,.5) half, (.5,.1) win -> 1.5/2
    assert metrics.roc_auc(np.array([0.5]), np.array([0.5, 0.1])) == pytest.approx(0.75)


def test_auc_needs_both_kinds() -> None:
    with pytest.raises(ValueError):
        metrics.roc_auc(np.array([]), np.array([0.1]))


def test_pair_scores_split() -> None:
    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    genuine, impostor = metrics.pair_scores(v, ["a", "a", "b"])
    assert genuine.tolist() == [1.0] and sorted(impostor.tolist()) == [0.0, 0.0]


def test_rank1_hand_values() -> None:
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    probes = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    assert metrics.rank1(gallery, ["a", "b"], probes, ["a", "b", "b"]) == pytest.approx(2 / 3)


def test_empty_charts_say_nothing_yet_instead_of_negative_axes() -> None:
    """A chart with no data shows "No ... yet" on a 0-based axis (Plotly's default empty axis
    runs from -1 to 1)."""
    import datetime as dt

    import pandas as pd

    from findme.alerts import charts as alert_charts
    from findme.ui.overview import leads_chart
    from findme.video.charts import timeline

    days = pd.DataFrame({"day": [dt.date(2026, 11, 1)] * 2, "decision": ["match", "possible"],
                         "leads": [0, 0]})
    figures = {"leads": leads_chart(days), "sightings": timeline([]),
               "alerts": alert_charts.by_status(alert_charts.per_day([]))}
    for what, fig in figures.items():
        notes = [a.text for a in fig.layout.annotations]
        assert notes == [f"No {what} yet"], (what, notes)
        assert tuple(fig.layout.yaxis.range) == (0, 1)
    days.loc[0, "leads"] = 2
    assert not leads_chart(days).layout.annotations
