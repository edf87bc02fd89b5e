"""Cases: a filterable, sortable table; one case's details, photos, leads and sightings; status,
edit, add photos, erasure.

UI only: the table is ``findme.ui.case_table``; changes go through ``findme.cases.records`` and
``findme.cases.registry``; every view and change is audited.
"""

import datetime as dt

import pandas as pd
import streamlit as st

from findme.cases import leads
from findme.cases.records import CASE_STATUSES, GENDERS, CaseDetails, RecordError
from findme.cases.registry import PhotoInput, add_photos, delete_case, update_case
from findme.ui import images, page_state, session
from findme.ui.case_table import cases_frame
from findme.ui.text import safe

ctx = session.page("Cases", "cases.view")
records = ctx.ws.records
mine = page_state.of(ctx)  # the case just registered here, opened first

f1, f2 = st.columns([2, 1])
text = f1.text_input("Find (name, place, notes or case number)", key="filter_text")
statuses = f2.multiselect("Status", CASE_STATUSES, default=["open"], key="filter_status")
frame = cases_frame(ctx.ws, text, tuple(statuses), with_contact=ctx.can("cases.contact"))
st.dataframe(frame, hide_index=True, width="stretch", key="cases_table")
st.caption(f"{len(frame)} case(s). Click a column title to sort.")

if frame.empty:
    st.stop()
labels = {int(r.id): f"#{r.id} {r.name} ({r.status})" for r in frame.itertuples()}
wanted = mine.get("registered_case")
ids = list(labels)
case_id = st.selectbox("Open a case", ids, format_func=labels.get, key="open_case",
                       index=ids.index(wanted) if wanted in ids else 0)
case = records.get_case(case_id)
session.audit_once(ctx, "case.view", f"case:{case_id}")

st.header(f"#{case.id} {safe(case.name)}")
st.markdown(f"**Status:** {case.status} · **registered** {case.created_at:%Y-%m-%d} · "
            f"**assigned to** {safe(case.assigned_to or 'nobody')}")
d1, d2 = st.columns(2)
d1.markdown(f"**Date of birth:** {case.birth_date or 'unknown'}  \n"
            f"**Age at disappearance:** {case.age_at_disappearance if case.age_at_disappearance is not None else 'unknown'}  \n"  # noqa: E501
            f"**Gender:** {safe(case.gender or 'unknown')}")
d2.markdown(f"**Last seen:** {safe(case.last_seen_place or 'unknown')}, "
            f"{case.last_seen_date or 'date unknown'}  \n"
            f"**Consent recorded:** {'yes' if case.consent_recorded else 'no'}"
            + (f"  \n**Lawful basis:** {safe(case.lawful_basis)}" if case.lawful_basis else ""))
if ctx.can("cases.contact"):
    d2.markdown(f"**Guardian contact:** {safe(case.guardian_contact or 'none recorded')}")
if case.description:
    st.markdown(f"**Notes:** {safe(case.description)}")

if ctx.can("photos.view"):
    st.subheader("Photos")
    photos = records.photos(case_id)
    if photos:
        cols = st.columns(min(len(photos), 4))
        for k, p in enumerate(photos):
            path = images.stored(ctx.settings, p.file_path)
            with cols[k % len(cols)]:
                if path:
                    st.image(str(path), caption=f"photo {p.id} · {p.status}", width="stretch")
                    st.download_button("Download", path.read_bytes(), f"case{case_id}-{p.id}.jpg",
                                       "image/jpeg", key=f"dl_{p.id}")
                else:
                    st.caption(f"photo {p.id}: file missing ({p.status})")
else:
    st.caption("Photos are hidden for your role.")

st.subheader("Leads and sightings")
history = leads.queue(records, status=None, case_id=case_id)
if history:
    st.dataframe(pd.DataFrame([{
        "lead": v.lead.id, "when": v.searched_at or v.lead.created_at, "source": v.source,
        "from": v.source_ref, "score": round(v.lead.fused_score, 3),
        "decision": v.lead.decision, "status": v.lead.status,
        "reviewed by": v.lead.reviewed_by, "note": v.lead.note} for v in history]),
        hide_index=True, width="stretch", key="case_leads")
else:
    st.caption("No leads or sightings yet.")

if ctx.can("cases.edit"):
    st.subheader("Change")
    b = st.columns(3)
    for k, (status, label) in enumerate((("found", "Mark found"), ("closed", "Close case"),
                                         ("open", "Reopen"))):
        if case.status != status and b[k].button(label, key=f"status_{status}"):
            records.set_case_status(case_id, status, ctx.user.username)
            st.rerun()
    with st.expander("Edit details"), st.form("edit_case"):
        e_name = st.text_input("Name", case.name, max_chars=200)
        e_birth = st.date_input("Date of birth", case.birth_date,
                                min_value=dt.date(1900, 1, 1), max_value=dt.date.today())
        e_age = st.number_input("Age at disappearance", 0, 120, case.age_at_disappearance)
        e_gender = st.selectbox("Gender", GENDERS, index=GENDERS.index(case.gender)
                                if case.gender in GENDERS else None)
        e_place = st.text_input("Last seen (place)", case.last_seen_place or "")
        e_seen = st.date_input("Last seen (date)", case.last_seen_date,
                               min_value=dt.date(1900, 1, 1), max_value=dt.date.today())
        e_guardian = st.text_input("Guardian contact", case.guardian_contact or "") \
                if ctx.can("cases.contact") else case.guardian_contact
        e_assigned = st.text_input("Assigned investigator", case.assigned_to or "")
        e_notes = st.text_area("Description and notes", case.description or "")
        if st.form_submit_button("Save changes"):
            try:
                update_case(records, case_id, CaseDetails(
                    e_name, e_birth, int(e_age) if e_age is not None else None, e_gender,
                    e_place or None, e_seen, e_notes or None, e_guardian or None,
                    case.consent_recorded, e_assigned.strip() or None, case.lawful_basis,
                    case.ref),
                    ctx.user.username)
                st.rerun()
            except RecordError as exc:
                st.error(f"Not saved: {safe(exc)}.")
    with st.expander("Add photos"):
        more = st.file_uploader("More photos of the child", accept_multiple_files=True,
                                type=["jpg", "jpeg", "png", "webp", "bmp", "pgm"],
                                key=f"more_{case_id}")
        if more and st.button("Add these photos", key="add_photos"):
            with st.spinner("Checking and storing the photos"):
                outcomes = add_photos(case_id, [PhotoInput(f.name, f.getvalue()) for f in more],
                                      records, ctx.ws.store, ctx.settings, ctx.user.username)
            for o in outcomes:
                if o.accepted:
                    st.success(f"{safe(o.name)}: added")
                else:
                    st.warning(f"{safe(o.name)}: not added ({safe(', '.join(o.reasons))})")

if ctx.can("cases.erase"):
    with st.expander("Erase this case"):
        st.warning("Erasure removes the case, its photos, face vectors, leads and crops for "
                   "good. It cannot be undone.")
        typed = st.text_input(f"Type the case number ({case_id}) to confirm", key="erase_confirm")
        if st.button("Erase for good", type="primary", key="erase"):
            if typed.strip().lstrip("#") != str(case_id):
                st.error("The number typed does not match: nothing was erased.")
            else:
                with st.spinner("Erasing"):
                    delete_case(case_id, records, ctx.ws.store, ctx.settings, ctx.user.username)
                mine.pop("registered_case", None)
                st.success(f"Case #{case_id} was erased.")
                st.rerun()
