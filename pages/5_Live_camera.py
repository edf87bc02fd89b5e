"""Live camera: webcam spot checks. Recognition runs beside the video; names are drawn on it.

UI only: the frame callback and worker are ``findme.video.live``; leads from sightings
``findme.cases.leads``.
"""

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from findme.cases import leads
from findme.ui import images, page_state, session
from findme.ui.text import safe
from findme.video import live

ctx = session.page("Live camera", "search",
                   "Start the camera and let the person look at it for a moment. Names appear on "
                   "the video when a registered child is recognised; a person decides.")
mine = page_state.of(ctx)  # camera name, recognizer, leads made: this workspace and user only
camera = st.text_input("Camera name", value=mine.get("live_camera", "Webcam"),
                       key="live_camera_name")
mine["live_camera"] = camera.strip() or "Webcam"

key = "live_recognizer"
if key not in mine:
    mine[key] = live.LiveRecognizer(ctx.ws.matcher, ctx.settings,
                                    ctx.settings.video_every_seconds)
recognizer: live.LiveRecognizer = mine[key]
if not session.state.models_ready.is_set():
    st.info("Loading the recognition models (about 15 s after the dashboard starts)...")

stream = webrtc_streamer(
    key="live-camera", mode=WebRtcMode.SENDRECV,
    rtc_configuration={"iceServers": live.ice_servers(ctx.settings)},
    media_stream_constraints={"video": True, "audio": False},
    video_frame_callback=recognizer.callback, async_processing=True)


@st.fragment(run_every=1.0)
def results() -> None:
    """What is in view now, and the sightings so far (refreshed every second)."""
    views = [v for v in recognizer.in_view() if v.decision]
    if views:
        st.markdown("**In view:** " + ", ".join(
            f"{v.label} {images.badge(v.decision, v.score)}" for v in views))
    elif stream.state.playing:
        st.caption(f"In view: nobody registered · {recognizer.frames_done} frames checked")
    found = recognizer.sightings()
    if not found:
        return
    st.subheader("Sightings")
    for s in found[:10]:
        c1, c2 = st.columns([1, 4])
        if s.crop is not None and ctx.can("photos.view"):
            c1.image(s.crop, width=100)
        c2.markdown(f"**#{s.case_id} {safe(s.name)}** {images.badge(s.decision, s.score)} · "
                    f"{s.first_s:.0f}-{s.last_s:.0f} s after start · {s.frames} frames")
        done = mine.setdefault("live_leads", {})
        mark = (s.case_id, round(s.first_s, 1))
        if mark in done:
            c2.caption(f"lead {done[mark]}" if done[mark] else
                       "this case already has a lead from this camera (cooldown)")
        # keyed by the sighting itself, not its place in the list: a list that reorders
        # between refreshes must not swallow the click
        elif c2.button("Create lead", key=f"live_lead_{s.case_id}_{s.first_s:.1f}"):
            done[mark] = leads.lead_from_sighting(ctx.ws.records, ctx.settings, s,
                                                  mine["live_camera"], "webcam")
            st.rerun(scope="fragment")


results()
