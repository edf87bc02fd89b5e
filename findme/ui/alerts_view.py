"""What the Alerts and Admin pages show of alerts and channel settings, as plain values.

In: alert records, channel field views. Out: notification lines with the lead they link to,
tables with no empty cell shown as "None", the channel form's fields per channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from findme.alerts.channel_config import FieldView
from findme.alerts.store import AlertRecord
from findme.ui.tables import blank_none

__all__ = ["CHANNEL_TITLES", "Notification", "blank_none", "by_channel", "notification",
           "placeholder"]

CHANNEL_TITLES = {"email": "E-mail (SendGrid)", "sms": "SMS (Twilio)",
                  "webhook": "Webhook (signed JSON POST)"}


@dataclass(frozen=True)
class Notification:
    """One dashboard notification as a line, with the lead it is about (if any)."""

    id: int
    text: str  # plain text: the page escapes it
    lead_id: int | None
    read_at: dt.datetime | None = None


def notification(a: AlertRecord, read_at: dt.datetime | None = None) -> Notification:
    """A notification line: subject, body and time (UTC)."""
    when = f"{a.created_at:%Y-%m-%d %H:%M} UTC"
    text = " · ".join(p for p in (a.subject or "", a.body or "", when) if p)
    return Notification(a.id, text, a.lead_id, read_at)


def by_channel(views: list[FieldView]) -> dict[str, list[FieldView]]:
    """The channel settings grouped per channel, in the page's order."""
    out: dict[str, list[FieldView]] = {c: [] for c in CHANNEL_TITLES}
    for v in views:
        out[v.channel].append(v)
    return out


def placeholder(v: FieldView) -> str:
    """What an empty input of a setting says: a secret's state (its value is never shown)."""
    if v.source == "environment or secrets file":
        return f"set by {v.env} (environment or secrets file)"
    if v.secret:
        return "set (hidden): leave empty to keep" if v.shown else "not set"
    return ""
