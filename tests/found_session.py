"""Run inside a network namespace made by ``tests/test_browser_found.py``: the two registries met
in a real browser. A shelter worker's webcam (Chromium's fake camera playing a ``.y4m`` of a
child nobody registered) spot-checks the child, takes the photo and registers the child as found;
an investigator then registers the missing report with other photos; the cross-match lead is in
the review queue with both sides, and is confirmed. Writes what it saw as JSON (and
screenshots).

Usage: python -m tests.found_session DATA_DIR Y4M OUT_DIR PASSWORD PHOTO1 PHOTO2
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from tests.live_app import CHROMIUM_ARGS, running_app, settled, sign_in, submit

SAVE_MS = 600_000  # a guard for a loaded 2-core machine (a save checks, embeds, cross-matches)


def main(data_dir: str, y4m: str, out_dir: str, password: str, *photos: str) -> int:
    """Users ``shel`` (shelter) and ``inv`` (investigator) must exist with ``password``."""
    from playwright.sync_api import expect, sync_playwright

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"requests": []}
    expect.set_options(timeout=120_000)
    with running_app(Path(data_dir)) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
                  "--allow-loopback-in-peer-connection"])
        context = browser.new_context(viewport={"width": 1300, "height": 1100},
                                      permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.on("request", lambda r: result["requests"].append(r.url))

        def go(label: str) -> None:
            page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label).click()
            expect(page.get_by_role("heading", name=label)).to_be_visible()

        page.goto(url)
        sign_in(page, "shel", password)
        go("Live camera")
        deadline = time.monotonic() + 600  # the models load once, in the background
        while page.get_by_text("Loading the recognition models").count() and \
                time.monotonic() < deadline:
            time.sleep(2)
            go("Live camera")  # rerun the page (a reload would start a signed-out session)
        frame = page.frame_locator('iframe[title*="webrtc"]')
        frame.get_by_role("button", name="START").click()
        expect(frame.locator("video")).to_be_visible()
        try:
            # the child is seen (a face detected) and matches nobody registered
            expect(page.get_by_text(re.compile(r"nobody registered .* [1-9]\d* face\(s\) seen"))
                   ).to_be_visible(timeout=600_000)
            take = page.get_by_role("button", name="Take the photo from the camera")
            take.click()
            expect(page.get_by_text("photo taken")).to_be_visible()
        finally:
            page.screenshot(path=str(out / "1-photo-taken.png"), full_page=True)
            # the photo is kept: the camera can stop (its recognition no longer competes)
            frame.get_by_role("button", name="STOP").click()
        settled(page)  # the page redrawn without the camera: the whole form is there
        expect(page.get_by_text("photo taken")).to_be_visible()
        page.get_by_label("Name the child gives, or how to refer to them *").fill(
            "boy at the gate")
        page.get_by_label("Institution caring for the child").fill("Hope Children's Home")
        page.get_by_role("textbox", name="Lawful basis for keeping the photo *").fill(
            "CWC order 2026/7")
        page.screenshot(path=str(out / "2-found-form.png"), full_page=True)
        saved = page.get_by_text("registered with 1 photo(s)")
        try:
            submit(page, page.get_by_role("button", name="Register found child"), saved,
                   SAVE_MS, "register found")
            result["found_saved"] = saved.first.inner_text()
        finally:
            page.screenshot(path=str(out / "3-found-registered.png"), full_page=True)

        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("textbox", name="User name")).to_be_visible()
        sign_in(page, "inv", password)
        go("Register a case")
        box = page.locator('[data-testid="stFileUploader"]').filter(
            has_text="Photos of the child")
        box.locator('input[type="file"]').set_input_files(list(photos))
        expect(page.get_by_text("Face 1: usable")).to_have_count(len(photos))
        page.get_by_label("Child's name *").fill("Jerry Missing")
        page.get_by_text("The guardian's consent").click()
        told = page.get_by_text("cross-match lead(s) wait on")
        try:
            submit(page, page.get_by_role("button", name="Register case"), told, SAVE_MS,
                   "register missing")
            result["missing_saved"] = told.first.inner_text()
        finally:
            page.screenshot(path=str(out / "4-missing-registered.png"), full_page=True)

        go("Review leads")
        expect(page.get_by_text("Cross-match: #")).to_be_visible()
        result["review_heading"] = page.get_by_text("Cross-match: #").first.inner_text()
        page.get_by_label("Note (what you checked, why)").fill("Same child; the home agrees")
        page.screenshot(path=str(out / "5-cross-match-review.png"), full_page=True)
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text(re.compile(r"^Lead \d+: confirmed"))).to_be_visible()
        page.screenshot(path=str(out / "6-confirmed.png"), full_page=True)
        browser.close()
    (out / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
