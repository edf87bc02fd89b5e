"""People who use the dashboard: accounts, roles, permissions, sign-in with lock-out.

Passwords are stored only as bcrypt hashes. There is no default account: the first admin is made
with ``findme users add NAME --role admin`` or the one-time first-run form (which works only while
no user exists, and only with the setup code printed where the dashboard was started). Each
password check is reserved in the database before it runs (:mod:`findme.cases.throttle`): after
``lockout_attempts`` failed checks in a row a name - known or not - is locked for
``lockout_minutes``, an address that keeps failing on a name waits exponentially longer, and an
address is limited over all names. Every sign-in, failure, lock and account change is written to
the audit log.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from sqlalchemy import Boolean, DateTime, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases import throttle
from findme.cases.records import RecordError, Records, add_audit
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.cases.tables import now as _now
from findme.config import Settings

ROLES = ("admin", "investigator", "reviewer", "viewer", "shelter")

#: permission -> roles that hold it. The README's permission table is this dictionary.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "cases.view": ("admin", "investigator", "reviewer", "viewer", "shelter"),
    "cases.contact": ("admin", "investigator", "reviewer"),
    "photos.view": ("admin", "investigator", "reviewer"),
    "cases.edit": ("admin", "investigator"),
    "found.register": ("admin", "investigator", "shelter"),
    "cases.erase": ("admin",),
    "search": ("admin", "investigator", "reviewer", "shelter"),
    "cameras.manage": ("admin", "investigator"),
    "leads.review": ("admin", "investigator", "reviewer"),
    "alerts.view": ("admin", "investigator", "reviewer", "viewer", "shelter"),
    "alerts.manage": ("admin",),
    "evaluation.run": ("admin", "investigator", "reviewer", "viewer", "shelter"),
    "evaluation.folders": ("admin",),
    "thresholds.apply": ("admin",),
    "users.manage": ("admin",),
    "audit.view": ("admin",),
    "demo.load": ("admin", "investigator"),
}

PERMISSION_LABELS = {
    "cases.view": "see cases (list, details without contacts)",
    "cases.contact": "see guardian contacts",
    "photos.view": "see and download photos",
    "cases.edit": "register, edit, add photos, change status",
    "found.register": "register found children, add their photos, change their status",
    "cases.erase": "erase a case",
    "search": "search photos",
    "cameras.manage": "scan a camera stream URL (the server connects to it)",
    "leads.review": "review leads (confirm / reject)",
    "alerts.view": "see alerts",
    "alerts.manage": "retry and test alerts",
    "evaluation.run": "run evaluations",
    "evaluation.folders": "evaluate any server folder (others: the public sets only)",
    "thresholds.apply": "apply thresholds",
    "users.manage": "manage users",
    "audit.view": "read the audit log",
    "demo.load": "load the demo workspace",
}

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")
@functools.lru_cache(maxsize=4)
def dummy_hash(rounds: int) -> bytes:
    """A hash at the configured cost, checked when the user name is unknown: an unknown name
    takes as long as a known one, so names cannot be found by timing."""
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds))




def allowed(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are refused)."""
    return role is not None and role in PERMISSIONS.get(permission, ())


class User(Base):
    """A dashboard account."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class UserRecord:
    """An account as read from the database (never the hash)."""

    id: int
    username: str
    role: str
    active: bool
    email: str | None
    phone: str | None
    failed_attempts: int
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    stamp: str = ""

    def can(self, permission: str) -> bool:
        """Whether this (active) user holds ``permission``."""
        return self.active and allowed(self.role, permission)


class SignInFailed(ValueError):
    """Wrong name or password, a disabled account, or a locked one; the message says which
    (without telling whether an unknown name exists)."""


def _record(u: User) -> UserRecord:
    return UserRecord(u.id, u.username, u.role, u.active, u.email, u.phone, u.failed_attempts,
                      _aware(u.locked_until), _aware(u.last_login_at), _aware(u.created_at),
                      session_stamp(u.password_hash))


def session_stamp(password_hash: str) -> str:
    """What a signed-in session remembers of the account's credentials: a digest of the
    password hash. A new password changes it, so every session opened before ends."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def _check_password(password: str) -> bytes:
    raw = password.encode()
    if len(password) < MIN_PASSWORD:
        raise RecordError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(raw) > 72:
        raise RecordError("the password must be at most 72 bytes (a bcrypt limit)")
    return raw


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_check_password(password), bcrypt.gensalt(rounds)).decode()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise RecordError(f"role must be one of {', '.join(ROLES)}")


def count_users(records: Records) -> int:
    """How many accounts exist (0 means the first-run form may create the first admin)."""
    with records.session() as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


def setup_code(settings: Settings) -> Path:
    """The file holding the one-time code the first-run form asks for (made on first call,
    readable by this system's user only). Whoever reaches the dashboard's port before an
    account exists cannot make the first admin without it: the code is in the data folder and
    printed in the terminal that started the dashboard."""
    path = settings.data_dir / "first-admin-code.txt"
    if not path.is_file():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(4).upper() + "\n")
    return path


def _check_setup_code(settings: Settings, given: str | None) -> None:
    path = settings.data_dir / "first-admin-code.txt"
    want = path.read_text().strip() if path.is_file() else ""
    if not want or not hmac.compare_digest(want.encode(), (given or "").strip().upper().encode()):
        raise RecordError("the setup code is wrong: it is in the terminal that started the "
                          f"dashboard and in {path}")


def add_user(records: Records, username: str, password: str, role: str, actor: str = "system",
             email: str | None = None, phone: str | None = None,
             first_run: bool = False, code: str | None = None) -> UserRecord:
    """Create an account. With ``first_run`` (the dashboard's first-run form) it succeeds only
    while no account exists and with the one-time setup ``code`` (see :func:`setup_code`),
    which is then used up."""
    username = username.strip()
    if not _USERNAME.match(username):
        raise RecordError("the user name must be 2-100 letters, digits or . _ @ -")
    _check_role(role)
    hashed = _hash(password, records.settings.bcrypt_rounds)
    with records.session() as s:
        if first_run and s.scalar(select(func.count()).select_from(User)):
            raise RecordError("an account already exists; ask an admin to add you")
        if first_run:
            _check_setup_code(records.settings, code)
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise RecordError(f"the user name {username!r} is taken")
        user = User(username=username, password_hash=hashed, role=role, active=True,
                    email=(email or "").strip() or None, phone=(phone or "").strip() or None,
                    failed_attempts=0)
        s.add(user)
        s.flush()
        add_audit(s, actor=actor, action="user.add", target=f"user:{username}",
                  detail=role)
        made = _record(user)
    if first_run:
        (records.settings.data_dir / "first-admin-code.txt").unlink(missing_ok=True)
    return made


def get_user(records: Records, username: str) -> UserRecord | None:
    """The account named ``username``, or None."""
    with records.session() as s:
        u = s.scalar(select(User).where(User.username == username))
        return _record(u) if u else None


def list_users(records: Records) -> list[UserRecord]:
    """Every account, by name."""
    with records.session() as s:
        return [_record(u) for u in s.scalars(select(User).order_by(User.username))]


WRONG = "wrong user name or password"


def locked_message(minutes: int) -> str:
    """The one answer to a sign-in refused by the lock-out: the same for every name, known or
    not, and whatever the password."""
    return f"too many failed attempts: the account is locked; try again in {minutes} minute(s)"


def _verify(password: str, stored: bytes) -> bool:
    """The password check (bcrypt; slow by design, so run outside any transaction)."""
    return bcrypt.checkpw(password.encode()[:72], stored)


def authenticate(records: Records, username: str, password: str,
                 client: str | None = None) -> UserRecord:
    """Check a sign-in from ``client`` (the browser's address, when known); returns the account
    or raises :class:`SignInFailed`.

    The attempt is reserved in the database *before* the password is checked
    (:func:`findme.cases.throttle.reserve`: per client first, then per address and name, then
    the name's lock-out), so a burst of parallel sign-ins gets at most ``lockout_attempts``
    checks; a refused attempt is answered at once, without a check, with
    :func:`locked_message` (or, for an address past its allowance, "too many failed sign-ins")
    and the minutes to wait - the same words for known and unknown names and whatever the
    password. A success clears the name's failures. Audited (a failure is committed before the
    error is raised); an address refused for its own allowance writes no audit row.
    """
    settings = records.settings
    name = username.strip()
    actor = name[:100] or "?"
    now = _now()
    try:
        held = throttle.reserve(records, name, client, now)
    except throttle.Refused as refused:
        if refused.by_client:
            raise SignInFailed(f"too many failed sign-ins: try again in {refused.minutes} "
                               "minute(s)") from None
        records.audit(actor, "signin.fail", None, "locked")
        raise SignInFailed(locked_message(refused.minutes)) from None
    with records.session() as s:
        u = s.scalar(select(User).where(User.username == name))
        uid, stored, active = (u.id, u.password_hash.encode(), u.active) if u else (
            None, dummy_hash(settings.bcrypt_rounds), False)
    right = _verify(password, stored) and uid is not None  # outside any transaction
    if right:
        throttle.release(records, held)
    with records.session() as s:
        if not right:
            detail = ("unknown user, " if uid is None else "") + f"attempt {held.attempt}"
            failure = WRONG
            if held.attempt >= settings.lockout_attempts:
                detail += ", locked"
                failure = locked_message(throttle.minutes_until(held.locked_until, _now()))
            if uid is not None:  # shown on the Admin page
                s.execute(update(User).where(User.id == uid).values(
                    failed_attempts=held.attempt,
                    locked_until=held.locked_until if ", locked" in detail else None))
            add_audit(s, actor=actor, action="signin.fail", detail=detail)
        elif not active:
            add_audit(s, actor=actor, action="signin.fail", detail="disabled")
            failure = "this account is disabled; ask an admin"
        else:
            s.execute(update(User).where(User.id == uid).values(
                failed_attempts=0, locked_until=None, last_login_at=now))
            add_audit(s, actor=actor, action="signin")
            return _record(s.get(User, uid))
    raise SignInFailed(failure)


def _update(records: Records, username: str, actor: str, action: str, detail: str | None,
            keep_admin: bool = False, **values: object) -> UserRecord:
    """Change one account in one transaction. With ``keep_admin`` the change is refused when it
    would leave no active admin: the admin rows are locked first (a write on SQLite, row locks
    on PostgreSQL), so two admins demoting each other at once cannot both succeed."""
    with records.session() as s:
        if keep_admin:
            s.execute(update(User).where(User.role == "admin", User.active.is_(True))
                      .values(role=User.role))
        u = s.scalar(select(User).where(User.username == username))
        if u is None:
            raise RecordError(f"no user named {username!r}")
        for k, v in values.items():
            setattr(u, k, v)
        s.flush()
        if keep_admin and not s.scalar(select(func.count()).select_from(User).where(
                User.role == "admin", User.active.is_(True))):
            raise RecordError("this is the last active admin; make another admin first")
        add_audit(s, actor=actor, action=action, target=f"user:{username}", detail=detail)
        s.flush()
        return _record(u)


def set_role(records: Records, username: str, role: str, actor: str) -> UserRecord:
    """Change an account's role (audited); the last active admin keeps the role."""
    _check_role(role)
    return _update(records, username, actor, "user.role", role, keep_admin=role != "admin",
                   role=role)


def set_active(records: Records, username: str, active: bool, actor: str) -> UserRecord:
    """Enable or disable an account (audited); a disabled account cannot sign in, and its
    open sessions end."""
    user = _update(records, username, actor, "user.enable" if active else "user.disable",
                   None, keep_admin=not active, active=active)
    if not active:
        _end_sessions(records, username)
    return user


def _end_sessions(records: Records, username: str) -> None:
    from findme.cases.signins import revoke_all  # sessions build on accounts

    revoke_all(records, username)


def set_contact(records: Records, username: str, email: str | None, phone: str | None,
                actor: str) -> UserRecord:
    """Change an account's alert e-mail address and phone number (audited)."""
    return _update(records, username, actor, "user.contact", None,
                   email=(email or "").strip() or None, phone=(phone or "").strip() or None)


def reset_password(records: Records, username: str, password: str, actor: str) -> UserRecord:
    """Set a new password and lift any lock (audited; the password itself is never logged);
    every session signed in with the old password ends."""
    hashed = _hash(password, records.settings.bcrypt_rounds)
    user = _update(records, username, actor, "user.password", None, password_hash=hashed,
                   failed_attempts=0, locked_until=None)
    throttle.clear_name(records, username)
    _end_sessions(records, username)
    return user
