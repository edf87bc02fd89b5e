"""Review leads: the queue, probe face beside the registered photo, confirm or reject with a note.

UI only: the queue and the verdict rules (two-person rule included) are ``findme.cases.leads``.
"""

import pandas as pd
import streamlit as st

from findme.cases import crossleads, leads
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
if lead.found_id is not None:  # a cross-match lead: the missing report beside the found child
    cross = crossleads.cross_view(records, lead_id)
    for col, path, side in ((c1, cross.case_photo_path, f"missing case #{cross.case.id}"),
                            (c2, cross.found_photo_path, f"found record F-{cross.found.id}")):
        shown = images.stored(ctx.settings, path) if ctx.can("photos.view") else None
        if shown:
            col.image(str(shown), caption=side, width="stretch")
        else:
            col.caption(f"{side}: photo hidden for your role" if path else f"{side}: no photo")
    c3.markdown(
        f"### Cross-match: #{cross.case.id} {safe(cross.case.name)} ↔ F-{cross.found.id} "
        f"{safe(cross.found.name)}\n"
        f"{images.badge(lead.decision, lead.fused_score)}  \n"
        + " · ".join(f"{m}: {v:.3f}" for m, v in (lead.scores or {}).items()) +
        f"  \n**Why:** {leads.why(lead)}  \n"
        f"**Missing:** last seen {safe(cross.case.last_seen_place or 'place unknown')}, "
        f"{cross.case.last_seen_date or 'date unknown'}; age in this photo "
        f"{crossleads.age_text(cross.case_age)} (case {view.case_status})  \n"
        f"**Found:** {safe(cross.found.found_place or 'place unknown')}, "
        f"{cross.found.found_at.date() if cross.found.found_at else 'date unknown'}; in the "
        f"care of {safe(cross.found.institution or 'an institution not recorded')}; age in "
        f"this photo {crossleads.age_text(cross.found_age)} ({cross.found.status})  \n"
        f"**Age gap between the photos:** {crossleads.age_gap_text(cross.age_gap_years)}")
else:
    crop = images.stored(ctx.settings, lead.crop_path)
    if crop:
        c1.image(str(crop), caption="searched face", width="stretch")
    else:
        c1.caption("probe crop not kept")
    reg = images.stored(ctx.settings, view.photo_path)
    if reg:
        c2.image(str(reg), caption=f"registered photo of case #{lead.case_id}", width="stretch")
    c3.markdown(f"### #{lead.case_id} {safe(view.case_name)}\n"
                f"{images.badge(lead.decision, lead.fused_score)} (case status: "
                f"{view.case_status})  \n"
                + " · ".join(f"{m}: {v:.3f}" for m, v in (lead.scores or {}).items()) +
                f"  \n**Why:** {leads.why(lead)}" +
                f"  \n**Source:** {safe(view.source or 'unknown')} · "
                f"{safe(view.source_ref or '')}  \n"
                f"**When:** {(view.searched_at or lead.created_at):%Y-%m-%d %H:%M} UTC")
for r in view.reviews:
    c3.caption(f"{safe(r.reviewer)} {r.verdict}ed at {r.at:%Y-%m-%d %H:%M}: "
               f"{safe(r.note or 'no note')}")

if lead.status == "new":
    with st.form(f"review_{lead_id}"):
        note = st.text_area("Note (what you checked, why)", key=f"note_{lead_id}")
        found = st.checkbox("Confirming also marks the case found", key=f"found_{lead_id}") \
            if ctx.can("cases.edit") and lead.found_id is None else False
        if lead.found_id is not None:
            st.caption(f"Confirming links the two: case #{lead.case_id} is marked found and "
                       f"F-{lead.found_id} identified; both sides are alerted.")
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
