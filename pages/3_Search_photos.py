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
from findme.ui.face_crops import registered_face
from findme.ui.photo_search import Upload, create_lead, expand, results_table, search_uploads
from findme.ui.search_history import history_frame
from findme.ui.search_words import headline, promise, short_name
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
            lambda k, n, name: bar.progress(k / max(n, 1),
                                            text=f"{k}/{n} {safe(short_name(name))}"))
        mine["search_results"] = found

found = mine.get("search_results") or []


def show_match(col, rank: int, s_i: int, f_i: int, s, m) -> None:
    """One ranked match: the registered face, name, decision with its promise, a lead."""
    c1, c2, c3 = col.columns([1, 1, 3])
    c1.image(s.crops[f_i - 1], caption="searched face", width=140)
    if ctx.can("photos.view"):
        face = registered_face(ctx.settings, next(iter(ctx.ws.records.photos(ids=[m.photo_id])),
                                                  None))
        if face is not None:
            c2.image(face, caption=f"registered face, case #{m.case_id}", width=140)
    c3.markdown(f"{rank}. **#{m.case_id} {safe(m.name)}** {images.badge(m.decision)} "
                f"score {m.score:.2f}  \n{safe(promise(m))}  \n"
                + " · ".join(f"{model}: {v:.3f}" for model, v in m.scores.items()))
    key = f"lead_{s_i}_{f_i}_{m.case_id}"
    if rank == 1 and m.decision.makes_lead:
        c3.caption("A lead was made for a person to review (Review leads).")
    elif c3.button("Create lead", key=key, help="Make a lead of it anyway: a person reviews it"):
        try:
            lead_id = create_lead(ctx.ws, s, f_i, m, ctx.user.username)
        except RecordError as exc:
            c3.error(f"No lead made: {safe(exc)}.")
        else:
            c3.success(f"Lead {lead_id} created for review.")


HEADLINE_COLOURS = {"none": "gray", "possible": "orange", "match": "red"}
for s_i, s in enumerate(found):
    box = st.container(border=True)
    box.caption(f"Photo {s_i + 1}")  # the name as text on its own line, never a heading
    box.markdown(f"**{safe(short_name(s.name))}**", help=safe(s.name))
    if s.result is None:
        box.error(f"{safe(short_name(s.name))}: {safe(s.error)}. Nothing was stored.")
        continue
    faces = s.result.faces
    if not faces:
        box.warning("No face found in this photo.")
        box.image(s.preview, width=400)
        continue
    box.image(s.preview, caption=f"{len(faces)} face(s), numbered", width=480)
    for f_i, fr in enumerate(faces, 1):
        head = headline(fr.matches)
        box.markdown(f"**Face {f_i}:** :{HEADLINE_COLOURS[head.kind]}[{head.text}]"
                     + (f"  \nquality: {safe('; '.join(fr.quality.reasons))}"
                        if fr.quality.reasons else ""))
        close = [(r, m) for r, m in enumerate(fr.matches, 1) if m.decision.makes_lead]
        lower = [(r, m) for r, m in enumerate(fr.matches, 1) if not m.decision.makes_lead]
        for rank, m in close:
            show_match(box, rank, s_i, f_i, s, m)
        if lower:
            with box.expander(f"{len(lower)} registered child(ren) scored lower: no match"):
                for rank, m in lower:
                    show_match(st, rank, s_i, f_i, s, m)

if found:
    st.download_button("Export results (CSV)", safe_csv(results_table(found)),
                       "search-results.csv", "text/csv", key="export")

with st.expander("Search history (who searched, when, how many faces, which leads)"):
    everyone = ctx.can("leads.review") or ctx.can("audit.view")
    st.caption(("Everyone's photo searches" if everyone else "Your photo searches")
               + ", newest first. Only the leads keep a face; a search itself keeps none.")
    past = history_frame(ctx.ws.records, ctx.user.username, everyone)
    if past.empty:
        st.caption("No searches yet.")
    else:
        st.dataframe(past, hide_index=True, width="stretch", key="search_history")
