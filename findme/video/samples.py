"""Sample videos made from real photos: people walk into a scene, stay, and leave.

Used by the demo workspace (a CCTV clip to try), the tests (a known truth: who is visible when)
and the video benchmark. Each :class:`Appearance` pastes one photo (scaled to a height) onto a
plain background between two times, drifting slowly sideways like a person walking. Output is
an ``.mp4``/``.avi`` through OpenCV, or a ``.y4m`` file Chromium can play as a fake webcam.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps


@dataclass(frozen=True)
class Appearance:
    """One person in the scene: ``photo`` shown from ``start_s`` to ``end_s`` with its top-left
    corner at (``x``, ``y``) as fractions of the frame, ``height`` px tall, drifting
    ``drift_px_s`` pixels per second."""

    photo: Path
    start_s: float
    end_s: float
    x: float
    y: float
    height: int = 300
    drift_px_s: float = 12.0


def _background(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    ramp = np.linspace(70, 150, w, dtype=np.float32)[None, :, None]
    shade = np.linspace(0.8, 1.1, h, dtype=np.float32)[:, None, None]
    base = np.clip(ramp * shade * np.array([1.0, 1.05, 0.95], np.float32), 0, 255)
    return base.astype(np.uint8)


def render(appearances: Sequence[Appearance], duration_s: float, fps: float = 25.0,
           size: tuple[int, int] = (1280, 720)) -> Iterator[np.ndarray]:
    """Yield the RGB frames of the scene."""
    w, h = size
    bg = _background(size)
    photos = {}
    for a in appearances:
        if a.photo not in photos:
            with Image.open(a.photo) as opened:  # our own sample photos (public data sets)
                img = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
            scale = a.height / img.shape[0]
            photos[a.photo] = cv2.resize(img, (max(1, int(img.shape[1] * scale)), a.height),
                                         interpolation=cv2.INTER_AREA)
    for k in range(int(round(duration_s * fps))):
        t = k / fps
        frame = bg.copy()
        for a in appearances:
            if not a.start_s <= t < a.end_s:
                continue
            img = photos[a.photo]
            x0 = int(a.x * w + a.drift_px_s * (t - a.start_s))
            y0 = int(a.y * h)
            x1, y1 = min(w, x0 + img.shape[1]), min(h, y0 + img.shape[0])
            if x0 >= w or y0 >= h or x1 <= 0 or y1 <= 0:
                continue
            sx, sy = max(0, -x0), max(0, -y0)
            frame[max(0, y0):y1, max(0, x0):x1] = img[sy:sy + y1 - max(0, y0),
                                                      sx:sx + x1 - max(0, x0)]
        yield frame


def write(path: Path, appearances: Sequence[Appearance], duration_s: float, fps: float = 25.0,
          size: tuple[int, int] = (1280, 720)) -> Path:
    """Write the scene to ``path``: ``.y4m`` (raw I420, for Chromium's fake webcam), ``.avi``
    (Motion-JPEG) or anything else OpenCV writes with the ``mp4v`` codec (``.mp4``, ``.mov``,
    ``.mkv``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render(appearances, duration_s, fps, size)
    if path.suffix.lower() == ".y4m":
        with path.open("wb") as out:
            out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{int(fps)}:1 Ip A1:1 C420jpeg\n"
                      .encode())
            for frame in frames:
                out.write(b"FRAME\n")
                out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
        return path
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path.suffix} video here")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
