"""People who use the dashboard: accounts, roles, permissions, sign-in with lock-out.

Passwords are stored only as bcrypt hashes. There is no default account: the first admin is made
with ``findme users add NAME --role admin`` or the one-time first-run form (which works only while
no user exists, and only with the setup code printed where the dashboard was started). After
``lockout_attempts`` failed sign-ins in a row an account is locked for ``lockout_minutes``; failed
sign-ins are also limited per user name and per client address. Every sign-in, failure, lock and
account change is written to the audit log.
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
from sqlalchemy import Boolean, DateTime, Integer, String, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases import throttle
from findme.cases.records import RecordError, Records, add_audit
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.cases.tables import now as _now
from findme.config import Settings

ROLES = ("admin", "investigator", "reviewer", "viewer")

#: permission -> roles that hold it. The README's permission table is this dictionary.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "cases.view": ("admin", "investigator", "reviewer", "viewer"),
    "cases.contact": ("admin", "investigator", "reviewer"),
    "photos.view": ("admin", "investigator", "reviewer"),
    "cases.edit": ("admin", "investigator"),
    "cases.erase": ("admin",),
    "search": ("admin", "investigator", "reviewer"),
    "cameras.manage": ("admin", "investigator"),
    "leads.review": ("admin", "investigator", "reviewer"),
    "alerts.view": ("admin", "investigator", "reviewer", "viewer"),
    "alerts.manage": ("admin",),
    "evaluation.run": ("admin", "investigator", "reviewer", "viewer"),
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


def authenticate(records: Records, username: str, password: str,
                 client: str | None = None) -> UserRecord:
    """Check a sign-in from ``client`` (the browser's address, when known); returns the account
    or raises :class:`SignInFailed`.

    Failures count towards the account's lock-out; a success resets that count. Failures of any
    name, known or not, also count per name and per client in a window: past
    ``signin_limit_name`` / ``signin_limit_client`` further attempts are refused at once,
    without a password check or an audit row, until the window ends. Audited (a failure is
    committed before the error is raised).
    """
    settings = records.settings
    now = _now()
    failure: str | None = None
    keys = throttle.keys_for(username, client)
    wait = throttle.wait_minutes(records, keys, now)
    if wait:  # refused before any password check, the same way for every name
        raise SignInFailed(f"too many failed sign-ins: try again in {wait} minute(s)")
    with records.session() as s:
        u = s.scalar(select(User).where(User.username == username.strip()))
        if u is not None:
            uid, name, stored = u.id, u.username, u.password_hash.encode()
            locked, active = _aware(u.locked_until), u.active
    if u is None:
        bcrypt.checkpw(password.encode()[:72], dummy_hash(settings.bcrypt_rounds))
        with records.session() as s:
            add_audit(s, actor=username.strip()[:100] or "?", action="signin.fail",
                      detail="unknown user" + throttle.count_failure(s, keys, now, settings))
        raise SignInFailed("wrong user name or password")
    if locked and locked > now:
        minutes = max(1, round((locked - now).total_seconds() / 60))
        records.audit(name, "signin.fail", None, "locked")
        raise SignInFailed(f"too many failed attempts: try again in {minutes} minute(s)")
    right = bcrypt.checkpw(password.encode()[:72], stored)  # slow: outside any transaction
    with records.session() as s:
        if not right:  # one atomic increment per guess: parallel guesses all count
            count = s.execute(update(User).where(User.id == uid).values(
                failed_attempts=User.failed_attempts + 1).returning(User.failed_attempts)
            ).scalar_one()
            detail, failure = f"attempt {count}", "wrong user name or password"
            detail += throttle.count_failure(s, keys, now, settings)
            if count >= settings.lockout_attempts:
                s.execute(update(User).where(User.id == uid).values(
                    locked_until=now + dt.timedelta(minutes=settings.lockout_minutes),
                    failed_attempts=0))
                detail += ", locked"
                failure = ("too many failed attempts: the account is locked for "
                           f"{settings.lockout_minutes:g} minutes")
            add_audit(s, actor=name, action="signin.fail", detail=detail)
        elif not active:
            add_audit(s, actor=name, action="signin.fail", detail="disabled")
            failure = "this account is disabled; ask an admin"
        elif s.execute(update(User).where(  # not locked by a parallel guess meanwhile
                User.id == uid, or_(User.locked_until.is_(None), User.locked_until <= now))
                .values(failed_attempts=0, locked_until=None, last_login_at=now)
                ).rowcount != 1:
            add_audit(s, actor=name, action="signin.fail", detail="locked")
            failure = "too many failed attempts: the account is locked"
        else:
            add_audit(s, actor=name, action="signin")
            user = _record(s.get(User, uid))
    if failure:
        raise SignInFailed(failure)
    return user


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
    _end_sessions(records, username)
    return user
