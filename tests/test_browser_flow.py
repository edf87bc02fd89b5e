"""A person's whole round in a real browser: sign in, register a child with two photos, search a
third photo, see the match, confirm the lead, and find every step in the audit log.

Headless Debian Chromium (Playwright) against ``streamlit run app.py`` on 127.0.0.1; every
request the page makes must stay on this machine. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from findme.config import Settings
from findme.evaluation.datasets import identities
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app
from tests.live_app import sign_in as live_sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"


def test_register_search_confirm_in_chromium(ws_settings: Settings, celeb5: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)  # the first save loads the models

    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    made = subprocess.run([sys.executable, "-m", "findme.cli", "users", "add", "anna", "--role",
                           "investigator", "--password-stdin"], input=PASSWORD + "\n", env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    subprocess.run([sys.executable, "-m", "findme.cli", "users", "add", "boss", "--role",
                    "admin", "--password-stdin"], input=PASSWORD + "\n", env=env, check=True,
                   capture_output=True, text=True, timeout=120)
    train = identities(celeb5 / "train")["jerry_seinfeld"]
    probe = identities(celeb5 / "val")["jerry_seinfeld"][0]
    shots = ARTIFACTS / "browser-flow"
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []

    with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(120_000)
        page.on("request", lambda r: requests.append(r.url))

        def sign_in(name: str) -> None:
            page.goto(url)
            live_sign_in(page, name, PASSWORD)

        def go(label: str) -> None:
            page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label).click()
            page.wait_for_load_state("networkidle")
            expect(page.get_by_role("heading", name=label)).to_be_visible()

        def upload(uploader_label: str, files: list[str]) -> None:
            """Into the uploader a person sees under that label (never a leftover of the page
            before: Streamlit swaps pages in place)."""
            box = page.locator('[data-testid="stFileUploader"]').filter(has_text=uploader_label)
            box.locator('input[type="file"]').set_input_files(files)
            for f in files:
                expect(box.get_by_role("button", name=f"Remove {Path(f).name}")).to_be_visible()

        sign_in("anna")
        page.screenshot(path=str(shots / "1-signed-in.png"), full_page=True)

        go("Register a case")
        # as a person does it: the photos, until both verdicts show; then the details form
        # (typing and ticking in the form do not rerun the page, so nothing races the upload)
        upload("Photos of the child", [str(train[1]), str(train[2])])
        expect(page.get_by_text("Face 1: usable")).to_have_count(2)
        page.get_by_label("Child's name *").fill("Jerry Browser")
        page.get_by_label("Last seen (place)").fill("Central station")
        page.get_by_text("The guardian's consent").click()
        expect(page.get_by_text("Face 1: usable")).to_have_count(2)  # still there
        page.screenshot(path=str(shots / "2-photos-checked.png"), full_page=True)
        page.get_by_role("button", name="Register case").click()
        try:
            expect(page.get_by_text("registered with 2 photo(s)")).to_be_visible()
        finally:
            page.screenshot(path=str(shots / "3-after-register.png"), full_page=True)
        page.screenshot(path=str(shots / "3-registered.png"), full_page=True)

        go("Search photos")
        upload("Photos or ZIP files", [str(probe)])  # the form holds Search until it is in
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_text("Jerry Browser").first).to_be_visible()
        badge = page.get_by_text("MATCH").or_(page.get_by_text("POSSIBLE")).first
        expect(badge).to_be_visible()
        expect(page.get_by_text("A lead was made for a person to review")).to_be_visible()
        expect(page.locator('[data-testid="stImage"] img')).to_have_count(3)  # boxed, crop, photo
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / "4-search-match.png"), full_page=True)

        go("Review leads")
        page.get_by_label("Note (what you checked, why)").fill("Same face shape and ears")
        page.get_by_text("Confirming also marks the case found").click()
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("confirmed. Case #1 marked found")).to_be_visible()
        # the desk stays on the confirmed lead: its face can be added to the case from here
        expect(page.get_by_role("button", name="Add this face to case #1")).to_be_visible()
        page.screenshot(path=str(shots / "5-lead-confirmed.png"), full_page=True)

        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        # a person sees the sign-in form again before anyone else signs in (leaving earlier
        # would cut the sign-out short on a slower machine)
        expect(page.get_by_role("textbox", name="User name")).to_be_visible()
        sign_in("boss")
        go("Admin")
        page.get_by_role("tab", name="Audit log").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Export the audit log (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        page.screenshot(path=str(shots / "6-audit-log.png"), full_page=True)
        browser.close()

    steps = [(r["actor"], r["action"]) for r in reversed(rows)]
    for step in [("anna", "signin"), ("anna", "case.create"), ("system", "lead.create"),
                 ("anna", "lead.view"), ("anna", "lead.confirm"), ("anna", "case.status"),
                 ("anna", "signout"), ("boss", "signin")]:
        assert step in steps, (step, steps)
    assert steps.index(("anna", "case.create")) < steps.index(("anna", "lead.confirm"))
    hosts = {r.split("/")[2] for r in requests if r.startswith("http")}
    assert hosts and all(h.startswith("127.0.0.1:") for h in hosts), hosts
    assert len(list(shots.glob("*.png"))) >= 6
