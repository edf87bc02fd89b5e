"""Sign-in throttle: failed sign-ins counted per user name and per client address in a window.

Past ``signin_limit_name`` failures for one name (known or not) or ``signin_limit_client`` from
one client within ``signin_window_minutes``, :func:`findme.cases.users.authenticate` refuses at
once: no password hash is checked and no audit row written, so guessing costs the same whether
or not the name exists and cannot fill the audit log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from findme.cases.records import Records
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.config import Settings


class SignInThrottle(Base):
    """Failed sign-ins in the current window, per ``name:<user name>`` and ``client:<address>``."""

    __tablename__ = "signin_throttle"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer)


def keys_for(username: str, client: str | None) -> list[str]:
    """The throttle keys of a sign-in attempt: its (lower-cased) name and its client."""
    keys = [f"name:{username.strip().lower()[:150]}"]
    if client:
        keys.append(f"client:{client[:150]}")
    return keys


def _limit(key: str, settings: Settings) -> int:
    return settings.signin_limit_client if key.startswith("client:") else (
        settings.signin_limit_name)


def wait_minutes(records: Records, keys: list[str], now: dt.datetime) -> int:
    """Minutes left before a throttled name or client may try again (0: not throttled)."""
    settings = records.settings
    window = dt.timedelta(minutes=settings.signin_window_minutes)
    with records.session() as s:
        rows = s.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(keys))).all()
        waits = [(_aware(r.window_start) + window - now).total_seconds() for r in rows
                 if r.failures >= _limit(r.key, settings) and _aware(r.window_start) + window > now]
    return max(1, round(max(waits) / 60)) if waits else 0


def count_failure(s: Session, keys: list[str], now: dt.datetime, settings: Settings) -> str:
    """Count one failed sign-in for each key (atomically, a new window once the old one ended);
    returns a note for the audit row when this failure reached a limit."""
    cutoff = now - dt.timedelta(minutes=settings.signin_window_minutes)
    insert = sqlite_insert if s.bind.dialect.name == "sqlite" else pg_insert
    notes = []
    for key in keys:
        stale = SignInThrottle.window_start < cutoff
        stmt = insert(SignInThrottle).values(key=key, window_start=now, failures=1)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "failures": case((stale, 1), else_=SignInThrottle.failures + 1),
            "window_start": case((stale, now), else_=SignInThrottle.window_start)})
        count = s.execute(stmt.returning(SignInThrottle.failures)).scalar_one()
        if count == _limit(key, settings):
            notes.append(key.split(":", 1)[0])
    return f", throttled per {' and '.join(notes)}" if notes else ""
