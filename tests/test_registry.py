"""Enrollment rules, crash recovery between the two stores, and concurrent writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from findme.cases.records import CaseDetails, RecordError
from findme.cases.registry import (
    EnrollmentRejected,
    PhotoInput,
    add_photos,
    enroll_case,
    reconcile,
)
from findme.config import Settings, get_settings
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.workspace import Workspace, open_workspace

from .conftest import encode, usable_photos

FINDME = [sys.executable, "-m", "findme.cli"]


def _photo(path: Path, face_index: int | None = None) -> PhotoInput:
    return PhotoInput(path.name, path.read_bytes(), face_index)


def _nothing_stored(ws: Workspace) -> None:
    counts = ws.records.counts()
    assert counts["cases"] == 0 and counts["photos"] == 0
    assert all(ws.store.count(m) == 0 for m in ws.settings.models)
    assert not ws.settings.photos_dir.exists() or not any(ws.settings.photos_dir.rglob("*"))


def _two_faces(orl: Path) -> bytes:
    canvas = np.full((160, 260, 3), 128, np.uint8)
    canvas[20:132, 10:102] = load_image(orl / "s1" / "1.pgm", get_settings())
    canvas[20:132, 150:242] = load_image(orl / "s2" / "1.pgm", get_settings())
    return encode(canvas, "PNG")


def test_unusable_photos_are_rejected_with_reasons_and_nothing_stored(
        workspace: Workspace, orl: Path) -> None:
    tiny = np.full((400, 400, 3), 128, np.uint8)
    tiny[100:134, 100:128] = cv2.resize(load_image(orl / "s3" / "1.pgm", get_settings()), (28, 34))
    blurred = cv2.GaussianBlur(load_image(orl / "s4" / "1.pgm", get_settings()), (0, 0), 3)
    photos = [PhotoInput("wall.png", encode(np.full((200, 200, 3), 90, np.uint8), "PNG")),
              PhotoInput("notes.txt", b"not a photo at all"),
              PhotoInput("group.png", _two_faces(orl)),
              PhotoInput("tiny.png", encode(tiny, "PNG")),
              PhotoInput("blurred.png", encode(blurred, "PNG"))]
    with pytest.raises(EnrollmentRejected) as info:
        enroll_case(CaseDetails(name="Nobody", consent_recorded=True), photos, workspace.records,
                    workspace.store,
                    workspace.settings)
    reasons = {o.name: " ".join(o.reasons) for o in info.value.outcomes}
    assert "no face" in reasons["wall.png"]
    assert "not an image" in reasons["notes.txt"]
    assert "2 faces found" in reasons["group.png"]
    assert "too small" in reasons["tiny.png"]
    assert "blurry" in reasons["blurred.png"]
    _nothing_stored(workspace)


def test_bad_details_or_no_photos_change_nothing(workspace: Workspace, orl: Path) -> None:
    with pytest.raises(RecordError):
        enroll_case(CaseDetails(name="", consent_recorded=True), [_photo(orl / "s1" / "1.pgm")],
                    workspace.records,
                    workspace.store, workspace.settings)
    with pytest.raises(RecordError, match="at least one photo"):
        enroll_case(CaseDetails(name="A", consent_recorded=True), [], workspace.records,
                    workspace.store,
                    workspace.settings)
    _nothing_stored(workspace)


@pytest.mark.heavy
def test_face_choice_duplicates_and_added_photos(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    group = PhotoInput("group.png", _two_faces(orl), face_index=1)
    result = enroll_case(CaseDetails(name="Second in group", consent_recorded=True), [group],
                         ws.records, ws.store,
                         ws.settings)
    (outcome,) = result.photos
    assert outcome.accepted and outcome.face_box is not None
    assert outcome.face_box[0] > 100  # the face on the right was chosen
    more = add_photos(result.case_id, [_photo(orl / "s2" / "2.pgm"),
                                       PhotoInput("group-again.png", group.data, 1)],
                      ws.records, ws.store, ws.settings)
    assert more[0].accepted
    assert not more[1].accepted and "already registered" in more[1].reasons[0]
    photos = ws.records.photos(result.case_id)
    assert [p.status for p in photos] == ["ready", "ready"]
    for m in ws.settings.models:
        assert ws.store.ids(m) == {p.id for p in photos}
    stored = load_image(ws.settings.data_dir / photos[0].file_path, get_settings())
    assert stored.shape == (160, 260, 3)


def _enroll_cli(settings: Settings, name: str, photos: list[Path],
                fault: str | None = None, wait: float = 30) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir), FINDME_STORE_WAIT=str(wait))
    env.pop("FINDME_FAULT", None)
    if fault:
        env["FINDME_FAULT"] = fault
    return subprocess.run(FINDME + ["enroll", "--consent", "--name", name, "--json",
                                    *map(str, photos)],
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.heavy
@pytest.mark.parametrize("fault", ["after-records", "after-vectors"])
def test_crash_between_the_two_writes_is_repaired(ws_settings: Settings, orl: Path,
                                                  fault: str) -> None:
    photos = [orl / "s7" / f"{i}.pgm" for i in (1, 2, 3)]
    proc = _enroll_cli(ws_settings, "Crash Test", photos, fault=fault)
    assert proc.returncode == 70, proc.stderr  # killed mid-enrollment
    with open_workspace(ws_settings, repair=False) as ws:
        pending = ws.records.photos(status="pending")
        assert len(pending) == 3 and ws.records.photos(status="ready") == []
        missing = [m for m in ws_settings.models if ws.store.ids(m) != {p.id for p in pending}]
        assert bool(missing) == (fault == "after-records")
    with open_workspace(ws_settings) as ws:  # start-up reconcile
        report = ws.repaired
        assert report.photos_marked_ready == 3
        assert report.photos_reembedded == (3 if fault == "after-records" else 0)
        ready = ws.records.photos(status="ready")
        assert len(ready) == 3 and ws.records.photos(status="pending") == []
        for m in ws_settings.models:
            assert ws.store.ids(m) == {p.id for p in ready}
        probe = load_image(orl / "s7" / "9.pgm", ws.settings)
        best = ws.matcher.search_image(probe).faces[0].best
        assert best is not None and best.name == "Crash Test" and best.decision != "none"


@pytest.mark.heavy
def test_orphan_vectors_and_files_are_removed(workspace: Workspace, orl: Path) -> None:
    ws = workspace
    result = enroll_case(CaseDetails(name="Real", consent_recorded=True),
                         [_photo(orl / "s8" / "1.pgm")], ws.records,
                         ws.store, ws.settings)
    vec = np.zeros((1, 128), np.float32)
    vec[0, 0] = 1
    ws.store.add("facenet", [999], [77], vec)  # a vector no record knows
    stray = ws.settings.photos_dir / "77" / "stray.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    report = reconcile(ws.records, ws.store, ws.settings)
    assert report.orphan_vectors_deleted == 1 and report.files_removed == 1
    assert 999 not in ws.store.ids("facenet") and not stray.parent.exists()
    pid = result.photos[0].photo_id
    assert pid in ws.store.ids("facenet")
    assert not reconcile(ws.records, ws.store, ws.settings).changed


@pytest.mark.heavy
def test_two_processes_enrolling_at_once_lose_nothing(ws_settings: Settings, orl: Path) -> None:
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir), FINDME_STORE_WAIT="120")
    procs = [subprocess.Popen(FINDME + ["enroll", "--consent", "--name",
                                        f"Parallel {k}", "--json",
                                        *[str(orl / f"s{20 + k}" / f"{i}.pgm") for i in (1, 2)]],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ids = {json.loads(o[0])["case_id"] for o in outs}
    assert len(ids) == 2
    with open_workspace(ws_settings) as ws:
        assert not ws.repaired.changed
        assert len(ws.records.photos(status="ready")) == 4
        for m in ws_settings.models:
            assert ws.store.count(m) == 4


@pytest.mark.heavy
def test_busy_store_gives_a_clear_error_and_changes_nothing(ws_settings: Settings,
                                                            orl: Path) -> None:
    with open_workspace(replace(ws_settings)) as ws:
        proc = _enroll_cli(ws_settings, "Blocked", [orl / "s9" / "1.pgm"], wait=0.5)
        assert proc.returncode == 2
        assert "in use by another process" in proc.stderr
        assert ws.records.counts()["cases"] == 0


@pytest.mark.heavy
def test_cli_enroll_cases_delete(ws_settings: Settings, celeb5: Path) -> None:
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    photos = usable_photos(identities(celeb5 / "train")["mindy_kaling"], ws_settings, 2)
    proc = subprocess.run(FINDME + ["enroll", "--lawful-basis", "court order 12/2026", "--name",
                                    "Mindy", "--age", "9", "--last-seen", "Bus stop",
                                    *map(str, photos)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    case_id = int(proc.stdout.strip())
    cases = json.loads(subprocess.run(FINDME + ["cases", "--json"], env=env, capture_output=True,
                                      text=True, timeout=120).stdout)["cases"]
    assert cases[0]["case_id"] == case_id and cases[0]["photos"] == 2
    bad = subprocess.run(FINDME + ["enroll", "--consent", "--name", "X", "--age",
                                   "-3", str(photos[0])],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "between 0 and 120" in bad.stderr
    gone = subprocess.run(FINDME + ["delete", str(case_id)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert gone.returncode == 0, gone.stderr
    again = subprocess.run(FINDME + ["delete", str(case_id)], env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 2 and "no case" in again.stderr


def test_no_photo_is_stored_without_consent_or_another_lawful_basis(
        workspace: Workspace, ws_settings: Settings, orl: Path) -> None:
    """The consent rule lives in the registry: the CLI, the page and any import obey it."""
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    workspace.close()  # the CLI opens the embedded store itself
    proc = subprocess.run(FINDME + ["enroll", "--name", "No Consent", str(orl / "s1" / "1.pgm")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "consent" in proc.stderr and "lawful basis" in proc.stderr
    blank = subprocess.run(FINDME + ["enroll", "--name", "Blank", "--lawful-basis", "  ",
                                     str(orl / "s1" / "1.pgm")],
                           env=env, capture_output=True, text=True, timeout=120)
    assert blank.returncode == 2, blank.stderr
    with open_workspace(ws_settings) as ws:
        assert ws.records.counts()["cases"] == 0 and ws.records.photos() == []
        with pytest.raises(RecordError, match="lawful basis"):
            enroll_case(CaseDetails(name="No Consent"), [_photo(orl / "s1" / "1.pgm")],
                        ws.records, ws.store, ws.settings)
        assert ws.records.counts()["cases"] == 0
    folder = ws_settings.photos_dir
    assert not folder.exists() or not any(folder.rglob("*"))  # no photo file written


def test_enroll_refuses_devices_and_oversized_files_without_reading_them(
        ws_settings: Settings, tmp_path: Path) -> None:
    """``findme enroll /dev/zero`` used to read until memory ran out; now: one line, exit 2."""
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir),
               FINDME_MAX_FILE_BYTES=str(2**20))
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * (2 * 2**20))
    for path, why in (("/dev/zero", "not a regular file"), (str(big), "over the 1 MB limit")):
        proc = subprocess.run(FINDME + ["enroll", "--consent", "--name", "X", path], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and why in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
