"""Who is signed in, which workspace is open, and the gate every page passes first.

Every page starts with :func:`page` (title, permission): a signed-out visitor sees only the
sign-in form (or, while no account exists, the one-time form that creates the first admin); a
signed-in user without the permission sees a refusal and nothing else. Accounts always live in
the real (live) database; cases, photos and leads come from the workspace chosen in the sidebar
(real cases or the demo).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from findme import demo
from findme.alerts import store as alert_store
from findme.cases import signins, users
from findme.cases.records import RecordError
from findme.config import Settings, get_settings
from findme.ui import state
from findme.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent.parent

#: (page file relative to the app folder, label, permission needed; None = any signed-in user)
NAV: tuple[tuple[str, str, str | None], ...] = (
    ("app.py", "Overview", None),
    ("pages/1_Register_case.py", "Register a case", "found.register"),
    ("pages/2_Cases.py", "Cases", "cases.view"),
    ("pages/3_Search_photos.py", "Search photos", "search"),
    ("pages/4_Review_leads.py", "Review leads", "leads.review"),
    ("pages/5_Live_camera.py", "Live camera", "search"),
    ("pages/6_CCTV_footage.py", "CCTV footage", "search"),
    ("pages/7_Alerts.py", "Alerts", "alerts.view"),
    ("pages/8_Evaluation.py", "Evaluation", "evaluation.run"),
    ("pages/9_Admin.py", "Admin", "users.manage"),
)


@dataclass(frozen=True)
class Context:
    """What a page gets from the gate: the user, the open workspace, and whether it is the
    demo."""

    user: users.UserRecord
    ws: Workspace
    demo: bool

    def can(self, permission: str) -> bool:
        """Whether the signed-in user holds ``permission``."""
        return self.user.can(permission)

    @property
    def settings(self) -> Settings:
        """Settings of the open workspace."""
        return self.ws.settings


def live() -> Workspace:
    """The real workspace (accounts, and cases unless the demo is chosen)."""
    return state.workspace(get_settings())


def demo_workspace() -> Workspace:
    """The demo workspace (opened on first use)."""
    return state.workspace(demo.demo_settings(get_settings()))


@functools.cache
def _announce(code_file: Path) -> None:
    """Print the first-run setup code once, in the terminal that started the dashboard."""
    print(f"\nFind Me AI: no account exists yet. Setup code for the first-admin form: "
          f"{code_file.read_text().strip()} (also in {code_file})\n", file=sys.stderr,
          flush=True)


def _sign_in_form() -> None:
    records = live().records
    st.title("Find Me AI")
    if users.count_users(records) == 0:
        st.subheader("Create the first admin account")
        code_file = users.setup_code(live().settings)
        _announce(code_file)
        st.caption("No account exists yet. The account made here is an admin; it can add "
                   "everyone else. (Or run `findme users add NAME --role admin`.) This form "
                   "disappears once an account exists.")
        st.caption("The setup code proves you run this server: it is printed in the terminal "
                   "that started the dashboard and kept in the data folder's "
                   f"`{code_file.name}`.")
        with st.form("first_admin"):
            code = st.text_input("Setup code", key="first_code")
            name = st.text_input("User name", key="first_name")
            pw = st.text_input("Password (at least 10 characters)", type="password",
                               key="first_pw")
            pw2 = st.text_input("Repeat the password", type="password", key="first_pw2")
            if st.form_submit_button("Create admin account", type="primary"):
                if pw != pw2:
                    st.error("The two passwords differ.")
                else:
                    try:
                        users.add_user(records, name, pw, "admin", actor=name.strip() or "?",
                                       first_run=True, code=code)
                        st.success("Admin account created: sign in below.")
                        st.rerun()
                    except RecordError as exc:
                        st.error(f"Not created: {exc}.")
        return
    st.subheader("Sign in")
    with st.form("sign_in"):
        name = st.text_input("User name", key="signin_name")
        pw = st.text_input("Password", type="password", key="signin_pw")
        if st.form_submit_button("Sign in", type="primary"):
            try:
                user = users.authenticate(records, name, pw, client=_client_address())
            except users.SignInFailed as exc:
                st.error(f"Not signed in: {exc}.")
            else:
                token = signins.open_session(records, user, _client_address())
                someone_before = _start_clean()
                _remember(user, token)
                st.session_state["set_cookie"] = token
                if someone_before:  # not the previous user's page: the Overview
                    st.switch_page(NAV[0][0])
                st.rerun()  # a first sign-in stays on the page its link opened


def _client_address() -> str:
    """The browser's address as the server sees it (``local`` for this machine: Streamlit gives
    no address for loopback connections)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        address = None
    return address if isinstance(address, str) and address else "local"


#: set in a tab's state once someone was signed in there (survives :func:`_start_clean`)
_SIGNED_IN_BEFORE = "_signed_in_before"


def _remember(user: users.UserRecord, token: str) -> None:
    """Keep ``user``'s sign-in in this tab: the name, the stamp of the password it used and
    the server-side session token that every run re-checks (:func:`current_user`)."""
    st.session_state["user"] = user.username
    st.session_state["user_stamp"] = user.stamp
    st.session_state["session_token"] = token
    st.session_state[_SIGNED_IN_BEFORE] = True


def _start_clean() -> bool:
    """Empty this tab's state before a sign-in (nothing a previous user's pages kept is left);
    returns whether someone was signed in at this tab before."""
    before = bool(st.session_state.get(_SIGNED_IN_BEFORE))
    kept = _camera_component_keys()
    for key in list(st.session_state.keys()):
        if key not in kept:
            del st.session_state[key]
    return before


def _camera_component_keys() -> set[str]:
    """The keys streamlit-webrtc keeps its connection object under (no user data: the
    recognizer and its results live in the user's page state). Its change callback reads them
    on the rerun after a sign-out from the Live camera page; emptied, it raised KeyError and
    the sign-in form never showed."""
    from streamlit_webrtc.component import (
        WebRtcStreamerContext,
        generate_frontend_component_key,
    )

    out: set[str] = set()
    for key in list(st.session_state.keys()):
        if isinstance(st.session_state[key], WebRtcStreamerContext):
            out |= {str(key), generate_frontend_component_key(str(key))}
    return out


def _cookie_token() -> str | None:
    """The sign-in token the browser sent with this page (None without a browser: AppTest)."""
    try:
        value = st.context.cookies.get(signins.COOKIE)
    except Exception:  # noqa: BLE001 - no request context
        return None
    return value if isinstance(value, str) else None


def current_user() -> users.UserRecord | None:
    """The signed-in, still active account, or None; the server-side session is re-checked on
    every run of every page (:func:`findme.cases.signins.resume`): a session signed out in
    another tab, older than ``FINDME_SESSION_HOURS``, idle for ``FINDME_IDLE_MINUTES``, opened
    with a password since reset, or of an account since disabled, ends here - the tab's state
    is emptied and it shows the sign-in form on the Overview. A role change takes effect at
    once. A tab not signed in yet is signed in by the session cookie (a reload, another tab),
    starting from an empty state."""
    records = live().records
    name = st.session_state.get("user")
    if name:
        token = st.session_state.get("session_token")
        user = signins.resume(records, token) if token else None
        if user is None or user.username != name:
            _forget()
            st.switch_page(NAV[0][0])  # the next person signs in on the Overview
        return user
    token = _cookie_token()
    user = signins.resume(records, token) if token else None
    if user is None:
        if token:
            st.session_state["clear_cookie"] = True
        return None
    _start_clean()
    _remember(user, token)
    return user


def _forget() -> None:
    """End this tab's sign-in: the server-side session is revoked, the tab's state emptied and
    the session cookie cleared (unless it already holds another sign-in, made in another
    tab since)."""
    token = st.session_state.get("session_token")
    signins.revoke(live().records, token)
    cookie = _cookie_token()
    _start_clean()
    st.session_state[_SIGNED_IN_BEFORE] = True
    if cookie is None or cookie == token:
        st.session_state["clear_cookie"] = True


def sign_out(user: users.UserRecord) -> None:
    """End the session (audited) and show the sign-in form on the Overview (the next person
    does not land on this user's page)."""
    live().records.audit(user.username, "signout")
    _forget()
    st.switch_page(NAV[0][0])


def _cookie_script() -> None:
    """Write or clear the session cookie in the browser when a sign-in or sign-out asked for
    it (JavaScript sets it: Streamlit's pages cannot send a Set-Cookie header, so the cookie
    cannot be HttpOnly; it is SameSite=Strict, Secure over HTTPS, and only a hash of it is
    stored)."""
    token = st.session_state.pop("set_cookie", None)
    clear = st.session_state.pop("clear_cookie", None)
    if token is None and not clear:
        return
    hours = live().settings.session_hours
    value = (f"{signins.COOKIE}={token}; max-age={int(hours * 3600)}" if token
             else f"{signins.COOKIE}=; max-age=0")
    st.html(f"""<script>
      (function() {{
        const secure = window.location.protocol === "https:" ? "; Secure" : "";
        document.cookie = "{value}; path=/; SameSite=Strict" + secure;
      }})();
    </script>""", unsafe_allow_javascript=True)


def switch_workspace(choice: str) -> None:
    """Open ``choice`` ("Real cases" or "Demo") on this tab's next run (the sidebar's switch
    follows; call ``st.rerun()`` after)."""
    st.session_state["workspace_choice"] = choice
    st.session_state.pop("workspace_radio", None)  # the radio takes the choice again


def _sidebar(user: users.UserRecord) -> bool:
    """Navigation for the user's role, the workspace switch and sign-out; returns whether the
    demo workspace is chosen."""
    with st.sidebar:
        for path, label, permission in NAV:
            if (ROOT / path).is_file() and (permission is None or user.can(permission)):
                st.page_link(path, label=label)
        st.divider()
        st.caption(f"Signed in as **{user.username}** ({user.role})")
        demo_ready = get_settings().demo_dir.is_dir()
        options = ["Real cases", "Demo"] if demo_ready else ["Real cases"]
        current = st.session_state.get("workspace_choice", "Real cases")
        choice = st.radio("Workspace", options,
                          index=options.index(current) if current in options else 0,
                          key="workspace_radio",
                          help="The demo holds sample cases made from public photos of adults.")
        st.session_state["workspace_choice"] = choice
        if st.button("Sign out", key="sign_out"):
            sign_out(user)
            st.rerun()
    return choice == "Demo"


def page(title: str, permission: str | None = None, caption: str | None = None) -> Context:
    """Gate and frame a page: page config, sign-in, permission, sidebar, demo banner, title.

    Stops the script (``st.stop``) for a signed-out visitor or a missing permission.
    """
    st.set_page_config(page_title=f"{title} - Find Me AI", page_icon=":mag:", layout="wide")
    user = current_user()
    _cookie_script()
    if user is None:
        _sign_in_form()
        st.stop()
    is_demo = _sidebar(user)
    if permission is not None and not user.can(permission):
        st.title(title)
        st.error(f"Your role ({user.role}) does not allow this page "
                 f"({users.PERMISSION_LABELS.get(permission, permission)}). Ask an admin.")
        st.stop()
    ws = demo_workspace() if is_demo else live()
    if user.can("alerts.view"):
        unread = len(alert_store.unread(ws.records, user.username))
        if unread:
            st.sidebar.info(f"{unread} new alert(s): see **Alerts**",
                            icon=":material/notifications:")
    if is_demo:
        st.warning("DEMO WORKSPACE: sample cases made from public photos of adults. "
                   "Nothing here is a real case; switch to *Real cases* in the sidebar.",
                   icon=":material/science:")
    st.title(title)
    if caption:
        st.caption(caption)
    return Context(user, ws, is_demo)


def audit_once(ctx: Context, action: str, target: str, detail: str | None = None) -> None:
    """Audit a view once per session (a page reruns on every click)."""
    seen = st.session_state.setdefault("_audited", set())
    key = (str(ctx.settings.data_dir), action, target)
    if key not in seen:
        ctx.ws.records.audit(ctx.user.username, action, target, detail)
        seen.add(key)
