"""Alert rules and the outbox: who hears about a lead, on which channel, with what words.

When a lead is made, :func:`queue_for_lead` applies the rules and writes one outbox row per
channel and recipient, in the lead's own transaction, *before anything is sent* (the outbox
worker, :mod:`findme.alerts.outbox`, sends them):

* ``match`` always alerts; ``possible`` only with ``FINDME_ALERT_POSSIBLE``.
* A cooldown: one case seen by one source (a camera, an uploaded photo) alerts once per
  ``FINDME_ALERT_COOLDOWN`` seconds; later leads in the window are kept for review but alert
  nobody again.
* Recipients: the dashboard (always: a notification every reviewer sees, with an unread count);
  e-mail to ``FINDME_ALERT_EMAILS`` and to the case's assigned investigator's account address;
  SMS to ``FINDME_ALERT_PHONES`` and the assigned investigator's phone; one signed webhook to
  ``FINDME_WEBHOOK_URL``. A channel without credentials is off (and says why:
  :func:`channel_status`).
* Content: SMS and webhook carry no child's name or photo (case number, decision and a link);
  e-mail to an account carries the name (every role may see case names); e-mail to an address
  with no account carries what SMS carries. No alert ever carries a photo or a guardian contact.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from findme.cases.records import Base, Case, Records, add_audit
from findme.cases.records import aware as _aware
from findme.cases.records import now as _now
from findme.config import Settings

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


# ----------------------------------------------------------------------------- channels


def channel_status(settings: Settings) -> dict[str, tuple[bool, str]]:
    """``{channel: (on, why)}``: a channel is on only with its credentials and a recipient."""
    email_on = bool(settings.sendgrid_api_key and settings.alert_from)
    sms_on = bool(settings.twilio_account_sid and settings.twilio_auth_token
                  and settings.twilio_from)
    return {
        "dashboard": (True, "always on: a notification every reviewer sees"),
        "email": (email_on, f"SendGrid via {settings.sendgrid_host}, from {settings.alert_from}"
                  if email_on else "off: set FINDME_SENDGRID_API_KEY and FINDME_ALERT_FROM"),
        "sms": (sms_on, f"Twilio from {settings.twilio_from}" if sms_on else
                "off: set FINDME_TWILIO_ACCOUNT_SID, FINDME_TWILIO_AUTH_TOKEN and "
                "FINDME_TWILIO_FROM"),
        "webhook": (bool(settings.webhook_url and settings.webhook_secret),
                    f"POST to {settings.webhook_url}, signed" if settings.webhook_url and
                    settings.webhook_secret else
                    "off: set FINDME_WEBHOOK_URL and FINDME_WEBHOOK_SECRET"),
    }


# ----------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Event:
    """What an alert is about (a lead, or a test)."""

    lead_id: int | None
    case_id: int | None
    case_name: str | None
    decision: str
    score: float
    source: str
    at: dt.datetime
    test: bool = False


def lead_link(settings: Settings, lead_id: int | None) -> str:
    """The dashboard address of a lead (the review page)."""
    base = f"{settings.public_url}/Review_leads"
    return f"{base}?lead={lead_id}" if lead_id else base


def render_sms(e: Event, settings: Settings) -> str:
    """SMS text: no name, no photo; case number, decision and a link."""
    if e.test:
        return "Find Me AI test alert: SMS delivery works."
    return (f"Find Me AI: {e.decision.upper()} for case #{e.case_id} ({e.source}). "
            f"Review: {lead_link(settings, e.lead_id)}")


def render_email(e: Event, settings: Settings, with_name: bool) -> tuple[str, str]:
    """(subject, plain-text body) of an e-mail; the child's name only ``with_name``."""
    if e.test:
        return "Find Me AI test alert", "This is a test: e-mail delivery works.\n"
    who = f"case #{e.case_id}" + (f" ({e.case_name})" if with_name and e.case_name else "")
    subject = f"Find Me AI: {e.decision.upper()} for {who}"
    body = (f"A search found a face that may show {who}.\n\n"
            f"Decision: {e.decision} (score {e.score:.2f}; a score is not a verdict)\n"
            f"Source: {e.source}\nWhen: {e.at:%Y-%m-%d %H:%M} UTC\n\n"
            f"Review the lead: {lead_link(settings, e.lead_id)}\n\n"
            "A person must review this lead before anyone acts on it.\n")
    return subject, body


def render_webhook(e: Event, settings: Settings, key: str) -> str:
    """JSON payload of a webhook (no name, no photo)."""
    return json.dumps({"event": "test" if e.test else "lead", "idempotency_key": key,
                       "lead_id": e.lead_id, "case_id": e.case_id, "decision": e.decision,
                       "score": round(e.score, 4), "source": e.source,
                       "at": e.at.isoformat(timespec="seconds"),
                       "url": lead_link(settings, e.lead_id)}, sort_keys=True)


def render_dashboard(e: Event) -> tuple[str, str]:
    """(title, text) of a dashboard notification (seen only by signed-in reviewers)."""
    if e.test:
        return "Test alert", "Dashboard notifications work."
    return (f"{e.decision.upper()}: case #{e.case_id} {e.case_name or ''}".strip(),
            f"score {e.score:.2f} from {e.source}")


# ----------------------------------------------------------------------------- rules


def _recipients(s: Session, settings: Settings, case_id: int | None
                ) -> tuple[list[tuple[str, bool]], list[str]]:
    """([(email, may see the child's name)], [phone]) for a case: the global lists (addresses
    with no account: no name) plus the assigned investigator's account (its role decides)."""
    from findme.cases.users import User, allowed

    emails = [(a, False) for a in settings.alert_emails]
    phones = list(settings.alert_phones)
    if case_id is not None:
        assigned = s.scalar(select(Case.assigned_to).where(Case.id == case_id))
        user = s.scalar(select(User).where(User.username == assigned,
                                           User.active.is_(True))) if assigned else None
        if user is not None:
            if user.email and user.email not in settings.alert_emails:
                emails.append((user.email, allowed(user.role, "cases.view")))
            if user.phone and user.phone not in phones:
                phones.append(user.phone)
    return emails, phones


def _rows(e: Event, s: Session, settings: Settings, source_key: str | None,
          channels: tuple[str, ...]) -> list[Alert]:
    status = channel_status(settings)
    emails, phones = _recipients(s, settings, e.case_id)
    base = uuid.uuid4().hex[:12]
    now = _now()
    rows: list[Alert] = []

    def add(channel: str, recipient: str, subject: str | None, body: str, n: int) -> None:
        key = f"findme-{base}-{channel}-{n}"
        rows.append(Alert(key=key, lead_id=e.lead_id, case_id=e.case_id,
                          source_key=source_key, channel=channel, recipient=recipient,
                          subject=subject, body=body if channel != "webhook"
                          else render_webhook(e, settings, key), decision=e.decision,
                          status="sent" if channel == "dashboard" else "pending",
                          attempts=0, next_attempt_at=now, created_at=now,
                          sent_at=now if channel == "dashboard" else None))

    if "dashboard" in channels:
        add("dashboard", EVERYONE, *render_dashboard(e), 0)
    if "email" in channels and status["email"][0]:
        for n, (address, account) in enumerate(emails):
            add("email", address, *render_email(e, settings, with_name=account), n)
    if "sms" in channels and status["sms"][0]:
        for n, phone in enumerate(phones):
            add("sms", phone, None, render_sms(e, settings), n)
    if "webhook" in channels and status["webhook"][0]:
        add("webhook", settings.webhook_url, None, "", 0)
    return rows


def queue_for_lead(s: Session, settings: Settings, lead_id: int, case_id: int, decision: str,
                   score: float, source: str, source_key: str | None = None) -> list[int]:
    """Apply the rules to a new lead and write its alerts to the outbox inside the caller's
    transaction ``s`` (nothing is sent here), so a lead and its alerts commit together
    (:func:`findme.cases.leads.create_lead`). Returns the new alert ids ([] when the rules say
    no or the cooldown holds)."""
    if decision != "match" and not (decision == "possible" and settings.alert_possible):
        return []
    source_key = (source_key or source)[:300]
    since = _now() - dt.timedelta(seconds=settings.alert_cooldown_seconds)
    recent = s.scalar(select(func.count()).select_from(Alert).where(
        Alert.case_id == case_id, Alert.source_key == source_key,
        Alert.channel == "dashboard", Alert.created_at >= since))
    if recent:
        add_audit(s, actor="system", action="alert.cooldown", target=f"lead:{lead_id}",
                  detail=f"case:{case_id}")
        return []
    name = s.scalar(select(Case.name).where(Case.id == case_id))
    event = Event(lead_id, case_id, name, decision, score, source, _now())
    rows = _rows(event, s, settings, source_key, CHANNELS)
    s.add_all(rows)
    s.flush()
    add_audit(s, actor="system", action="alert.queue", target=f"lead:{lead_id}",
              detail=", ".join(sorted({r.channel for r in rows})))
    return [r.id for r in rows]


def queue_test(records: Records, settings: Settings, channel: str, actor: str) -> list[int]:
    """Write a test alert for one channel (to its configured recipients); returns the ids."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    on, why = channel_status(settings)[channel]
    if not on:
        raise ValueError(f"the {channel} channel is {why}")
    event = Event(None, None, None, "test", 0.0, "test", _now(), test=True)
    with records.session() as s:
        rows = _rows(event, s, settings, "test", (channel,))
        if not rows:
            raise ValueError(f"the {channel} channel has no recipient configured")
        s.add_all(rows)
        s.flush()
        add_audit(s, actor=actor, action="alert.test", detail=channel)
        return [r.id for r in rows]


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
