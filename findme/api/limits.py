"""Budgets of the API: request size (an ASGI middleware) and each key's rate (a token bucket).

The request budget is the dashboard's: ``FINDME_MAX_REQUEST_BYTES`` for a whole request (a body
announced larger is refused before it is read, one that grows past it while streaming is cut
off), ``FINDME_MAX_FILE_BYTES`` per photo (checked where photos are read, as on the pages).
"""

from __future__ import annotations

import json
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findme.api.errors import body


class _TooLarge(Exception):
    """The body grew past the budget while it was read."""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with ``413 {"error": ...}``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send: Send) -> None:
        data = json.dumps(body(413, f"the request is larger than "
                                    f"{self.limit / 2**20:.0f} MB (FINDME_MAX_REQUEST_BYTES)"
                               )).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = 0
                if announced > self.limit:
                    await self._refuse(send)
                    return
        state = {"read": 0, "over": False, "started": False}

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > self.limit:
                    state["over"] = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            if state["over"]:  # whatever the app answers, the answer is 413
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not state["started"]:
                state["started"] = True
                await self._refuse(send)


class RateLimiter:
    """One token bucket per key: ``rate`` requests per minute, bursts up to a minute's worth.
    Thread-safe; state lives in this process (one ``findme api`` process per deployment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, rate: int) -> float:
        """Take one request's token for ``key``; returns 0 when allowed, else the seconds
        until a token is there again."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(rate), now))
            tokens = min(float(rate), tokens + (now - at) * rate / 60.0)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) * 60.0 / rate
