"""Tracking faces across frames, and merging sightings: pure functions of boxes and times.

No model, no image: boxes go in, tracks come out (the way ``supervision``'s trackers take
detections), so tracking is tested in milliseconds. :class:`IoUTracker` gives each face box of a
frame the live track whose last box overlaps it most (IoU at least ``iou_threshold``), or a new
track; a track ends once unseen for more than ``max_gap_s``. :func:`merge_sighting` joins
sightings of one case that touch in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

Box = tuple[int, int, int, int]


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclass
class Track:
    """One face followed over frames: its id, last box, first and last time seen (seconds) and
    how many sampled frames showed it."""

    id: int
    box: Box
    first_s: float
    last_s: float
    frames: int = 1


class IoUTracker:
    """Greedy IoU tracker: ``update(boxes, t)`` -> the :class:`Track` of each box."""

    def __init__(self, iou_threshold: float = 0.3, max_gap_s: float = 1.0) -> None:
        self.iou_threshold = iou_threshold
        self.max_gap_s = max_gap_s
        self.tracks: list[Track] = []
        self._next_id = 0

    def update(self, boxes: Sequence[Box], t: float) -> list[Track]:
        """Assign each box of the frame at time ``t`` to a track (same order as ``boxes``).

        Pairs are taken best overlap first; a live track takes at most one box per frame; a box
        left over starts a new track. Tracks unseen for more than ``max_gap_s`` are not
        continued (end them with :meth:`end`).
        """
        live = [tr for tr in self.tracks if t - tr.last_s <= self.max_gap_s]
        pairs = sorted(((iou(tr.box, b), i, j) for i, tr in enumerate(live)
                        for j, b in enumerate(boxes)), reverse=True)
        out: list[Track | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < self.iou_threshold or i in used or out[j] is not None:
                continue
            tr = live[i]
            tr.box, tr.last_s, tr.frames = tuple(boxes[j]), t, tr.frames + 1
            used.add(i)
            out[j] = tr
        for j, b in enumerate(boxes):
            if out[j] is None:
                tr = Track(self._next_id, tuple(b), t, t)
                self._next_id += 1
                self.tracks.append(tr)
                out[j] = tr
        return [tr for tr in out if tr is not None]

    def end(self, t: float | None) -> list[Track]:
        """Remove and return the tracks unseen for more than ``max_gap_s`` at time ``t``
        (every track when ``t`` is None: the video ended), oldest first."""
        ended = [tr for tr in self.tracks if t is None or t - tr.last_s > self.max_gap_s]
        self.tracks = [tr for tr in self.tracks if tr not in ended]
        return ended


class Timed(Protocol):
    """What :func:`merge_sighting` needs of a sighting."""

    case_id: int
    score: float
    first_s: float
    last_s: float
    frames: int


S = TypeVar("S", bound=Timed)


def merge_sighting(sightings: list[S], new: S, gap_s: float) -> list[S]:
    """``sightings`` with ``new`` added, or merged into a sighting of the same case that it
    overlaps or comes within ``gap_s`` seconds of (the merged one keeps the better-scoring
    sighting's details, the union of the times and the sum of the frames)."""
    for k, s in enumerate(sightings):
        if s.case_id == new.case_id and new.first_s - s.last_s <= gap_s \
                and s.first_s - new.last_s <= gap_s:
            top = new if new.score > s.score else s
            merged = replace(top, first_s=min(s.first_s, new.first_s),  # type: ignore[type-var]
                             last_s=max(s.last_s, new.last_s), frames=s.frames + new.frames)
            return [*sightings[:k], merged, *sightings[k + 1:]]
    return [*sightings, new]
