"""Evaluation: how well does recognition work on labeled photos? Charts, tables, exports.

UI only: the protocol and metrics live in ``findme.evaluation``; charts in
``findme.evaluation.charts``.
"""


import pandas as pd
import streamlit as st

from findme.config import get_settings
from findme.evaluation import charts as eval_charts
from findme.evaluation import crossmatch as crossmatch_eval
from findme.evaluation import crossmatch_charts as cm_charts
from findme.evaluation import crossmatch_plan
from findme.evaluation import jobs as eval_jobs
from findme.evaluation import protocol as evaluation
from findme.provision import weights
from findme.search import calibration
from findme.ui import page_state, refresh, session
from findme.ui.export import safe_csv
from findme.ui.text import safe

ctx = session.page("Evaluation", "evaluation.run",
                   "Precision, recall and error curves on labeled photos, per model and fused. "
                   "These public photos show no children: check thresholds on your own cases "
                   "too.")
settings = get_settings()
mine = page_state.of(ctx)  # a result belongs to this workspace and this user

sets = {p.name: p for p in sorted(settings.eval_dir.iterdir()) if p.is_dir()} \
    if settings.eval_dir.is_dir() else {}
any_folder = ctx.can("evaluation.folders")
choices = [*sets, *(["Another folder"] if any_folder else []), "Our own cases"]
dataset = st.radio("Dataset", choices, horizontal=True, key="dataset")
folder = None
if dataset == "Another folder":
    folder = st.text_input("Folder with one sub-folder of photos per person", key="folder")
elif dataset in sets:
    folder = str(sets[dataset])
available = weights.available_models(settings)
models = st.multiselect("Models", available, default=[m for m in settings.models
                                                       if m in available], key="models")
col1, col2 = st.columns(2)
enroll = col1.number_input("Photos enrolled per person", 1, 20, 3, key="enroll")
if any_folder:
    distractors = col2.text_input("Never-enrolled people (optional folder)", key="distractors")
else:
    pick = col2.selectbox("Never-enrolled people (optional)", [None, *sets], key="distractors",
                          format_func=lambda k: "none" if k is None else k)
    distractors = str(sets[pick]) if pick else ""
sizes = st.multiselect("Gallery sizes to project to (needs never-enrolled people and two or more "
                       "models)", [100, 1000, 10000, 100000], key="sizes")
conditions = st.multiselect("Robustness slices (probes degraded on purpose)",
                            [c for c in evaluation.CONDITIONS if c != "original"], key="conds")

owner = eval_jobs.owner_of(ctx.settings.data_dir, ctx.user.username)  # one job per person

if st.button("Run evaluation", type="primary", key="run"):
    if not models:
        st.error("Choose at least one model.")
    elif dataset != "Our own cases" and not folder:
        st.error("Give a folder.")
    else:  # a worker thread runs it; its progress is shown below, then its result
        try:
            if dataset == "Our own cases":
                eval_jobs.start_own_cases(ctx.ws, owner)
            else:
                eval_jobs.start_folder(
                    owner, settings, evaluation.check_folder(ctx.settings, folder, any_folder),
                    models, int(enroll),
                    evaluation.check_folder(ctx.settings, distractors, any_folder)
                    if distractors else None,
                    ["original", *conditions], sizes)
        except (FileNotFoundError, PermissionError, ValueError) as exc:
            st.error(safe(exc))


def follow(job: eval_jobs.EvaluationJob | None, key: str) -> None:
    """A job of this person's in its worker thread: its progress while it runs, then its
    result kept under ``key`` (or why it failed)."""
    if job is None:
        return
    if job.running:
        st.progress(job.fraction, text=f"Evaluating {safe(job.title)}: {safe(job.text)}")
    elif job.error:
        st.error(safe(job.error))
    else:
        mine[key] = job.result
        eval_jobs.forget(job)
        st.rerun()
    if refresh.ended(mine, f"{key}_running", [key] if job.running else []):
        st.rerun()  # it failed: the page again, without the refresh timer


def running(job: eval_jobs.EvaluationJob | None) -> bool:
    """Whether ``job`` is under way (its fragment then refreshes every second)."""
    return job is not None and job.running


@st.fragment(run_every=refresh.every(1.0, running(eval_jobs.latest(owner))))
def evaluation_job() -> None:
    """This person's evaluation: progress, then result."""
    follow(eval_jobs.latest(owner), "evaluation")


evaluation_job()
result = mine.get("evaluation")
if result is not None:
    st.subheader(f"{safe(result.dataset)}: {safe(result.protocol)}")
    st.caption(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.counts.items()))
    for warning in result.warnings:
        st.warning(safe(warning))
    summary = eval_charts.summary_table(result)
    st.dataframe(summary, hide_index=True, width="stretch")
    with st.expander("What the numbers mean"):
        st.markdown("\n".join(f"- **{name}**: {text}"
                               for name, text in eval_charts.METRICS.items()))
    figures = eval_charts.all_figures(result)
    left, right = st.columns(2)
    for k, (name, fig) in enumerate(figures.items()):
        column = left if k % 2 == 0 else right
        column.plotly_chart(fig, width="stretch", key=name)
        column.caption(eval_charts.EXPLAIN.get(name, ""))
    if result.by_size:
        st.subheader("By gallery size")
        st.caption("Strangers (never-registered people) reaching each decision, and genuine "
                   "probes found, as the gallery grows with synthetic people: what your own size "
                   "means. Promised: at most 10% at possible, 0.1% at match.")
        st.dataframe(eval_charts.gallery_size_table(result), hide_index=True)
    if result.conditions:
        st.subheader("Robustness slices")
        st.dataframe(eval_charts.conditions_table(result), hide_index=True)
    st.subheader("Threshold advice")
    st.caption("For a target false-alert rate on never-registered people: the threshold and the "
               "share of registered people still found.")
    st.dataframe(pd.DataFrame([{"scorer": s, "target FPIR": t, **v}
                               for s, rows in result.advice.items() for t, v in rows.items()]),
                 hide_index=True)
    c1, c2 = st.columns(2)
    c1.download_button("Download metrics (CSV)", safe_csv(summary),
                       file_name="evaluation.csv", mime="text/csv", key="csv")
    c2.download_button("Download report (HTML)", eval_charts.report_html(result),
                       file_name="evaluation.html", mime="text/html", key="html")

    if ctx.can("thresholds.apply") and dataset != "Our own cases":
        with st.expander("Apply thresholds to the live configuration (admin)"):
            current = calibration.load(ctx.settings)
            scorers = evaluation.applicable_scorers(result, current)
            scorer = st.selectbox("Scorer", scorers, key="apply_scorer")
            key, now = calibration.thresholds_of(current, scorer, ctx.settings.models)
            options = result.advice.get(scorer, {})
            target = st.selectbox("Target false-alert rate (sets the match threshold)",
                                  list(options), key="apply_target",
                                  format_func=lambda t: f"{float(t):.2%} (recall "
                                  f"{options[t]['recall']:.1%})")
            match = st.number_input("Match threshold", -1.0, 1.0,
                                    float(options[target]["threshold"]) if target else
                                    float(now.match if now else 0.5), format="%.4f",
                                    key="apply_match")
            possible = st.number_input("Possible threshold", -1.0, 1.0,
                                       float(min(now.possible, match) if now else match),
                                       format="%.4f", key="apply_possible")
            if now:
                st.caption(f"Now: match {now.match:.4f}, possible {now.possible:.4f}.")
            if st.button("Apply to the live configuration", key="apply"):
                try:
                    calibration.apply_thresholds(ctx.settings, scorer, match, possible,
                                                 ctx.user.username, ctx.ws.records)
                except (ValueError, calibration.CalibrationMissing) as exc:
                    st.error(f"Not applied: {safe(exc)}.")
                else:
                    ctx.ws.reload_calibration()
                    st.success(f"Thresholds of {key} applied (audited).")

st.divider()
st.header("Cross-matching: missing reports against found children")
st.caption("Part of each person's photos is registered as a missing report and others as a "
           "found child, some people on one side only, never-registered people as found "
           "children nobody reported; then the cross-match drive runs, in a temporary workspace "
           "(your cases are not touched). An ages.csv in the folder (file,age_at_photo,taken_on) "
           "adds results by age gap.")
cm_choices = [*crossmatch_plan.people_sets(sets), *(["Another folder"] if any_folder else [])]
cm_set = st.radio("People (one sub-folder each)", cm_choices, horizontal=True, key="cm_dataset")
if cm_set is None:
    st.info("No labelled photo set is here yet (`make eval-data` fetches the public ones).")
else:
    cm_folder = st.text_input("Folder with one sub-folder of photos per person",
                              key="cm_folder") if cm_set == "Another folder" else str(sets[cm_set])
    cm1, cm2, cm3, cm4 = st.columns(4)
    if any_folder:
        cm_strangers = cm1.text_input("Never-registered people, found only (optional folder)",
                                      key="cm_strangers")
    else:
        cm_pick = cm1.selectbox("Never-registered people, found only (optional)", [None, *sets],
                                key="cm_strangers",
                                format_func=lambda k: "none" if k is None else k)
        cm_strangers = str(sets[cm_pick]) if cm_pick else ""
    cm_missing = cm2.number_input("Photos per missing report", 1, 20, 3, key="cm_missing")
    cm_one_side = cm3.slider("Share of people on one side only", 0.0, 0.9, 0.25, 0.05,
                             key="cm_one_side")
    cm_seed = cm4.number_input("Seed (who goes where)", 0, 1_000_000, 0, key="cm_seed")
    if st.button("Run cross-match evaluation", key="cm_run"):
        if not models:
            st.error("Choose at least one model.")
        elif not cm_folder:
            st.error("Give a folder.")
        else:  # a worker thread runs it; its progress is shown below, then its result
            try:
                crossmatch_eval.start_job(
                    owner, settings,
                    evaluation.check_folder(ctx.settings, cm_folder, any_folder), models,
                    evaluation.check_folder(ctx.settings, cm_strangers, any_folder)
                    if cm_strangers else None, int(cm_seed), int(cm_missing),
                    one_side=float(cm_one_side))
            except (FileNotFoundError, PermissionError, ValueError) as exc:
                st.error(safe(exc))

@st.fragment(run_every=refresh.every(1.0, running(crossmatch_eval.latest_job(owner))))
def crossmatch_job() -> None:
    """This person's cross-match evaluation in its worker thread: progress, then result."""
    follow(crossmatch_eval.latest_job(owner), "crossmatch")


crossmatch_job()
cm_result = mine.get("crossmatch")
if cm_result is not None:
    st.subheader(f"Cross-matching {safe(cm_result.dataset)}: {safe(cm_result.protocol)}")
    for warning in cm_result.warnings:
        st.warning(safe(warning))
    st.caption(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in cm_result.counts.items()))
    st.dataframe(cm_charts.levels_table(cm_result), hide_index=True, key="cm_levels")
    for name, (fig, sentence) in cm_charts.figures(cm_result).items():
        chart, words = st.columns([3, 1])
        chart.plotly_chart(fig, width="stretch", key=f"cm_{name}")
        words.caption(sentence)
    if cm_result.by_age_gap:
        st.dataframe(cm_charts.age_gap_table(cm_result), hide_index=True, key="cm_gaps")
    with st.expander(f"Every pair the drive returned ({len(cm_result.pairs)})"):
        st.dataframe(cm_charts.pairs_table(cm_result), hide_index=True, key="cm_pairs")
    d1, d2 = st.columns(2)
    d1.download_button("Download cross-match results (JSON)", cm_charts.as_json(cm_result),
                       file_name="crossmatch-evaluation.json", mime="application/json",
                       key="cm_json")
    d2.download_button("Download cross-match report (HTML)", cm_charts.report_html(cm_result),
                       file_name="crossmatch-evaluation.html", mime="text/html", key="cm_html")
