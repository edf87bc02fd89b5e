"""Delivering one alert: e-mail through SendGrid, SMS through Twilio, a signed webhook.

Each sender takes an :class:`~findme.alerts.AlertRecord` and returns a :class:`Delivery` (the
provider's id and answer) or raises :class:`DeliveryError` saying whether trying again can help
(``retry``: time-outs, connection errors, 429 and 5xx answers) or not (other 4xx: bad address,
bad credentials). Hosts are configurable (``FINDME_SENDGRID_HOST``, ``FINDME_TWILIO_BASE_URL``,
``FINDME_WEBHOOK_URL``) so tests and proxies can point them elsewhere.

Webhook signature: header ``X-FindMe-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
HMAC-SHA256 with ``FINDME_WEBHOOK_SECRET`` over ``"<t>.<body>"`` (see :func:`sign` and
:func:`verify`); the header ``Idempotency-Key`` carries the alert's key, so a receiver can drop a
repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from findme.alerts.store import AlertRecord
from findme.config import Settings

RESPONSE_CHARS = 500


@dataclass(frozen=True)
class Delivery:
    """A provider accepted the message."""

    provider_id: str | None
    http_status: int | None
    response: str


class DeliveryError(RuntimeError):
    """A send failed; ``retry`` says whether trying later can help."""

    def __init__(self, message: str, retry: bool, http_status: int | None = None,
                 response: str | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.http_status = http_status
        self.response = response


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``X-FindMe-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(body: bytes, header: str, secret: str, tolerance_s: float = 300) -> bool:
    """Check a webhook signature (receivers use this; so do the tests)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = sign(body, secret, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ----------------------------------------------------------------------------- senders


def send_email(alert: AlertRecord, settings: Settings) -> Delivery:
    """Send through the SendGrid v3 API with the ``sendgrid`` library."""
    import urllib.error

    from python_http_client import exceptions as http_errors
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import CustomArg, Mail

    message = Mail(from_email=settings.alert_from, to_emails=alert.recipient,
                   subject=alert.subject or "Find Me AI", plain_text_content=alert.body)
    message.custom_arg = CustomArg("idempotency_key", alert.key)
    client = SendGridAPIClient(api_key=settings.sendgrid_api_key, host=settings.sendgrid_host)
    try:
        response = client.client.mail.send.post(request_body=message.get(),
                                                timeout=settings.alert_timeout_seconds)
    except http_errors.HTTPError as exc:
        status = getattr(exc, "status_code", None)
        body = _text(getattr(exc, "body", b""))
        raise DeliveryError(f"SendGrid answered {status}", _retryable(status), status,
                            body) from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"SendGrid unreachable: {exc}", True) from exc
    headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
    return Delivery(headers.get("x-message-id"), response.status_code, _text(response.body))


def send_sms(alert: AlertRecord, settings: Settings) -> Delivery:
    """Send through Twilio's Messages API with the ``twilio`` library."""
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(settings.twilio_account_sid, settings.twilio_auth_token,
                    http_client=TwilioHttpClient(timeout=settings.alert_timeout_seconds))
    if settings.twilio_base_url:
        client.api.base_url = settings.twilio_base_url
    try:
        msg = client.messages.create(to=alert.recipient, from_=settings.twilio_from,
                                     body=alert.body)
    except TwilioRestException as exc:
        raise DeliveryError(f"Twilio answered {exc.status}: {exc.msg}", _retryable(exc.status),
                            exc.status, str(exc.msg)[:RESPONSE_CHARS]) from exc
    except (TwilioException, OSError) as exc:
        raise DeliveryError(f"Twilio unreachable: {exc}", True) from exc
    return Delivery(msg.sid, 201, f"status {msg.status}")


def webhook_label(url: str) -> str:
    """What a person may see of the webhook URL: scheme and host only. Its path is often the
    secret (a Slack or Teams hook), so it is never stored in an alert row or shown."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}/… (path hidden)"


def status_line(status: int) -> str:
    """``500 Internal Server Error``: an HTTP status code and its standard name, never the
    receiver's own reason text."""
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} (non-standard status)"


def send_webhook(alert: AlertRecord, settings: Settings) -> Delivery:
    """POST the JSON payload, signed, with the alert's idempotency key, to
    ``FINDME_WEBHOOK_URL``. Returns (or raises with) only the status code and its standard name
    (:func:`status_line`): the receiver's body, reason text and headers can quote the URL's path
    and query, which are often the secret (a Slack or Teams hook), so none of it is kept; the row
    names the receiver by :func:`webhook_label`. A redirect is not followed (an error)."""
    import requests

    body = alert.body.encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": alert.key,
               "X-FindMe-Signature": sign(body, settings.webhook_secret),
               "User-Agent": "FindMeAI-alerts"}
    try:
        r = requests.post(settings.webhook_url, data=body, headers=headers,
                          timeout=settings.alert_timeout_seconds, allow_redirects=False,
                          stream=True)  # the body is never read
    except requests.RequestException as exc:  # its message holds the URL: keep only the kind
        raise DeliveryError(f"webhook {webhook_label(settings.webhook_url)} unreachable "
                            f"({type(exc).__name__})", True) from exc
    status = status_line(r.status_code)
    r.close()
    if r.status_code >= 300:
        raise DeliveryError(f"webhook answered {status}", _retryable(r.status_code),
                            r.status_code, status)
    return Delivery(None, r.status_code, status)


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    return str(body or "")[:RESPONSE_CHARS]


SENDERS = {"email": send_email, "sms": send_sms, "webhook": send_webhook}

#: channels whose receiver drops a repeated idempotency key (a resend after a crash is safe)
IDEMPOTENT = {"webhook"}
