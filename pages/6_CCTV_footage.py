"""CCTV footage: scan video files or a stream for registered children, as background jobs.

UI only: scanning is ``findme.video.scans`` / ``findme.video.processor``; the timeline
``findme.video.charts``.
"""

import streamlit as st

from findme.cases import leads
from findme.cases.records import RecordError
from findme.ui import images, session
from findme.ui.text import safe
from findme.video import charts as video_charts
from findme.video import scans

ctx = session.page("CCTV footage", "search",
                   "Upload recordings (mp4, avi, mkv, mov) or give a stream URL. Scans run in the "
                   "background: you can leave this page and come back. Faces that match nobody "
                   "are counted, never kept.")

with st.form("new_scan"):
    files = st.file_uploader("Video files", accept_multiple_files=True,
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


@st.fragment(run_every=1.0)
def jobs() -> None:
    """Scan jobs with live progress (refreshed every second, also after a page reload)."""
    items = scans.list_scans(ctx.ws.records, 20)
    if not items:
        st.caption("No scans yet.")
        return
    for job in items:
        head = (f"**#{job.id} {safe(job.camera)}** · {safe(scans.source_name(job.source))} · "
                f"{job.status}")
        speed = f" · {job.speed:.1f}x real time" if job.speed else ""
        text = f"{job.done_s:.0f} s of video, {job.frames} frames{speed}"
        st.markdown(head)
        if job.status in ("running", "queued"):
            st.progress(job.fraction or 0.0, text=text + (f" · on {safe(job.worker)}"
                                                          if job.worker else ""))
            if st.button("Stop", key=f"stop_{job.id}"):
                scans.stop_job(job.id, ctx.ws.records)
        else:
            st.caption(text + (f" · {len(job.sightings or [])} sighting(s)"
                               if job.status in ("done", "stopped") else ""))
        if job.error:  # may quote a file name or a URL someone gave
            st.error(safe(job.error))
        for w in job.warnings or []:
            st.warning(safe(w))


jobs()

finished = [j for j in scans.list_scans(ctx.ws.records, 50)
            if scans.with_names(ctx.ws.records, j.sightings)]
if finished:
    st.subheader("Sightings")
    pick = st.selectbox("Scan", [j.id for j in finished], key="scan_pick",
                        format_func=lambda i: next(f"#{j.id} {j.camera}" for j in finished
                                                   if j.id == i))
    job = next(j for j in finished if j.id == pick)
    seen = scans.with_names(ctx.ws.records, job.sightings)
    st.plotly_chart(video_charts.timeline(seen, f"Scan #{job.id}: {job.camera}"),
                    key="timeline")
    cols = st.columns(min(4, len(seen)))
    for k, s in enumerate(seen):
        with cols[k % len(cols)]:
            crop = None
            if s.get("lead_id") and ctx.can("photos.view"):
                try:
                    crop = images.stored(ctx.settings, leads.get(ctx.ws.records,
                                                                 s["lead_id"]).lead.crop_path)
                except RecordError:
                    crop = None
            if crop:
                st.image(str(crop), width=140)
            st.markdown(f"#{s['case_id']} {safe(s['name'])} "
                        f"{images.badge(s['decision'], s['score'])}"
                        f"  \n{s['first_s']:.1f}-{s['last_s']:.1f} s · {s['frames']} frames")
            st.caption(f"lead {s['lead_id']}" if s.get("lead_id") else
                       "no new lead (same case on this camera within the cooldown)")
