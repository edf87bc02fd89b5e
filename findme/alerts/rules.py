"""Alert rules: who hears about a lead, on which channel (the words: :mod:`.messages`).

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
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from findme.alerts.channel_config import effective
from findme.alerts.channels import webhook_label
from findme.alerts.messages import (
    Event,
    render_dashboard,
    render_email,
    render_sms,
    render_webhook,
)
from findme.alerts.store import CHANNELS, EVERYONE, Alert, add
from findme.cases.records import Records, add_audit
from findme.cases.tables import Case
from findme.cases.tables import now as _now
from findme.config import Settings

# ----------------------------------------------------------------------------- channels


def channel_status(settings: Settings) -> dict[str, tuple[bool, str]]:
    """``{channel: (on, why)}``: a channel is on only with its credentials and a recipient
    (from the environment, the secrets file, or the Admin page's saved settings)."""
    settings = effective(settings)
    email_on = bool(settings.sendgrid_api_key and settings.alert_from)
    sms_on = bool(settings.twilio_account_sid and settings.twilio_auth_token
                  and settings.twilio_from)
    return {
        "dashboard": (True, "always on: a notification every reviewer sees"),
        "email": (email_on, f"SendGrid via {settings.sendgrid_host}, from {settings.alert_from}"
                  if email_on else "off: give a SendGrid API key and a sender address "
                  "(Admin page, Alert channels; or FINDME_SENDGRID_API_KEY and "
                  "FINDME_ALERT_FROM)"),
        "sms": (sms_on, f"Twilio from {settings.twilio_from}" if sms_on else
                "off: give a Twilio account SID, auth token and sender number (Admin page, "
                "Alert channels; or FINDME_TWILIO_ACCOUNT_SID, FINDME_TWILIO_AUTH_TOKEN and "
                "FINDME_TWILIO_FROM)"),
        "webhook": (bool(settings.webhook_url and settings.webhook_secret),
                    f"POST to {webhook_label(settings.webhook_url)}, signed"
                    if settings.webhook_url and
                    settings.webhook_secret else
                    "off: give a webhook URL and signing secret (Admin page, Alert "
                    "channels; or FINDME_WEBHOOK_URL and FINDME_WEBHOOK_SECRET)"),
    }


# ----------------------------------------------------------------------------- rules


def _recipients(s: Session | None, settings: Settings, case_id: int | None
                ) -> tuple[list[tuple[str, bool]], list[str]]:
    """([(email, may see the child's name)], [phone]) for a case: the global lists (addresses
    with no account: no name) plus the assigned investigator's account (its role decides)."""
    from findme.cases.users import User, allowed

    emails = [(a, False) for a in settings.alert_emails]
    phones = list(settings.alert_phones)
    if case_id is not None and s is not None:
        assigned = s.scalar(select(Case.assigned_to).where(Case.id == case_id))
        user = s.scalar(select(User).where(User.username == assigned,
                                           User.active.is_(True))) if assigned else None
        if user is not None:
            if user.email and user.email not in settings.alert_emails:
                emails.append((user.email, allowed(user.role, "cases.view")))
            if user.phone and user.phone not in phones:
                phones.append(user.phone)
    return emails, phones


def _rows(e: Event, s: Session | None, settings: Settings, source_key: str | None,
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
        add("webhook", webhook_label(settings.webhook_url), None, "", 0)
    return rows


def queue_for_lead(s: Session, settings: Settings, lead_id: int, case_id: int, decision: str,
                   score: float, source: str, source_key: str | None = None) -> list[int]:
    """Apply the rules to a new lead and write its alerts to the outbox inside the caller's
    transaction ``s`` (nothing is sent here), so a lead and its alerts commit together
    (:func:`findme.cases.leads.create_lead`). Returns the new alert ids ([] when the rules say
    no or the cooldown holds)."""
    if decision != "match" and not (decision == "possible" and settings.alert_possible):
        return []
    settings = effective(settings)
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
    settings = effective(settings)
    on, why = channel_status(settings)[channel]
    if not on:
        raise ValueError(f"the {channel} channel is {why}")
    event = Event(None, None, None, "test", 0.0, "test", _now(), test=True)
    rows = _rows(event, None, settings, "test", (channel,))
    if not rows:
        raise ValueError(f"the {channel} channel has no recipient configured")
    return add(records, rows, actor, "alert.test", channel)
