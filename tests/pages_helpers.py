"""Helpers for driving dashboard pages with Streamlit's ``AppTest``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from findme.cases import users
from findme.config import Settings

ROOT = Path(__file__).parent.parent
PASSWORD = "correct horse battery"
PAGES = {
    "overview": None,
    "register": "pages/1_Register_case.py",
    "cases": "pages/2_Cases.py",
    "search": "pages/3_Search_photos.py",
    "review": "pages/4_Review_leads.py",
    "cctv": "pages/6_CCTV_footage.py",
    "alerts": "pages/7_Alerts.py",
    "evaluation": "pages/8_Evaluation.py",
    "admin": "pages/9_Admin.py",
}
#: the live camera page needs a real WebRTC runtime once signed in (browser test); AppTest runs
#: only its sign-in gate and refusals
LIVE_PAGE = "pages/5_Live_camera.py"


def make_user(settings: Settings, name: str, role: str) -> None:
    """Create an account in the dashboard's (live) database."""
    from findme.ui import state

    users.add_user(state.workspace(settings).records, name, PASSWORD, role)


def signed_in(at: AppTest, records, user: str) -> None:
    """Leave ``at``'s tab as the sign-in form leaves it for ``user``: a server-side session
    (``signins.open_session``), its token, the name and the stamp of the password it used."""
    from findme.cases import signins

    account = users.get_user(records, user)
    assert account is not None, user
    at.session_state["user"] = user
    at.session_state["user_stamp"] = account.stamp
    at.session_state["session_token"] = signins.open_session(records, account, "local")


def open_page(page: str, user: str | None = None) -> AppTest:
    """Run the app, signed in as ``user`` (None: signed out), and switch to ``page``."""
    from findme.config import get_settings
    from findme.ui import state

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    if user:
        signed_in(at, state.workspace(get_settings()).records, user)
    at.run()
    if PAGES[page]:
        at.switch_page(PAGES[page])
        at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, title, header and message of the page, as one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "error",
                 "warning", "info"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


@dataclass(frozen=True)
class RegisterForm:
    """The Register page's case form as a person finds it: by label (its widget keys carry a
    one-time token that changes after every saved case)."""

    photos: Any
    name: Any
    consent: Any
    save: Any


def register_widgets(at: AppTest) -> RegisterForm:
    """The photo uploader, name, consent box and *Register case* button of the page now."""
    return RegisterForm(
        next(u for u in at.file_uploader if u.label.startswith("Photos of the child")),
        next(t for t in at.text_input if t.label == "Child's name *"),
        next(c for c in at.checkbox if c.label.startswith("The guardian's consent")),
        next(b for b in at.button if b.label == "Register case"))
