"""Search photos sent in by the public or shelters against every registered child.

UI only: unpacking and searching is ``findme.ui.photo_search``; leads come from
``findme.cases.leads``.
"""

import streamlit as st

from findme import demo
from findme.cases.records import RecordError
from findme.config import get_settings
from findme.ui import images, page_state, session
from findme.ui.export import safe_csv
from findme.ui.photo_search import Upload, create_lead, expand, results_table, search_uploads
from findme.ui.text import safe

ctx = session.page("Search photos", "search",
                   "Upload one or several photos (or a ZIP of photos). Every face is searched "
                   "against every open case. A match is a lead for a person to review, never a "
                   "verdict.")
mine = page_state.of(ctx)  # results belong to this workspace and this user

# One form: Search cannot be pressed while a photo is still uploading (Streamlit holds a form's
# submit until its uploads are done), so a quick click never searches without the photo.
with st.form("search_form", enter_to_submit=False):
    files = st.file_uploader("Photos or ZIP files", accept_multiple_files=True,
                             type=["jpg", "jpeg", "png", "webp", "bmp", "pgm", "zip"], key="probe")
    sample = None
    if ctx.demo:
        options = demo.samples(get_settings())
        sample = st.selectbox("...or try a sample photo", [None, *options], key="sample",
                              format_func=lambda k: "choose a sample" if k is None else k)
    top_k = st.slider("Matches shown per face", 1, 10, 3, key="top_k")
    go = st.form_submit_button("Search", type="primary", key="search")

if go:
    uploads = [Upload(f.name, f.getvalue()) for f in files or []]
    if sample:
        uploads.append(Upload(sample, options[sample].read_bytes()))
    uploads, problems = expand(uploads, ctx.settings)
    for p in problems:
        st.error(safe(p))
    if not uploads:
        st.error("Nothing to search: add a photo.")
    else:
        bar = st.progress(0.0, text="Searching")
        found = search_uploads(
            ctx.ws, uploads, ctx.user.username, top_k,
            lambda k, n, name: bar.progress(k / max(n, 1), text=f"{k}/{n} {safe(name)}"))
        mine["search_results"] = found

found = mine.get("search_results") or []
for s_i, s in enumerate(found):
    st.subheader(safe(s.name))
    if s.result is None:
        st.error(f"{safe(s.name)}: {safe(s.error)}. Nothing was stored.")
        continue
    faces = s.result.faces
    if not faces:
        st.warning("No face found in this photo.")
        st.image(s.preview, width=400)
        continue
    st.image(s.preview, caption=f"{len(faces)} face(s), numbered")
    for f_i, fr in enumerate(faces, 1):
        st.markdown(f"**Face {f_i}**" + (f" · quality: {'; '.join(fr.quality.reasons)}"
                                         if fr.quality.reasons else ""))
        if not fr.matches:
            st.caption("No registered child is close to this face.")
            continue
        for rank, m in enumerate(fr.matches, 1):
            c1, c2, c3 = st.columns([1, 1, 3])
            c1.image(s.crops[f_i - 1], caption="searched face", width=140)
            photo = ctx.ws.records.photos(ids=[m.photo_id])
            path = images.stored(ctx.settings, photo[0].file_path) if photo else None
            if path and ctx.can("photos.view"):
                c2.image(str(path), caption=f"registered photo {m.photo_id}", width=140)
            badge = images.badge(m.decision, m.score)
            c3.markdown(f"{rank}. **#{m.case_id} {safe(m.name)}** {badge}  \n"
                        + " · ".join(f"{model}: {v:.3f}" for model, v in m.scores.items()))
            already = rank == 1 and m.decision.makes_lead
            key = f"lead_{s_i}_{f_i}_{m.case_id}"
            if already:
                c3.caption("A lead was created for review.")
            elif c3.button("Create lead", key=key):
                try:
                    lead_id = create_lead(ctx.ws, s, f_i, m, ctx.user.username)
                except RecordError as exc:
                    c3.error(f"No lead made: {safe(exc)}.")
                else:
                    c3.success(f"Lead {lead_id} created for review.")

if found:
    st.download_button("Export results (CSV)", safe_csv(results_table(found)),
                       "search-results.csv", "text/csv", key="export")
