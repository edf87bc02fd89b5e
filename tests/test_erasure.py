"""Erasing a case leaves nothing: no row, photo, crop or vector, anywhere in the data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.workspace import Workspace, open_workspace

from .conftest import usable_photos


def _files(root: Path) -> list[Path]:
    """Every file under ``root`` that the app wrote (the shared weights link is not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        out += [Path(dirpath) / f for f in filenames]
    return out


def find_vector(root: Path, vec: np.ndarray, atol: float = 1e-4) -> list[str]:
    """Files under ``root`` holding ``vec`` as float32 at any byte alignment (within ``atol``)."""
    vec = np.asarray(vec, np.float32)
    hits = []
    for path in _files(root):
        raw = path.read_bytes()
        for off in range(4):
            n = (len(raw) - off) // 4
            if n < len(vec):
                continue
            arr = np.frombuffer(raw, np.float32, n, off)
            with np.errstate(invalid="ignore"):
                starts = np.nonzero(np.abs(arr[: n - len(vec) + 1] - vec[0]) < atol)[0]
                if any(np.all(np.abs(arr[i:i + len(vec)] - vec) < atol) for i in starts):
                    hits.append(f"{path} (offset {off})")
                    break
    return hits


def find_text(root: Path, text: str) -> list[str]:
    """Files under ``root`` containing ``text`` in UTF-8 or UTF-16."""
    needles = [text.encode(), text.encode("utf-16-le")]
    return [str(p) for p in _files(root) if any(n in p.read_bytes() for n in needles)]


@pytest.mark.heavy
def test_delete_case_leaves_no_trace(ws_settings: Settings, celeb5: Path) -> None:
    name = "Zuleika Erasure-Probe"
    train = identities(celeb5 / "train")
    with open_workspace(ws_settings) as ws:
        keep = enroll_case(CaseDetails(name="Kept Child", consent_recorded=True), [
            PhotoInput(p.name, p.read_bytes())
            for p in usable_photos(train["elton_john"], ws_settings, 2)], ws.records, ws.store,
            ws_settings)
        erase = enroll_case(CaseDetails(name=name, last_seen_place="Erasure Street 9",
                                        guardian_contact="erasure-guardian@example.org",
                                        consent_recorded=True), [
            PhotoInput(p.name, p.read_bytes())
            for p in usable_photos(train["madonna"], ws_settings, 3)], ws.records, ws.store,
            ws_settings)
        ids = [o.photo_id for o in erase.photos if o.accepted]
        vectors = {m: ws.store.vectors(m, ids) for m in ws_settings.models}
        probe = load_image(identities(celeb5 / "val")["madonna"][0], ws_settings)
        found = ws.search(probe, source="photo", source_ref="zuleika-tip-upload.jpg")
        assert found.lead_ids, "the probe should have made a lead with a crop"
        crop = ws.records.leads(case_id=erase.case_id)[0].crop_path
        assert (ws_settings.data_dir / crop).is_file()
        assert find_text(ws_settings.data_dir, name), "the name is stored before erasure"
        some = next(iter(vectors[ws_settings.models[0]].values()))
        assert find_vector(ws_settings.data_dir, some), "vectors are stored before erasure"

        assert find_text(ws_settings.data_dir, "zuleika-tip-upload.jpg")

        with _dashboard_reading(ws_settings.data_dir / "findme.db"):
            delete_case(erase.case_id, ws.records, ws.store, ws_settings, actor="tester")
            _assert_erased(ws, erase.case_id, ids)
            assert ws.records.get_case(keep.case_id).name == "Kept Child"
            # while another process still holds the database open, as the dashboard does
            for text in (name, "Erasure Street 9", "erasure-guardian@example.org",
                         "zuleika-tip-upload.jpg"):
                assert find_text(ws_settings.data_dir, text) == [], text

    # after the process lets go of every file too
    for text in (name, "Erasure Street 9", "erasure-guardian@example.org"):
        assert find_text(ws_settings.data_dir, text) == [], text
    for model, by_id in vectors.items():
        for pid, vec in by_id.items():
            assert find_vector(ws_settings.data_dir, vec) == [], f"{model} vector of photo {pid}"
    assert not (ws_settings.data_dir / crop).exists()
    assert not (ws_settings.photos_dir / str(erase.case_id)).exists()
    with open_workspace(ws_settings) as ws:
        hits = ws.matcher.search_image(load_image(
            identities(celeb5 / "val")["elton_john"][0], ws_settings)).faces[0].best
        assert hits is not None and hits.case_id == keep.case_id


@contextmanager
def _dashboard_reading(db: Path) -> Iterator[None]:
    """Another process with the case database open (it has read from it and stays connected),
    as a running dashboard is while an admin erases a case."""
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from cases').fetchone(); print('ready', flush=True); "
            "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.communicate("", timeout=30)


def _assert_erased(ws: Workspace, case_id: int, photo_ids: list[int]) -> None:
    assert all(c.id != case_id for c in ws.records.list_cases())
    assert ws.records.photos(case_id) == [] and ws.records.leads(case_id=case_id) == []
    for model in ws.settings.models:
        assert not (set(photo_ids) & ws.store.ids(model))
    assert any(e["action"] == "case.erase" for e in ws.records.audit_log())


def test_uploads_of_a_stopped_dashboard_are_removed_at_start(ws_settings: Settings) -> None:
    """A dashboard killed mid-scan leaves its uploaded copy and a ``running`` job; the next
    start marks the job interrupted and removes the copy (footage must not outlive its scan)."""
    from findme.cases.records import open_records
    from findme.video import scans

    records = open_records(ws_settings)
    try:
        left = scans.save_upload(ws_settings, "station cam 4.mp4", b"\0" * 1000)
        scan_id = scans._create(records, str(left), "Station", None, 1.0, "tester", None)
        assert left.is_file()
        assert scans.mark_interrupted(records) == 1
        assert not left.exists()
        assert scans.get(records, scan_id).status == "interrupted"
        assert list((ws_settings.data_dir / "uploads").iterdir()) == []
    finally:
        records.engine.dispose()
