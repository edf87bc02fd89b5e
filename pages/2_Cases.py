"""Cases: the two registries (missing children; children found and in care) as filterable,
sortable tables; one record's details, photos, leads and sightings; status, edit, add photos,
erasure; drives matching every found child against every missing child.

UI only: the tables are ``findme.ui.case_table``; changes go through ``findme.cases.records``
and ``findme.cases.registry``; drives are ``findme.cases.drive_jobs``; every view and change is
audited.
"""

import datetime as dt

import streamlit as st

from findme.cases import found as found_rules
from findme.cases.records import (
    CASE_STATUSES,
    FOUND_STATUSES,
    GENDERS,
    OPEN_FOUND_STATUSES,
    CaseDetails,
    RecordError,
)
from findme.cases.registry import PhotoInput, add_photos, delete_case, update_case
from findme.ui import case_page, images, page_state, refresh, session
from findme.ui.case_table import cases_frame
from findme.ui.importing import recent_drives, start_drive, uses_queue
from findme.ui.text import safe

ctx = session.page("Cases", "cases.view")
records = ctx.ws.records
mine = page_state.of(ctx)  # the record just registered (or a duplicate's *open it*) first
REGISTRIES = {"missing": "Missing children", "found": "Found and in care"}
PHOTO_WIDTH = 220  # px: a case's photos at one size, however many there are
if msg := mine.pop("cases_message", None):
    st.success(msg)

wanted = mine.get("registered_case")
wanted_kind = records.kinds([wanted]).get(wanted) if wanted is not None else None
if wanted_kind is not None and mine.get("cases_kind_for") != wanted:
    st.session_state["cases_kind"] = wanted_kind  # open the registry the record is in
    mine["cases_kind_for"] = wanted
kind = st.segmented_control("Registry", list(REGISTRIES), format_func=REGISTRIES.get,
                            default="found" if ctx.user.role == "shelter" else "missing",
                            key="cases_kind") or "missing"

if ctx.can("cases.edit") or ctx.can("found.register"):
    with st.expander("Match every found child against every missing child (a drive)",
                     expanded=kind == "found"):
        st.caption("Each child found and in care is searched against every open missing "
                   "report. A pair that may be the same child becomes a cross-match lead for "
                   "a reviewer; a pair already proposed is not proposed again. New records are "
                   "matched when they are saved: run a drive after a change of thresholds or "
                   "a large import.")
        if st.button("Start a drive", key="drive_start"):
            try:
                job_id = start_drive(ctx.ws, ctx.user.username)
            except ValueError as exc:
                st.warning(f"Not started: {safe(exc)}.")
            else:
                st.success(f"Drive {job_id} " + ("queued: a worker runs it"
                                                 if uses_queue(ctx.ws) else "started")
                           + "; progress below.")

        @st.fragment(run_every=refresh.every(
            2.0, bool(refresh.under_way(recent_drives(ctx.ws, 3)))))
        def drives_panel() -> None:
            """The latest drives: progress while they run (refreshed every 2 s), then what
            each found."""
            drives = recent_drives(ctx.ws, 3)
            if refresh.ended(mine, "drives_running", refresh.under_way(drives)):
                st.rerun(scope="app")  # one ended: the page again, without the timer
            for job in drives:
                if job.status in ("queued", "running"):
                    st.progress(job.fraction, text=safe(job.line()))
                else:
                    (st.error if job.status == "failed" else st.caption)(safe(job.line()))

        drives_panel()

f1, f2 = st.columns([2, 1])
text = f1.text_input("Find (name, place, notes or number)", key="filter_text")
if kind == "found":
    statuses = f2.multiselect("Status", FOUND_STATUSES, default=list(OPEN_FOUND_STATUSES),
                              key="filter_status_found")
else:
    statuses = f2.multiselect("Status", CASE_STATUSES, default=["open"], key="filter_status")
frame = cases_frame(ctx.ws, text, tuple(statuses), with_contact=ctx.can("cases.contact"),
                    kind=kind, with_photos=ctx.can("photos.view"))
st.dataframe(frame.drop(columns=["id"]), hide_index=True, width="stretch", key="cases_table",
             column_config={"face": st.column_config.ImageColumn("face", width="small")})
st.caption(f"{len(frame)} record(s). Click a column title to sort.")

labels = {int(r.id): f"{r.number} {r.name} ({r.status})" for r in frame.itertuples()}
if wanted is not None and wanted not in labels and wanted_kind == kind:
    # a link (a lead's "Open case") names a record this filter hides: open it all the same
    other = records.get_case(wanted)
    labels = {wanted: f"{other.label} {other.name} ({other.status}; not in this filter)"} | labels
if not labels:
    st.stop()
ids = list(labels)
case_id = st.selectbox("Open a record", ids, format_func=labels.get, key="open_case",
                       index=ids.index(wanted) if wanted in ids else 0)
case = records.get_case(case_id)
session.audit_once(ctx, "case.view", f"case:{case_id}")
may_change = found_rules.may_register(ctx.user.role, case.kind)

st.header(f"{case.label} {safe(case.name)}")
contact = found_rules.contact_for(case, ctx.user.role)
d1, d2 = st.columns(2)
if case.kind == "found":
    st.markdown(f"**Child found and in care** · **status:** {case.status} · **registered** "
                f"{case.created_at:%Y-%m-%d}")
    age = (f"{case.age_min}-{case.age_max}" if case.age_min is not None and
           case.age_max is not None else next(
               (a for a in (case.age_min, case.age_max) if a is not None), "unknown"))
    d1.markdown(f"**Estimated age:** {age}  \n**Gender:** {safe(case.gender or 'unknown')}  \n"
                f"**Languages:** {safe(case.languages or 'unknown')}  \n"
                f"**Identifying marks:** {safe(case.marks or 'none recorded')}")
    d2.markdown(f"**Found:** {safe(case.found_place or 'place unknown')}, "
                f"{case.found_at.date() if case.found_at else 'date unknown'}  \n"
                f"**Cared for by:** {safe(case.institution or 'not recorded')}  \n"
                f"**Institution contact:** {safe(contact.contact or 'none recorded')}  \n"
                f"**Lawful basis:** {safe(case.lawful_basis or 'none recorded')}")
    if case.linked_case_id:
        st.info(f"Identified as missing case #{case.linked_case_id}.")
else:
    st.markdown(f"**Status:** {case.status} · **registered** {case.created_at:%Y-%m-%d} · "
                f"**assigned to** {safe(case.assigned_to or 'nobody')}")
    d1.markdown(f"**Date of birth:** {case.birth_date or 'unknown'}  \n"
                f"**Age at disappearance:** {case.age_at_disappearance if case.age_at_disappearance is not None else 'unknown'}  \n"  # noqa: E501
                f"**Gender:** {safe(case.gender or 'unknown')}")
    d2.markdown(f"**Last seen:** {safe(case.last_seen_place or 'unknown')}, "
                f"{case.last_seen_date or 'date unknown'}  \n"
                f"**Consent recorded:** {'yes' if case.consent_recorded else 'no'}"
                + (f"  \n**Lawful basis:** {safe(case.lawful_basis)}" if case.lawful_basis
                   else ""))
    if not contact.hidden:
        d2.markdown(f"**Guardian contact:** {safe(contact.contact or 'none recorded')}")
    if case.linked_case_id:
        st.info(f"Found: matched to found record F-{case.linked_case_id}.")
if case.description:
    st.markdown(f"**Notes:** {safe(case.description)}")

if ctx.can("photos.view"):
    st.subheader("Photos")
    photos = records.photos(case_id)
    if photos:
        cols = st.columns(4)  # four to a row at a fixed width: one photo is not page-high
        for k, p in enumerate(photos):
            path = images.stored(ctx.settings, p.file_path)
            with cols[k % len(cols)]:
                if path:
                    st.image(str(path), caption=f"photo {p.id} · {p.status}"
                             + (f" · taken {p.taken_date}" if p.taken_date else ""),
                             width=PHOTO_WIDTH)
                    st.download_button("Download", path.read_bytes(), f"case{case_id}-{p.id}.jpg",
                                       "image/jpeg", key=f"dl_{p.id}")
                else:
                    st.caption(f"photo {p.id}: file missing ({p.status})")
else:
    st.caption("Photos are hidden for your role.")

st.subheader("Leads")
case_views = case_page.case_leads(records, case_id)
lead_rows = case_page.leads_frame(case_views)
if ctx.can("leads.review"):
    waiting = sum(v.lead.status == "new" for v in case_views)
    st.page_link("pages/4_Review_leads.py", query_params={"case": str(case_id)},
                 label=f"Review this record's leads ({waiting} waiting)", icon="🔎")
if not lead_rows.empty:
    st.dataframe(lead_rows, hide_index=True, width="stretch", key="case_leads")
else:
    st.caption("No leads yet: a search or a drive that finds this child makes one.")
st.subheader("Sightings")
sightings = case_page.sightings_frame(case_views)
if not sightings.empty:
    st.dataframe(sightings, hide_index=True, width="stretch", key="case_sightings")
else:
    st.caption("No sightings yet: CCTV and webcam searches that find this child show here.")
if ctx.can("audit.view"):  # the audit log is an admin's (who viewed what)
    with st.expander("History (who did what with this record)"):
        st.dataframe(case_page.history_frame(records, case_id), hide_index=True,
                     width="stretch", key="case_history")

CHANGES = {"missing": (("found", "Mark found"), ("closed", "Close case"), ("open", "Reopen")),
           "found": (("in_care", "In care"), ("identified", "Identified"),
                     ("transferred", "Transferred"), ("closed", "Close record"))}
if may_change:
    st.subheader("Change")
    b = st.columns(len(CHANGES[case.kind]))
    for k, (status, label) in enumerate(CHANGES[case.kind]):
        if case.status != status and b[k].button(label, key=f"status_{status}"):
            records.set_case_status(case_id, status, ctx.user.username)
            st.rerun()
if ctx.can("cases.edit") and case.kind == "missing":
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
if may_change:
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
                mine["cases_message"] = (f"Case #{case_id} was erased: its details, photos, "
                                         "face vectors, leads and crops are gone for good.")
                st.rerun()
