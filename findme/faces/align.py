"""Aligning a face: the crop each recognition model was trained on.

How a model wants its face is part of its spec (:attr:`findme.faces.models.ModelSpec.alignment`):
``arcface`` warps the five landmarks onto the ArcFace 112x112 template, ``facenet`` takes the
detector box plus a margin with the eyes levelled, ``box`` takes the plain box (dlib refines it
with its own face chip).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from findme.faces.detect import Face
from findme.faces.models import spec

ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
#: extra margin around the detector box for the FaceNet crops, per side, as a box fraction
FACENET_MARGIN = 0.1


def align(image: np.ndarray, face: Face, model: str) -> np.ndarray:
    """The aligned RGB ``uint8`` crop a model expects, of shape ``(size, size, 3)``.

    ArcFace-family models (``arcface-mbf``, ``arcface``): similarity warp of the five landmarks
    onto the ArcFace 112x112 template. FaceNet models: the detector box plus a 10% margin, rotated
    so the eyes are level, scaled to 160x160 (the crop FaceNet was trained on). ``dlib``: the box
    is returned as a 150x150 crop; :func:`embed` refines it with dlib's own 5-point face chip.
    """
    s = spec(model)
    pts = np.asarray(face.landmarks, dtype=np.float32)
    if s.alignment == "arcface":
        matrix, _ = cv2.estimateAffinePartial2D(pts, ARCFACE_TEMPLATE, method=cv2.LMEDS)
        if matrix is None:
            matrix = box_matrix(face, s.size, 0.0)
    elif s.alignment == "facenet":
        matrix = box_matrix(face, s.size, FACENET_MARGIN)
    else:
        matrix = box_matrix(face, s.size, 0.0, rotate=False)
    return cv2.warpAffine(image, matrix, (s.size, s.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def box_matrix(face: Face, size: int, margin: float, rotate: bool = True) -> np.ndarray:
    """Affine map: box (+margin) centred, eyes levelled, stretched onto ``size`` x ``size``."""
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    angle = 0.0
    if rotate:
        (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
        angle = math.atan2(ry - ly, rx - lx)
    sx, sy = size / (w * (1 + 2 * margin)), size / (h * (1 + 2 * margin))
    cos, sin = math.cos(-angle), math.sin(-angle)
    # translate centre to origin, rotate by -angle, scale, move to the crop centre
    rot = np.array([[cos, -sin], [sin, cos]])
    lin = np.diag([sx, sy]) @ rot
    offset = np.array([size / 2, size / 2]) - lin @ np.array([cx, cy])
    return np.hstack([lin, offset[:, None]]).astype(np.float32)
