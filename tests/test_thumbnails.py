"""Table thumbnails (cases, leads) are made once per file and kept: a page's rerun does not read
and encode every shown photo again, and a replaced file is read afresh."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from findme.cases.tables import PhotoRecord
from findme.config import Settings
from findme.ui import case_table, face_crops, review_desk


def _photo(case_id: int, rel: str) -> PhotoRecord:
    return PhotoRecord(id=case_id, case_id=case_id, file_path=rel, sha256="", taken_date=None,
                       face_box=None, landmarks=None, quality=None, status="ready",
                       reasons=None, created_at=dt.datetime(2026, 1, 1))


def _decoded(url: str) -> np.ndarray:
    raw = base64.b64decode(url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)


def test_a_rerun_reads_no_photo_again_and_a_replaced_photo_is_read(
        ws_settings: Settings, orl: Path) -> None:
    settings = replace(ws_settings)
    folder = settings.data_dir / "photos"
    folder.mkdir()
    sources = sorted(orl.rglob("*.pgm"))[:30]
    photos = []
    for k, src in enumerate(sources, start=1):
        shutil.copy(src, folder / f"{k}.pgm")
        photos.append(_photo(k, f"photos/{k}.pgm"))
    photos.append(_photo(99, "photos/gone.pgm"))  # a file erased since: no thumbnail

    face_crops._thumbnail.cache_clear()
    first = face_crops.thumbnails(settings, photos)
    assert sorted(first) == list(range(1, 31))
    assert all(_decoded(u).shape[0] <= face_crops.THUMB_SIDE for u in first.values())
    misses = face_crops._thumbnail.cache_info().misses
    again = face_crops.thumbnails(settings, photos)
    assert again == first
    assert face_crops._thumbnail.cache_info().misses == misses  # nothing read again

    # the photo replaced (another person's face, a later modification time): read afresh
    target = folder / "1.pgm"
    shutil.copy(sources[-1], target)
    later = target.stat().st_mtime_ns + 10**9
    os.utime(target, ns=(later, later))
    assert face_crops.thumbnails(settings, photos[:1])[1] == first[30]

    # a lead's crop through the same cache
    url = face_crops.file_thumbnail(settings, "photos/2.pgm")
    assert url is not None and face_crops.file_thumbnail(settings, "photos/gone.pgm") is None
    assert face_crops.file_thumbnail(settings, "../outside.pgm") is None


def test_the_cache_holds_every_row_a_table_shows() -> None:
    # an LRU smaller than the rows it serves in turn misses on every rerun
    assert face_crops.THUMBNAILS_KEPT >= case_table.MAX_THUMBNAILS + review_desk.QUEUE_LIMIT
