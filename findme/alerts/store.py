"""The alerts repository: the outbox tables and every query and write on them.

One row per message (:class:`Alert`: channel, recipient, words, status), one per delivery attempt
(:class:`AlertAttempt`), one per dashboard notification read (:class:`AlertRead`). The rules
(:mod:`findme.alerts.rules`) decide which rows to write; the worker (:mod:`findme.alerts.outbox`)
claims, sends and records them through the functions here; pages read them as
:class:`AlertRecord` values. No other module opens a session on these tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases.records import Records, add_audit
from findme.cases.tables import Base
from findme.cases.tables import aware as _aware
from findme.cases.tables import now as _now

CHANNELS = ("dashboard", "email", "sms", "webhook")
STATUSES = ("pending", "sending", "sent", "failed")
EVERYONE = "reviewers"




class Alert(Base):
    """One message to one recipient on one channel (the outbox row)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"),
                                                nullable=True, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                                nullable=True, index=True)
    source_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                nullable=True, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now,
                                                    index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AlertAttempt(Base):
    """One delivery attempt of an alert: what the provider answered, or the error."""

    __tablename__ = "alert_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"),
                                          index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    ok: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(String(300), nullable=True)


class AlertRead(Base):
    """A dashboard notification a user has read."""

    __tablename__ = "alert_reads"
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"),
                                          primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class AlertRecord:
    """An alert as read from the database."""

    id: int
    key: str
    lead_id: int | None
    case_id: int | None
    source_key: str | None
    channel: str
    recipient: str
    subject: str | None
    body: str
    decision: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    provider_id: str | None
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class AttemptRecord:
    """A delivery attempt as read from the database."""

    alert_id: int
    at: dt.datetime
    ok: bool
    http_status: int | None
    response: str | None
    error: str | None
    note: str | None


def to_record(a: Alert) -> AlertRecord:
    values = {f: getattr(a, f) for f in AlertRecord.__dataclass_fields__}
    for f in ("next_attempt_at", "created_at", "sent_at"):
        values[f] = _aware(values[f])
    return AlertRecord(**values)


# ----------------------------------------------------------------------------- reading


def list_alerts(records: Records, case_id: int | None = None, channel: str | None = None,
                status: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, limit: int = 2000) -> list[AlertRecord]:
    """Alerts newest first, filtered."""
    with records.session() as s:
        q = select(Alert).order_by(Alert.id.desc()).limit(limit)
        if case_id is not None:
            q = q.where(Alert.case_id == case_id)
        if channel:
            q = q.where(Alert.channel == channel)
        if status:
            q = q.where(Alert.status == status)
        if since:
            q = q.where(Alert.created_at >= since)
        if until:
            q = q.where(Alert.created_at < until)
        return [to_record(a) for a in s.scalars(q)]


def attempts(records: Records, alert_ids: list[int]) -> list[AttemptRecord]:
    """Delivery attempts of the given alerts, oldest first."""
    if not alert_ids:
        return []
    with records.session() as s:
        return [AttemptRecord(a.alert_id, _aware(a.at), a.ok, a.http_status, a.response,
                              a.error, a.note)
                for a in s.scalars(select(AlertAttempt).where(
                    AlertAttempt.alert_id.in_(alert_ids)).order_by(AlertAttempt.id))]


def sent_since(records: Records, since: dt.datetime) -> int:
    """How many alerts were delivered since ``since`` (dashboard notifications included)."""
    with records.session() as s:
        return s.scalar(select(func.count()).select_from(Alert).where(
            Alert.status == "sent", Alert.sent_at >= since)) or 0


def retry(records: Records, alert_id: int, actor: str) -> None:
    """Send a failed (or waiting) alert again now (audited)."""
    with records.session() as s:
        done = s.execute(update(Alert).where(Alert.id == alert_id, Alert.status.in_(
            ("failed", "pending"))).values(status="pending", next_attempt_at=_now(),
                                           claimed_until=None)).rowcount
        if not done:
            raise ValueError(f"alert {alert_id} is not failed or waiting")
        add_audit(s, actor=actor, action="alert.retry", target=f"alert:{alert_id}")


def unread(records: Records, username: str, limit: int = 50) -> list[AlertRecord]:
    """Dashboard notifications ``username`` has not read, newest first."""
    with records.session() as s:
        read = select(AlertRead.alert_id).where(AlertRead.username == username)
        q = select(Alert).where(Alert.channel == "dashboard", Alert.id.not_in(read)) \
            .order_by(Alert.id.desc()).limit(limit)
        return [to_record(a) for a in s.scalars(q)]


def read(records: Records, username: str, limit: int = 50
         ) -> list[tuple[AlertRecord, dt.datetime]]:
    """Dashboard notifications ``username`` has read, with when, most recently read first
    ("Mark all read" keeps them here)."""
    with records.session() as s:
        q = select(Alert, AlertRead.at).join(AlertRead, AlertRead.alert_id == Alert.id).where(
            Alert.channel == "dashboard", AlertRead.username == username).order_by(
            AlertRead.at.desc(), Alert.id.desc()).limit(limit)
        return [(to_record(a), _aware(at)) for a, at in s.execute(q)]


def mark_read(records: Records, username: str, alert_ids: list[int]) -> None:
    """Mark dashboard notifications read for ``username``."""
    with records.session() as s:
        have = set(s.scalars(select(AlertRead.alert_id).where(
            AlertRead.username == username, AlertRead.alert_id.in_(alert_ids))))
        s.add_all(AlertRead(alert_id=i, username=username) for i in alert_ids if i not in have)


def as_rows(items: list[AlertRecord]) -> list[dict[str, Any]]:
    """Table rows for the Alerts page and ``findme alerts list``."""
    return [{"id": a.id, "created": a.created_at, "channel": a.channel,
             "recipient": a.recipient, "case_id": a.case_id, "lead_id": a.lead_id,
             "decision": a.decision, "status": a.status, "attempts": a.attempts,
             "next_attempt": a.next_attempt_at if a.status == "pending" else None,
             "sent": a.sent_at, "provider_id": a.provider_id, "last_error": a.last_error}
            for a in items]


# ----------------------------------------------------------------------------- writing


def add(records: Records, rows: Sequence[Alert], actor: str, action: str,
        detail: str | None = None) -> list[int]:
    """Write new alert rows (and one audit entry) in one transaction; returns their ids."""
    with records.session() as s:
        s.add_all(rows)
        s.flush()
        add_audit(s, actor=actor, action=action, detail=detail)
        return [r.id for r in rows]


def recover_stale(records: Records, now: dt.datetime, note: Callable[[str], str]) -> list[int]:
    """Rows left ``sending`` by a worker whose lease ran out: ``pending`` again, due ``now``,
    with an attempt noting the interruption (``note(channel)`` words it); returns their ids."""
    with records.session() as s:
        stale = list(s.scalars(select(Alert).where(Alert.status == "sending",
                                                   Alert.claimed_until < now)))
        for a in stale:
            a.status = "pending"
            a.next_attempt_at = now
            a.claimed_until = None
            s.add(AlertAttempt(alert_id=a.id, at=now, ok=False, error="worker stopped mid-send",
                               note=note(a.channel)))
        return [a.id for a in stale]


def claim(records: Records, alert_id: int, now: dt.datetime, lease_s: float) -> bool:
    """Atomically take a ``pending`` alert for sending (one conditional UPDATE: of several
    workers exactly one wins); counts the attempt and sets the lease."""
    with records.session() as s:
        return s.execute(update(Alert).where(Alert.id == alert_id, Alert.status == "pending")
                         .values(status="sending", attempts=Alert.attempts + 1,
                                 claimed_until=now + dt.timedelta(seconds=lease_s))
                         ).rowcount == 1


def get(records: Records, alert_id: int) -> AlertRecord:
    """One alert."""
    with records.session() as s:
        return to_record(s.get(Alert, alert_id))


def record_failure(records: Records, alert_id: int, error: str, http_status: int | None,
                   response: str | None, retry_at: dt.datetime | None) -> None:
    """A failed attempt: ``pending`` again until ``retry_at``, or ``failed`` (audited) when
    ``retry_at`` is None."""
    done = _now()
    with records.session() as s:
        row = s.get(Alert, alert_id)
        row.status = "failed" if retry_at is None else "pending"
        row.last_error = error
        row.claimed_until = None
        row.next_attempt_at = retry_at
        s.add(AlertAttempt(alert_id=alert_id, at=done, ok=False, http_status=http_status,
                           response=response, error=error))
        if retry_at is None:
            add_audit(s, actor="system", action="alert.failed", target=f"alert:{alert_id}",
                      detail=error[:300])


def record_sent(records: Records, alert_id: int, provider_id: str | None,
                http_status: int | None, response: str | None) -> None:
    """A delivered alert, with the provider's id and answer."""
    done = _now()
    with records.session() as s:
        row = s.get(Alert, alert_id)
        row.status = "sent"
        row.sent_at = done
        row.provider_id = provider_id
        row.last_error = None
        row.claimed_until = None
        row.next_attempt_at = None
        s.add(AlertAttempt(alert_id=alert_id, at=done, ok=True, http_status=http_status,
                           response=response))


def due(records: Records, now: dt.datetime, only: list[int] | None = None) -> list[int]:
    """Ids of pending alerts due by ``now`` (dashboard notifications need no sending)."""
    with records.session() as s:
        q = select(Alert.id).where(Alert.status == "pending", Alert.next_attempt_at <= now,
                                   Alert.channel != "dashboard").order_by(Alert.id)
        if only is not None:
            q = q.where(Alert.id.in_(only))
        return list(s.scalars(q))


def next_due(records: Records) -> dt.datetime | None:
    """When the next pending alert is due (None when nothing waits)."""
    with records.session() as s:
        t = s.scalar(select(Alert.next_attempt_at).where(
            Alert.status == "pending", Alert.channel != "dashboard")
            .order_by(Alert.next_attempt_at).limit(1))
    return _aware(t)
