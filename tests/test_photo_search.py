"""Uploads for the photo search: ZIP files opened with limits, bad files reported."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

from findme.config import Settings
from findme.ui.photo_search import PhotoSearch, Upload, expand, results_table


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_members_replace_the_zip(settings: Settings, face_photo: Path) -> None:
    data = face_photo.read_bytes()
    ups, problems = expand([Upload("a.jpg", data), Upload("batch.zip", _zip({
        "x/one.jpg": data, "__MACOSX/._one.jpg": b"junk", "x/.hidden": b"junk",
        "two.jpg": data}))], settings)
    assert [u.name for u in ups] == ["a.jpg", "batch.zip/x/one.jpg", "batch.zip/two.jpg"]
    assert not problems and all(u.data == data for u in ups)


def test_zip_limits_and_damage(settings: Settings) -> None:
    small = replace(settings, max_file_bytes=1000)
    bomb = _zip({"zeros.jpg": b"\0" * 10_000_000})  # ~10 KB packed, 10 MB unpacked
    ups, problems = expand([Upload("bomb.zip", bomb), Upload("bad.zip", b"PK not really")],
                           small)
    assert ups == []
    assert any("larger than" in p for p in problems)
    assert any("bad.zip: not a readable ZIP" in p for p in problems)


def test_results_table_keeps_failures() -> None:
    frame = results_table([PhotoSearch("x.png", None, None, "not an image")])
    assert frame.iloc[0]["note"] == "not an image"
