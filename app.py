"""Find Me AI dashboard: sign-in, then the overview of the open workspace.

UI only: counts come from ``findme.ui.overview``, the gate and navigation from ``findme.ui``.
"""

import pandas as pd
import streamlit as st

from findme import demo
from findme.provision import weights
from findme.ui import overview, session, tables
from findme.ui.text import safe

ctx = session.page("Find Me AI", caption="Face search that helps find missing children. "
                   "A match is a lead for a person to review, never a verdict.")

stats = overview.overview(ctx.ws)
cols = st.columns(5)
cols[0].metric("Open cases", stats.open_cases, help=f"{stats.found_cases} found")
cols[1].metric("Leads waiting for review", stats.leads_waiting)
cols[2].metric("Matches this week", stats.matches_week)
cols[3].metric("Alerts sent this week", stats.alerts_sent_week)
cols[4].metric("Photos in the store", stats.photos_stored,
               help="Registered photos whose face is searchable. Each is stored once per model: "
               + ", ".join(f"{m}: {n}" for m, n in stats.faces_per_model.items()))

if stats.models_ok:
    st.success("Default models and detector are provisioned and verified.")
else:
    st.error("Some default models are missing: run `make run` (or `findme provision`).")

st.plotly_chart(overview.leads_chart(overview.leads_per_day(ctx.ws)), width="stretch",
                key="leads_chart")

note = st.session_state.pop("demo_switched", None)
if note:
    st.success(note, icon=":material/science:")
if stats.open_cases == 0 and not ctx.demo and ctx.can("demo.load"):
    st.info("No cases yet. Register one under **Register a case**, or load the demo workspace: "
            "sample cases from public photos of adults, kept apart from real cases.")
    if st.button("Load the demo workspace", key="load_demo"):
        bar = st.progress(0.0, text="Loading demo cases (about a minute the first time)")
        report = demo.load(session.demo_workspace(), ctx.settings,
                           lambda what, k, n: bar.progress(k / max(n, 1), text=what),
                           actor=ctx.user.username)
        st.session_state["demo_switched"] = demo.switched_note(report)
        session.switch_workspace("Demo")
        st.rerun()
elif stats.open_cases == 0 and not ctx.demo:
    st.info("No cases yet. Register one under **Register a case** (an admin can also load "
            "the demo workspace here).")

with st.expander("Models and detectors"):
    statuses = weights.check(ctx.settings)
    st.dataframe(tables.blank_none(pd.DataFrame([s.__dict__ for s in statuses])[
                     ["name", "kind", "ok", "default", "detail"]]),
                 hide_index=True, width="stretch")
    st.caption(f"Data folder: {safe(ctx.settings.data_dir)}")
