"""A sign-in that survives a reload, and ends when it should: sign-out (the back button does not
bring it back), and the idle time-out. Headless Chromium against the real dashboard."""

from __future__ import annotations

import time

import pytest

from findme.cases import users
from findme.cases.records import open_records
from findme.config import Settings
from tests.live_app import CHROMIUM_ARGS, running_app, sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"


def _account(settings: Settings) -> None:
    records = open_records(settings)
    users.add_user(records, "sam", PASSWORD, "reviewer")
    records.engine.dispose()


def _signed_in(p, url: str):
    """A headless Chromium page of ``url`` signed in as sam, once the overview shows; returns
    (browser, page)."""
    from playwright.sync_api import expect

    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                args=CHROMIUM_ARGS)
    page = browser.new_context().new_page()  # a context: more tabs can share its cookies
    page.set_default_timeout(180_000)
    expect.set_options(timeout=180_000)
    page.goto(url)
    sign_in(page, "sam", PASSWORD)
    page.wait_for_load_state("networkidle")
    return browser, page


def _session_cookie(page) -> dict:
    """The session cookie, once the page's script has written it (waits up to 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        found = [c for c in page.context.cookies() if c["name"] == "findme_session"]
        if found or time.monotonic() > deadline:
            assert found, "no session cookie was written"
            return found[0]
        time.sleep(0.2)


def test_reload_keeps_the_sign_in_and_sign_out_ends_it(ws_settings: Settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    _account(ws_settings)
    with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
        browser, page = _signed_in(p, url)
        sign_in_form = page.get_by_role("textbox", name="User name")
        cookie = _session_cookie(page)
        assert cookie["sameSite"] == "Strict" and len(cookie["value"]) >= 40

        page.reload()  # a new Streamlit session: the cookie signs it in
        expect(page.get_by_text("Open cases")).to_be_visible()
        expect(page.get_by_text("Signed in as")).to_be_visible()

        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_role("link", name="Review leads").click()  # a page in the history
        expect(page.get_by_role("heading", name="Review leads")).to_be_visible()
        sidebar.get_by_role("button", name="Sign out").click()
        expect(sign_in_form).to_be_visible()
        page.go_back()  # back to the pages seen while signed in...
        expect(sign_in_form).to_be_visible()  # ...shows the sign-in form
        page.reload()
        expect(sign_in_form).to_be_visible()
        expect(page.get_by_text("Open cases")).to_have_count(0)
        assert page.url.startswith(url)

        browser.close()

    # idle: the same dashboard with FINDME_IDLE_MINUTES=0.05 (3 s); 5 s without a click
    with running_app(ws_settings.data_dir, {"FINDME_IDLE_MINUTES": "0.05"}) as url, \
            sync_playwright() as p:
        browser, page = _signed_in(p, url)
        sign_in_form = page.get_by_role("textbox", name="User name")
        _session_cookie(page)
        time.sleep(5)
        page.reload()
        expect(sign_in_form).to_be_visible()
        browser.close()
    records = open_records(ws_settings)
    try:
        details = [e["detail"] for e in records.audit_log(actor="sam", action="signout")]
        assert "idle or expired" in details
    finally:
        records.engine.dispose()


def test_a_sign_out_or_an_ended_session_reaches_every_tab(ws_settings: Settings) -> None:
    """Two tabs of one browser, signed in by the cookie: a sign-out in one ends the other at its
    next click; the next person to sign in there lands on the Overview (not the page the tab
    was on); a session past its lifetime (moved into the past in the database) ends too."""
    import datetime as dt

    from playwright.sync_api import expect, sync_playwright
    from sqlalchemy import update

    from findme.cases import signins

    _account(ws_settings)
    records = open_records(ws_settings)
    users.add_user(records, "tom", PASSWORD, "investigator")
    with running_app(ws_settings.data_dir) as url, sync_playwright() as p:
        browser, tab_a = _signed_in(p, url)
        _session_cookie(tab_a)
        tab_b = tab_a.context.new_page()
        tab_b.set_default_timeout(180_000)
        tab_b.goto(f"{url}/Review_leads")  # the cookie signs this tab in
        expect(tab_b.get_by_role("heading", name="Review leads")).to_be_visible()

        tab_a.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        expect(tab_a.get_by_role("textbox", name="User name")).to_be_visible()

        tab_b.locator('[data-testid="stSidebar"]').get_by_role(
            "link", name="Cases", exact=True).click()  # the next click in the other tab
        expect(tab_b.get_by_role("textbox", name="User name")).to_be_visible()
        expect(tab_b.get_by_text("Signed in as")).to_have_count(0)

        sign_in(tab_b, "tom", PASSWORD)  # waits for the Overview ("Open cases")
        expect(tab_b.get_by_text("Signed in as tom")).to_be_visible()
        assert "Review_leads" not in tab_b.url and "Cases" not in tab_b.url, tab_b.url

        with records.session() as s:  # tom's session is past its lifetime
            s.execute(update(signins.SignInSession).where(
                signins.SignInSession.username == "tom").values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        tab_b.locator('[data-testid="stSidebar"]').get_by_role(
            "link", name="Cases", exact=True).click()
        expect(tab_b.get_by_role("textbox", name="User name")).to_be_visible()
        expect(tab_b.get_by_text("Signed in as")).to_have_count(0)
        browser.close()
    try:
        ends = [e["detail"] for e in records.audit_log(actor="tom", action="signout")]
        assert ends == ["idle or expired"], ends
    finally:
        records.engine.dispose()
