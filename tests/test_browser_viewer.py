"""What a viewer's browser receives: user text shown as text (no markdown, no images loaded
from it), and no webhook URL (a secret token) anywhere, even in a stored provider error.

Headless Debian Chromium against ``streamlit run app.py`` on 127.0.0.1. A local server stands
for the tracking pixel a case name links to: it must see no request from the browser.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from findme.alerts import outbox
from findme.alerts import store as alert_store
from findme.alerts.rules import queue_test
from findme.cases import users
from findme.cases.records import CaseDetails, open_records
from findme.config import Settings
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app, sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"
TOKEN = "T0KEN-8c1e55"


@contextmanager
def _server(status: int, body: bytes) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server answering every request with ``status`` and ``body``; yields
    (its base URL, the paths it was asked for)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_viewer_sees_user_text_as_text_and_no_webhook_url(ws_settings: Settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    with _server(200, b"GIF89a") as (pixel, pixel_seen), \
            _server(500, b"bad request") as (hook, hook_seen):
        hook_url = f"{hook}/hooks/{TOKEN}"
        name = f"Mara ![x]({pixel}/pixel.png) :red-badge[MATCH 0.99]"
        settings = replace(ws_settings, webhook_url=hook_url, webhook_secret="s3cret-for-tests",
                           alert_max_attempts=1)
        records = open_records(settings)
        records.create_case(CaseDetails(
            name=name, last_seen_place=f"**Gate** <img src='{pixel}/raw.png'>",
            description=f"[click here]({pixel}/link) then ![]({pixel}/notes.png)",
            consent_recorded=True), actor="setup")
        users.add_user(records, "vic", PASSWORD, "viewer")
        queue_test(records, settings, "webhook", "setup")
        outbox.run_once(records, settings)
        (sent,) = alert_store.list_alerts(records, channel="webhook")
        assert hook_seen and sent.status == "failed"
        records.engine.dispose()

        env = {"FINDME_WEBHOOK_URL": hook_url, "FINDME_WEBHOOK_SECRET": "s3cret-for-tests"}
        shots = ARTIFACTS / "browser-viewer"
        shots.mkdir(parents=True, exist_ok=True)
        requests: list[str] = []
        with running_app(ws_settings.data_dir, env) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(120_000)
            expect.set_options(timeout=120_000)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            sign_in(page, "vic", PASSWORD)
            pages = {}
            for label in ("Cases", "Alerts"):
                page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label).click()
                expect(page.get_by_role("heading", name=label).first).to_be_visible()
                page.wait_for_load_state("networkidle")
                if label == "Cases":
                    # The page streams in: wait for every piece of user text the checks
                    # below read, not only the first one.
                    for text in (":red-badge[MATCH 0.99]", "**Gate**", "[click here]"):
                        expect(page.get_by_text(text).first).to_be_visible()
                else:
                    expect(page.get_by_text("History")).to_be_visible()
                page.screenshot(path=str(shots / f"{label}.png"), full_page=True)
                pages[label] = page.content()
            browser.close()

    cases = pages["Cases"]
    assert "![x](" in cases and "**Gate**" in cases, "the user's text is shown as typed"
    assert 'data-testid="stMarkdownBadge"' not in cases or "MATCH 0.99" not in cases.split(
        'data-testid="stMarkdownBadge"', 1)[1][:200], "no badge rendered from a case name"
    for html in pages.values():
        assert TOKEN not in html and "/hooks/" not in html, "the webhook URL reached a viewer"
    assert pixel_seen == [], f"the browser fetched {pixel_seen} from user text"
    hosts = {r.split("/")[2] for r in requests if r.startswith("http")}
    assert all(h.startswith("127.0.0.1:") for h in hosts), hosts
