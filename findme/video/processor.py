"""Faces in video: sample frames, track faces, embed each track's best faces, emit sightings.

Shared by every video source (CCTV files and streams, the live webcam). Per sampled frame the
faces are detected (the frame downscaled as the detector needs); each face joins the track whose
last box overlaps it most (IoU), or starts a new track. A track is embedded and searched only
when it gets a face clearly better than the ones it already searched (at most
``max_embeds_per_track`` times), not on every frame: that is where the speed comes from. A track
ends when its face has not been seen for ``max_gap_s``; it then yields one :class:`Sighting` of
its best-matching case (if that is ``match`` or ``possible``), and sightings of one case that
touch in time are merged. Faces that match nobody are counted, never kept.

Decoding is defensive: unreadable frames are skipped with a warning, and a file that ends early
(cut off) is processed up to the damage with a warning, never a crash.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from findme.config import Settings
from findme.faces.align import align
from findme.faces.detect import Face, detect
from findme.faces.embed import FaceEmbedding, embed
from findme.faces.image import crop_face
from findme.faces.quality import Quality, assess
from findme.search.matcher import LEAD_DECISIONS, Match, Matcher

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts")


class VideoError(ValueError):
    """The video cannot be opened at all (missing, not a video, unreachable stream)."""


@dataclass(frozen=True)
class Sighting:
    """One appearance of a registered child in a video: best score and decision, first and
    last time (seconds from the start), sampled frames with the face, and the best face crop."""

    case_id: int
    name: str
    score: float
    decision: str
    first_s: float
    last_s: float
    frames: int
    photo_id: int
    scores: dict[str, float]
    box: tuple[int, int, int, int]
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """JSON-friendly form (no crop)."""
        return {"case_id": self.case_id, "name": self.name, "score": round(self.score, 4),
                "decision": self.decision, "first_s": round(self.first_s, 2),
                "last_s": round(self.last_s, 2), "frames": self.frames}


@dataclass(frozen=True)
class TrackView:
    """What the live view draws for a face in the current frame."""

    box: tuple[int, int, int, int]
    label: str
    decision: str | None
    score: float | None


@dataclass
class _Track:
    id: int
    box: tuple[int, int, int, int]
    first_s: float
    last_s: float
    frames: int = 1
    embeds: int = 0
    searched_quality: float = -1.0
    last_embed_s: float = -1e9
    best: Match | None = None
    best_crop: np.ndarray | None = None


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def _face_value(q: Quality) -> float:
    """How good a face is for recognition (bigger, sharper, more frontal, usable)."""
    pose = max(0.2, 1 - (abs(q.yaw_deg) + abs(q.roll_deg)) / 90)
    return q.face_px * min(1.0, q.sharpness / 100) * pose * q.score * (2 if q.usable else 1)


class VideoProcessor:
    """Feeds frames (RGB arrays with their time in seconds) through detection, tracking,
    recognition; collects sightings. Not thread-safe: one processor per video source."""

    def __init__(self, matcher: Matcher, settings: Settings, sample_every_s: float = 0.2,
                 max_embeds_per_track: int = 3, iou_threshold: float = 0.3,
                 max_gap_s: float | None = None, merge_gap_s: float | None = None) -> None:
        self.matcher = matcher
        self.settings = settings
        self.sample_every_s = sample_every_s
        self.max_embeds = max_embeds_per_track
        self.iou_threshold = iou_threshold
        self.max_gap_s = max_gap_s if max_gap_s is not None else max(1.0, 2.5 * sample_every_s)
        self.merge_gap_s = merge_gap_s if merge_gap_s is not None else self.max_gap_s + 1.0
        self.min_embed_interval_s = max(0.4, 2 * sample_every_s)
        self.tracks: list[_Track] = []
        self.sightings: list[Sighting] = []
        self.frames = 0
        self.faces_seen = 0
        self.faces_embedded = 0
        self.unknown_tracks = 0
        self._next_id = 0

    # ------------------------------------------------------------------ per frame

    def process(self, image: np.ndarray, t: float) -> list[TrackView]:
        """Process one sampled frame at time ``t``; returns what to draw for it."""
        self.frames += 1
        faces = detect(image, self.settings)
        self.faces_seen += len(faces)
        assigned = self._assign(faces, t)
        to_search: list[tuple[_Track, Face, Quality]] = []
        for track, face in assigned:
            if face.size < self.settings.min_face_px or track.embeds >= self.max_embeds:
                continue
            q = assess(image, face, self.settings)
            value = _face_value(q)
            first = track.embeds == 0
            better = value > track.searched_quality * 1.25
            if first or (better and t - track.last_embed_s >= self.min_embed_interval_s):
                to_search.append((track, face, q))
        if to_search:
            self._search(image, t, to_search)
        self._close(t)
        return [self._view(tr) for tr, _ in assigned]

    def _assign(self, faces: list[Face], t: float
                ) -> list[tuple[_Track, Face]]:
        live = [tr for tr in self.tracks if t - tr.last_s <= self.max_gap_s]
        pairs = sorted(((_iou(tr.box, f.box), i, j) for i, tr in enumerate(live)
                        for j, f in enumerate(faces)), reverse=True)
        used_t: set[int] = set()
        used_f: set[int] = set()
        out: list[tuple[_Track, Face]] = []
        for iou, i, j in pairs:
            if iou < self.iou_threshold or i in used_t or j in used_f:
                continue
            tr = live[i]
            tr.box, tr.last_s, tr.frames = faces[j].box, t, tr.frames + 1
            used_t.add(i)
            used_f.add(j)
            out.append((tr, faces[j]))
        for j, f in enumerate(faces):
            if j not in used_f:
                tr = _Track(self._next_id, f.box, t, t)
                self._next_id += 1
                self.tracks.append(tr)
                out.append((tr, f))
        return out

    def _search(self, image: np.ndarray, t: float,
                items: list[tuple[_Track, Face, Quality]]) -> None:
        models = self.matcher.models
        vectors = {m: embed([align(image, f, m) for _, f, _ in items], m,
                                     self.settings) for m in models}
        embedded = [FaceEmbedding(f, q, {m: vectors[m][k] for m in models})
                    for k, (_, f, q) in enumerate(items)]
        self.faces_embedded += len(items)
        for (track, face, q), matches in zip(items, self.matcher.match_faces(embedded, 1),
                                             strict=True):
            track.embeds += 1
            track.searched_quality = max(track.searched_quality, _face_value(q))
            track.last_embed_s = t
            best = matches[0] if matches else None
            if best is not None and (track.best is None or best.score > track.best.score):
                track.best = best
                track.best_crop = crop_face(image, face.box, 0.3)

    def _view(self, tr: _Track) -> TrackView:
        if tr.best is not None and tr.best.decision in LEAD_DECISIONS:
            return TrackView(tr.box, tr.best.name, tr.best.decision, tr.best.score)
        return TrackView(tr.box, "searching" if tr.embeds == 0 else "unknown", None, None)

    # ------------------------------------------------------------------ ending tracks

    def _close(self, t: float | None) -> None:
        still = []
        for tr in self.tracks:
            if t is not None and t - tr.last_s <= self.max_gap_s:
                still.append(tr)
                continue
            if tr.best is not None and tr.best.decision in LEAD_DECISIONS:
                self._emit(tr)
            else:
                self.unknown_tracks += 1
        self.tracks = still

    def _emit(self, tr: _Track) -> None:
        b = tr.best
        assert b is not None
        new = Sighting(b.case_id, b.name, b.score, b.decision, tr.first_s, tr.last_s,
                       tr.frames, b.photo_id, b.scores, b.box, tr.best_crop)
        for k, s in enumerate(self.sightings):
            if s.case_id == new.case_id and new.first_s - s.last_s <= self.merge_gap_s \
                    and s.first_s - new.last_s <= self.merge_gap_s:
                top = new if new.score > s.score else s
                self.sightings[k] = replace(top, first_s=min(s.first_s, new.first_s),
                                            last_s=max(s.last_s, new.last_s),
                                            frames=s.frames + new.frames)
                return
        self.sightings.append(new)

    def finish(self) -> list[Sighting]:
        """End every open track; returns all sightings, in order of first appearance."""
        self._close(None)
        return sorted(self.sightings, key=lambda s: s.first_s)

    def current(self) -> list[Sighting]:
        """Provisional sightings of the tracks still open (a person still in view), so a live
        view can offer them before the person leaves."""
        out = []
        for tr in self.tracks:
            b = tr.best
            if b is not None and b.decision in LEAD_DECISIONS:
                out.append(Sighting(b.case_id, b.name, b.score, b.decision, tr.first_s,
                                    tr.last_s, tr.frames, b.photo_id, b.scores, b.box,
                                    tr.best_crop))
        return out

    def expire(self, t: float) -> None:
        """End tracks unseen since before ``t - max_gap_s`` (live sources call this when no
        frame arrives)."""
        self._close(t)


# ----------------------------------------------------------------------------- reading video


@dataclass
class FrameReport:
    """What reading a video met: frames decoded, its length, and warnings in plain words."""

    fps: float = 0.0
    duration_s: float | None = None
    decoded: int = 0
    warnings: list[str] = field(default_factory=list)


def is_stream(source: str) -> bool:
    """Whether ``source`` is a network stream URL rather than a file."""
    return source.lower().startswith(STREAM_PREFIXES)


def open_capture(source: str | Path) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture``, or :class:`VideoError` saying why not. FFmpeg's own
    log lines are silenced (``OPENCV_FFMPEG_LOGLEVEL``): damage is reported as warnings."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    text = str(source)
    if not is_stream(text):
        path = Path(text)
        if not path.is_file():
            raise VideoError(f"{text}: no such file")
        if path.stat().st_size == 0:
            raise VideoError(f"{text}: the file is empty")
    cap = cv2.VideoCapture(text)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{text}: cannot be opened as a video: not a video file (mp4, avi, "
                         "mkv, mov) or damaged, e.g. an MP4 cut off before its index was written"
                         if not is_stream(text) else f"{text}: the stream cannot be opened")
    return cap


def frames(source: str | Path, every_s: float, report: FrameReport,
           max_bad: int = 50, stop: Callable[[], bool] | None = None
           ) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(seconds, RGB frame)`` every ``every_s`` seconds of video.

    Files are timed by frame number / fps; streams by the wall clock. Unreadable frames are
    skipped with a warning; after ``max_bad`` in a row the video is taken to end there (cut off
    or damaged), also with a warning in ``report.warnings``.
    """
    cap = open_capture(source)
    stream = is_stream(str(source))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if not 1 <= fps <= 240:
            report.warnings.append(f"the video gives no usable frame rate ({fps:g}); "
                                   "assuming 25 fps")
            fps = 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        report.fps = fps
        report.duration_s = count / fps if count > 0 and not stream else None
        step = max(1, round(fps * every_s))
        start = time.monotonic()
        next_t = 0.0
        index = -1
        bad_from: float | None = None  # time of the first frame of a run of unreadable ones
        bad_run = 0
        while stop is None or not stop():
            ok = cap.grab()
            index += 1
            t = time.monotonic() - start if stream else index / fps
            if not ok:
                if stream:
                    report.warnings.append(f"the stream stopped after {index} frames")
                    break
                if count and index >= count - 1:
                    break  # the normal end
                if bad_run == 0:
                    bad_from = t
                bad_run += 1
                if bad_run >= max_bad:
                    if count:
                        report.warnings.append(
                            f"the video could not be read past {bad_from:.1f} s (frame "
                            f"{index - bad_run + 1} of {count}): it may be cut off or damaged; "
                            "processed up to there")
                    break
                continue
            if bad_run:
                report.warnings.append(f"unreadable frames from {bad_from:.1f} s to {t:.1f} s "
                                       "were skipped")
                bad_run = 0
            if (stream and t < next_t) or (not stream and index % step):
                continue
            next_t = t + every_s
            ok, frame = cap.retrieve()
            if not ok or frame is None or frame.ndim != 3 or frame.size == 0:
                report.warnings.append(f"the frame at {t:.1f} s could not be decoded: skipped")
                continue
            report.decoded += 1
            yield t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


# ----------------------------------------------------------------------------- a whole scan


@dataclass
class ScanResult:
    """The outcome of scanning one video."""

    sightings: list[Sighting]
    report: FrameReport
    frames: int
    faces_seen: int
    faces_embedded: int
    unknown_tracks: int
    processed_s: float
    elapsed_s: float

    @property
    def speed(self) -> float:
        """Seconds of video processed per second of wall time (1.0 = real time)."""
        return self.processed_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


def scan(source: str | Path, matcher: Matcher, settings: Settings, every_s: float = 0.2,
         progress: Callable[[float, float | None, int, float], None] | None = None,
         stop: Callable[[], bool] | None = None,
         lock: AbstractContextManager | None = None) -> ScanResult:
    """Scan a video file or stream: sightings of registered children, with warnings.

    ``progress(seconds_done, duration_or_None, frames, speed_vs_real_time)`` is called after
    every sampled frame; ``stop()`` returning True ends the scan early; ``lock`` is held while
    each frame is recognised (the dashboard shares its models between users and jobs). Nothing
    is written here (see :mod:`findme.video.sightings`).
    """
    guard = lock if lock is not None else nullcontext()
    report = FrameReport()
    proc = VideoProcessor(matcher, settings, every_s)
    start = time.monotonic()
    last_t = 0.0
    for t, frame in frames(source, every_s, report, stop=stop):
        with guard:
            proc.process(frame, t)
        last_t = t
        if progress:
            elapsed = time.monotonic() - start
            progress(t, report.duration_s, proc.frames, (t + every_s) / elapsed if elapsed else 0)
    sightings = proc.finish()
    elapsed = time.monotonic() - start
    processed = report.duration_s if report.duration_s and not report.warnings else (
        last_t + every_s if proc.frames else 0.0)
    return ScanResult(sightings, report, proc.frames, proc.faces_seen, proc.faces_embedded,
                      proc.unknown_tracks, processed, elapsed)
