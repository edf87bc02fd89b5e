"""``findme alerts run|list|test``: the outbox worker and the alert history from the command line.

The worker touches only the case database (no vector store), so it runs beside the dashboard.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from findme.cli.common import fail as _fail


def cmd_alerts(args: argparse.Namespace) -> int:
    """Run the outbox worker, list alerts, or queue a test alert."""
    from findme.alerts import outbox
    from findme.alerts import rules as alerts
    from findme.alerts import store as alert_store
    from findme.cases.records import open_records
    from findme.config import get_settings

    settings = get_settings()
    records = open_records(settings)
    try:
        if args.action == "list":
            items = alert_store.list_alerts(records, case_id=args.case, channel=args.channel,
                                       status=args.status)
            tries = alert_store.attempts(records, [a.id for a in items])
            rows = alert_store.as_rows(items)
            for row in rows:
                row["attempt_log"] = [{"at": t.at.isoformat(), "ok": t.ok,
                                       "http_status": t.http_status, "error": t.error,
                                       "note": t.note} for t in tries if t.alert_id == row["id"]]
            if args.json:
                print(json.dumps({"alerts": rows}, default=str))
            else:
                for r in rows:
                    print(f"{r['id']:6} {r['channel']:9} {r['status']:8} {r['attempts']:3} "
                          f"{r['recipient']}")
            return 0
        if args.action == "test":
            if not args.channel:
                return _fail("alerts test needs --channel")
            try:
                ids = alerts.queue_test(records, settings, args.channel, args.actor)
            except ValueError as exc:
                return _fail(str(exc))
            report = outbox.run_once(records, settings, only=ids)
            print(json.dumps({"queued": ids, "sent": report.sent, "retrying": report.retrying,
                              "failed": report.failed}))
            return 0 if len(report.sent) == len(ids) or args.channel == "dashboard" else 1
        # run
        if args.once:
            report = outbox.run_once(records, settings)
            print(json.dumps({"sent": report.sent, "retrying": report.retrying,
                              "failed": report.failed, "in_doubt": report.in_doubt}))
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        print("alert worker running (Ctrl-C to stop)", file=sys.stderr)
        outbox.run_forever(records, settings, stop, args.poll)
        return 0
    finally:
        records.engine.dispose()


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``alerts`` sub-command to the ``findme`` parser."""
    p = sub.add_parser("alerts", help="alert outbox: run the worker, list alerts, send a test")
    p.add_argument("action", choices=["run", "list", "test"])
    p.add_argument("--once", action="store_true", help="run: deliver what is due, then exit")
    p.add_argument("--poll", type=float, default=2.0, help="run: seconds between checks")
    p.add_argument("--channel", choices=["dashboard", "email", "sms", "webhook"])
    p.add_argument("--status", choices=["pending", "sending", "sent", "failed"])
    p.add_argument("--case", type=int, help="list: alerts of one case")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)
