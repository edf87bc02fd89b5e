"""Faces in video: sample frames, track faces, embed each track's best faces, emit sightings.

Shared by every video source (CCTV files and streams, the live webcam). Per sampled frame the
faces are detected (the frame downscaled as the detector needs); each face joins the track whose
last box overlaps it most (IoU), or starts a new track. A track is embedded and searched only
when it gets a face clearly better than the ones it already searched (at most
``max_embeds_per_track`` times), not on every frame: that is where the speed comes from. A track
ends when its face has not been seen for ``max_gap_s``; it then yields one :class:`Sighting` of
its best-matching case (if that is ``match`` or ``possible``), and sightings of one case that
touch in time are merged. Faces that match nobody are counted, never kept.

Tracking itself is pure (:mod:`findme.video.tracking`: boxes in, tracks out); reading frames is
:mod:`findme.video.frames`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from findme.config import Settings
from findme.faces.align import align
from findme.faces.detect import Face, detect
from findme.faces.embed import FaceEmbedding, embed
from findme.faces.image import crop_face
from findme.faces.quality import Quality, assess
from findme.search.decision import Decision
from findme.search.matcher import Match, Matcher
from findme.video.frames import FrameReport, check_camera_url, frames, is_stream
from findme.video.regions import DetectionPlan, Region
from findme.video.tracking import IoUTracker, Track, iou, merge_sighting


@dataclass(frozen=True)
class Sighting:
    """One appearance of a registered child in a video: best score and decision, first and
    last time (seconds from the start), sampled frames with the face, and the best face crop."""

    case_id: int
    name: str
    score: float
    decision: Decision
    first_s: float
    last_s: float
    frames: int
    photo_id: int
    scores: dict[str, float]
    box: tuple[int, int, int, int]
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    margin: float | None = None
    stranger_rate: float | None = None
    quality: dict | None = field(default=None, compare=False)

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
    decision: Decision | None
    score: float | None


@dataclass
class _Recognition:
    """What recognition knows about one track: how often and how well it was searched, and
    its best match with that face's crop."""

    embeds: int = 0
    searched_quality: float = -1.0
    last_embed_s: float = -1e9
    best: Match | None = None
    best_crop: np.ndarray | None = None
    best_quality: Quality | None = None


def _face_value(q: Quality) -> float:
    """How good a face is for recognition (bigger, sharper, more frontal, usable)."""
    pose = max(0.2, 1 - (abs(q.yaw_deg) + abs(q.roll_deg)) / 90)
    return q.face_px * min(1.0, q.sharpness / 100) * pose * q.score * (2 if q.usable else 1)


def _detect_regions(image: np.ndarray, regions: Sequence[Region], settings: Settings
                    ) -> list[Face]:
    """Faces found in parts of a frame (each shrunk by its scale first), in frame coordinates;
    a face seen in two overlapping regions is kept once (the higher score)."""
    found: list[Face] = []
    for region in regions:
        x, y, w, h = region.box
        crop = image[y:y + h, x:x + w]
        if region.scale < 1.0:
            crop = cv2.resize(crop, (max(1, round(w * region.scale)),
                                     max(1, round(h * region.scale))),
                              interpolation=cv2.INTER_AREA)
        s = region.scale
        for f in detect(np.ascontiguousarray(crop), settings):
            bx, by, bw, bh = f.box
            box = (x + round(bx / s), y + round(by / s), round(bw / s), round(bh / s))
            marks = tuple((x + px / s, y + py / s) for px, py in f.landmarks)
            found.append(Face(box, marks, f.score, min(box[2], box[3]) < settings.min_face_px))
    found.sort(key=lambda f: f.score, reverse=True)
    kept: list[Face] = []
    for f in found:
        if all(iou(f.box, k.box) < 0.4 for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return kept


class VideoProcessor:
    """Feeds frames (RGB arrays with their time in seconds) through detection, tracking,
    recognition; collects sightings. Not thread-safe: one processor per video source."""

    def __init__(self, matcher: Matcher, settings: Settings, sample_every_s: float = 0.2,
                 max_embeds_per_track: int = 3, iou_threshold: float = 0.3,
                 max_gap_s: float | None = None, merge_gap_s: float | None = None,
                 regions: bool = True) -> None:
        self.matcher = matcher
        self.settings = settings
        self.sample_every_s = sample_every_s
        self.max_embeds = max_embeds_per_track
        max_gap_s = max_gap_s if max_gap_s is not None else max(1.0, 2.5 * sample_every_s)
        self.tracker = IoUTracker(iou_threshold, max_gap_s)
        self.merge_gap_s = merge_gap_s if merge_gap_s is not None else max_gap_s + 1.0
        self.min_embed_interval_s = max(0.4, 2 * sample_every_s)
        self.known: dict[int, _Recognition] = {}
        self.planner = DetectionPlan() if regions else None
        self.sightings: list[Sighting] = []
        self.frames = 0
        self.faces_seen = 0
        self.faces_embedded = 0
        self.unknown_tracks = 0
        self.tracks_ended = 0  # every face tracked, matched or not (its "faces seen" count)

    # ------------------------------------------------------------------ per frame

    def process(self, image: np.ndarray, t: float) -> list[TrackView]:
        """Process one sampled frame at time ``t``; returns what to draw for it."""
        self.frames += 1
        if self.planner is None:
            faces = detect(image, self.settings)
        else:
            plan = self.planner.next(image, [tr.box for tr in self.tracker.tracks])
            faces = detect(image, self.settings) if plan.full else _detect_regions(
                image, plan.regions, self.settings)
        self.faces_seen += len(faces)
        tracks = self.tracker.update([f.box for f in faces], t)
        to_search: list[tuple[Track, Face, Quality]] = []
        for track, face in zip(tracks, faces, strict=True):
            rec = self.known.setdefault(track.id, _Recognition())
            if face.size < self.settings.min_face_px or rec.embeds >= self.max_embeds:
                continue
            q = assess(image, face, self.settings)
            value = _face_value(q)
            first = rec.embeds == 0
            better = value > rec.searched_quality * 1.25
            if first or (better and t - rec.last_embed_s >= self.min_embed_interval_s):
                to_search.append((track, face, q))
        if to_search:
            self._search(image, t, to_search)
        views = [self._view(tr) for tr in tracks]
        self._close(t)
        return views

    def _search(self, image: np.ndarray, t: float,
                items: list[tuple[Track, Face, Quality]]) -> None:
        models = self.matcher.models
        vectors = {m: embed([align(image, f, m) for _, f, _ in items], m,
                                     self.settings) for m in models}
        embedded = [FaceEmbedding(f, q, {m: vectors[m][k] for m in models})
                    for k, (_, f, q) in enumerate(items)]
        self.faces_embedded += len(items)
        for (track, face, q), matches in zip(items, self.matcher.match_faces(embedded, 1),
                                             strict=True):
            rec = self.known[track.id]
            rec.embeds += 1
            rec.searched_quality = max(rec.searched_quality, _face_value(q))
            rec.last_embed_s = t
            best = matches[0] if matches else None
            if best is not None and (rec.best is None or best.score > rec.best.score):
                rec.best = best
                rec.best_crop = crop_face(image, face.box, 0.3)
                rec.best_quality = q

    def _view(self, tr: Track) -> TrackView:
        rec = self.known.get(tr.id) or _Recognition()
        if rec.best is not None and rec.best.decision.makes_lead:
            return TrackView(tr.box, rec.best.name, rec.best.decision, rec.best.score)
        return TrackView(tr.box, "searching" if rec.embeds == 0 else "unknown", None, None)

    # ------------------------------------------------------------------ ending tracks

    def _sighting(self, tr: Track, rec: _Recognition) -> Sighting:
        b = rec.best
        assert b is not None
        return Sighting(b.case_id, b.name, b.score, b.decision, tr.first_s, tr.last_s,
                        tr.frames, b.photo_id, b.scores, b.box, rec.best_crop, b.margin,
                        b.stranger_rate,
                        rec.best_quality.as_dict() if rec.best_quality else None)

    def _close(self, t: float | None) -> None:
        for tr in self.tracker.end(t):
            self.tracks_ended += 1
            rec = self.known.pop(tr.id, None)
            if rec is not None and rec.best is not None and rec.best.decision.makes_lead:
                self.sightings = merge_sighting(self.sightings, self._sighting(tr, rec),
                                                self.merge_gap_s)
            else:
                self.unknown_tracks += 1

    def finish(self) -> list[Sighting]:
        """End every open track; returns all sightings, in order of first appearance."""
        self._close(None)
        return sorted(self.sightings, key=lambda s: s.first_s)

    def current(self) -> list[Sighting]:
        """Provisional sightings of the tracks still open (a person still in view), so a live
        view can offer them before the person leaves."""
        out = []
        for tr in self.tracker.tracks:
            rec = self.known.get(tr.id)
            if rec is not None and rec.best is not None and rec.best.decision.makes_lead:
                out.append(self._sighting(tr, rec))
        return out

    def expire(self, t: float) -> None:
        """End tracks unseen since before ``t - max_gap_s`` (live sources call this when no
        frame arrives)."""
        self._close(t)


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
    #: sampled frames the detector saw whole, only around tracks, or not at all
    detection: dict[str, int] = field(default_factory=dict)
    #: distinct faces followed through the video (tracks), matched or not
    faces_tracked: int = 0

    @property
    def speed(self) -> float:
        """Seconds of video processed per second of wall time (1.0 = real time)."""
        return self.processed_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


def scan(source: str | Path, matcher: Matcher, settings: Settings, every_s: float = 0.2,
         progress: Callable[[float, float | None, int, float], None] | None = None,
         stop: Callable[[], bool] | None = None,
         lock: AbstractContextManager | None = None,
         on_frame: Callable[[float, np.ndarray, list[TrackView]], None] | None = None
         ) -> ScanResult:
    """Scan a video file or stream: sightings of registered children, with warnings.

    ``progress(seconds_done, duration_or_None, frames, speed_vs_real_time)`` is called after
    every sampled frame; ``stop()`` returning True ends the scan early; ``lock`` is held while
    each frame is recognised (the dashboard shares its models between users and jobs);
    ``on_frame(t, frame, views)`` sees each sampled frame with what was found in it (a frame
    strip keeps a few of them, :mod:`findme.video.strips`). Nothing is written here (see
    :mod:`findme.video.scans`).
    """
    guard = lock if lock is not None else nullcontext()
    if is_stream(str(source)):  # the checked URL carries its addresses to the relay
        source = check_camera_url(str(source), settings.camera_networks)
    report = FrameReport()
    proc = VideoProcessor(matcher, settings, every_s)
    start = time.monotonic()
    last_t = 0.0
    for t, frame in frames(source, every_s, report, stop=stop,
                           max_pixels=settings.max_frame_pixels):
        with guard:
            views = proc.process(frame, t)
        if on_frame:
            on_frame(t, frame, views)
        last_t = t
        if progress:
            elapsed = time.monotonic() - start
            progress(t, report.duration_s, proc.frames, (t + every_s) / elapsed if elapsed else 0)
    sightings = proc.finish()
    elapsed = time.monotonic() - start
    processed = report.duration_s if report.duration_s and not report.warnings else (
        last_t + every_s if proc.frames else 0.0)
    plan = proc.planner
    detection = ({"full": plan.full_frames, "regions": plan.region_frames,
                  "skipped": plan.skipped_frames} if plan else {"full": proc.frames})
    return ScanResult(sightings, report, proc.frames, proc.faces_seen, proc.faces_embedded,
                      proc.unknown_tracks, processed, elapsed, detection, proc.tracks_ended)
