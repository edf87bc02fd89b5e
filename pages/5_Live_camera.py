"""Live camera: webcam spot checks. Recognition runs beside the video; names are drawn on it.
A child in view whom nobody registered can be registered as found from here (a shelter's
intake): the frame is kept, checked like any photo, and saved with the found record's details.

UI only: the frame callback and worker are ``findme.video.live``; leads from sightings
``findme.cases.leads``; registering ``findme.ui.registering``.
"""

import datetime as dt

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from findme.cases import found as found_rules
from findme.cases import leads
from findme.cases.records import RecordError
from findme.cases.registry import EnrollmentRejected, PhotoInput, encode_jpeg, inspect_photo
from findme.ui import images, page_state, refresh, registering, session, webcam
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

st.html(webcam.no_camera_notice(), unsafe_allow_javascript=True)  # no webcam: says what to do
stream = webrtc_streamer(
    key="live-camera", mode=WebRtcMode.SENDRECV,
    rtc_configuration={"iceServers": live.ice_servers(ctx.settings)},
    media_stream_constraints={"video": True, "audio": False},
    video_frame_callback=recognizer.callback, async_processing=True)


@st.fragment(run_every=refresh.every(1.0, stream.state.playing))
def results() -> None:
    """What is in view now, and the sightings so far (refreshed every second while the
    camera plays; starting or stopping it reruns the page)."""
    views = [v for v in recognizer.in_view() if v.decision]
    if views:
        st.markdown("**In view:** " + ", ".join(
            f"{v.label} {images.badge(v.decision, v.score)}" for v in views))
    elif stream.state.playing:
        st.caption(f"In view: nobody registered · {recognizer.frames_done} frames checked · "
                   f"{recognizer.processor.faces_seen} face(s) seen")
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


if found_rules.may_register(ctx.user.role, "found"):
    st.subheader("Register the child in view as found")
    st.caption("For a child in your care whose family is unknown: the newest frame with a face "
               "is kept as the record's photo and searched against every missing child.")
    form = page_state.OneTimeForm(mine, "live_found")
    token = form.token
    if done := form.done:
        label = f"F-{done.case_id}"
        st.success(registering.saved_message(done, label))
        st.page_link("pages/2_Cases.py", label=f"Open record {label}",
                     icon=":material/folder_open:")
    if st.button("Take the photo from the camera", key=form.key("capture")):
        frame = recognizer.snapshot()
        if frame is None:
            st.warning("No face in view in the last seconds: start the camera and let the "
                       "child look at it, then take the photo again.")
        else:
            data = encode_jpeg(frame)
            mine["live_found_capture"] = (token, data, inspect_photo("webcam.jpg", data,
                                                                     ctx.settings))
    capture = mine.get("live_found_capture")
    if capture is not None and capture[0] == token:
        _, data, preview = capture
        left, right = st.columns([1, 2])
        if preview.image is not None:
            left.image(images.draw_faces(preview.image, [f.box for f in preview.faces]),
                       caption="photo taken", width="stretch")
        good = preview.usable_faces
        face = None
        if preview.error or not good:
            reasons = preview.error or "; ".join(
                r for q in preview.qualities for r in q.reasons) or "no usable face"
            right.error(f"This photo cannot be used: {safe(reasons)}. Take it again.")
        elif len(good) > 1:
            pick = right.selectbox("Which face is the child?", [f"face {i + 1}" for i in good],
                                   key=form.key("face"))
            face = int(pick.split()[1]) - 1
        else:
            face = good[0]
        prompt_area = st.container()
        if face is not None:
            with st.form(form.key("details"), enter_to_submit=False):
                build = registering.found_fields(form.key, place=mine["live_camera"])
                submitted = st.form_submit_button("Register found child", type="primary",
                                                  key=form.key("save"))
            with prompt_area:
                if registering.duplicate_prompt(
                        ctx, mine, form, lambda i: registering.open_record(mine, i)) is not None:
                    st.rerun()
            if submitted:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
                photo = PhotoInput(f"{mine['live_camera']}-{stamp}.jpg", data, face,
                                   taken_date=dt.date.today())
                try:
                    with st.spinner("Checking for a record of the same child, then saving"):
                        registering.save(ctx, mine, form, token, build(), [photo])
                except (RecordError, EnrollmentRejected) as exc:
                    st.error(f"Not saved: {safe(exc)}.")
                else:
                    st.rerun()
