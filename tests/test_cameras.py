"""Cameras on the CCTV page, on a video made from real photos: the camera list (location, last
scan, sightings, faces seen), a frame strip per sighting (strangers blurred, erased with the
case), the sightings picker following the newest scan; and the frame keeper on its own."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.search.decision import Decision
from findme.video import samples as sv
from findme.video import scans, strips
from findme.video.processor import TrackView

ENROLLED = "ben_afflek"
STRANGER = "madonna"


def _views() -> list[TrackView]:
    return [TrackView((20, 20, 100, 100), "child", Decision.MATCH, 0.9),
            TrackView((300, 40, 100, 100), "unknown", None, None)]


def test_kept_frames_outline_the_child_and_blur_everyone_else() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)  # all detail, no flat area
    small = strips.small_frame(frame, _views(), width=320)
    assert small.shape == (180, 320, 3)
    stranger = small[20:70, 150:200].astype(float)  # the unknown face, at half size
    assert stranger.std() < 2.0  # blurred to almost flat colour: nothing of a face is kept
    assert small[40:60, 30:45].astype(float).std() > 40  # the child's face keeps its detail
    assert tuple(small[10, 30]) == strips._hex_rgb(Decision.MATCH.colour)  # the outline

    keeper = strips.FrameKeeper(max_kept=8)
    keeper.add(0.0, frame, [_views()[1]])  # only a stranger: not kept at all
    assert keeper.frames == []
    for k in range(20):
        keeper.add(k * 0.2, frame, _views())
    assert len(keeper.frames) <= 8  # a long video thins what it holds
    picked = keeper.pick(0.0, 4.0, 5)
    assert len(picked) == 5 and [t for t, _ in picked] == sorted(t for t, _ in picked)
    assert all(data[:2] == b"\xff\xd8" for _, data in picked)  # JPEG


def test_no_frames_stay_for_a_case_erased_while_a_scan_saves_them(ws_settings: Settings) -> None:
    """Erasure deletes the case's rows first and its frame folder last: a scan that checked the
    case, then wrote its frames after the folder was removed, left an erased child's frames on
    disk. The frames are checked again after writing and removed."""
    frames = [(0.2 * k, b"\xff\xd8 frame %d" % k) for k in range(3)]
    answers = iter([True, False])  # alive before writing, erased by the time it is written
    assert strips.save_checked(ws_settings, 7, 1, 0, frames, lambda: next(answers)) == []
    assert not strips.case_folder(ws_settings, 7).exists()
    assert strips.save_checked(ws_settings, 7, 1, 0, frames, lambda: False) == []
    assert not strips.case_folder(ws_settings, 7).exists()  # an erased case: nothing written
    kept = strips.save_checked(ws_settings, 8, 1, 0, frames, lambda: True)
    assert [strips.read(ws_settings, k["path"]) for k in kept] == [d for _, d in frames]


@pytest.fixture(scope="module")
def clip(celeb5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s: the enrolled person from 2 s to 5 s, a never-enrolled person throughout."""
    val = identities(celeb5 / "val")
    scene = [sv.Appearance(val[ENROLLED][0], 2.0, 5.0, 0.05, 0.2),
             sv.Appearance(val[STRANGER][0], 0.0, 8.0, 0.55, 0.15)]
    return sv.write(tmp_path_factory.mktemp("cams") / "gate.mp4", scene, 8.0, 25, (960, 540))


def _enroll(settings: Settings, celeb5: Path) -> int:
    from findme.ui import state

    ws = state.workspace(settings)
    photos = identities(celeb5 / "train")[ENROLLED][1:4]
    return enroll_case(CaseDetails("Ben Affleck", consent_recorded=True),
                       [PhotoInput(p.name, p.read_bytes()) for p in photos], ws.records,
                       ws.store, settings).case_id


def _wait_done(records, scan_id: int, seconds: float = 600) -> scans.ScanRecord:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = scans.get(records, scan_id)
        if job.status not in ("running", "queued"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"scan {scan_id} still running")


def _start(at, clip: Path, camera: str, location: str) -> None:
    at.file_uploader(key="videos").set_value([(clip.name, clip.read_bytes(), "video/mp4")])
    at.text_input(key="camera").input(camera)
    at.text_input(key="location").input(location)
    next(b for b in at.button if b.label == "Start scan").click()
    at.run()
    assert any("1 scan(s) started" in s.value for s in at.success)


@pytest.mark.heavy
def test_cameras_list_frame_strips_counts_and_the_picker(app_data: Settings, celeb5: Path,
                                                         clip: Path) -> None:
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page, texts

    case_id = _enroll(app_data, celeb5)
    make_user(app_data, "inv", "investigator")
    records = state.workspace(app_data).records
    at = open_page("cctv", "inv")
    assert "No cameras yet" in texts(at) and "No sightings yet" in texts(at)
    _start(at, clip, "Gate 3", "North entrance")
    first = _wait_done(records, scans.list_scans(records)[0].id)
    assert first.status == "done" and first.location == "North entrance"
    assert first.faces_tracked and first.faces_tracked >= 2  # the child and the stranger
    assert first.faces_seen and first.faces_seen >= first.faces_tracked
    [sighting] = first.sightings
    assert 1 <= len(sighting["strip"]) <= strips.STRIP_FRAMES
    kept = [app_data.data_dir / f["path"] for f in sighting["strip"]]
    assert all(p.is_file() and p.parent == strips.case_folder(app_data, case_id)
               for p in kept)
    assert all(2.0 - 0.5 <= f["t"] <= 5.0 + 0.5 for f in sighting["strip"])

    at.run()  # the same tab, after the scan ended: the picker shows it
    shown = texts(at).replace("\\", "")  # markdown escapes
    assert f"#{first.id} Gate 3 · North entrance · gate.mp4 · done" in shown
    assert f"1 sighting among {first.faces_tracked} faces seen" in shown
    picker = next(s for s in at.selectbox if s.label == "Scan")
    assert picker.value == first.id
    assert len(at.get("image")) >= 1  # the frame strip (and the lead's face crop)
    cams = at.table[0].value.reset_index()
    assert cams.to_dict("records") == [{
        "camera": "Gate 3", "location": "North entrance",
        "last scan": f"#{first.id} · done · {first.created_at:%Y-%m-%d %H:%M} UTC",
        "scans": 1, "sightings": 1, "faces seen": first.faces_tracked}]
    assert "None" not in cams.to_csv() and "None" not in shown

    _start(at, clip, "Gate 4", "")  # a second camera, no location typed
    second = _wait_done(records, scans.list_scans(records)[0].id)
    assert second.status == "done" and second.id != first.id
    at.run()
    picker = next(s for s in at.selectbox if s.label == "Scan")
    assert picker.value == second.id  # the picker follows the newest scan
    cams = at.table[0].value.reset_index()
    assert list(cams["camera"]) == ["Gate 4", "Gate 3"]
    assert list(cams["location"]) == ["not given", "North entrance"]
    assert not at.exception

    delete_case(case_id, records, state.workspace(app_data).store, app_data)
    assert not strips.case_folder(app_data, case_id).exists()  # frames go with the case
    assert not any(p.exists() for p in kept)
    at.run()
    assert "No sightings yet" in texts(at)
    assert list(at.table[0].value["sightings"]) == [0, 0]


def test_camera_names_people_typed_are_shown_as_text() -> None:
    """The camera table (``st.table`` renders Markdown) shows typed names as typed."""
    import datetime as dt

    from findme.ui import cameras
    from findme.ui.text import safe
    from findme.video import scans

    row = cameras.camera_rows([scans.CameraSummary(
        "**Gate** [x](http://evil)", "# Bus *station*", 1, 7, "done",
        dt.datetime(2026, 11, 29, tzinfo=dt.UTC), 0, 0)])[0]
    assert row["camera"] == safe("**Gate** [x](http://evil)")
    assert row["location"] == safe("# Bus *station*")
