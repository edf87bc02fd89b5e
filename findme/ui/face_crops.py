"""Registered faces as the pages show them: the face cut out of a stored photo by its stored box,
and small data-URL thumbnails for tables.

Input: the workspace settings and photo records (``file_path`` and ``face_box``, the box the
detector found when the photo was registered, in the stored file's pixels). Output: RGB arrays or
``data:image/jpeg;base64,...`` strings. Nothing here draws widgets; a caller decides whether the
person's role may see photos at all.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from findme.cases.tables import PhotoRecord
from findme.config import Settings
from findme.faces.image import crop_face
from findme.ui.images import stored

THUMB_SIDE = 64  # px: a table thumbnail's longer side
#: what a thumbnail cell shows when there is no face to show (a table would print "None")
NO_FACE = ("data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48">'
    b'<rect width="48" height="48" fill="#eeeeee"/><text x="24" y="30" font-size="16" '
    b'text-anchor="middle" fill="#999999">-</text></svg>').decode("ascii"))
FACE_SIDE = 320  # px: a face crop shown beside the searched face


def registered_face(settings: Settings, photo: PhotoRecord | None,
                    side: int = FACE_SIDE) -> np.ndarray | None:
    """The registered face of ``photo`` as RGB (its stored box with a margin, at most ``side``
    px), the whole photo shrunk when no box was stored, or None when the file is gone."""
    if photo is None:
        return None
    path = stored(settings, photo.file_path)
    if path is None:
        return None
    return _face(str(path), path.stat().st_mtime_ns, tuple(photo.face_box or ()), side)


@lru_cache(maxsize=256)
def _face(path: str, _mtime: int, box: tuple, side: int) -> np.ndarray | None:
    out = _read_face(path, box, side)
    if out is not None:
        out.setflags(write=False)
    return out


def _read_face(path: str, box: tuple, side: int) -> np.ndarray | None:
    """The file at ``path`` as RGB, its ``box`` cut out (with a margin) when one is given, at
    most ``side`` px; None for a file that cannot be read."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if len(box) == 4 and box[2] > 0 and box[3] > 0:
        rgb = crop_face(rgb, box)
    return shrink(rgb, side)


def shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` scaled down so its longer side is at most ``side`` px (never up)."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w, 1)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def data_url(rgb: np.ndarray | None, side: int = THUMB_SIDE) -> str | None:
    """A small JPEG of ``rgb`` as a ``data:`` URL (for ``st.column_config.ImageColumn``)."""
    if rgb is None or not rgb.size:
        return None
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(shrink(rgb, side), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def thumbnails(settings: Settings, photos: Iterable[PhotoRecord],
               side: int = THUMB_SIDE) -> dict[int, str]:
    """``{case id: data URL}``: the face of each case's first ready photo (photos in id order),
    for a table's thumbnail column. Cases without a readable photo are left out."""
    out: dict[int, str] = {}
    for p in photos:
        if p.case_id in out or p.status != "ready":
            continue
        path = stored(settings, p.file_path)
        url = path and _thumbnail(str(path), path.stat().st_mtime_ns,
                                  tuple(p.face_box or ()), side)
        if url:
            out[p.case_id] = url
    return out


def file_thumbnail(settings: Settings, rel: str | None, side: int = THUMB_SIDE) -> str | None:
    """A stored file (a lead's searched-face crop) as a small data URL, or None when gone."""
    path: Path | None = stored(settings, rel)
    if path is None:
        return None
    return _thumbnail(str(path), path.stat().st_mtime_ns, (), side)


#: thumbnails kept: more than a table shows at once (300 cases, 500 leads), so a page's rerun
#: reads no file again (a cache smaller than the rows it serves in turn would miss every time);
#: a few kB each
THUMBNAILS_KEPT = 2048


@lru_cache(maxsize=THUMBNAILS_KEPT)
def _thumbnail(path: str, _mtime: int, box: tuple, side: int) -> str | None:
    """The data URL of the file at ``path`` (its ``box`` cut out when given, with a margin),
    at most ``side`` px; keyed by the file's modification time, so a replaced file is read
    again. None for a file that cannot be read."""
    return data_url(_read_face(path, box, side * 2), side)
