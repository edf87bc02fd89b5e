"""Register a child: a missing child (case details, consent) or a child found and in care
(where, when, the institution, the lawful basis), with several photos, each checked first.

UI only: checking photos is ``findme.registry.inspect_photo``; saving (with the duplicate check
and the cross-match against the other registry) is ``findme.ui.registering.save`` over
``enroll_case``.
"""

import datetime as dt

import streamlit as st

from findme.cases import found as found_rules
from findme.cases import import_jobs
from findme.cases.records import GENDERS, CaseDetails, RecordError
from findme.cases.registry import (
    EnrollmentRejected,
    PhotoInput,
    inspect_photo,
    require_lawful_basis,
)
from findme.cases.transfer import ImportFileError
from findme.ui import images, page_state, refresh, registering, session
from findme.ui.importing import job_line, recent_jobs, report_table, submit_import, uses_queue
from findme.ui.text import safe

ctx = session.page("Register a case", "found.register",
                   "A missing child, or a child found and in care whose family is unknown. Add "
                   "one or more clear photos: the record is saved only with at least one usable "
                   "photo, and is searched at once against the other registry.")
mine = page_state.of(ctx)  # photo checks and the form's one-time token: this workspace and user
kinds = [k for k in ("missing", "found") if found_rules.may_register(ctx.user.role, k)]
kind = st.radio("Who are you registering?", kinds, format_func=registering.KIND_LABELS.get,
                horizontal=True, key="register_kind") if len(kinds) > 1 else kinds[0]
if len(kinds) == 1:
    st.caption(f"Registering: **{registering.KIND_LABELS[kind].lower()}** (your role registers "
               "found children only).")
# Every widget of the form carries the form's one-time token: once a record is saved the
# token changes, the form comes back empty, and a second click on the old form saves nothing.
form = page_state.OneTimeForm(mine, f"register_{kind}")
token = form.token
notice = st.container()  # the record saved last, with a link to it


# Photos first (each checked on upload), then the details in a form: typing a name or ticking
# consent does not rerun the page, so a rerun never races an upload in progress.
st.subheader("1. Photos of the child")
photos_area = st.container()
prompt_area = st.container()  # a likely duplicate, held back before saving
with st.form(form.key("details"), enter_to_submit=False):
    st.subheader("2. What is known")
    if kind == "found":
        build_found = registering.found_fields(form.key)
        save_label = "Register found child"
    else:
        left, right = st.columns(2)
        name = left.text_input("Child's name *", key=form.key("name"), max_chars=200)
        birth = left.date_input("Date of birth", value=None, min_value=dt.date(1900, 1, 1),
                                max_value=dt.date.today(), key=form.key("birth"))
        age = left.number_input("Age at disappearance", min_value=0, max_value=120, value=None,
                                step=1, key=form.key("age"))
        gender = left.selectbox("Gender", GENDERS, index=None, key=form.key("gender"))
        place = right.text_input("Last seen (place)", key=form.key("place"), max_chars=300)
        seen = right.date_input("Last seen (date)", value=None, min_value=dt.date(1900, 1, 1),
                                max_value=dt.date.today(), key=form.key("seen"))
        guardian = right.text_input("Guardian contact (phone / e-mail)",
                                    key=form.key("guardian"), max_chars=300)
        assigned = right.text_input("Assigned investigator (user name)",
                                    key=form.key("assigned"), value=ctx.user.username,
                                    max_chars=100)
        notes = st.text_area("Description and case notes", key=form.key("notes"))
        consent = st.checkbox("The guardian's consent to store these photos for the search is "
                              "recorded", key=form.key("consent"))
        basis = st.text_input("...or another lawful basis (e.g. a court order or a police "
                              "request, with its reference)", key=form.key("lawful_basis"),
                              max_chars=300)
        save_label = "Register case"
    submitted = st.form_submit_button(save_label, type="primary", key=form.key("save"))

with photos_area:
    files = st.file_uploader("Photos of the child (JPEG, PNG, WebP, BMP)",
                             accept_multiple_files=True,
                             type=["jpg", "jpeg", "png", "webp", "bmp", "pgm"],
                             key=form.key("photos"))
    choices: dict[str, int | None] = {}
    taken: dict[str, dt.date | None] = {}  # when each photo was taken, if known
    usable = 0
    if files:
        st.subheader("Photo check")
        cols = st.columns(min(len(files), 3))
        checked = mine.setdefault("photo_checks", {})  # detect once per upload
        for gone in set(checked) - {f.file_id for f in files}:
            del checked[gone]
        for k, f in enumerate(files):
            if f.file_id not in checked:
                checked[f.file_id] = inspect_photo(f.name, f.getvalue(), ctx.settings)
            preview = checked[f.file_id]
            with cols[k % len(cols)]:
                if preview.image is None:
                    st.error(f"**{safe(f.name)}**: {safe(preview.error)}. It will not be saved.")
                    continue
                boxes = [face.box for face in preview.faces]
                st.image(images.draw_faces(preview.image, boxes), caption=safe(f.name),
                         width="stretch")
                if preview.error:
                    st.error(f"{safe(preview.error)}: this photo cannot be used.")
                    continue
                for i, q in enumerate(preview.qualities, 1):
                    verdict = "usable" if q.usable else "not usable: " + "; ".join(q.reasons)
                    (st.success if q.usable else st.warning)(
                        f"Face {i}: {verdict} ({q.face_px}px, sharpness {q.sharpness:.0f})")
                good = preview.usable_faces
                if len(preview.faces) > 1 and good:
                    pick = st.selectbox("Which face shows the child?",
                                        ["none"] + [f"face {i + 1}" for i in good],
                                        key=form.key(f"face_{k}_{f.file_id}"))
                    choices[f.file_id] = None if pick == "none" else int(pick.split()[1]) - 1
                    usable += pick != "none"
                elif len(preview.faces) == 1 and good:
                    choices[f.file_id] = 0
                    usable += 1
                if good:
                    taken[f.file_id] = st.date_input(
                        "Taken on (if known)", value=None, min_value=dt.date(1900, 1, 1),
                        max_value=dt.date.today(), key=form.key(f"taken_{k}_{f.file_id}"),
                        help="Lets a reviewer see the child's age in each photo of a pair.")

with prompt_area:  # a registration held back as a likely duplicate: the person decides
    if registering.duplicate_prompt(
            ctx, mine, form, lambda i: registering.open_record(mine, i)) is not None:
        st.rerun()

if submitted:
    try:
        if kind == "found":
            details = build_found()
        else:
            details = CaseDetails(name=name, birth_date=birth,
                                  age_at_disappearance=int(age) if age is not None else None,
                                  gender=gender, last_seen_place=place or None,
                                  last_seen_date=seen, description=notes or None,
                                  guardian_contact=guardian or None, consent_recorded=consent,
                                  assigned_to=assigned.strip() or None,
                                  lawful_basis=basis.strip() or None)
        details.validate()
        require_lawful_basis(details)
        if not files or not usable:
            raise RecordError("add at least one photo with a usable face")
        photos = [PhotoInput(f.name, f.getvalue(), choices.get(f.file_id),
                             taken_date=taken.get(f.file_id))
                  for f in files if f.file_id in choices]
        with st.spinner("Checking for a record of the same child, then saving"):
            result = registering.save(ctx, mine, form, token, details, photos)
    except RecordError as exc:
        st.error(f"Not saved: {safe(exc)}.")
    except EnrollmentRejected as exc:
        st.error(f"Not saved: {safe(exc)}.")
    else:
        st.rerun()  # saved: the new token's empty form; held back: the duplicate prompt

if (done := form.done) is not None and not files:
    with notice:
        label = ctx.ws.records.get_case(done.case_id).label \
            if done.case_id in ctx.ws.records.kinds([done.case_id]) else f"#{done.case_id}"
        st.success(registering.saved_message(done, label))
        mine["registered_case"] = done.case_id
        what = "case" if label.startswith("#") else "record"
        st.page_link("pages/2_Cases.py", label=f"Open {what} {label}",
                     icon=":material/folder_open:")
        if any(p.lead_id is not None for p in done.cross_pairs) and ctx.can("leads.review"):
            st.page_link("pages/4_Review_leads.py", label="Review the cross-match leads",
                         icon=":material/compare:")
        for o in done.photos:
            if not o.accepted:
                st.warning(f"{safe(o.name)} was not stored: {safe(', '.join(o.reasons))}")


if not ctx.can("cases.edit"):
    st.stop()  # imports (either registry) are an investigator's: a shelter registers one by one
st.divider()
with st.expander("Import many cases at once (CSV, Excel, or an export ZIP)"):
    st.caption("One row per child. Columns: `ref` (your case number: importing again updates "
               "the case, never duplicates it), `name`, `photos` (file names separated by `;`, "
               "inside the photos ZIP), and optionally `age`, `gender`, `birth_date`, "
               "`last_seen`, `last_seen_date` (dates as YYYY-MM-DD), `description`, `guardian`, "
               "`consent` (yes/no) or `lawful_basis`, `status`. A row with any problem is not "
               "imported and says why; the others are.")
    with st.form("import_form", enter_to_submit=False):
        sheet = st.file_uploader("Case list (.csv, .xlsx) or an export .zip",
                                 type=["csv", "xlsx", "zip"], key="import_sheet")
        photo_zip = st.file_uploader("Photos (.zip), unless the case list is an export ZIP",
                                     type=["zip"], key="import_photos")
        dry = st.checkbox("Check only (nothing is saved)", value=True, key="import_dry")
        go_import = st.form_submit_button("Import", key="import_go")
    if go_import and sheet is None:
        st.error("Add the case list first.")
    elif go_import:  # a queue worker or a dashboard thread imports it; progress below
        try:
            job_id = submit_import(ctx.ws, sheet.name, sheet.getvalue(),
                                   photo_zip.getvalue() if photo_zip else None,
                                   ctx.user.username, dry)
        except (ImportFileError, ValueError) as exc:
            st.error(f"Not imported: {safe(exc)}.")
        else:
            st.success(f"Import {job_id} " + ("queued: a worker imports it" if uses_queue(ctx.ws)
                                              else "started") + "; progress below.")

    @st.fragment(run_every=refresh.every(2.0, bool(refresh.under_way(recent_jobs(ctx.ws, 5)))))
    def import_jobs_panel() -> None:
        """The latest imports: progress while they run (refreshed every 2 s), then each
        one's counts and the rows of the latest finished one."""
        jobs = recent_jobs(ctx.ws, 5)
        if refresh.ended(mine, "imports_running", refresh.under_way(jobs)):
            st.rerun(scope="app")  # one ended: the page again, without the timer
        if jobs:
            st.markdown("**Imports**")
        for job in jobs:
            if job.status in ("queued", "running"):
                st.progress(job.fraction, text=safe(job_line(job)))
            else:
                (st.error if job.status == "failed" else st.caption)(safe(job_line(job)))
        finished = next((j for j in jobs if j.status == "done"), None)
        if finished is not None:
            st.dataframe(report_table(import_jobs.report_of(finished)), hide_index=True,
                         key=f"import_job_report_{finished.id}")

    import_jobs_panel()
