"""API keys: the ``api_keys`` table and its repository (add, list, revoke, look up).

A key is shown once, when it is made (``findme apikeys add NAME --role ROLE``); only its SHA-256
is stored (a key is 256 random bits, so a plain digest cannot be reversed or guessed, and one
digest per request costs microseconds where bcrypt would cost a quarter second). A key carries a
role of :data:`findme.cases.users.ROLES` and is limited exactly as a person with that role
(:func:`findme.cases.users.allowed`). Every call made with it is audited under
:func:`actor_name` (``api:<name>``: a user name cannot hold ``:``, so the two never mix). A
revoked key stays in the table (its name stays taken, so the audit log names one caller) and
is refused from then on (by a running API within a second: it keeps what it looked up that
long).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases.records import RecordError, Records, add_audit
from findme.cases.tables import Base, aware, now

PREFIX = "fm_"
DEFAULT_RATE = 120  # requests per minute per key
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,96}$")


class ApiKey(Base):
    """One API key (its hash, never the key)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=DEFAULT_RATE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key as read from the database: name, role, the first characters of the key (to tell
    keys apart), its rate limit, and whether it is still valid."""

    id: int
    name: str
    role: str
    prefix: str
    rate_per_minute: int
    active: bool
    created_by: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def actor(self) -> str:
        """The name its calls are audited under (:func:`actor_name`)."""
        return actor_name(self.name)

    def as_dict(self) -> dict:
        """JSON form for ``findme apikeys list --json`` (never the key or its hash)."""
        return {"name": self.name, "role": self.role, "prefix": self.prefix,
                "rate_per_minute": self.rate_per_minute, "active": self.active,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def actor_name(name: str) -> str:
    """``api:<name>``: the audit log's actor for calls made with the key ``name``."""
    return f"api:{name}"


def digest(key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(row.id, row.name, row.role, row.prefix, row.rate_per_minute,
                        row.active, row.created_by, aware(row.created_at),
                        aware(row.revoked_at))


def add_key(records: Records, name: str, role: str, actor: str = "system",
            rate_per_minute: int = DEFAULT_RATE) -> tuple[ApiKeyRecord, str]:
    """Make a key named ``name`` holding ``role`` (audited ``apikey.add``); returns the record
    and the key itself, which is not stored and cannot be shown again. Raises
    :class:`RecordError` for a bad or taken name, an unknown role or a bad rate."""
    from findme.cases.users import ROLES

    name = name.strip()
    if not _NAME.match(name):
        raise RecordError("the key name must be 2-96 letters, digits or . _ @ -")
    if role not in ROLES:
        raise RecordError(f"role must be one of {', '.join(ROLES)}")
    if not 1 <= rate_per_minute <= 100_000:
        raise RecordError("the rate limit must be 1-100000 requests per minute")
    key = PREFIX + secrets.token_urlsafe(32)
    with records.session() as s:
        if s.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise RecordError(f"the key name {name!r} is taken (a revoked key keeps its name)")
        row = ApiKey(name=name, role=role, key_hash=digest(key), prefix=key[:8],
                     rate_per_minute=rate_per_minute, active=True, created_by=actor[:100])
        s.add(row)
        s.flush()
        add_audit(s, actor=actor, action="apikey.add", target=f"apikey:{name}"[:100],
                  detail=role)
        return _record(row), key


def list_keys(records: Records) -> list[ApiKeyRecord]:
    """Every key, revoked ones too, by name."""
    with records.session() as s:
        return [_record(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_key(records: Records, name: str, actor: str = "system") -> ApiKeyRecord:
    """Refuse the key ``name`` from now on (audited ``apikey.revoke``); raises
    :class:`RecordError` when there is no such key."""
    with records.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise RecordError(f"no API key named {name!r}")
        if row.active:
            s.execute(update(ApiKey).where(ApiKey.id == row.id).values(active=False,
                                                                       revoked_at=now()))
            add_audit(s, actor=actor, action="apikey.revoke", target=f"apikey:{name}"[:100])
        s.flush()
        s.refresh(row)
        return _record(row)


def lookup(records: Records, key: str) -> ApiKeyRecord | None:
    """The key whose hash matches ``key`` (revoked ones too: see ``active``), or None."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    with records.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
        return _record(row) if row is not None else None


def record_calls(records: Records, rows: list[tuple[str, str, str | None, str | None]]) -> None:
    """Audit calls made with keys: ``(actor, action, target, detail)`` rows, one transaction
    (the API writes them in batches, see :mod:`findme.api.audit`)."""
    if not rows:
        return
    with records.session() as s:
        for actor, action, target, detail in rows:
            add_audit(s, actor=actor[:100], action=action[:50],
                      target=target[:100] if target else None, detail=detail)
