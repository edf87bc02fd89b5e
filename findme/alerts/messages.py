"""Alert words: what each channel says about a lead (or a test), and what it never says.

SMS and webhook carry no child's name or photo (case number, decision and a link); e-mail to an
account carries the name (every role may see case names); e-mail to an address with no account
carries what SMS carries. No alert ever carries a photo or a guardian contact.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from findme.config import Settings


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
