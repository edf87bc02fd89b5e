"""Register a missing child: case details, several photos, consent; each photo checked first.

UI only: checking photos is ``findme.registry.inspect_photo``; saving is ``enroll_case``.
"""

import datetime as dt

import streamlit as st

from findme.cases import import_jobs
from findme.cases.records import GENDERS, CaseDetails, RecordError
from findme.cases.registry import (
    EnrollmentRejected,
    EnrollResult,
    PhotoInput,
    enroll_case,
    inspect_photo,
    require_lawful_basis,
)
from findme.cases.transfer import ImportFileError
from findme.ui import images, page_state, session
from findme.ui.importing import job_line, recent_jobs, report_table, submit_import, uses_queue
from findme.ui.text import safe

ctx = session.page("Register a case", "cases.edit",
                   "Enter what is known about the child and add one or more clear photos. "
                   "The case is saved only with at least one usable photo.")
mine = page_state.of(ctx)  # photo checks and the form's one-time token: this workspace and user
# Every widget of the case form carries the form's one-time token: once a case is saved the
# token changes, the form comes back empty, and a second click on the old form saves nothing.
form = page_state.OneTimeForm(mine, "register")
token = form.token
notice = st.container()  # the case saved last, with a link to it

# Photos first (each checked on upload), then the details in a form: typing a name or ticking
# consent does not rerun the page, so a rerun never races an upload in progress.
st.subheader("1. Photos of the child")
photos_area = st.container()
with st.form(form.key("details"), enter_to_submit=False):
    st.subheader("2. What is known")
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
    guardian = right.text_input("Guardian contact (phone / e-mail)", key=form.key("guardian"),
                                max_chars=300)
    assigned = right.text_input("Assigned investigator (user name)", key=form.key("assigned"),
                                value=ctx.user.username, max_chars=100)
    notes = st.text_area("Description and case notes", key=form.key("notes"))
    consent = st.checkbox("The guardian's consent to store these photos for the search is "
                          "recorded", key=form.key("consent"))
    basis = st.text_input("...or another lawful basis (e.g. a court order or a police request, "
                          "with its reference)", key=form.key("lawful_basis"), max_chars=300)
    submitted = st.form_submit_button("Register case", type="primary", key=form.key("save"))

with photos_area:
    files = st.file_uploader("Photos of the child (JPEG, PNG, WebP, BMP)",
                             accept_multiple_files=True,
                             type=["jpg", "jpeg", "png", "webp", "bmp", "pgm"],
                             key=form.key("photos"))
    choices: dict[str, int | None] = {}
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

if submitted:
    details = CaseDetails(name=name, birth_date=birth,
                          age_at_disappearance=int(age) if age is not None else None,
                          gender=gender, last_seen_place=place or None, last_seen_date=seen,
                          description=notes or None, guardian_contact=guardian or None,
                          consent_recorded=consent, assigned_to=assigned.strip() or None,
                          lawful_basis=basis.strip() or None)
    try:
        details.validate()
        require_lawful_basis(details)
        if not files or not usable:
            raise RecordError("add at least one photo with a usable face")
        photos = [PhotoInput(f.name, f.getvalue(), choices.get(f.file_id))
                  for f in files if f.file_id in choices]

        def save() -> EnrollResult:
            """Save the case; the Cases page opens it first."""
            out = enroll_case(details, photos, ctx.ws.records, ctx.ws.store, ctx.settings,
                              actor=ctx.user.username)
            mine["registered_case"] = out.case_id
            return out

        with st.spinner("Saving the case and its photos"):
            result = form.submit(token, save)  # at most once per form token
    except RecordError as exc:
        st.error(f"Not saved: {safe(exc)}.")
    except EnrollmentRejected as exc:
        st.error(f"Not saved: {safe(exc)}.")
    else:
        st.rerun()  # the form of the new token: empty; the saved case is shown on top

if (done := form.done) is not None and not files:
    with notice:
        saved = sum(o.accepted for o in done.photos)
        st.success(f"Case #{done.case_id} registered with {saved} photo(s).")
        st.page_link("pages/2_Cases.py", label=f"Open case #{done.case_id}",
                     icon=":material/folder_open:")
        for o in done.photos:
            if not o.accepted:
                st.warning(f"{safe(o.name)} was not stored: {safe(', '.join(o.reasons))}")

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

    @st.fragment(run_every=2.0)
    def import_jobs_panel() -> None:
        """The latest imports: progress while they run, then each one's counts and the
        rows of the latest finished one."""
        jobs = recent_jobs(ctx.ws, 5)
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
