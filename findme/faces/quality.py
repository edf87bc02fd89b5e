"""Judging a face: is it fit for recognition, and if not, why not (in plain words)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from findme.config import Settings
from findme.faces.detect import Face


@dataclass(frozen=True)
class Quality:
    """How fit a face is for recognition, with the reasons when it is not."""

    face_px: int
    sharpness: float
    brightness: float
    yaw_deg: float
    roll_deg: float
    score: float
    usable: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"face_px": self.face_px, "sharpness": round(self.sharpness, 1),
                "brightness": round(self.brightness, 1), "yaw_deg": round(self.yaw_deg, 1),
                "roll_deg": round(self.roll_deg, 1), "score": round(self.score, 4),
                "usable": self.usable, "reasons": list(self.reasons)}


_SHARPNESS_STD = 50.0


def _pose(face: Face) -> tuple[float, float]:
    """(yaw, roll) in degrees estimated from the five landmarks."""
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    eye_dist = math.hypot(rx - lx, ry - ly)
    if eye_dist < 1e-6:
        return 90.0, roll
    # Nose offset from the eye midline, along the eye axis, relative to half the eye distance.
    # With the nose tip about half an eye distance in front of the eyes, that ratio is tan(yaw).
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    ux, uy = (rx - lx) / eye_dist, (ry - ly) / eye_dist
    ratio = ((nx - cx) * ux + (ny - cy) * uy) / (eye_dist / 2)
    return math.degrees(math.atan(ratio)), roll


def assess(image: np.ndarray, face: Face, settings: Settings) -> Quality:
    """Quality report for one face: size, sharpness, brightness, pose and detector score.

    ``sharpness`` is the variance of the Laplacian on the face scaled to 112 px and to a fixed
    contrast (higher is sharper); ``brightness`` the mean gray level of the face (0-255);
    ``yaw_deg``/``roll_deg`` the head turn and tilt from the landmarks. ``usable`` is False when
    any measure is outside the configured limits, and ``reasons`` says which, in plain words.
    """
    cfg = settings
    x, y, w, h = face.box
    crop = image[y:y + h, x:x + w]
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.size else np.zeros((1, 1), np.uint8)
    norm = cv2.resize(gray, (112, 112), interpolation=cv2.INTER_AREA).astype(np.float64)
    spread = norm.std()
    if spread > 1.0:  # same contrast for every face, so dim photos are not called blurry
        norm = (norm - norm.mean()) * (_SHARPNESS_STD / spread)
    sharpness = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    brightness = float(gray.mean())
    yaw, roll = _pose(face)
    reasons = []
    if face.size < cfg.min_face_px:
        reasons.append(f"face too small: {face.size} px (at least {cfg.min_face_px} px needed)")
    if sharpness < cfg.min_sharpness:
        reasons.append(f"too blurry: sharpness {sharpness:.0f} (at least {cfg.min_sharpness:.0f})")
    if brightness < cfg.min_brightness:
        reasons.append(f"too dark: brightness {brightness:.0f} of 255")
    if brightness > cfg.max_brightness:
        reasons.append(f"overexposed: brightness {brightness:.0f} of 255")
    if abs(yaw) > cfg.max_yaw_deg:
        reasons.append(f"face turned too far sideways: about {abs(yaw):.0f} degrees")
    if abs(roll) > cfg.max_roll_deg:
        reasons.append(f"head tilted too far: about {abs(roll):.0f} degrees")
    if face.score < cfg.min_detector_score:
        reasons.append(f"detector unsure this is a face: score {face.score:.2f}")
    return Quality(face.size, sharpness, brightness, yaw, roll, face.score, not reasons,
                   tuple(reasons))
