"""Sign-ins that survive a reload: a random token in a browser cookie, its hash in the database.

:func:`open_session` is called after a successful password check and returns the token the
dashboard puts in the ``findme_session`` cookie. :func:`resume` turns a token (the cookie's, or
the one a tab keeps) back into the account when the session is neither revoked, expired
(``session_hours``), idle for longer than ``idle_minutes`` (``FINDME_IDLE_MINUTES``), nor older
than the account's password (a reset ends it), and the account is still active; the dashboard
calls it on every run of every page, so a sign-out in one tab ends the others. :func:`revoke`
ends one session (sign-out); an account's sessions all end with :func:`revoke_all` (password
reset, disable). Only the SHA-256 of a token
is stored, so a copy of the database does not sign anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Boolean, DateTime, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases import users
from findme.cases.records import Records, add_audit
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.cases.tables import now as _now

COOKIE = "findme_session"
TOUCH_SECONDS = 30  # last-seen is written at most this often per session (see _touch_every)


class SignInSession(Base):
    """One browser's sign-in."""

    __tablename__ = "signin_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    stamp: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(150), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(records: Records, user: users.UserRecord, client: str | None = None) -> str:
    """Start a session for ``user`` (just authenticated); returns the token for its cookie."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with records.session() as s:
        s.add(SignInSession(token_hash=_hash(token), username=user.username, stamp=user.stamp,
                            client=(client or None), created_at=now, last_seen_at=now,
                            expires_at=now + dt.timedelta(hours=records.settings.session_hours),
                            revoked=False))
        s.execute(delete(SignInSession).where(SignInSession.expires_at < now))  # tidy up
    return token


def _touch_every(idle: dt.timedelta) -> dt.timedelta:
    """How often last-seen is written: every ``TOUCH_SECONDS`` at most, and often enough that a
    short idle time-out (a quarter of it) never ends a session that is in use."""
    return min(dt.timedelta(seconds=TOUCH_SECONDS), idle / 4)


def resume(records: Records, token: str | None) -> users.UserRecord | None:
    """The account a session token still signs in, or None; called on every run of every page
    (so it is the one place a session ends: revoked, past ``session_hours``, idle past
    ``idle_minutes``, password changed, account disabled). Counts as activity. A timed-out
    session is revoked and audited, so it cannot come back."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    now = _now()
    idle = dt.timedelta(minutes=records.settings.idle_minutes)
    with records.session() as s:
        row = s.scalar(select(SignInSession).where(SignInSession.token_hash == _hash(token)))
        if row is None or row.revoked:
            return None
        if _aware(row.expires_at) <= now or _aware(row.last_seen_at) + idle <= now:
            row.revoked = True
            add_audit(s, actor=row.username, action="signout", detail="idle or expired")
            return None
        username, stamp = row.username, row.stamp
        if now - _aware(row.last_seen_at) >= _touch_every(idle):
            row.last_seen_at = now
    user = users.get_user(records, username)
    if user is None or not user.active or user.stamp != stamp:
        revoke(records, token)
        return None
    return user


def revoke(records: Records, token: str | None) -> None:
    """End one session (sign-out): its cookie no longer signs anyone in."""
    if token:
        with records.session() as s:
            s.execute(update(SignInSession).where(SignInSession.token_hash == _hash(token))
                      .values(revoked=True))


def revoke_all(records: Records, username: str) -> int:
    """End every session of an account (password reset, disable); returns how many."""
    with records.session() as s:
        return s.execute(update(SignInSession).where(
            SignInSession.username == username, SignInSession.revoked.is_(False))
            .values(revoked=True)).rowcount
