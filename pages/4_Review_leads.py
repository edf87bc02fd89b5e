"""Review leads: the queue, probe face beside the registered photo, confirm or reject with a note.

UI only: the queue and the verdict rules (two-person rule included) are ``findme.cases.leads``.
"""

import pandas as pd
import streamlit as st

from findme.cases import leads
from findme.cases.records import LEAD_STATUSES, RecordError
from findme.ui import images, page_state, session
from findme.ui.text import safe

ctx = session.page("Review leads", "leads.review",
                   "Highest score first, then oldest. Look at both faces and the context; a "
                   "score is not a verdict.")
records = ctx.ws.records
mine = page_state.of(ctx)  # the last verdict's message belongs to this workspace and user
if msg := mine.pop("review_message", None):
    st.success(msg)
if ctx.settings.two_person_rule:
    st.info("Two-person rule: a lead is confirmed only when two different reviewers confirm it.")

linked = None  # an alert's link: Review_leads?lead=N opens that lead
link = st.query_params.get("lead", "")
if link:
    # digits only, at most 18 (a longer number overflowed SQLite's integers and crashed)
    if link.isascii() and link.isdigit() and len(link) <= 18:
        try:
            linked = leads.get(records, int(link))
        except (ValueError, RecordError):
            linked = None
    if linked is None:
        st.warning("No such lead: the link names no lead here.")
show = st.segmented_control("Show", ["new", *[s for s in LEAD_STATUSES if s != "new"]],
                            default=linked.lead.status if linked else "new",
                            key="lead_status") or "new"
items = leads.queue(records, status=show)
if linked and linked.lead.status == show and linked.lead.id not in [v.lead.id for v in items]:
    items.insert(0, linked)
if not items:
    st.success("Nothing waiting here." if show == "new" else f"No {show} leads.")
    st.stop()

groups = leads.grouped(items)  # one row per searched photo / video track, not per face
st.dataframe(pd.DataFrame([{
    "probe": g.probe_id, "leads": len(g.views),
    "best": f"#{g.best.lead.case_id} {g.best.case_name}",
    "score": round(g.best.lead.fused_score, 3), "decision": g.best.lead.decision,
    "margin": None if g.best.lead.margin is None else round(g.best.lead.margin, 3),
    "source": g.best.source, "from": g.best.source_ref,
    "when": g.best.searched_at or g.best.lead.created_at,
    "confirmations": g.best.confirmations} for g in groups]), hide_index=True,
    width="stretch", key="queue")

ids = [v.lead.id for g in groups for v in g.views]
by_id = {v.lead.id: v for v in items}
lead_id = st.selectbox("Lead", ids, key="lead_pick",
                       index=ids.index(linked.lead.id) if linked and linked.lead.id in ids else 0,
                       format_func=lambda i: (
    f"probe {by_id[i].lead.probe_id or '-'} · lead {i}: #{by_id[i].lead.case_id} "
    f"{by_id[i].case_name} ({by_id[i].lead.decision} {by_id[i].lead.fused_score:.2f})"))
view = by_id[lead_id]
lead = view.lead
session.audit_once(ctx, "lead.view", f"lead:{lead_id}", f"case:{lead.case_id}")

c1, c2, c3 = st.columns([1, 1, 2])
crop = images.stored(ctx.settings, lead.crop_path)
if crop:
    c1.image(str(crop), caption="searched face", width="stretch")
else:
    c1.caption("probe crop not kept")
reg = images.stored(ctx.settings, view.photo_path)
if reg:
    c2.image(str(reg), caption=f"registered photo of case #{lead.case_id}", width="stretch")
c3.markdown(f"### #{lead.case_id} {safe(view.case_name)}\n"
            f"{images.badge(lead.decision, lead.fused_score)} (case status: {view.case_status})"
            "  \n" + " · ".join(f"{m}: {v:.3f}" for m, v in (lead.scores or {}).items()) +
            f"  \n**Why:** {leads.why(lead)}" +
            f"  \n**Source:** {safe(view.source or 'unknown')} · {safe(view.source_ref or '')}  \n"
            f"**When:** {(view.searched_at or lead.created_at):%Y-%m-%d %H:%M} UTC")
for r in view.reviews:
    c3.caption(f"{safe(r.reviewer)} {r.verdict}ed at {r.at:%Y-%m-%d %H:%M}: "
               f"{safe(r.note or 'no note')}")

if lead.status == "new":
    with st.form(f"review_{lead_id}"):
        note = st.text_area("Note (what you checked, why)", key=f"note_{lead_id}")
        found = st.checkbox("Confirming also marks the case found", key=f"found_{lead_id}") \
            if ctx.can("cases.edit") else False
        b1, b2 = st.columns(2)
        confirm = b1.form_submit_button("Confirm", type="primary")
        reject = b2.form_submit_button("Reject")
    if confirm or reject:
        try:
            out = leads.review(records, lead_id, ctx.user.username,
                               "confirm" if confirm else "reject", note, found, ctx.user.role)
        except RecordError as exc:
            st.error(f"Not recorded: {safe(exc)}.")
        else:
            msg = f"Lead {lead_id}: {out.status}."
            if out.confirmations_needed:
                msg += f" Waiting for {out.confirmations_needed} more reviewer(s)."
            if out.case_marked_found:
                msg += f" Case #{lead.case_id} marked found."
            mine["review_message"] = msg
            st.rerun()
else:
    st.caption(f"{lead.status} by {safe(lead.reviewed_by)}: {safe(lead.note or 'no note')}")
