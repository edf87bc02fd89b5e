"""Sign-in lock-out and throttle: every password check is reserved in the database first.

Three kinds of rows in ``signin_throttle``, one per key, each taken by a single atomic
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (SQLite and PostgreSQL alike) that either
reserves one attempt or changes nothing, so a burst of parallel sign-ins cannot get more
checks than the limits allow:

* ``client:<address>`` - **per client, first**: at most ``signin_limit_client`` failed
  sign-ins per ``signin_window_minutes`` (``window_start`` is the window's start). Past it the
  address is refused for every name at once: no hash checked, no audit row, and the names are
  not touched. A success gives its reservation back.
* ``pair:<address>|<name>`` - **exponential delay per name and address**: an address that made
  ``lockout_attempts`` failed checks on a name may try it again only after ``lockout_minutes``,
  then twice that, four times ... (at most ``2**MAX_DOUBLINGS`` times), remembered for
  ``PAIR_MEMORY`` after the wait. So one address cannot keep re-locking a name.
* ``name:<name>`` - **the lock-out**, for known and unknown names alike (nothing here reads
  the accounts, so a lock never tells whether a name exists): after ``lockout_attempts``
  reserved checks in a row the name is locked for everyone for ``lockout_minutes`` from the
  last reservation; then its count starts again. A success clears it. An attacker's address
  can lock a name once; the real user, from another address, waits at most
  ``lockout_minutes`` for each attacking address.

``window_start`` holds the time of the last reservation for ``pair:`` and ``name:`` rows.
:func:`findme.cases.users.authenticate` calls :func:`reserve` before the password check and
:func:`release` after a success; a failed check keeps its reservation (it is the failure).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, and_, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from findme.cases.records import Records
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.config import Settings

MAX_DOUBLINGS = 6  # an address's wait on one name grows to at most 64 x lockout_minutes
PAIR_MEMORY = dt.timedelta(hours=24)  # how long past its wait an address's failures count


class SignInThrottle(Base):
    """Reserved sign-in attempts per ``client:``, ``pair:`` and ``name:`` key (see the module
    docstring for what ``window_start`` means for each)."""

    __tablename__ = "signin_throttle"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer)


class Refused(Exception):
    """No attempt was reserved: ``by_client`` (the address used up its allowance) or the name
    is locked (for everyone, or for this address); ``minutes`` to wait (at least 1)."""

    def __init__(self, minutes: int, by_client: bool) -> None:
        super().__init__(f"try again in {minutes} minute(s)")
        self.minutes = minutes
        self.by_client = by_client


@dataclass(frozen=True)
class Reservation:
    """One reserved password check: its keys, the name's attempt number (1 to
    ``lockout_attempts``) and when the name may be tried again if this check fails."""

    name_key: str
    pair_key: str | None
    client_key: str | None
    attempt: int
    locked_until: dt.datetime


def name_key(username: str) -> str:
    """The throttle key of a user name (lower-cased, stripped)."""
    return f"name:{username.strip().lower()[:150]}"


def _pair_key(username: str, client: str) -> str:
    return f"pair:{client[:60]}|{username.strip().lower()[:90]}"


def minutes_until(until: dt.datetime, now: dt.datetime) -> int:
    """Whole minutes from ``now`` to ``until``, rounded up, at least 1. (A refusal counts from
    the later of its own start and the reservation that locked, so a sign-in that waited for
    the database never reads more than the lock's length.)"""
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _pair_wait(failures: int, settings: Settings) -> dt.timedelta:
    """How long an address waits on a name after its ``failures``-th failed check there."""
    over = failures - settings.lockout_attempts
    if over < 0:
        return dt.timedelta(0)
    return dt.timedelta(minutes=settings.lockout_minutes) * 2 ** min(over, MAX_DOUBLINGS)


def _pair_waited(now: dt.datetime, settings: Settings,
                 memory: dt.timedelta = dt.timedelta(0)) -> ColumnElement[bool]:
    """SQL: a pair row at or past the limit whose wait, plus ``memory``, is over."""
    t, f, limit = SignInThrottle.window_start, SignInThrottle.failures, settings.lockout_attempts
    terms = [and_(f == limit + i, t <= now - _pair_wait(limit + i, settings) - memory)
             for i in range(MAX_DOUBLINGS)]
    terms.append(and_(f >= limit + MAX_DOUBLINGS,
                      t <= now - _pair_wait(limit + MAX_DOUBLINGS, settings) - memory))
    return or_(*terms)


def _upsert(s: Session, key: str, now: dt.datetime, failures: ColumnElement[int],
            start: ColumnElement[dt.datetime] | dt.datetime,
            allowed: ColumnElement[bool]) -> int | None:
    """Reserve one attempt on ``key`` atomically: a new row counts 1; an existing one is
    updated (``failures``, ``start``) only where ``allowed``. Returns the new count, or None
    when nothing was reserved."""
    insert = sqlite_insert if s.bind.dialect.name == "sqlite" else pg_insert
    stmt = insert(SignInThrottle).values(key=key, window_start=now, failures=1)
    stmt = stmt.on_conflict_do_update(index_elements=["key"], where=allowed,
                                      set_={"failures": failures, "window_start": start})
    return s.execute(stmt.returning(SignInThrottle.failures)).scalar_one_or_none()


def _row(s: Session, key: str) -> tuple[dt.datetime, int]:
    row = s.get(SignInThrottle, key)
    return _aware(row.window_start), row.failures


def _reserve_client(records: Records, key: str, now: dt.datetime) -> None:
    settings = records.settings
    window = dt.timedelta(minutes=settings.signin_window_minutes)
    t, f = SignInThrottle.window_start, SignInThrottle.failures
    stale = t <= now - window
    with records.session() as s:
        got = _upsert(s, key, now, case((stale, 1), else_=f + 1), case((stale, now), else_=t),
                      or_(stale, f < settings.signin_limit_client))
        if got is None:
            start, _ = _row(s, key)
            raise Refused(minutes_until(start + window, max(now, start)), by_client=True)


def _reserve_name(records: Records, username: str, client: str | None,
                  now: dt.datetime) -> Reservation:
    settings = records.settings
    limit, lock = settings.lockout_attempts, dt.timedelta(minutes=settings.lockout_minutes)
    window = dt.timedelta(minutes=settings.signin_window_minutes)
    t, f = SignInThrottle.window_start, SignInThrottle.failures
    nkey = name_key(username)
    pkey = _pair_key(username, client) if client else None
    with records.session() as s:  # both or neither: a refusal by the name frees the pair
        if pkey is not None:  # below the limit: always; past it: once the wait is over
            stale = or_(and_(f < limit, t <= now - window),
                        _pair_waited(now, settings, PAIR_MEMORY))
            if _upsert(s, pkey, now, case((stale, 1), else_=f + 1), now,
                       or_(f < limit, _pair_waited(now, settings))) is None:
                last, count = _row(s, pkey)
                raise Refused(minutes_until(last + _pair_wait(count, settings), max(now, last)),
                              by_client=False)
        lock_over = t <= now - lock
        fresh = or_(f >= limit, t <= now - window)  # (only reached where the lock is over)
        attempt = _upsert(s, nkey, now, case((fresh, 1), else_=f + 1), now,
                          or_(f < limit, lock_over))
        if attempt is None:
            last, _ = _row(s, nkey)
            raise Refused(minutes_until(last + lock, max(now, last)), by_client=False)
    return Reservation(nkey, pkey, None, attempt, now + lock)


def reserve(records: Records, username: str, client: str | None,
            now: dt.datetime) -> Reservation:
    """Reserve one password check for ``username`` from ``client`` (None: no address known,
    as in the command line): the client's allowance first, then the address's wait on this
    name, then the name's lock-out. Returns the :class:`Reservation`, or raises
    :class:`Refused` (nothing is checked then; the client's reservation is kept, so hammering
    a locked name uses up the address's allowance)."""
    ckey = f"client:{client[:150]}" if client else None
    if ckey is not None:
        _reserve_client(records, ckey, now)
    held = _reserve_name(records, username, client, now)
    return Reservation(held.name_key, held.pair_key, ckey, held.attempt, held.locked_until)


def release(records: Records, held: Reservation) -> None:
    """After a successful check: clear the name's and the address's failures on this name, and
    give the client's reservation back."""
    with records.session() as s:
        s.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(
            [k for k in (held.name_key, held.pair_key) if k])))
        if held.client_key:
            s.execute(update(SignInThrottle).where(
                SignInThrottle.key == held.client_key, SignInThrottle.failures > 0)
                .values(failures=SignInThrottle.failures - 1))


def clear_name(records: Records, username: str) -> None:
    """Lift every lock on ``username`` (a password reset): the name's and every address's."""
    with records.session() as s:
        s.execute(delete(SignInThrottle).where(or_(
            SignInThrottle.key == name_key(username),
            SignInThrottle.key.like(f"pair:%|{username.strip().lower()[:90]}"))))

