"""Text people give (file names, ZIP member names, camera names, places, and errors that quote
them) is shown as text on every page, never rendered as Markdown or HTML.

``AppTest`` reads what each page sends (headings, messages, captions of images, progress text);
a real headless Chromium against ``streamlit run`` shows that a file named like a tracking pixel
and a fake green badge appears literally, and that a local HTTP server records no request for
the pixel.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from findme.config import Settings
from findme.ui.search_words import short_name
from findme.ui.text import as_seen, safe
from tests.pages_helpers import PASSWORD, make_user, open_page, register_widgets, texts

#: a heading, a remote picture (a tracking pixel) and a fake green decision badge
EVIL = "## ![x](http://127.0.0.1:9/pixel) :green-badge[MATCH 0.99]"
RAW = ("![x](", ":green-badge[", "## ")  # what only unescaped text can hold


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _shown(at) -> list[str]:
    """Every piece of Markdown the page sends: headings, messages, captions (of text and of
    images), progress text and expander labels."""
    out = texts(at).splitlines()
    out += [c for img in at.image for c in img.captions]
    out += [p.proto.text for p in at.get("progress")]
    out += [e.label for e in at.expander]
    return out


def _assert_as_text(shown: list[str], name: str) -> None:
    bad = [s for s in shown if any(r in s for r in RAW)]
    assert not bad, f"rendered as Markdown: {bad}"
    assert any(safe(name) in s for s in shown), (safe(name), shown)


@pytest.mark.heavy
def test_search_shows_file_and_member_names_as_text(app_data: Settings,
                                                    face_photo: Path) -> None:
    make_user(app_data, "inv", "investigator")
    photo = face_photo.read_bytes()
    at = open_page("search", "inv")
    at.file_uploader(key="probe").set_value([
        (f"{EVIL}.jpg", photo, "image/jpeg"),  # a heading of its own, over its result
        (f"{EVIL} notes.png", b"not an image", "image/png"),  # an error quoting it
        ("batch.zip", _zip({f"{EVIL}.jpg": photo}), "application/zip"),  # a ZIP member
        (f"{EVIL} bad.zip", b"PK not really", "application/zip")])  # a problem quoting it
    at.button(key="search").click()
    at.run()
    assert not at.exception, at.exception
    shown = _shown(at)
    for name in (f"{EVIL}.jpg", f"{EVIL} notes.png", f"batch.zip/{EVIL}.jpg", f"{EVIL} bad.zip"):
        _assert_as_text(shown, name)


@pytest.mark.heavy
def test_register_shows_the_photo_name_as_text(app_data: Settings, face_photo: Path) -> None:
    make_user(app_data, "inv", "investigator")
    at = open_page("register", "inv")
    register_widgets(at).photos.set_value([(f"{EVIL}.jpg", face_photo.read_bytes(),
                                            "image/jpeg"),
                                           (f"{EVIL}.png", b"not an image", "image/png")])
    at.run()
    assert not at.exception, at.exception
    captions = [c for img in at.image for c in img.captions]
    assert captions == [safe(f"{EVIL}.jpg")], captions
    _assert_as_text(_shown(at), f"{EVIL}.png")


@pytest.mark.heavy
def test_cctv_job_errors_and_camera_names_are_text(app_data: Settings, tmp_path: Path) -> None:
    """A scan whose file cannot be read: its error quotes the path, named by a person."""

    from findme.ui import state
    from findme.video import scans

    ws = state.workspace(app_data)
    named = "## ![x](pixel.gif) :green-badge[MATCH 0.99]"  # a file name holds no slash
    job = scans.start(ws, str(tmp_path / f"{named}.mp4"), f"{EVIL} gate", 1.0, EVIL, "inv")
    deadline = time.monotonic() + 120
    while scans.list_scans(ws.records)[0].status not in ("failed", "done"):
        assert time.monotonic() < deadline, "the scan never ended"
        time.sleep(0.2)
    assert named in (scans.list_scans(ws.records)[0].error or ""), "the error quotes the name"
    make_user(app_data, "inv", "investigator")
    at = open_page("cctv", "inv")
    assert not at.exception, at.exception
    shown = _shown(at)
    _assert_as_text(shown, f"{EVIL} gate")
    _assert_as_text(shown, f"{named}.mp4")
    assert job


class _Pixel(BaseHTTPRequestHandler):
    """A tracking pixel: records every request it gets."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.heavy
def test_a_named_upload_draws_no_badge_and_fetches_no_pixel_in_chromium(
        ws_settings: Settings, face_photo: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app
    from tests.live_app import sign_in as live_sign_in

    expect.set_options(timeout=180_000)  # the first search loads the models
    pixel = ThreadingHTTPServer(("127.0.0.1", 0), _Pixel)
    threading.Thread(target=pixel.serve_forever, daemon=True).start()
    evil = (f"## ![x](http://127.0.0.1:{pixel.server_port}/pixel) "
            ":green-badge[MATCH 0.99]")
    archive = tmp_path / "sent-in.zip"
    archive.write_bytes(_zip({f"{evil}.jpg": face_photo.read_bytes()}))
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    made = subprocess.run([sys.executable, "-m", "findme.cli", "users", "add", "anna", "--role",
                           "investigator", "--password-stdin"], input=PASSWORD + "\n", env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    shots = ARTIFACTS / "user-text"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(180_000)
            page.goto(url)
            live_sign_in(page, "anna", PASSWORD)
            page.locator('[data-testid="stSidebar"]').get_by_role(
                "link", name="Search photos").click()
            expect(page.get_by_role("heading", name="Search photos")).to_be_visible()
            box = page.locator('[data-testid="stFileUploader"]').filter(
                has_text="Photos or ZIP files")
            box.locator('input[type="file"]').set_input_files(
                [{"name": archive.name, "mimeType": "application/zip",
                  "buffer": archive.read_bytes()},
                 {"name": f"{evil} notes.png", "mimeType": "image/png",
                  "buffer": b"not an image"}])

            expect(box.get_by_role("button", name="Remove sent-in.zip")).to_be_visible()
            page.get_by_role("button", name="Search", exact=True).click()
            try:
                # what a person sees: the names, literally (the heading over the searched
                # member, the error of the file that is no image)
                # (a long name is shortened in the middle, its ending kept: issue 22)
                expect(page.get_by_text(as_seen(short_name(f"sent-in.zip/{evil}.jpg")),
                                        exact=True)).to_be_visible()
                expect(page.get_by_text(as_seen(short_name(f"{evil} notes.png")),
                                        exact=True)).to_be_visible()
                expect(page.get_by_test_id("stAlertContentError").get_by_text(
                    as_seen(short_name(f"{evil} notes.png")), exact=False)).to_be_visible()

                expect(page.get_by_text("No registered child is close to this face.")
                       .or_(page.get_by_text("No face found in this photo."))
                       .first).to_be_visible()
                page.wait_for_load_state("networkidle")
            finally:
                page.screenshot(path=str(shots / "search-names.png"), full_page=True)
            assert page.locator(f'img[src*="{pixel.server_port}"]').count() == 0
            # (a heading's own anchor, #...-41837-pixel-..., is no link out)
            assert page.locator(f'a[href*="127.0.0.1:{pixel.server_port}"]').count() == 0, \
                "no link made of the address either"

            badges = page.locator('[data-testid="stMarkdownBadge"]')
            assert "MATCH 0.99" not in " ".join(badges.all_inner_texts()), "no fake badge"

            browser.close()
    finally:
        pixel.shutdown()
    assert _Pixel.seen == [], f"the pixel was fetched: {_Pixel.seen}"


def test_safe_text_makes_no_link_of_an_address() -> None:
    """GitHub-flavoured markdown links a bare address by itself, escaped or not."""
    import re

    shown = safe("see http://127.0.0.1:9/x, www.example.org and ana@example.org")
    assert not re.search(r"(?i)(https?:|www\.|@\w)", shown.replace("\\", ""))
    assert as_seen("a\nb") == "a b" and shown.replace("\\", "").replace("\u2060", "") == (
        "see http://127.0.0.1:9/x, www.example.org and ana@example.org")
