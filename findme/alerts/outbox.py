"""The outbox worker: sends pending alerts, retries with exponential backoff, never loses one.

An alert row exists before any send (:mod:`findme.alerts.rules`). The worker claims a due row
atomically (``pending`` -> ``sending`` with a lease), sends it, and records the attempt: ``sent``
with the provider's id, or ``pending`` again with ``next_attempt_at`` pushed back
(``FINDME_ALERT_BACKOFF`` x 2^(attempt-1), at most 10 minutes), or ``failed`` after a permanent
error or ``FINDME_ALERT_MAX_ATTEMPTS`` tries. Several workers can run at once (the claim is one
conditional UPDATE).

A worker killed between sending and recording leaves the row ``sending``; once its lease
(``FINDME_ALERT_LEASE``, 120 s) has run out, the next run sends it again with the same
idempotency key: a receiver that honours the key (our webhook) drops the repeat; for e-mail and
SMS, whose providers have no such key, the attempt is recorded with a note that the message may
arrive twice, so it is visible on the Alerts page.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass, field

from sqlalchemy import select, update

from findme.alerts.channels import IDEMPOTENT, SENDERS, DeliveryError
from findme.alerts.rules import Alert, AlertAttempt, to_record
from findme.cases.records import Records, add_audit
from findme.cases.records import aware as _aware
from findme.cases.records import now as _now
from findme.config import Settings

MAX_BACKOFF = 600.0
FAULT_ENV = "FINDME_FAULT"  # test hook: "after-send[:channel]" dies between sending and recording




def backoff(attempt: int, base: float) -> float:
    """Seconds to wait after the ``attempt``-th failed try (1, 2, ...)."""
    return min(MAX_BACKOFF, base * 2 ** max(0, attempt - 1))


@dataclass
class RunReport:
    """What one pass of the worker did."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    in_doubt: list[int] = field(default_factory=list)


def _recover(records: Records, now: dt.datetime) -> list[int]:
    """Rows left ``sending`` by a worker that died: due again now, with a note."""
    with records.session() as s:
        stale = list(s.scalars(select(Alert).where(Alert.status == "sending",
                                                   Alert.claimed_until < now)))
        for a in stale:
            note = ("the previous send was interrupted: resent with the same idempotency key "
                    "(the receiver drops a repeat)" if a.channel in IDEMPOTENT else
                    "the previous send was interrupted and its outcome is unknown: resent, "
                    "so this message may arrive twice")
            a.status = "pending"
            a.next_attempt_at = now
            a.claimed_until = None
            s.add(AlertAttempt(alert_id=a.id, at=now, ok=False, error="worker stopped mid-send",
                               note=note))
        return [a.id for a in stale]


def _claim(records: Records, alert_id: int, now: dt.datetime) -> bool:
    lease = dt.timedelta(seconds=records.settings.alert_lease_seconds)
    with records.session() as s:
        return s.execute(update(Alert).where(Alert.id == alert_id, Alert.status == "pending")
                         .values(status="sending", attempts=Alert.attempts + 1,
                                 claimed_until=now + lease)).rowcount == 1


def deliver(records: Records, settings: Settings, alert_id: int, report: RunReport) -> None:
    """Claim, send and record one alert (no-op when another worker has it)."""
    now = _now()
    if not _claim(records, alert_id, now):
        return
    with records.session() as s:
        alert = to_record(s.get(Alert, alert_id))
        tries = s.get(Alert, alert_id).attempts
    try:
        result = SENDERS[alert.channel](alert, settings)
    except DeliveryError as exc:
        done = _now()
        final = not exc.retry or tries >= settings.alert_max_attempts
        with records.session() as s:
            row = s.get(Alert, alert_id)
            row.status = "failed" if final else "pending"
            row.last_error = str(exc)
            row.claimed_until = None
            row.next_attempt_at = None if final else done + dt.timedelta(
                seconds=backoff(tries, settings.alert_backoff_seconds))
            s.add(AlertAttempt(alert_id=alert_id, at=done, ok=False,
                               http_status=exc.http_status, response=exc.response,
                               error=str(exc)))
            if final:
                add_audit(s, actor="system", action="alert.failed",
                                 target=f"alert:{alert_id}", detail=str(exc)[:300])
        (report.failed if final else report.retrying).append(alert_id)
        return
    if os.environ.get(FAULT_ENV) in ("after-send", f"after-send:{alert.channel}"):
        os._exit(70)  # a power cut between the provider's answer and our record
    done = _now()
    with records.session() as s:
        row = s.get(Alert, alert_id)
        row.status = "sent"
        row.sent_at = done
        row.provider_id = result.provider_id
        row.last_error = None
        row.claimed_until = None
        row.next_attempt_at = None
        s.add(AlertAttempt(alert_id=alert_id, at=done, ok=True, http_status=result.http_status,
                           response=result.response))
    report.sent.append(alert_id)


def run_once(records: Records, settings: Settings, only: list[int] | None = None
             ) -> RunReport:
    """Deliver every alert that is due now (or only the given ids), then return."""
    report = RunReport()
    now = _now()
    report.in_doubt = _recover(records, now)
    with records.session() as s:
        q = select(Alert.id).where(Alert.status == "pending", Alert.next_attempt_at <= now,
                                   Alert.channel != "dashboard").order_by(Alert.id)
        if only is not None:
            q = q.where(Alert.id.in_(only))
        due = list(s.scalars(q))
    for alert_id in due:
        deliver(records, settings, alert_id, report)
    return report


def next_due(records: Records) -> dt.datetime | None:
    """When the next pending alert is due (None when nothing waits)."""
    with records.session() as s:
        t = s.scalar(select(Alert.next_attempt_at).where(
            Alert.status == "pending", Alert.channel != "dashboard")
            .order_by(Alert.next_attempt_at).limit(1))
    return _aware(t)


def run_forever(records: Records, settings: Settings, stop: threading.Event,
                poll_seconds: float = 2.0) -> None:
    """Deliver due alerts until ``stop`` is set, sleeping until the next one is due (at most
    ``poll_seconds``, so new alerts go out within seconds)."""
    while not stop.is_set():
        try:
            run_once(records, settings)
            due = next_due(records)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
            due = None
        wait = poll_seconds if due is None else max(0.05, min(
            poll_seconds, (due - _now()).total_seconds()))
        stop.wait(wait)
