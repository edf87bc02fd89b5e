"""The sign-in gate re-checks the server-side session on every run of every page (AppTest on
the real app, real SQLite): a sign-out in one tab ends the others, a session ends at its
lifetime and after the idle time, and the next person to sign in starts clean on the Overview.

Time is moved in the database (the session's expiry and last activity), never waited for.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from findme.cases import signins
from findme.config import Settings
from findme.ui import state
from tests.pages_helpers import PAGES, PASSWORD, ROOT, make_user, texts

pytestmark = pytest.mark.heavy


def _tab() -> AppTest:
    """A new browser tab on the dashboard (signed out: AppTest sends no cookie)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    return at


def _sign_in(at: AppTest, name: str) -> AppTest:
    """Sign in through the form, as a person does."""
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_pw").input(PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception, at.exception
    return at


def _open(at: AppTest, page: str) -> AppTest:
    """Go to ``page`` as a click on its link does. (AppTest requests the page given to
    ``switch_page`` again on every later run; a browser instead follows the app's own
    ``st.switch_page``, so the request is dropped once the page has run.)"""
    at.switch_page(page)
    at.run()
    at._page_hash = ""
    return at


def _second_tab_of(first: AppTest) -> AppTest:
    """Another tab of the same browser: the session cookie signed it in as the first tab's
    user (what the gate keeps after a cookie sign-in)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    for key in ("user", "user_stamp", "session_token"):
        at.session_state[key] = first.session_state[key]
    at.run()
    return at


def _signed_in(at: AppTest) -> bool:
    return bool(at.metric) and "Signed in as" in "\n".join(str(c.value) for c in at.caption)


def _signed_out(at: AppTest) -> bool:
    return [s.value for s in at.subheader] == ["Sign in"] and not at.metric


def _move_sessions(settings: Settings, name: str, **values: dt.datetime) -> None:
    """Set columns of every session of ``name`` in the database (time moved, not waited)."""
    with state.workspace(settings).records.session() as s:
        s.execute(update(signins.SignInSession).where(
            signins.SignInSession.username == name).values(**values))


def test_sign_out_in_one_tab_ends_the_other_tabs(app_data: Settings) -> None:
    make_user(app_data, "sam", "reviewer")
    first = _sign_in(_tab(), "sam")
    assert _signed_in(first)
    second = _second_tab_of(first)
    assert _signed_in(second)
    first.button(key="sign_out").click()
    first.run()
    assert _signed_out(first)
    second.run()  # the next click in the other tab
    assert _signed_out(second), texts(second)


def test_a_session_ends_at_its_lifetime_and_after_the_idle_time(app_data: Settings) -> None:
    """Past ``FINDME_SESSION_HOURS`` since sign-in, or ``FINDME_IDLE_MINUTES`` since the last
    click (both moved into the past in the database), the next run shows the sign-in form."""
    make_user(app_data, "sam", "reviewer")
    records = state.workspace(app_data).records
    now = dt.datetime.now(dt.UTC)
    at = _sign_in(_tab(), "sam")
    _move_sessions(app_data, "sam", expires_at=now - dt.timedelta(seconds=1))
    at.run()
    assert _signed_out(at), texts(at)
    at = _sign_in(at, "sam")
    assert _signed_in(at)
    idle = dt.timedelta(minutes=app_data.idle_minutes, seconds=1)
    _move_sessions(app_data, "sam", last_seen_at=now - idle, created_at=now - idle)
    at.run()
    assert _signed_out(at), texts(at)
    ends = [e["detail"] for e in records.audit_log(actor="sam", action="signout")]
    assert ends.count("idle or expired") == 2, ends


def test_the_next_person_starts_clean_on_the_overview(app_data: Settings) -> None:
    """sam works on *Review leads* and signs out (or walks away until the session ends); tom
    signs in at the same tab: he lands on the Overview, and nothing sam's pages kept is left."""
    make_user(app_data, "sam", "reviewer")
    make_user(app_data, "tom", "investigator")
    at = _sign_in(_tab(), "sam")
    for ending in ("sign-out", "lifetime"):
        _open(at, PAGES["review"])
        assert [t.value for t in at.title] == ["Review leads"]
        at.session_state["sams_notes"] = "kept by sam's page"
        if ending == "sign-out":
            at.button(key="sign_out").click()
        else:
            _move_sessions(app_data, "sam",
                           expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        at.run()
        assert _signed_out(at)
        at = _sign_in(at, "tom")
        assert _signed_in(at) and "Signed in as **tom**" in "\n".join(
            str(c.value) for c in at.caption)
        assert [t.value for t in at.title] == ["Find Me AI"], "not the Overview"
        assert "sams_notes" not in at.session_state
        at.button(key="sign_out").click()
        at.run()
        at = _sign_in(at, "sam")


def test_a_first_sign_in_keeps_the_link_it_came_from(app_data: Settings) -> None:
    """A signed-out visitor who opened a page (a link from an alert, say) and signs in stays
    on that page: only a sign-in after someone else's goes to the Overview."""
    make_user(app_data, "sam", "reviewer")
    at = _open(_tab(), PAGES["review"])
    assert _signed_out(at)
    _sign_in(at, "sam")
    assert [t.value for t in at.title] == ["Review leads"]
