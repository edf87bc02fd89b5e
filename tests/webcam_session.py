"""Run inside a network namespace made by ``tests/test_live.py``: start the dashboard, open the
Live camera page in headless Chromium whose webcam plays a ``.y4m`` file, start the stream, and
wait for the enrolled person's name. Writes what it saw as JSON (and screenshots).

Usage: python -m tests.webcam_session DATA_DIR Y4M OUT_DIR USER PASSWORD NAME
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from tests.live_app import CHROMIUM_ARGS, running_app, sign_in

RED_PIXELS_JS = """(video) => {
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  const g = c.getContext('2d'); g.drawImage(video, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] > 170 && d[i + 1] < 130 && d[i + 2] < 60) red++;  // match red / possible orange
  }
  return {red: red, width: c.width, height: c.height};
}"""


def main(data_dir: str, y4m: str, out_dir: str, user: str, password: str, name: str,
         host: str = "127.0.0.1", tls_dir: str = "") -> int:
    """With ``host`` and ``tls_dir`` (``findme cert``'s folder) the dashboard is served over
    HTTPS on that address, and Chromium trusts exactly that certificate's key, as a tablet that
    installed the local CA would."""
    from playwright.sync_api import expect, sync_playwright

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"requests": []}
    expect.set_options(timeout=60_000)
    tls = Path(tls_dir) if tls_dir else None
    trust = []
    if tls:
        from findme.cli.cert import spki_hash

        trust = [f"--ignore-certificate-errors-spki-list={spki_hash(tls / 'cert.pem')}"]
    with running_app(Path(data_dir), host=host, tls=tls) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
                  "--allow-loopback-in-peer-connection", *trust])
        context = browser.new_context(viewport={"width": 1300, "height": 1000},
                                      permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("request", lambda r: result["requests"].append(r.url))
        page.goto(url)
        result["url"] = page.url
        result["secure_context"] = page.evaluate("window.isSecureContext")
        sign_in(page, user, password)
        link = page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Live camera")
        link.click()
        expect(page.get_by_text("Camera name")).to_be_visible()
        # the models load once, in the background: minutes on a loaded 2-core machine
        deadline = time.monotonic() + 600
        while page.get_by_text("Loading the recognition models").count() and \
                time.monotonic() < deadline:
            time.sleep(2)
            link.click()  # rerun the page (a reload would start a new, signed-out session)
            expect(page.get_by_text("Camera name")).to_be_visible()
        frame = page.frame_locator('iframe[title*="webrtc"]')
        frame.get_by_role("button", name="START").click()
        started = time.monotonic()
        expect(frame.locator("video")).to_be_visible()
        page.screenshot(path=str(out / "1-started.png"), full_page=True)
        try:
            expect(page.get_by_text("In view:")).to_be_visible(timeout=300_000)
            expect(page.get_by_text(name).first).to_be_visible()
            result["seconds_to_name"] = round(time.monotonic() - started, 1)
            result["in_view"] = page.locator("p", has_text="In view:").first.inner_text()
            video = frame.locator("video").element_handle()
            best = {"red": 0}
            deadline = time.monotonic() + 120  # the overlay is drawn into the video itself
            while best["red"] <= 200 and time.monotonic() < deadline:
                px = video.evaluate(RED_PIXELS_JS)
                best = px if px["red"] > best["red"] else best
                time.sleep(0.5)
            result["video"] = best
            page.get_by_role("button", name="Create lead").first.click()  # a reviewer acts
            made = page.get_by_text(re.compile(r"^lead \d+$"))
            expect(made.first).to_be_visible()
            result["lead_made"] = made.first.inner_text()
        finally:
            page.screenshot(path=str(out / "2-recognised.png"), full_page=True)
            frame.get_by_role("button", name="STOP").click()
            browser.close()
    (out / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:9]))
