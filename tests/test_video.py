"""Video from real photos: one enrolled person among strangers, damaged files, the folder
watcher, sighting leads without flooding, and the CCTV page."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.leads import lead_from_sighting
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.video import processor as video
from findme.video import samples as sv
from findme.video import scans
from findme.workspace import open_workspace

pytestmark = pytest.mark.heavy
EVERY = 0.2
ENROLLED = "ben_afflek"
STRANGERS = ("madonna", "elton_john")


@pytest.fixture(scope="module")
def clips(celeb5: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10 s scene: the enrolled person from 3 s to 6 s, two never-enrolled people throughout
    (an mp4 and a Motion-JPEG avi of the same scene)."""
    val = identities(celeb5 / "val")
    scene = [sv.Appearance(val[ENROLLED][0], 3.0, 6.0, 0.05, 0.2),
             sv.Appearance(val[STRANGERS[0]][0], 0.0, 10.0, 0.4, 0.1),
             sv.Appearance(val[STRANGERS[1]][0], 1.0, 8.0, 0.7, 0.3)]
    folder = tmp_path_factory.mktemp("clips")
    return {"mp4": sv.write(folder / "gate.mp4", scene, 10.0, 25, (960, 540)),
            "avi": sv.write(folder / "gate.avi", scene, 10.0, 25, (960, 540))}


def _enroll(settings: Settings, celeb5: Path) -> dict[str, int]:
    """Enroll the person who appears and one who never does."""
    train = identities(celeb5 / "train")
    out = {}
    with open_workspace(settings) as ws:
        for person in (ENROLLED, "jerry_seinfeld"):
            out[person] = enroll_case(
                CaseDetails(person, consent_recorded=True),
                [PhotoInput(p.name, p.read_bytes()) for p in train[person][1:4]], ws.records,
                ws.store, settings).case_id
    return out


def _scan(settings: Settings, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    return subprocess.run([sys.executable, "-m", "findme.cli", "scan", str(source), "--json",
                           "--quiet", "--every", str(EVERY), *extra], env=env,
                          capture_output=True, text=True, timeout=600)


def test_scan_reports_the_enrolled_person_once_with_true_times(ws_settings: Settings,
                                                               celeb5: Path, clips) -> None:
    cases = _enroll(ws_settings, celeb5)
    proc = _scan(ws_settings, clips["mp4"], "--camera", "Gate 3")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (s,) = out["sightings"]  # exactly one sighting, and nobody else's
    assert s["case_id"] == cases[ENROLLED] and s["name"] == ENROLLED
    assert s["decision"] in ("match", "possible")
    assert abs(s["first_s"] - 3.0) <= EVERY + 1e-6
    assert abs(s["last_s"] - 6.0) <= EVERY + 1 / 25 + 1e-6
    assert s["frames"] >= 10 and s["lead_id"]
    assert {"case_id", "name", "score", "decision", "first_s", "last_s", "frames"} <= set(s)
    assert out["warnings"] == [] and out["unknown_tracks"] >= 2  # strangers: counted only
    with open_workspace(ws_settings) as ws:
        (lead,) = ws.records.leads()
        assert lead.case_id == cases[ENROLLED] and lead.crop_path
        assert ws.records.counts()["probes"] == 1  # nothing kept about the strangers

    again = json.loads(_scan(ws_settings, clips["mp4"], "--camera", "Gate 3").stdout)
    first_lead = out["sightings"][0]["lead_id"]  # the same file again: the same lead, no new one
    assert len(again["sightings"]) == 1 and again["sightings"][0]["lead_id"] == first_lead
    other = json.loads(_scan(ws_settings, clips["mp4"], "--camera", "Hall").stdout)
    assert other["sightings"][0]["lead_id"]  # another camera: a lead of its own


def test_corrupt_frames_and_cut_off_end(ws_settings: Settings, celeb5: Path, clips,
                                        tmp_path: Path) -> None:
    cases = _enroll(ws_settings, celeb5)
    data = clips["avi"].read_bytes()
    frames = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    broken = bytearray(data)
    rng = random.Random(7)
    for k in range(25, 50, 3):  # frames between 1 s and 2 s: garbage inside the JPEG data
        for j in range(frames[k] + 600, frames[k] + 3000):
            broken[j] = rng.randrange(256)
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(bytes(broken))
    out = json.loads(_scan(ws_settings, damaged, "--no-leads").stdout)
    assert any("skipped" in w for w in out["warnings"]), out["warnings"]
    assert [s["case_id"] for s in out["sightings"]] == [cases[ENROLLED]]  # the rest still read

    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.55)])  # ends at about 5.5 s
    proc = _scan(ws_settings, cut, "--no-leads")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert any("cut off or damaged" in w for w in out["warnings"])
    (s,) = out["sightings"]
    assert s["case_id"] == cases[ENROLLED] and abs(s["first_s"] - 3.0) <= EVERY + 1e-6

    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(clips["mp4"].read_bytes()[:200_000])  # index never written
    proc = _scan(ws_settings, cut_mp4)
    assert proc.returncode == 2 and "damaged" in proc.stderr
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    proc = _scan(ws_settings, text)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    with open_workspace(ws_settings) as ws:
        assert ws.records.counts()["leads"] == 0


def test_watch_scans_new_files_once(ws_settings: Settings, celeb5: Path, clips,
                                    tmp_path: Path) -> None:
    _enroll(ws_settings, celeb5)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "cam1.mp4").write_bytes(clips["mp4"].read_bytes())
    (inbox / "readme.txt").write_text("not a video")
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    run = [sys.executable, "-m", "findme.cli", "watch", str(inbox), "--once", "--every", "0.5"]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=600)
    lines = [json.loads(x) for x in first.stdout.splitlines()]
    assert [Path(x["file"]).name for x in lines] == ["cam1.mp4"]
    assert lines[0]["status"] == "done" and len(lines[0]["sightings"]) == 1
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=600)
    assert second.stdout.strip() == ""  # already scanned


def test_processor_keeps_nothing_about_strangers(ws_settings: Settings, celeb5: Path,
                                                 clips) -> None:
    _enroll(ws_settings, celeb5)
    with open_workspace(ws_settings) as ws:
        result = video.scan(clips["mp4"], ws.matcher, ws_settings, 0.5)
        assert [s.name for s in result.sightings] == [ENROLLED]
        assert result.faces_embedded < result.faces_seen / 2  # tracks, not every frame
        s = result.sightings[0]
        first = lead_from_sighting(ws.records, ws_settings, s, "Gate 3")
        # the very same sighting again (a queued scan taken over): its lead, not a new one
        assert lead_from_sighting(ws.records, ws_settings, s, "Gate 3") == first
        later = replace(s, first_s=s.first_s + 30, last_s=s.last_s + 30)
        assert lead_from_sighting(ws.records, ws_settings, later, "Gate 3") is None  # a repeat
        assert ws.records.audit_log(action="sighting.repeat")
        assert len(ws.records.leads()) == 1


def test_cctv_page_runs_a_background_scan(app_data: Settings, celeb5: Path, clips) -> None:
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page

    cases = _enroll(app_data, celeb5)
    make_user(app_data, "inv", "investigator")
    at = open_page("cctv", "inv")
    at.file_uploader(key="videos").set_value([("gate.mp4", clips["mp4"].read_bytes(),
                                               "video/mp4")])
    at.button[0].click()  # no camera name
    at.run()
    assert any("camera a name" in e.value for e in at.error)
    at.text_input(key="camera").input("Gate 3")
    at.button[0].click()
    at.run()
    assert any("1 scan(s) started" in s.value for s in at.success)
    records = state.workspace(app_data).records
    deadline = time.monotonic() + 300
    while scans.list_scans(records)[0].status == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    job = scans.list_scans(records)[0]
    assert job.status == "done" and job.speed and job.frames > 0
    assert [s["case_id"] for s in job.sightings] == [cases[ENROLLED]]
    assert "name" not in job.sightings[0]  # names stay in the case record (erasure)
    assert not any((app_data.data_dir / "uploads").iterdir())  # the upload copy is gone
    reloaded = open_page("cctv", "inv")  # a new session (a page reload) sees the job
    assert any("Gate 3" in m.value and "done" in m.value for m in reloaded.markdown)
    assert reloaded.get("plotly_chart")
