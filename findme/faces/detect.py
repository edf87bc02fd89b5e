"""Detecting faces: boxes, five landmarks and a score for every face in an RGB image.

Two detectors: ``centerface`` (default; ONNX run by OpenCV) and ``mtcnn`` (weights inside the
``mtcnn`` package). :func:`detect` downscales large images for the detector and maps the results
back; faces too small to recognise are flagged (``too_small``), not dropped.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from findme.config import Settings
from findme.faces.image import ImageError
from findme.faces.loading import ModelUnavailable, cached, weight_path


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is ``(x, y, w, h)`` in image pixels; ``landmarks`` are five ``(x, y)`` points in the
    order left eye, right eye, nose, left mouth corner, right mouth corner (left/right as seen in
    the image); ``score`` is the detector's confidence in [0, 1]; ``too_small`` is True when the
    face is smaller than ``Settings.min_face_px`` (reported, not dropped).
    """

    box: tuple[int, int, int, int]
    landmarks: tuple[tuple[float, float], ...]
    score: float
    too_small: bool = False

    @property
    def size(self) -> int:
        """The face's shorter box side in pixels."""
        return int(min(self.box[2], self.box[3]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"box": list(self.box), "landmarks": [[round(x, 1), round(y, 1)]
                                                     for x, y in self.landmarks],
                "score": round(self.score, 4), "too_small": self.too_small}


class _CenterFace:
    """CenterFace (ONNX, run by OpenCV's DNN module): boxes, scores and 5 landmarks."""

    def __init__(self, path: Path) -> None:
        self.net = cv2.dnn.readNetFromONNX(str(path))
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        h, w = rgb.shape[:2]
        h32, w32 = int(math.ceil(h / 32) * 32), int(math.ceil(w / 32) * 32)
        padded = np.zeros((h32, w32, 3), dtype=np.uint8)  # pad, do not stretch
        padded[:h, :w] = rgb
        blob = cv2.dnn.blobFromImage(padded, 1.0, (w32, h32), (0, 0, 0), swapRB=False)
        with self.lock:
            self.net.setInput(blob)
            heat, scale, offset, lms = self.net.forward(["537", "538", "539", "540"])
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > threshold)
        if len(ys) == 0:
            return []
        s0 = np.exp(scale[0, 0, ys, xs]) * 4
        s1 = np.exp(scale[0, 1, ys, xs]) * 4
        o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
        x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, w)
        y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, h)
        x2, y2 = np.minimum(x1 + s1, w), np.minimum(y1 + s0, h)
        scores = heat[ys, xs]
        pts = np.stack([np.stack([lms[0, 2 * j + 1, ys, xs] * s1 + x1,
                                  lms[0, 2 * j, ys, xs] * s0 + y1], axis=-1)
                        for j in range(5)], axis=1)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
        keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), threshold, 0.3)
        keep = np.asarray(keep, dtype=int).reshape(-1)
        return [(np.append(boxes[i], scores[i]), pts[i]) for i in keep]


class _Mtcnn:
    """MTCNN (weights inside the ``mtcnn`` package)."""

    def __init__(self) -> None:
        from mtcnn import MTCNN

        self.det = MTCNN()
        self.lock = threading.Lock()

    def __call__(self, rgb: np.ndarray, threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
        with self.lock:
            found = self.det.detect_faces(rgb)
        out = []
        for f in found:
            if f["confidence"] < threshold:
                continue
            kp = f["keypoints"]
            # MTCNN's "left_eye" is the eye on the image's left, the order Face uses
            pts = np.array([kp["left_eye"], kp["right_eye"], kp["nose"], kp["mouth_left"],
                            kp["mouth_right"]], dtype=np.float32)
            out.append((np.array([*f["box"], f["confidence"]], dtype=np.float32),
                        pts))
        return out


DETECTORS = ("centerface", "mtcnn")


def _detector(name: str, settings: Settings) -> Any:
    if name == "centerface":
        path = weight_path(settings, "centerface.onnx", "detector centerface")
        return cached("detector", f"{name}:{path}", lambda: _CenterFace(path))
    if name == "mtcnn":
        return cached("detector", name, _Mtcnn)
    raise ModelUnavailable(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


def detect(image: np.ndarray, settings: Settings,
           detector: str | None = None) -> list[Face]:
    """All faces in an RGB image, largest first.

    Each :class:`Face` carries its box, five landmarks and detector score. The image is
    downscaled for detection to at most ``Settings.detect_max_side`` pixels on its long side
    (results are mapped back). Faces smaller than ``Settings.min_face_px`` are returned with
    ``too_small=True`` rather than dropped.
    """
    cfg = settings
    det = _detector(detector or cfg.detector, cfg)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError("detect() needs an RGB uint8 image from load_image()")
    h, w = image.shape[:2]
    scale = min(1.0, cfg.detect_max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    faces = []
    for box, pts in det(small, cfg.detect_threshold):
        x, y, bw, bh = (float(v) / scale for v in box[:4])
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(w, int(round(x + bw))), min(h, int(round(y + bh)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        landmarks = tuple((float(px) / scale, float(py) / scale) for px, py in pts)
        fw, fh = x1 - x0, y1 - y0
        faces.append(Face((x0, y0, fw, fh), landmarks, float(min(max(box[4], 0.0), 1.0)),
                          min(fw, fh) < cfg.min_face_px))
    faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return faces
