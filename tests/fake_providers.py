"""Fake SendGrid, Twilio and webhook receivers: real HTTP servers on 127.0.0.1 that record every
request and can be told to fail (answer 500, or hang past the client's time-out) for a while."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class FakeProvider:
    """A provider that answers like ``kind`` ('sendgrid', 'twilio', 'webhook')."""

    kind: str
    requests: list[Recorded] = field(default_factory=list)
    failures: int = 0  # answer the next N requests with ``fail_with``
    fail_with: str = "500"  # "500" or "hang"
    hang_seconds: float = 3.0
    seen_keys: set[str] = field(default_factory=set)
    duplicates: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def delivered(self) -> list[Recorded]:
        """Requests that were answered with success (and were not idempotent repeats)."""
        return [r for r in self.requests if r.headers.get("x-fake-outcome") == "ok"]

    def start(self) -> FakeProvider:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec = Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                               body)
                fake.requests.append(rec)
                if fake.failures > 0:
                    fake.failures -= 1
                    rec.headers["x-fake-outcome"] = fake.fail_with
                    if fake.fail_with == "hang":
                        time.sleep(fake.hang_seconds)
                    self._send(500, {"error": "provider down"})
                    return
                key = rec.headers.get("idempotency-key")
                if fake.kind == "webhook" and key and key in fake.seen_keys:
                    fake.duplicates += 1
                    rec.headers["x-fake-outcome"] = "repeat"
                    self._send(200, {"ok": True, "repeat": True})
                    return
                if key:
                    fake.seen_keys.add(key)
                rec.headers["x-fake-outcome"] = "ok"
                if fake.kind == "sendgrid":
                    self._send(202, None, {"X-Message-Id": uuid.uuid4().hex})
                elif fake.kind == "twilio":
                    form = rec.form()
                    self._send(201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued",
                                     "to": form.get("To"), "from": form.get("From"),
                                     "body": form.get("Body"),
                                     "account_sid": self.path.split("/")[3]})
                else:
                    self._send(200, {"ok": True})

            def _send(self, status: int, payload: object,
                      headers: dict[str, str] | None = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (time-out test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def provider_env(sendgrid: FakeProvider, twilio: FakeProvider, webhook: FakeProvider
                 ) -> dict[str, str]:
    """``FINDME_*`` settings that point every channel at the fakes."""
    return {
        "FINDME_SENDGRID_API_KEY": "SG.test-key", "FINDME_SENDGRID_HOST": sendgrid.url,
        "FINDME_ALERT_FROM": "alerts@findme.test", "FINDME_ALERT_EMAILS": "duty@ngo.test",
        "FINDME_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "FINDME_TWILIO_AUTH_TOKEN": "token",
        "FINDME_TWILIO_FROM": "+15550100", "FINDME_TWILIO_BASE_URL": twilio.url,
        "FINDME_ALERT_PHONES": "+15550111", "FINDME_WEBHOOK_URL": f"{webhook.url}/hook",
        "FINDME_WEBHOOK_SECRET": "webhook-secret-for-tests",
        "FINDME_PUBLIC_URL": "http://127.0.0.1:8501", "FINDME_ALERT_TIMEOUT": "1",
        "FINDME_ALERT_BACKOFF": "0.2",
    }
