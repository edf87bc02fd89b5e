"""A webhook receiver's answer never lands in the database or on the Alerts page: a real HTTP
server on 127.0.0.1 answers 500 (then 200) with a body, a reason phrase and a request id that
quote the secret URL path and query. Only the status code and a generic reason are kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from findme.alerts import outbox
from findme.alerts import rules as alerts
from findme.alerts import store as alert_store
from findme.cases.records import open_records
from findme.config import Settings

SECRET_PATH = "/hooks/T0001/B0002/s3cr3t-path-token"
SECRET_QUERY = "key=qs-secret-42"


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers ``status`` and quotes the request line
    (path and query) in its body, its reason phrase and its ``X-Request-Id``."""

    def __init__(self) -> None:
        self.status = 500
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits += 1
                body = f"<h1>error</h1><p>no route for POST {self.path}</p>".encode()
                self.send_response(receiver.status, f"Bad hook {self.path}")
                self.send_header("Content-Type", "text/html")
                self.send_header("X-Request-Id", f"req {self.path}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}{SECRET_PATH}?{SECRET_QUERY}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _leaks(text: str) -> list[str]:
    return [s for s in ("s3cr3t", "qs-secret", "T0001", "/hooks", "no route") if s in text]


def _stored(settings: Settings) -> str:
    """Every alert, attempt and audit row, as one text."""
    records = open_records(settings)
    try:
        items = alert_store.list_alerts(records)
        tries = alert_store.attempts(records, [a.id for a in items])
        return " ".join(map(str, [*items, *tries, *records.audit_log()]))
    finally:
        records.engine.dispose()


def test_a_receivers_error_body_is_not_stored(ws_settings: Settings,
                                              receiver: Receiver) -> None:
    settings = replace(ws_settings, webhook_url=receiver.url, webhook_secret="sign-key",
                       alert_max_attempts=2, alert_backoff_seconds=0.0)
    records = open_records(settings)
    try:
        (alert_id,) = alerts.queue_test(records, settings, "webhook", "boss")
        outbox.run_once(records, settings, only=[alert_id])
        (attempt,) = alert_store.attempts(records, [alert_id])
        assert receiver.hits == 1 and attempt.http_status == 500 and not attempt.ok
        assert attempt.response == "500 Internal Server Error"  # the code and its standard name
        receiver.status = 200
        alert_store.retry(records, alert_id, "boss")
        outbox.run_once(records, settings, only=[alert_id])
        assert alert_store.get(records, alert_id).status == "sent"
        sent = alert_store.attempts(records, [alert_id])[-1]
        assert sent.ok and sent.response == "200 OK"
    finally:
        records.engine.dispose()
    assert receiver.hits == 2
    assert _leaks(_stored(settings)) == []


@pytest.mark.heavy
def test_viewers_see_no_webhook_secret_on_the_alerts_page(app_data: Settings,
                                                          receiver: Receiver,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The Alerts page (history, delivery attempts, CSV) as a viewer, after the receiver
    answered 500 quoting the path, and with an attempt stored by an older version holding the
    receiver's body: no trace of the path, query or body."""
    from findme.config import reset_settings
    from findme.ui import state
    from tests.pages_helpers import make_user, open_page, texts

    monkeypatch.setenv("FINDME_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("FINDME_WEBHOOK_SECRET", "sign-key")
    monkeypatch.setenv("FINDME_ALERT_WORKER", "0")
    reset_settings()
    from findme.config import get_settings

    settings = get_settings()
    records = state.workspace(settings).records
    (alert_id,) = alerts.queue_test(records, settings, "webhook", "boss")
    outbox.run_once(records, settings, only=[alert_id])
    assert receiver.hits == 1
    alert_store.record_failure(  # a row as an older version stored it: the receiver's body
        records, alert_id, "webhook answered 500", 500,
        f"<p>no route for POST {SECRET_PATH}?{SECRET_QUERY}</p>", None)
    make_user(settings, "vic", "viewer")
    at = open_page("alerts", "vic")
    at.selectbox(key="pick").select(alert_id)
    at.run()
    assert not at.exception, at.exception
    shown = texts(at) + "".join(d.value.to_csv() for d in at.dataframe)
    shown += "".join(str(b.proto) for b in at.get("download_button"))
    assert "500" in at.dataframe[1].value.to_csv()  # the attempt is there, with its status
    assert _leaks(shown) == [], shown
