"""Uploads for the photo search: ZIP files opened with limits, bad files reported."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

from findme.config import Settings
from findme.ui.photo_search import PhotoSearch, Upload, expand, results_table
from tests.memory import SNIPPET


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
    assert not problems and all(u.read(settings.max_file_bytes) == data for u in ups)


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


def test_one_budget_for_every_zip_of_a_request(settings: Settings) -> None:
    """Three ZIPs of 4 MB unpacked each against a 10 MB budget per request: the third is cut
    off (the budget does not start again per ZIP)."""
    small = replace(settings, max_request_bytes=10 * 2**20)
    packed = _zip({f"{i}.jpg": b"\0" * 2**20 for i in range(4)})
    ups, problems = expand([Upload(f"z{k}.zip", packed) for k in range(3)], small)
    assert len(ups) == 10 and any("at most 10 MB" in p for p in problems)


_REQUEST = """
import io, resource, sys, zipfile
from dataclasses import replace
from findme.config import get_settings
from findme.ui.photo_search import Upload, expand, search_uploads
from findme.workspace import open_workspace
settings = replace(get_settings(), data_dir=__import__("pathlib").Path(sys.argv[1]))
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(40):
        z.writestr(f"photo{i}.jpg", bytes(25 * 2**20))   # 1 GB unpacked, ~1 MB packed
packed = buf.getvalue()
del buf
with open_workspace(settings) as ws:
    base = peak_reset()
    uploads, problems = expand([Upload("big.zip", packed)], settings)
    found = search_uploads(ws, uploads, "tester")
    extra = peak_grown(base)
print(len(packed), len(found), sum(f.error is not None for f in found), extra)
"""


def test_a_small_zip_of_huge_members_stays_small_in_memory(ws_settings: Settings) -> None:
    """A ~1 MB ZIP holding 40 members of 25 MB (zeros, not images): each is read when its turn
    comes and refused, so the extra peak memory stays near one member, not 1 GB (measured in a
    fresh process)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", SNIPPET + _REQUEST, str(ws_settings.data_dir)],
                         capture_output=True, text=True, check=True).stdout.split()
    packed, searched, errors, extra = (int(v) for v in out)
    assert packed < 2 * 2**20 and searched == errors == 40
    assert extra < 200 * 2**20, f"{extra / 2**20:.0f} MB"
