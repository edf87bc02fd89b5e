"""The outbox worker: sends pending alerts, retries with exponential backoff, never loses one.

An alert row exists before any send (:mod:`findme.alerts.rules` decide, :mod:`findme.alerts.store`
keeps them). The worker claims a due row atomically (``pending`` -> ``sending`` with a lease),
sends it, and records the attempt: ``sent`` with the provider's id, or ``pending`` again with
``next_attempt_at`` pushed back
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

from findme.alerts import store
from findme.alerts.channel_config import effective
from findme.alerts.channels import IDEMPOTENT, SENDERS, DeliveryError
from findme.cases.records import Records
from findme.cases.tables import now as _now
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


def _interrupted(channel: str) -> str:
    return ("the previous send was interrupted: resent with the same idempotency key "
            "(the receiver drops a repeat)" if channel in IDEMPOTENT else
            "the previous send was interrupted and its outcome is unknown: resent, "
            "so this message may arrive twice")


def deliver(records: Records, settings: Settings, alert_id: int, report: RunReport) -> None:
    """Claim, send and record one alert (no-op when another worker has it)."""
    if not store.claim(records, alert_id, _now(), settings.alert_lease_seconds):
        return
    alert = store.get(records, alert_id)
    try:
        result = SENDERS[alert.channel](alert, effective(settings))
    except DeliveryError as exc:
        final = not exc.retry or alert.attempts >= settings.alert_max_attempts
        retry_at = None if final else _now() + dt.timedelta(
            seconds=backoff(alert.attempts, settings.alert_backoff_seconds))
        store.record_failure(records, alert_id, str(exc), exc.http_status, exc.response,
                             retry_at)
        (report.failed if final else report.retrying).append(alert_id)
        return
    if os.environ.get(FAULT_ENV) in ("after-send", f"after-send:{alert.channel}"):
        os._exit(70)  # a power cut between the provider's answer and our record
    store.record_sent(records, alert_id, result.provider_id, result.http_status,
                      result.response)
    report.sent.append(alert_id)


def run_once(records: Records, settings: Settings, only: list[int] | None = None
             ) -> RunReport:
    """Deliver every alert that is due now (or only the given ids), then return."""
    report = RunReport()
    now = _now()
    report.in_doubt = store.recover_stale(records, now, _interrupted)
    for alert_id in store.due(records, now, only):
        deliver(records, settings, alert_id, report)
    return report


def send_test(records: Records, settings: Settings, channel: str, actor: str
              ) -> tuple[bool, str]:
    """Send a test alert on ``channel`` now (to its configured recipients); returns (delivered,
    a sentence saying what happened). A send that fails stays in the outbox and is retried."""
    from findme.alerts import rules

    try:
        ids = rules.queue_test(records, settings, channel, actor)
    except ValueError as exc:
        return False, f"Not sent: {exc}."
    report = run_once(records, settings, only=ids)
    if channel == "dashboard" or len(report.sent) == len(ids):
        return True, f"Test {channel} alert delivered."
    failed = [store.get(records, i).last_error for i in report.failed + report.retrying]
    why = f" ({failed[0]})" if failed and failed[0] else ""
    return False, (f"Test {channel} alert not delivered yet{why}: it is retried automatically "
                   "(see its attempts on the Alerts page).")


def run_forever(records: Records, settings: Settings, stop: threading.Event,
                poll_seconds: float = 2.0) -> None:
    """Deliver due alerts until ``stop`` is set, sleeping until the next one is due (at most
    ``poll_seconds``, so new alerts go out within seconds)."""
    while not stop.is_set():
        try:
            run_once(records, settings)
            due = store.next_due(records)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
            due = None
        wait = poll_seconds if due is None else max(0.05, min(
            poll_seconds, (due - _now()).total_seconds()))
        stop.wait(wait)
