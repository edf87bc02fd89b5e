"""The CCTV page in a real browser: scan a video made from real photos, then see the camera list
and the sighting's frame strip; and the Live camera page on a computer with no webcam.

Headless Debian Chromium (Playwright) against ``streamlit run app.py`` on 127.0.0.1, with no
camera device. Screenshots for the user guide go to ``tests/artifacts/cameras/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from findme.cases import users
from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.video import samples as sv
from findme.workspace import open_workspace
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app
from tests.live_app import sign_in as live_sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"


def test_camera_list_and_sighting_frames_in_chromium(ws_settings: Settings, celeb5: Path,
                                                     tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)
    val, train = identities(celeb5 / "val"), identities(celeb5 / "train")
    clip = sv.write(tmp_path / "north-gate.mp4",
                    [sv.Appearance(val["ben_afflek"][0], 2.0, 5.0, 0.05, 0.2),
                     sv.Appearance(val["madonna"][0], 0.0, 8.0, 0.55, 0.15)],
                    8.0, 25, (960, 540))
    with open_workspace(ws_settings) as ws:  # closed before the dashboard opens the store
        enroll_case(CaseDetails("Ben Affleck", consent_recorded=True),
                    [PhotoInput(p.name, p.read_bytes()) for p in train["ben_afflek"][1:4]],
                    ws.records, ws.store, ws_settings)
        users.add_user(ws.records, "ivy", PASSWORD, "investigator")
    shots = ARTIFACTS / "cameras"
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []

    with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(120_000)
        page.on("request", lambda r: requests.append(r.url))

        def go(label: str) -> None:
            page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label).click()
            page.wait_for_load_state("networkidle")
            expect(page.get_by_role("heading", name=label)).to_be_visible()

        page.goto(url)
        live_sign_in(page, "ivy", PASSWORD)
        go("CCTV footage")
        expect(page.get_by_text("No cameras yet")).to_be_visible()
        expect(page.get_by_text("No sightings yet")).to_be_visible()
        page.screenshot(path=str(shots / "cctv-empty.png"), full_page=True)

        box = page.locator('[data-testid="stFileUploader"]').filter(has_text="Video files")
        box.locator('input[type="file"]').set_input_files(str(clip))
        expect(box.get_by_role("button", name="Remove north-gate.mp4")).to_be_visible()
        page.get_by_label("Camera name *").fill("North gate")
        page.get_by_label("Location").fill("Bus station, north entrance")
        page.screenshot(path=str(shots / "cctv-new-scan.png"), full_page=True)
        page.get_by_role("button", name="Start scan").click()
        expect(page.get_by_text("1 scan(s) started")).to_be_visible()

        # the page follows the scan by itself (no reload): the sighting, its frames, the list
        expect(page.get_by_text("1 sighting among").first).to_be_visible(timeout=900_000)
        sighting = page.locator('[class*="st-key-sighting_1_0"]')
        expect(sighting.get_by_text("Ben Affleck")).to_be_visible()
        frames = sighting.locator('[data-testid="stImage"] img')
        expect(frames.nth(2)).to_be_visible()  # the lead's face crop and 2+ strip frames
        expect(sighting.get_by_text("Frames of the sighting (other faces blurred).")
               ).to_be_visible()
        expect(sighting.get_by_role("link", name="Open lead 1")).to_be_visible()
        table = page.locator('[data-testid="stTable"]')
        expect(table.get_by_text("North gate")).to_be_visible()
        expect(table.get_by_text("Bus station, north entrance")).to_be_visible()
        assert "None" not in table.inner_text()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / "cctv-camera-list-and-sightings.png"), full_page=True)
        table.screenshot(path=str(shots / "cctv-camera-list.png"))
        sighting.screenshot(path=str(shots / "cctv-sighting-frame-strip.png"))

        sighting.get_by_role("link", name="Open lead 1").click()
        expect(page.get_by_role("heading", name="Review leads")).to_be_visible()

        go("Live camera")  # this browser has no camera: a plain message, not NotFoundError
        expect(page.get_by_text("No camera found on this computer")).to_be_visible()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / "live-camera-no-webcam.png"), full_page=True)
        browser.close()

    hosts = {r.split("/")[2] for r in requests if r.startswith("http")}
    assert hosts and all(h.startswith("127.0.0.1:") for h in hosts), hosts
