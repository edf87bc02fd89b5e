"""The live webcam: recognition beside the video, never in its way.

The WebRTC frame callback (:meth:`LiveRecognizer.callback`) runs on the media thread: it hands
the newest frame to a worker through a one-slot queue (older frames are dropped, never queued)
and draws the latest known results (boxes, name, score badge) on the frame it returns, so the
video keeps its frame rate whatever recognition costs. The worker thread runs
:class:`~findme.video.VideoProcessor` on frames as fast as it can (at most one per
``sample_every_s``). Sightings come from the same tracking as CCTV footage.

WebRTC needs no internet: by default no STUN/TURN server is used (peers on one machine or one
local network connect directly). ``FINDME_ICE_SERVERS`` (JSON list of RTCIceServer objects, or
comma-separated URLs) configures STUN/TURN for deployments across networks.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from findme.config import ConfigError, Settings
from findme.faces.draw import draw_boxes
from findme.search.matcher import Matcher
from findme.video.processor import Sighting, TrackView, VideoProcessor


def ice_servers(settings: Settings) -> list[dict]:
    """RTCIceServer dictionaries from ``FINDME_ICE_SERVERS`` ([] by default: no STUN)."""
    raw = settings.ice_servers.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            servers = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"FINDME_ICE_SERVERS is not valid JSON: {exc}") from exc
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s
                                                    for s in servers):
            raise ConfigError("FINDME_ICE_SERVERS must be a list of {\"urls\": ...} objects")
        return servers
    return [{"urls": [u.strip() for u in raw.split(",") if u.strip()]}]


IDLE_EXIT_S = 30.0


class LiveRecognizer:
    """Recognition for one live camera stream (one per browser session)."""

    def __init__(self, matcher: Matcher, settings: Settings, sample_every_s: float = 0.2,
                 lock: AbstractContextManager | None = None) -> None:
        """``lock``, if given, is held around each recognition (the tests hold it to show the
        video path never waits; the models and the store lock themselves)."""
        self.processor = VideoProcessor(matcher, settings, sample_every_s)
        self.lock = lock if lock is not None else nullcontext()
        self.sample_every_s = sample_every_s
        self._frames: queue.Queue[tuple[float, np.ndarray]] = queue.Queue(maxsize=1)
        self._views: list[TrackView] = []
        self._views_at = 0.0
        self._face_frame: tuple[float, np.ndarray] | None = None  # newest frame with a face
        self._state = threading.Lock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._t0 = time.monotonic()
        self.frames_in = 0
        self.frames_done = 0

    # ------------------------------------------------------------------ media thread

    def callback(self, frame):  # av.VideoFrame -> av.VideoFrame
        """streamlit-webrtc's ``video_frame_callback``: never blocks on recognition."""
        import av

        image = frame.to_ndarray(format="rgb24")
        self.offer(image)
        out = self.draw(image)
        new = av.VideoFrame.from_ndarray(out, format="rgb24")
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    def offer(self, image: np.ndarray) -> None:
        """Hand a frame to the worker, replacing any frame it has not taken yet."""
        self.frames_in += 1
        self._ensure_worker()
        item = (time.monotonic() - self._t0, image)
        try:
            self._frames.put_nowait(item)
        except queue.Full:
            try:
                self._frames.get_nowait()
            except queue.Empty:
                pass
            try:
                self._frames.put_nowait(item)
            except queue.Full:
                pass

    def draw(self, image: np.ndarray) -> np.ndarray:
        """The frame with the latest results drawn (results older than 1.5 s are not drawn)."""
        with self._state:
            views = list(self._views) if time.monotonic() - self._views_at < 1.5 else []
        if not views:
            return image
        labels = [v.label if v.score is None else f"{v.label} {v.score:.2f}" for v in views]
        return draw_boxes(image, [v.box for v in views],
                          [v.decision.colour if v.decision else None for v in views], labels)

    # ------------------------------------------------------------------ worker thread

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, daemon=True, name="findme-live")
            self._worker.start()

    def _work(self) -> None:
        """Recognise the newest frames; end after ``IDLE_EXIT_S`` without any (the stream
        stopped or the page was closed); :meth:`offer` starts a new worker when frames return."""
        last = -1e9
        idle_since = time.monotonic()
        while not self._stop.is_set():
            try:
                t, image = self._frames.get(timeout=0.5)
            except queue.Empty:
                with self.lock:  # never hold _state here: draw() on the media thread needs it
                    self.processor.expire(time.monotonic() - self._t0)
                if time.monotonic() - idle_since > IDLE_EXIT_S:
                    return
                continue
            idle_since = time.monotonic()
            if t - last < self.sample_every_s:
                continue
            last = t
            with self.lock:
                views = self.processor.process(image, t)
            self.frames_done += 1
            with self._state:
                self._views, self._views_at = views, time.monotonic()
                if views:
                    self._face_frame = (self._views_at, image)

    def stop(self) -> None:
        """Stop the worker (the page calls this when the stream ends)."""
        self._stop.set()

    # ------------------------------------------------------------------ page

    def in_view(self) -> list[TrackView]:
        """Faces in the latest processed frame."""
        with self._state:
            return list(self._views) if time.monotonic() - self._views_at < 1.5 else []

    def snapshot(self, max_age_s: float = 30.0) -> np.ndarray | None:
        """The newest frame (RGB) in which a face was seen, if seen in the last ``max_age_s``
        seconds (what *register this child as found* keeps, shown to the person before it is
        saved); None otherwise. Recognition runs a frame every few seconds on a loaded
        machine, so the window is not shorter."""
        with self._state:
            if self._face_frame is None or time.monotonic() - self._face_frame[0] > max_age_s:
                return None
            return self._face_frame[1].copy()

    def sightings(self) -> list[Sighting]:
        """Finished sightings, then those still in view, newest first."""
        with self._state:
            done = list(self.processor.sightings)
            now = self.processor.current()
        return sorted(done + now, key=lambda s: -s.last_s)
