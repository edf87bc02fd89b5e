"""Plotly charts, tables and plain-words sentences of a cross-match evaluation.

In: a :class:`~findme.evaluation.crossmatch.CrossmatchEvaluation`. Out: figures (one function
per chart), each with a one-sentence explanation (:func:`figures` returns both), and tables
for the Evaluation page and ``findme evaluate --crossmatch``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from findme.evaluation.crossmatch import LEVELS, CrossmatchEvaluation
from findme.search.decision import Decision

COLOURS = {"match": Decision.MATCH.colour, "possible": Decision.POSSIBLE.colour}


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
                      height=380, margin={"l": 50, "r": 20, "t": 50, "b": 45},
                      legend={"orientation": "h", "y": -0.2}, barmode="group")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return fig


def _error(values: list[float | None], cis: list) -> dict:
    """Asymmetric error bars from Wilson intervals (none where a rate is None)."""
    plus = [ci[1] - v if v is not None and ci else 0 for v, ci in zip(values, cis, strict=True)]
    minus = [v - ci[0] if v is not None and ci else 0 for v, ci in zip(values, cis, strict=True)]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}


def at_decisions(ev: CrossmatchEvaluation) -> go.Figure:
    """Pair precision and recall at ``match`` and at ``possible``, with 95% intervals."""
    fig = go.Figure()
    for level in LEVELS:
        r = ev.levels[level]
        values = [r["precision"], r["recall"]]
        fig.add_trace(go.Bar(
            x=["pair precision", "pair recall"], y=[v or 0 for v in values], name=level,
            marker_color=COLOURS[level], error_y=_error(values, [r["precision_ci"],
                                                                 r["recall_ci"]]),
            text=[f"{v:.0%}" if v is not None else "n/a" for v in values],
            textposition="inside", insidetextanchor="middle"))
    return _layout(fig, "Pairs at each decision", "", "share")


def by_gap_recall(ev: CrossmatchEvaluation) -> go.Figure:
    """Share of reunions found at each decision, per age-gap band."""
    fig = go.Figure()
    rows = [r for r in ev.by_age_gap if r["reunions"]]
    for level in LEVELS:
        values = [r[level]["recall"] for r in rows]
        fig.add_trace(go.Bar(
            x=[f"{r['age_gap']} ({r['reunions']})" for r in rows], y=values, name=level,
            marker_color=COLOURS[level],
            error_y=_error(values, [r[level]["recall_ci"] for r in rows])))
    return _layout(fig, "Reunions found by age gap", "years between the photos (reunions)",
                   "recall")


def by_gap_precision(ev: CrossmatchEvaluation) -> go.Figure:
    """Pair precision at each decision, per age-gap band (see
    :func:`~findme.evaluation.crossmatch.by_age_gap`)."""
    fig = go.Figure()
    rows = [r for r in ev.by_age_gap if r["possible"]["pairs"]]
    for level in LEVELS:
        values = [r[level]["precision"] for r in rows]
        fig.add_trace(go.Bar(
            x=[f"{r['age_gap']} ({r['possible']['pairs']})" for r in rows],
            y=[v or 0 for v in values], name=level, marker_color=COLOURS[level],
            error_y=_error(values, [r[level]["precision_ci"] for r in rows])))
    return _layout(fig, "Pair precision by age gap", "years between the photos (pairs)",
                   "precision")


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})" if whole else "none"


def explain(ev: CrossmatchEvaluation, chart: str) -> str:
    """One plain-words sentence beside a chart (``at_decisions``, ``by_gap_recall``,
    ``by_gap_precision``), with the measured counts."""
    m, p = ev.levels["match"], ev.levels["possible"]
    if chart == "at_decisions":
        per = (f"; a reviewer reads {p['pairs_per_reunion']:.1f} pairs per reunion found"
               if p["pairs_per_reunion"] else "")
        return (f"Of {p['reunions']} children registered on both sides, {m['true_pairs']} were "
                f"paired at match and {p['true_pairs']} at possible; of the pairs shown to a "
                f"reviewer, {_share(m['true_pairs'], m['pairs'])} at match and "
                f"{_share(p['true_pairs'], p['pairs'])} at possible were the same child{per} "
                "(bars: 95% intervals).")
    if chart == "by_gap_recall":
        return ("How many reunions the drive finds when years pass between the missing "
                "report's newest photo and the found child's photo (reunions per band in "
                "brackets).")
    if chart == "by_gap_precision":
        return ("How many of the pairs a reviewer reads are the same child, by the years "
                "between the photos (a true pair counts at its reunion's gap, a false one at "
                "the gap between its two photos; pairs per band in brackets).")
    raise ValueError(f"no chart {chart!r}")


def figures(ev: CrossmatchEvaluation) -> dict[str, tuple[go.Figure, str]]:
    """``{name: (figure, sentence)}``: the decisions chart, and the two age-gap charts when
    photos carried ages or dates."""
    out = {"at_decisions": (at_decisions(ev), explain(ev, "at_decisions"))}
    if ev.by_age_gap:
        out["by_gap_recall"] = (by_gap_recall(ev), explain(ev, "by_gap_recall"))
        out["by_gap_precision"] = (by_gap_precision(ev), explain(ev, "by_gap_precision"))
    return out


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ci(ci: tuple[float, float] | list | None) -> str:
    return "" if not ci else f"{ci[0]:.1%}-{ci[1]:.1%}"


def levels_table(ev: CrossmatchEvaluation) -> pd.DataFrame:
    """One row per decision: pairs, true and false pairs, precision, recall (with 95%
    intervals), pairs per reunion, pairs with a never-registered stranger."""
    return pd.DataFrame([{
        "decision": level, "threshold": round(ev.thresholds[level], 4), "pairs": r["pairs"],
        "true pairs": r["true_pairs"], "false pairs": r["false_pairs"],
        "precision": _rate(r["precision"]), "precision 95%": _ci(r["precision_ci"]),
        "recall": _rate(r["recall"]), "recall 95%": _ci(r["recall_ci"]),
        "pairs per reunion": "n/a" if r["pairs_per_reunion"] is None
        else round(r["pairs_per_reunion"], 2),
        "pairs with strangers": r["stranger_pairs"]} for level, r in ev.levels.items()])


def age_gap_table(ev: CrossmatchEvaluation) -> pd.DataFrame:
    """One row per age-gap band: reunions, recall and precision at each decision."""
    return pd.DataFrame([{
        "age gap": r["age_gap"], "reunions": r["reunions"],
        **{f"recall at {lv}": _rate(r[lv]["recall"]) for lv in LEVELS},
        **{f"pairs at {lv}": r[lv]["pairs"] for lv in LEVELS},
        **{f"precision at {lv}": _rate(r[lv]["precision"]) for lv in LEVELS}}
        for r in ev.by_age_gap])


def pairs_table(ev: CrossmatchEvaluation) -> pd.DataFrame:
    """Every pair the drive returned, best first: the two people, score, decision, whether
    it is a true reunion, the years between the two photos."""
    return pd.DataFrame([{
        "missing (person)": p["missing_person"], "found (person)": p["found_person"],
        "score": p["score"], "decision": p["decision"], "same child": p["true"],
        "age gap (years)": None if p["age_gap_years"] is None else round(p["age_gap_years"], 1)}
        for p in ev.pairs], columns=["missing (person)", "found (person)", "score", "decision",
                                     "same child", "age gap (years)"])


def as_json(ev: CrossmatchEvaluation) -> str:
    """The summary and every pair, as the JSON a download holds."""
    import json

    return json.dumps({**ev.summary(), "pairs": ev.pairs}, indent=1)


def report_html(ev: CrossmatchEvaluation) -> str:
    """A self-contained HTML report of a cross-match evaluation (plotly.js embedded once;
    opens offline): what was registered, warnings, the tables, each chart with its sentence."""
    import datetime as dt
    import html

    charts = []
    for k, (name, (fig, sentence)) in enumerate(figures(ev).items()):
        charts.append(f'<div class="chart" id="chart-{name}">' + fig.to_html(
            full_html=False, include_plotlyjs=(k == 0)) + f"<p>{html.escape(sentence)}</p></div>")
    counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in ev.counts.items())
    warnings = "".join(f"<p><b>Warning:</b> {html.escape(w)}</p>" for w in ev.warnings)
    gaps = ("<h2>By age gap</h2>" + age_gap_table(ev).to_html(index=False)) if ev.by_age_gap \
        else ""
    title = f"Find Me AI cross-match evaluation: {html.escape(ev.dataset)}"
    models = html.escape(", ".join(ev.models))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#1b1f24}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccd;padding:4px 8px;text-align:right}}.chart{{max-width:900px}}</style>
</head><body><h1>{title}</h1>
<p>Protocol: {html.escape(ev.protocol)}; seed {ev.seed}. Models: {models}.
{html.escape(counts)}. Made {dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}.</p>
<p><b>A pair is a lead for a person to review, never a verdict.</b> Face recognition is markedly
worse on young children and across age gaps; public photos of adults show neither.</p>{warnings}
<h2>At each decision</h2>{levels_table(ev).to_html(index=False)}{gaps}
<h2>Charts</h2>{''.join(charts)}
<h2>Every pair the drive returned</h2>{pairs_table(ev).to_html(index=False)}
</body></html>"""
