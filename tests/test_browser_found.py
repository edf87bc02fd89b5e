"""Both registries in a real browser (issue 21): a shelter registers a found child from the Live
camera page (Chromium's fake webcam plays a child nobody registered), an investigator registers
the missing report with other photos, and the cross-match lead appears in the review queue and is
confirmed: the case is found, the found record identified, the two linked. Everything runs in a
network namespace this test makes (loopback only), so no packet can leave."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from findme.cases import users
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.video import samples as sv
from findme.workspace import open_workspace
from tests.conftest import usable_photos
from tests.live_app import ARTIFACTS, ROOT
from tests.test_live import NETNS_SETUP, PASSWORD

pytestmark = pytest.mark.heavy


def test_shelter_webcam_found_child_meets_the_missing_report(ws_settings: Settings,
                                                             celeb5: Path,
                                                             tmp_path: Path) -> None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.fail("the browser test needs `unshare` and `ip` (util-linux, iproute2)")
    with open_workspace(ws_settings) as ws:
        users.add_user(ws.records, "shel", PASSWORD, "shelter")
        users.add_user(ws.records, "inv", PASSWORD, "investigator")
    child = identities(celeb5 / "val")["jerry_seinfeld"][0]  # what the shelter's camera sees
    report = usable_photos(identities(celeb5 / "train")["jerry_seinfeld"][1:], ws_settings, 2)
    y4m = sv.write(tmp_path / "webcam.y4m", [sv.Appearance(child, 0, 5, 0.3, 0.15, 320, 0)],
                   5.0, 10, (640, 480))
    out = ARTIFACTS / "found-child"
    shutil.rmtree(out, ignore_errors=True)
    session = (f"{sys.executable} -m tests.found_session {ws_settings.data_dir} {y4m} {out} "
               f"'{PASSWORD}' " + " ".join(f"'{p}'" for p in report))
    proc = subprocess.run(["unshare", "--net", "bash", "-c", f"{NETNS_SETUP} && {session}"],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=2700)
    print(proc.stdout[-3000:])  # a click made twice says so
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    hosts = {u.split("/")[2] for u in result["requests"] if u.startswith("http")}
    assert hosts and all(h.startswith("127.0.0.1:") for h in hosts), hosts
    with open_workspace(ws_settings) as ws:
        (found,) = ws.records.list_cases(kind="found", status=None)
        (case,) = ws.records.list_cases(status=None)
        assert f"F-{found.id} registered with 1 photo(s)" in result["found_saved"]
        assert found.institution == "Hope Children's Home" and found.found_place == "Webcam"
        assert f"#{case.id} registered with 2 photo(s)" in result["missing_saved"]
        assert f"#{case.id} Jerry Missing" in result["review_heading"]
        assert (case.status, found.status) == ("found", "identified")
        assert found.linked_case_id == case.id
        (lead,) = ws.records.leads()
        assert (lead.case_id, lead.found_id, lead.status) == (case.id, found.id, "confirmed")
        actions = {(e["actor"], e["action"]) for e in ws.records.audit_log()}
        assert {("shel", "case.create"), ("inv", "case.create"), ("inv", "lead.confirm")} <= \
            actions
    assert len(list(out.glob("*.png"))) >= 5
