"""Frame strips: a few small JPEG frames of each sighting, kept while a scan runs.

While a video is scanned, :class:`FrameKeeper` keeps a small copy (``width`` px wide) of each
sampled frame in which a registered child is recognised, with that face outlined in its
decision's colour; every other face in the frame is blurred before the copy is made, so faces
that match nobody are still never kept. When the scan ends, :func:`save` writes a few frames per
sighting to ``sightings/<case id>/`` in the data folder; erasing the case removes that folder
(``findme.cases.registry.delete_case``).

In: RGB frames (numpy arrays) with the processor's :class:`~findme.video.processor.TrackView`
list. Out: JPEG bytes, and paths relative to the data folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from findme.config import Settings

STRIP_FRAMES = 5  # frames kept per sighting
WIDTH = 320  # px: a kept frame's width
MAX_KEPT = 600  # frames held in memory during a scan (thinned to every other one beyond)
QUALITY = 75  # JPEG quality
FOLDER = "sightings"
UNKNOWN = (120, 120, 120)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#2e7d32`` -> (46, 125, 50)."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def small_frame(frame: np.ndarray, views: Sequence, width: int = WIDTH) -> np.ndarray:
    """A copy of the RGB ``frame`` ``width`` px wide (never enlarged): faces of recognised
    children (views with a decision) outlined in the decision's colour, every other face
    blurred beyond recognition."""
    h, w = frame.shape[:2]
    scale = min(1.0, width / max(w, 1))
    out = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_AREA) if scale < 1.0 else frame.copy()
    oh, ow = out.shape[:2]
    for v in views:
        x, y, bw, bh = (round(c * scale) for c in v.box)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(ow, x + bw), min(oh, y + bh)
        if x1 <= x0 or y1 <= y0:
            continue
        if v.decision is None:  # a face that matches nobody: not kept, not even small
            k = max(3, (max(x1 - x0, y1 - y0) // 2) | 1)
            out[y0:y1, x0:x1] = cv2.GaussianBlur(out[y0:y1, x0:x1], (k, k), 0)
            out[y0:y1, x0:x1] = cv2.resize(cv2.resize(
                out[y0:y1, x0:x1], (2, 2), interpolation=cv2.INTER_AREA),
                (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        else:
            colour = _hex_rgb(v.decision.colour) if hasattr(v.decision, "colour") else UNKNOWN
            cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 2)
    return np.ascontiguousarray(out)


def jpeg(rgb: np.ndarray, quality: int = QUALITY) -> bytes:
    """JPEG bytes of an RGB array."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode a frame as JPEG")
    return data.tobytes()


class FrameKeeper:
    """Small JPEG copies of the sampled frames in which a child was recognised, with their
    time (seconds from the start). Give ``add`` as a scan's ``on_frame``; then :meth:`pick`."""

    def __init__(self, width: int = WIDTH, max_kept: int = MAX_KEPT) -> None:
        self.width = width
        self.max_kept = max_kept
        self.frames: list[tuple[float, bytes]] = []

    def add(self, t: float, frame: np.ndarray, views: Sequence) -> None:
        """Keep frame ``frame`` at ``t`` s if any of its ``views`` is a recognised child."""
        if not any(v.decision is not None for v in views):
            return
        self.frames.append((t, jpeg(small_frame(frame, views, self.width))))
        if len(self.frames) > self.max_kept:  # a long video: keep every other frame
            self.frames = self.frames[::2]

    def pick(self, first_s: float, last_s: float, n: int = STRIP_FRAMES
             ) -> list[tuple[float, bytes]]:
        """Up to ``n`` kept frames from ``first_s`` to ``last_s``, evenly spread, in order."""
        inside = [f for f in self.frames if first_s - 1e-6 <= f[0] <= last_s + 1e-6]
        if len(inside) <= n:
            return inside
        idx = sorted({round(i) for i in np.linspace(0, len(inside) - 1, n)})
        return [inside[i] for i in idx]


def case_folder(settings: Settings, case_id: int) -> Path:
    """Where a case's sighting frames are kept: ``<data>/sightings/<case id>``."""
    return settings.data_dir / FOLDER / str(int(case_id))


def save(settings: Settings, case_id: int, scan_id: int, index: int,
         frames: Sequence[tuple[float, bytes]]) -> list[dict]:
    """Write one sighting's frames; returns ``[{"t": seconds, "path": relative path}]`` (paths
    relative to the data folder, for the scan's sighting row)."""
    if not frames:
        return []
    folder = case_folder(settings, case_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = []
    for k, (t, data) in enumerate(frames):
        path = folder / f"scan-{int(scan_id)}-{int(index)}-{k}.jpg"
        path.write_bytes(data)
        out.append({"t": round(float(t), 2), "path": path.relative_to(settings.data_dir)
                    .as_posix()})
    return out


def save_checked(settings: Settings, case_id: int, scan_id: int, index: int,
                 frames: Sequence[tuple[float, bytes]], alive: Callable[[], bool]) -> list[dict]:
    """:func:`save`, for a case that may be erased meanwhile: nothing is written when
    ``alive()`` is False, and what was written is removed again when the case was erased while
    it was written (erasure deletes the rows first and the folder last, so a folder removed
    before these files were written would otherwise keep an erased child's frames)."""
    if not frames or not alive():
        return []
    out = save(settings, case_id, scan_id, index, frames)
    if not alive():
        for item in out:
            (settings.data_dir / item["path"]).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # left as it was when other files are there
            case_folder(settings, case_id).rmdir()
        return []
    return out


def read(settings: Settings, rel: str) -> bytes | None:
    """The bytes of a kept frame (None when it is gone, e.g. its case was erased, or when the
    path points outside the sightings folder)."""
    root = (settings.data_dir / FOLDER).resolve()
    path = (settings.data_dir / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path.read_bytes()
