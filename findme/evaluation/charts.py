"""Plotly charts of an :class:`~findme.evaluation.Evaluation`, and its self-contained HTML report.

Used by the Evaluation page and by ``findme evaluate --report``; one function per chart.
"""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from findme.evaluation.protocol import Evaluation

LOG_TICKS = {1e-5: "0.001%", 1e-4: "0.01%", 1e-3: "0.1%", 1e-2: "1%", 1e-1: "10%", 1.0: "100%"}


def _layout(fig: go.Figure, title: str, x: str, y: str, log_x: bool = False,
            rate: bool = True) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
                      height=380, margin={"l": 50, "r": 20, "t": 50, "b": 45},
                      legend={"orientation": "h", "y": -0.2})
    if log_x:  # one labelled tick per power of ten, as percentages (no 2, 5 clutter)
        fig.update_xaxes(type="log", tickvals=list(LOG_TICKS), ticktext=list(LOG_TICKS.values()))
    if rate:
        fig.update_yaxes(range=[0, 1.02])
    return fig


def roc(ev: Evaluation) -> go.Figure:
    """ROC: true-accept rate against false-accept rate (log scale), per scorer."""
    fig = go.Figure()
    for name, r in ev.results.items():
        far, tar = np.array(r["curves"]["roc"]["far"]), np.array(r["curves"]["roc"]["tar"])
        keep = far > 0
        fig.add_trace(go.Scatter(x=far[keep], y=tar[keep], mode="lines",
                                 name=f"{name} (AUC {r['auc']:.4f})"))
    return _layout(fig, "ROC (verification)", "false-accept rate", "true-accept rate",
                   log_x=True)


def pr(ev: Evaluation) -> go.Figure:
    """Precision against recall as the alert threshold moves, per scorer."""
    fig = go.Figure()
    for name, r in ev.results.items():
        fig.add_trace(go.Scatter(x=r["pr_curve"]["recall"], y=r["pr_curve"]["precision"],
                                 mode="lines", name=name))
    return _layout(fig, "Precision / recall (searches that alert)", "recall", "precision")


def det(ev: Evaluation) -> go.Figure:
    """Open-set DET: missed registered people (FNIR) against false alerts on strangers (FPIR)."""
    fig = go.Figure()
    for name, r in ev.results.items():
        d = r["curves"]["det"]
        fpir, fnir = np.array(d["fpir"]), np.array(d["fnir"])
        keep = fpir > 0
        fig.add_trace(go.Scatter(x=fpir[keep], y=fnir[keep], mode="lines", name=name))
    return _layout(fig, "Open-set DET", "false-positive identification rate (FPIR)",
                   "false-negative identification rate (FNIR)", log_x=True)


def cmc(ev: Evaluation) -> go.Figure:
    """Cumulative match characteristic, ranks 1-10."""
    fig = go.Figure()
    for name, r in ev.results.items():
        c = r["curves"]["cmc"]
        fig.add_trace(go.Scatter(x=list(range(1, len(c) + 1)), y=c, mode="lines+markers",
                                 name=name))
    return _layout(fig, "CMC (identification)", "rank", "share of probes found")


def distributions(ev: Evaluation, scorer: str = "fused") -> go.Figure:
    """Genuine and impostor score histograms of one scorer, with its thresholds."""
    name = scorer if scorer in ev.results else next(iter(ev.results))
    r = ev.results[name]
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=r["curves"]["impostor"], name="different people",
                               histnorm="probability density", opacity=0.6, nbinsx=60))
    fig.add_trace(go.Histogram(x=r["curves"]["genuine"], name="same person",
                               histnorm="probability density", opacity=0.6, nbinsx=60))
    for level in ("possible", "match"):
        if level in r:
            fig.add_vline(x=r[level]["threshold"], line_dash="dash",
                          annotation_text=level)
    fig.update_layout(barmode="overlay")
    return _layout(fig, f"Score distributions ({name})", "score", "density", rate=False)


def conditions(ev: Evaluation) -> go.Figure:
    """Rank-1 and recall at ``possible`` per robustness condition, per scorer."""
    rows = conditions_table(ev)
    fig = go.Figure()
    for name in ev.results:
        sub = rows[rows["scorer"] == name]
        fig.add_trace(go.Bar(x=sub["condition"], y=sub["rank1"], name=f"{name} rank-1"))
    fig.update_layout(barmode="group")
    return _layout(fig, "Robustness: rank-1 per probe condition", "condition", "rank-1")


def summary_table(ev: Evaluation) -> pd.DataFrame:
    """One row per scorer with the headline metrics."""
    rows = []
    for name, r in ev.results.items():
        rows.append({"scorer": name, "AUC": r["auc"], "EER": r["eer"],
                     "TAR@FAR1%": r["tar_at_far"]["0.01"], "TAR@FAR0.1%": r["tar_at_far"]["0.001"],
                     "rank-1": r["rank1"], "rank-5": r["rank5"], "precision": r["precision"],
                     "recall": r["recall"], "F1": r["f1"], "accuracy": r["accuracy"],
                     "FPIR": r["fpir"], "FNIR": r["fnir"]})
    return pd.DataFrame(rows)


def conditions_table(ev: Evaluation) -> pd.DataFrame:
    """Rank-1 / recall / FPIR per scorer and condition (original included)."""
    rows = []
    for cond, results in {"original": ev.results, **ev.conditions}.items():
        for name, r in results.items():
            rows.append({"condition": cond, "scorer": name, "rank1": r["rank1"],
                         "recall": r["recall"], "fpir": r["fpir"],
                         "no_face": ev.counts.get(f"probe_no_face_{cond}", 0)})
    return pd.DataFrame(rows)


def by_gallery_size(ev: Evaluation) -> go.Figure:
    """Strangers reaching each decision (FPIR) and genuine recall as the gallery grows: the
    promises are at most 10% at ``possible`` and 0.1% at ``match`` (dotted lines)."""
    rows = ev.by_size
    sizes = [r["size"] for r in rows]
    fig = go.Figure()
    for key, name, colour, dash in (
            ("fpir_possible", "strangers reaching possible", "#ef6c00", "solid"),
            ("fpir_match", "strangers reaching match", "#c62828", "solid"),
            ("recall_possible", "genuine found at possible", "#ef6c00", "dot"),
            ("recall_match", "genuine found at match", "#c62828", "dot")):
        fig.add_scatter(x=sizes, y=[r[key] for r in rows], mode="lines+markers", name=name,
                        line={"color": colour, "dash": dash})
    for level, colour in ((0.1, "#ef6c00"), (0.001, "#c62828")):
        fig.add_hline(y=level, line={"color": colour, "width": 1, "dash": "dash"})
    return _layout(fig, "What the gallery's size does to a search", "registered faces",
                   "share of searches", log_x=True)


def gallery_size_table(ev: Evaluation) -> pd.DataFrame:
    """The rows behind :func:`by_gallery_size`, as percentages."""
    return pd.DataFrame([{"registered faces": r["size"], "synthetic": r["synthetic"],
                          "strangers at possible %": 100 * r["fpir_possible"],
                          "strangers at match %": 100 * r["fpir_match"],
                          "genuine at possible %": 100 * r["recall_possible"],
                          "genuine at match %": 100 * r["recall_match"]} for r in ev.by_size])


#: one plain sentence per chart of :func:`all_figures`, shown beside it
EXPLAIN = {
    "roc": "ROC: how many registered people are found (up) against how many people in no case "
           "are flagged (right) as the threshold moves; AUC is the area under it, 1.0 is "
           "perfect, 0.5 is guessing.",
    "pr": "Precision-recall: of the matches shown, the share that are right (precision), "
          "against the share of registered people found (recall).",
    "det": "DET: the two errors against each other, missed registered people (FNIR) against "
           "people in no case flagged (FPIR, on a log scale); lower-left is better. EER is "
           "where the two are equal.",
    "cmc": "CMC: the share of searches whose right person is among the first k results; "
           "rank-1 is the first result.",
    "distributions": "Scores of the right person (genuine) and of people in no case "
                     "(strangers): the less they overlap, the safer a threshold between them.",
    "conditions": "The same searches with the photos made worse on purpose (blur, small "
                  "faces, grey): how much each condition costs.",
    "gallery_size": "As the registry grows, a stranger has more faces to look like: the share "
                    "of strangers reaching each decision, and of registered people still "
                    "found, at each size.",
}

#: the metrics of the summary table in one sentence each
METRICS = {
    "AUC": "area under the ROC curve: 1.0 perfect, 0.5 guessing.",
    "EER": "the error rate where missing a registered person and flagging a stranger are "
           "equally likely; lower is better.",
    "TAR@FAR": "share of registered people found when 1 in 100 (or 1 in 1,000) comparisons "
               "with a stranger is let through.",
    "FPIR": "share of searches for a person in no case that still reach a decision (a "
            "false alert).",
    "FNIR": "share of searches for a registered person that miss them.",
    "rank-1 / rank-5": "share of searches whose right person is the first (or among the "
                       "first five) results.",
}


def all_figures(ev: Evaluation) -> dict[str, go.Figure]:
    """Every chart, keyed by a short name."""
    figs = {"roc": roc(ev), "pr": pr(ev), "det": det(ev), "cmc": cmc(ev),
            "distributions": distributions(ev)}
    if ev.conditions:
        figs["conditions"] = conditions(ev)
    if ev.by_size:
        figs["gallery_size"] = by_gallery_size(ev)
    return figs


def report_html(ev: Evaluation) -> str:
    """A self-contained HTML report (plotly.js embedded once; opens offline)."""
    parts = []
    for k, (key, fig) in enumerate(all_figures(ev).items()):
        parts.append(f'<div class="chart" id="chart-{key}">' + fig.to_html(
            full_html=False, include_plotlyjs=(k == 0)) + "</div>")
    counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in ev.counts.items())
    robustness = ("<h2>Robustness</h2>" + conditions_table(ev).to_html(
        index=False, float_format=lambda x: f"{x:.3f}")) if ev.conditions else ""
    if ev.by_size:
        robustness += "<h2>By gallery size</h2>" + gallery_size_table(ev).to_html(
            index=False, float_format=lambda x: f"{x:.2f}")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Find Me AI evaluation: {html.escape(ev.dataset)}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#1b1f24}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccd;padding:4px 8px;text-align:right}}.chart{{max-width:900px}}</style>
</head><body>
<h1>Find Me AI evaluation: {html.escape(ev.dataset)}</h1>
<p>Protocol: {html.escape(ev.protocol)}. Models: {html.escape(', '.join(ev.models))}.
{html.escape(counts)}. Made {dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}.</p>
<p><b>A match is a lead for a person to review, never a verdict.</b> Face recognition is markedly
worse on young children and across age gaps; these photos show no children.</p>
<h2>Summary</h2>{summary_table(ev).to_html(index=False, float_format=lambda x: f"{x:.4f}")}
{robustness}
<h2>Charts</h2>{''.join(parts)}
</body></html>"""
