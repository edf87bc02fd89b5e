"""CCTV footage: scan video files or a stream for registered children, as background jobs.

UI only: scanning is ``findme.video.scans`` / ``findme.video.processor``; the timeline
``findme.video.charts``.
"""

import pandas as pd
import streamlit as st

from findme.cases import leads
from findme.cases.records import RecordError
from findme.ui import cameras, images, page_state, refresh, session
from findme.ui.text import safe
from findme.video import charts as video_charts
from findme.video import scans

ctx = session.page("CCTV footage", "search",
                   "Upload recordings (mp4, avi, mkv, mov) or give a stream URL. Scans run in the "
                   "background: you can leave this page and come back. Faces that match nobody "
                   "are counted, never kept.")
mine = page_state.of(ctx)  # which scans were running, per workspace and user

with st.form("new_scan"):
    files = st.file_uploader(f"Video files (up to {ctx.settings.max_file_bytes // 2**20} MB "
                             "each; longer recordings: a stream URL or `findme scan`)",
                             accept_multiple_files=True,
                             type=["mp4", "avi", "mkv", "mov", "m4v", "webm"], key="videos")
    url = (st.text_input("...or a stream URL (rtsp://, http://)", key="url")
           if ctx.can("cameras.manage") else "")
    c1, c2, c3 = st.columns(3)
    camera = c1.text_input("Camera name *", key="camera")
    location = c2.text_input("Location", key="location")
    every = c3.select_slider("Look at a frame every", [0.1, 0.2, 0.5, 1.0, 2.0],
                             value=ctx.settings.video_every_seconds, key="every",
                             format_func=lambda s: f"{s:g} s")
    go = st.form_submit_button("Start scan", type="primary")
if ctx.demo and st.button("Scan the demo clip (12 s, one demo case walks through)",
                          key="demo_clip"):
    from findme import demo
    from findme.config import get_settings

    scans.start(ctx.ws, str(demo.sample_clip(get_settings())), "Demo camera", 0.2,
                "Demo station", ctx.user.username)
    st.success("Demo scan started.")
if go:
    try:
        started = scans.start_uploads(ctx.ws, [(f.name, f.getvalue()) for f in files or []], url,
                                      camera, float(every), location.strip() or None,
                                      ctx.user.username, may_use_urls=ctx.can("cameras.manage"))
    except ValueError as exc:
        st.error(f"Not started: {safe(exc)}.")
    else:
        st.success(f"{len(started)} scan(s) started.")


@st.fragment(run_every=refresh.every(
    1.0, bool(refresh.under_way(scans.list_scans(ctx.ws.records, 20)))))
def jobs() -> None:
    """Scan jobs with live progress (refreshed every second while one is queued or running,
    also after a page reload); when one ends, the whole page runs again so the camera list
    and sightings show it (and the refresh stops)."""
    items = scans.list_scans(ctx.ws.records, 20)
    if cameras.finished_changed(mine, items):
        st.rerun(scope="app")
    if not items:
        st.caption("No scans yet: upload a recording above, give the camera a name and press "
                   "**Start scan**." + (" Or scan the demo clip." if ctx.demo else ""))
        return
    for job in items:
        st.markdown(f"**{safe(cameras.job_heading(job))}**")
        text = cameras.job_summary(job)
        if job.status in refresh.UNDER_WAY:
            st.progress(job.fraction or 0.0, text=safe(text) + (f" · on {safe(job.worker)}"
                                                                if job.worker else ""))
            if st.button("Stop", key=f"stop_{job.id}"):
                scans.stop_job(job.id, ctx.ws.records)
        else:
            st.caption(safe(text))
        if job.error:  # may quote a file name or a URL someone gave
            st.error(safe(job.error))
        for w in job.warnings or []:
            st.warning(safe(w))


st.subheader("Cameras")
known = scans.cameras(ctx.ws.records)
if known:
    st.table(pd.DataFrame(cameras.camera_rows(known)).set_index("camera"))
else:
    st.caption("No cameras yet: each camera name you give a scan appears here with its last "
               "scan, its sightings and the faces it saw.")

st.subheader("Scans")
jobs()

st.subheader("Sightings")
finished = [j for j in scans.list_scans(ctx.ws.records, 50)
            if scans.with_names(ctx.ws.records, j.sightings)]
if not finished:
    st.caption("No sightings yet. When a scan sees a registered child, the sighting appears "
               "here with a few frames of it, and a lead waits on **Review leads**.")
    st.stop()
pick = st.selectbox("Scan", [j.id for j in finished], key=cameras.picker_key(finished),
                    format_func=lambda i: next(cameras.job_heading(j) for j in finished
                                               if j.id == i))  # plain text, not markdown
job = next(j for j in finished if j.id == pick)
seen = scans.with_names(ctx.ws.records, job.sightings)
st.caption(safe(cameras.job_summary(job, len(seen))))
st.plotly_chart(video_charts.timeline(seen, f"Scan #{job.id}: {job.camera}"), key="timeline")
for k, s in enumerate(seen):
    with st.container(border=True, key=f"sighting_{job.id}_{k}"):
        left, right = st.columns([1, 5])
        crop = None
        if s.get("lead_id") and ctx.can("photos.view"):
            try:
                crop = images.stored(ctx.settings, leads.get(ctx.ws.records,
                                                             s["lead_id"]).lead.crop_path)
            except RecordError:
                crop = None
        if crop:
            left.image(str(crop), width=120)
        left.markdown(f"#{s['case_id']} {safe(s['name'])} "
                      f"{images.badge(s['decision'], s['score'])}"
                      f"  \n{s['first_s']:.1f}-{s['last_s']:.1f} s · {s['frames']} frames")
        if s.get("lead_id") and ctx.can("leads.review"):
            left.page_link("pages/4_Review_leads.py", label=f"Open lead {s['lead_id']}",
                           query_params={"lead": str(s["lead_id"])})
        elif s.get("lead_id"):
            left.caption(f"lead {s['lead_id']}")
        else:
            left.caption("no new lead (same case on this camera within the cooldown)")
        frames = cameras.strip(ctx.settings, s) if ctx.can("photos.view") else []
        if frames:
            right.image([f for f, _ in frames], caption=[c for _, c in frames], width=140)
            right.caption("Frames of the sighting (other faces blurred).")
        else:
            right.caption("No frames kept for this sighting." if ctx.can("photos.view") else
                          "Your role does not show photos.")
