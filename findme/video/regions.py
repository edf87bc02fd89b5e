"""Where to look for faces in the next sampled frame, so detection is not run on every pixel.

Detection is the cost of video once tracking removed most embeddings. :class:`DetectionPlan`
decides per sampled frame: the **whole frame** on a key frame (every ``key_every`` samples),
when something moves outside the faces being followed, or when there is no track yet and the
scene changed; otherwise only **regions around the live tracks** (each box grown by ``margin``
on every side), each shrunk so its face is about ``face_px`` pixels; nothing at all when no one
is in view and nothing moves. Pure: boxes and small grey images in, a plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Region:
    """A part of the frame to run the detector on, and the scale to shrink it by first."""

    box: Box
    scale: float


@dataclass(frozen=True)
class Plan:
    """``full``: detect on the whole frame; otherwise on ``regions`` (empty: skip the frame)."""

    full: bool
    regions: tuple[Region, ...] = ()
    reason: str = ""


def grow(box: Sequence[int], margin: float, width: int, height: int) -> Box:
    """``box`` (x, y, w, h) grown by ``margin`` x its size on every side, clipped to the
    frame."""
    x, y, w, h = box
    x0, y0 = max(0, int(x - margin * w)), max(0, int(y - margin * h))
    x1, y1 = min(width, int(x + w + margin * w)), min(height, int(y + h + margin * h))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


class DetectionPlan:
    """Decides, frame by frame, where the detector runs (see the module docstring)."""

    def __init__(self, key_every: int = 10, margin: float = 0.5, face_px: int = 64,
                 motion_side: int = 160, motion_level: int = 25,
                 motion_share: float = 0.002) -> None:
        self.key_every = key_every
        self.margin = margin
        self.face_px = face_px
        self.motion_side = motion_side
        self.motion_level = motion_level
        self.motion_share = motion_share
        self._previous: np.ndarray | None = None
        self._since_full = 0
        self.full_frames = 0
        self.region_frames = 0
        self.skipped_frames = 0

    def _grey(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = frame.shape[:2]
        scale = self.motion_side / max(h, w)
        small = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0), scale

    def moved_outside(self, frame: np.ndarray, boxes: Sequence[Box]) -> bool:
        """Whether the frame changed since the previous sampled one anywhere outside
        ``boxes`` (each grown by the margin); remembers this frame for the next call."""
        grey, scale = self._grey(frame)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return True
        changed = cv2.absdiff(grey, previous) > self.motion_level
        h, w = frame.shape[:2]
        for box in boxes:
            x, y, bw, bh = grow(box, self.margin, w, h)
            changed[int(y * scale):int((y + bh) * scale) + 1,
                    int(x * scale):int((x + bw) * scale) + 1] = False
        return changed.mean() > self.motion_share

    def next(self, frame: np.ndarray, tracks: Sequence[Box]) -> Plan:
        """The plan for ``frame`` given the boxes of the tracks still open."""
        moved = self.moved_outside(frame, tracks)
        self._since_full += 1
        if self._since_full >= self.key_every or moved:
            self._since_full = 0
            self.full_frames += 1
            return Plan(True, reason="key frame" if not moved else "motion")
        if not tracks:
            self.skipped_frames += 1
            return Plan(False, reason="no one in view, nothing moved")
        h, w = frame.shape[:2]
        regions = []
        for box in tracks:
            grown = grow(box, self.margin, w, h)
            if grown[2] < 2 or grown[3] < 2:
                continue
            side = max(1, min(box[2], box[3]))
            regions.append(Region(grown, min(1.0, self.face_px / side)))
        self.region_frames += 1
        return Plan(False, tuple(regions), "around the tracks")
