"""Review leads: the desk. Filters, a table of leads to click (several to reject at once), the
searched face beside the registered face, the lead's context, confirm or reject with a note,
add a confirmed face to its case, and links to the case.

UI only: the queue and verdicts (two-person rule included) are ``findme.cases.leads``; filters
and the table are ``findme.ui.review_desk``; face crops ``findme.ui.face_crops``; adding a face
``findme.cases.lead_faces``.
"""

import streamlit as st

from findme.cases import crossleads, lead_faces, leads
from findme.cases.records import LEAD_STATUSES, RecordError
from findme.ui import images, page_state, review_desk, session
from findme.ui.face_crops import registered_face
from findme.ui.text import safe

FACE_WIDTH = 220  # px: both faces of a comparison at one size

ctx = session.page("Review leads", "leads.review",
                   "Highest score first, then oldest. Click a row to open a lead; tick several "
                   "to reject them together. Look at both faces and the context; a score is "
                   "not a verdict.")
records = ctx.ws.records
mine = page_state.of(ctx)  # the last verdict's message belongs to this workspace and user
see_photos = ctx.can("photos.view")
if msg := mine.pop("review_message", None):
    st.success(msg)
for line in mine.pop("review_problems", []):
    st.warning(line)
if ctx.settings.two_person_rule:
    st.info("Two-person rule: a lead is confirmed only when two different reviewers confirm it.")

# Where to go after a verdict or a link (set before the widgets they move are drawn)
if goto := mine.pop("desk_goto", None):
    st.session_state["lead_status"], st.session_state["lead_pick"] = goto
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
    elif mine.get("lead_link_for") != linked.lead.id:
        mine["lead_link_for"] = linked.lead.id
        st.session_state["lead_status"] = linked.lead.status
        st.session_state["lead_pick"] = linked.lead.id
case_link = st.query_params.get("case", "")  # a case's link: Review_leads?case=N
case_from_link = int(case_link) if case_link.isascii() and case_link.isdigit() \
    and len(case_link) <= 18 else None
if case_from_link is not None and mine.get("case_link_for") != case_from_link:
    mine["case_link_for"] = case_from_link
    st.session_state["desk_case"] = case_from_link

st.session_state.setdefault("lead_status", "new")
show = st.segmented_control("Show", ["new", *[s for s in LEAD_STATUSES if s != "new"]],
                            key="lead_status") or "new"
everything = leads.queue(records, status=show, limit=review_desk.QUEUE_LIMIT)
if linked and linked.lead.status == show and \
        linked.lead.id not in [v.lead.id for v in everything]:
    everything.insert(0, linked)
opts = review_desk.options(everything)
case_options = dict(opts.cases)
if case_from_link is not None and case_from_link not in case_options:
    case_options[case_from_link] = f"#{case_from_link}"

with st.container(border=True):
    f1, f2, f3, f4, f5 = st.columns([2, 1, 1, 1, 2])
    case_pick = f1.selectbox("Case", [None, *case_options], key="desk_case",
                             format_func=lambda c: "every case" if c is None
                             else case_options.get(c, f"#{c}"))
    sources = f2.multiselect("Source", opts.sources, key="desk_source", placeholder="any")
    cameras = f3.multiselect("Camera", opts.cameras, key="desk_camera",
                             placeholder="any" if opts.cameras else "no cameras")
    decisions = f4.multiselect("Decision", opts.decisions, key="desk_decision",
                               placeholder="any")
    dates = f5.date_input("Searched between", value=[], key="desk_dates", format="YYYY-MM-DD")
filters = review_desk.Filters(case_pick, tuple(sources), tuple(cameras), tuple(decisions),
                              dates[0] if len(dates) > 0 else None,
                              dates[1] if len(dates) > 1 else (dates[0] if dates else None))
views = review_desk.ordered(review_desk.apply(everything, filters))
if not views:
    st.success(("Nothing waiting here." if show == "new" else f"No {show} leads.")
               + (" Clear the filters to see more." if filters.active() else ""))
    st.stop()

frame = review_desk.queue_frame(views, ctx.settings if see_photos else None)
event = st.dataframe(
    frame, hide_index=True, width="stretch", key="queue", on_select="rerun",
    selection_mode="multi-row",
    column_config={"face": st.column_config.ImageColumn("face", width="small"),
                   "score": st.column_config.NumberColumn("score", format="%.3f")})
st.caption(f"{len(views)} lead(s)" + (f" of {len(everything)}" if filters.active() else "")
           + ". Click a row to open it below; tick several to reject them together.")
picked = review_desk.selected_ids(frame, event.selection.rows)
ids = [v.lead.id for v in views]
by_id = {v.lead.id: v for v in views}
newly = [i for i in picked if i not in mine.get("desk_rows", [])]
mine["desk_rows"] = picked
if newly:
    st.session_state["lead_pick"] = newly[-1]  # the row just clicked opens
    st.session_state["bulk_pick"] = [i for i in picked if by_id[i].lead.status == "new"]
st.session_state["bulk_pick"] = [i for i in st.session_state.get("bulk_pick", []) if i in ids]
if st.session_state.get("lead_pick") not in ids:
    st.session_state["lead_pick"] = ids[0]

if show == "new":
    with st.expander("Reject several leads at once", expanded=len(picked) > 1):
        bulk = st.multiselect("Leads to reject", ids, key="bulk_pick",
                              format_func=lambda i: review_desk.pick_label(by_id[i]))
        bulk_note = st.text_input("Why (kept on each lead)", key="bulk_note",
                                  placeholder="e.g. a different child: older, other ears")
        if st.button(f"Reject {len(bulk)} lead(s)", key="bulk_reject", disabled=not bulk):
            try:
                out = leads.reject_many(records, bulk, ctx.user.username, bulk_note,
                                        ctx.user.role)
            except RecordError as exc:
                st.error(f"Nothing rejected: {safe(exc)}.")
            else:
                mine["review_message"] = f"{len(out.rejected)} lead(s) rejected."
                mine["review_problems"] = [f"Lead {i}: not rejected ({safe(why)})."
                                           for i, why in out.refused]
                mine.pop("desk_rows", None)
                st.session_state.pop("bulk_pick", None)
                st.rerun()

lead_id = st.selectbox("Lead", ids, key="lead_pick",
                       format_func=lambda i: review_desk.pick_label(by_id[i]))
view = by_id[lead_id]
lead = view.lead
session.audit_once(ctx, "lead.view", f"lead:{lead_id}", f"case:{lead.case_id}")


def open_case(case_id: int) -> None:
    """Open the Cases page on ``case_id`` (it preselects the record registered last)."""
    mine["registered_case"] = case_id
    st.switch_page("pages/2_Cases.py")


c1, c2, c3 = st.columns([1, 1, 2])
if lead.found_id is not None:  # a cross-match lead: the missing report beside the found child
    cross = crossleads.cross_view(records, lead_id)
    photos = {p.id: p for p in records.photos(
        ids=[i for i in (lead.photo_id, lead.found_photo_id) if i is not None])}
    for col, photo_id, side in ((c1, lead.photo_id, f"missing case #{cross.case.id}"),
                                (c2, lead.found_photo_id, f"found record F-{cross.found.id}")):
        face = registered_face(ctx.settings, photos.get(photo_id)) if see_photos else None
        if face is not None:
            col.image(face, caption=side, width=FACE_WIDTH)
        else:
            col.caption(f"{side}: photo hidden for your role" if photo_id and not see_photos
                        else f"{side}: no photo")
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
    l1, l2 = c3.columns(2)
    if l1.button(f"Open case #{cross.case.id}", key="open_case_link"):
        open_case(cross.case.id)
    if l2.button(f"Open found record F-{cross.found.id}", key="open_found_link"):
        open_case(cross.found.id)
else:
    crop = images.stored(ctx.settings, lead.crop_path) if see_photos else None
    if crop:
        c1.image(str(crop), caption="searched face", width=FACE_WIDTH)
    else:
        c1.caption("searched face: not kept" if see_photos else
                   "searched face: hidden for your role")
    reg = None
    if see_photos and lead.photo_id is not None:
        reg = registered_face(ctx.settings, next(iter(records.photos(ids=[lead.photo_id])),
                                                 None))
    if reg is not None:
        c2.image(reg, caption=f"registered face, case #{lead.case_id}", width=FACE_WIDTH)
    else:
        c2.caption("registered face: hidden for your role" if not see_photos
                   else "registered face: photo no longer stored")
    c3.markdown(f"### #{lead.case_id} {safe(view.case_name)}\n"
                f"{images.badge(lead.decision, lead.fused_score)} (case status: "
                f"{view.case_status})  \n"
                + " · ".join(f"{m}: {v:.3f}" for m, v in (lead.scores or {}).items()) +
                f"  \n**Why:** {leads.why(lead)}  \n"
                f"**Context:** {safe(' · '.join(review_desk.context_lines(view)))}")
    if c3.button(f"Open case #{lead.case_id}", key="open_case_link"):
        open_case(lead.case_id)
for r in view.reviews:
    c3.caption(f"{safe(r.reviewer)} {r.verdict}ed at {r.at:%Y-%m-%d %H:%M}: "
               f"{safe(r.note or 'no note')}")

if lead.status == "new":
    with st.form(f"review_{lead_id}"):
        note = st.text_area("Note (what you checked, why)", key=f"note_{lead_id}")
        b1, b2, _ = st.columns([1, 1, 4])  # the two buttons come right after the note (Tab)
        confirm = b1.form_submit_button("Confirm", type="primary")
        reject = b2.form_submit_button("Reject")
        found = st.checkbox("Confirming also marks the case found", key=f"found_{lead_id}") \
            if ctx.can("cases.edit") and lead.found_id is None else False
        if lead.found_id is not None:
            st.caption(f"Confirming links the two: case #{lead.case_id} is marked found and "
                       f"F-{lead.found_id} identified; both sides are alerted.")
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
            if out.status == "confirmed":  # stay on it: its face may go to the case
                mine["desk_goto"] = ("confirmed", lead_id)
            st.rerun()
else:
    st.caption(f"{lead.status} by {safe(lead.reviewed_by or 'unknown')}: "
               f"{safe(lead.note or 'no note')}")
    refusal = lead_faces.can_add(view, ctx.user.role)
    if lead.status == "confirmed" and lead.found_id is None and ctx.can("cases.edit"):
        if refusal:
            st.caption(f"Add this face to the case: {safe(refusal)}.")
        elif st.button(f"Add this face to case #{lead.case_id}", key="add_face",
                       help="Stored as a photo of the case under its lawful basis (checked "
                            "and searched like any added photo); audited."):
            try:
                with st.spinner("Checking and storing the face"):
                    added = lead_faces.add_face_to_case(records, ctx.ws.store, ctx.settings,
                                                        lead_id, ctx.user.username,
                                                        ctx.user.role)
            except RecordError as exc:
                st.error(f"Not added: {safe(exc)}.")
            else:
                if added.accepted:
                    st.success(f"Face added to case #{lead.case_id} as photo {added.photo_id}.")
                else:
                    st.warning(f"Not added: {safe(', '.join(added.reasons))}.")
