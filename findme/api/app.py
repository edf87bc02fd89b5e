"""The FastAPI application: routers, error handlers, body limit, metrics, OpenAPI.

``create_app(settings)`` builds it; ``findme api`` serves it with uvicorn. The OpenAPI document
is at ``/api/v1/openapi.json`` and its docs page at ``/api/v1/docs`` (no key needed for either).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from findme.api import errors, routes_cases, routes_jobs, routes_leads, routes_meta, routes_search
from findme.api.audit import CallLog
from findme.api.auth import KeyCache
from findme.api.limits import BodyLimit, RateLimiter
from findme.api.metrics import Metrics
from findme.config import Settings

VERSION = "1"


class Measured:
    """Count every answered request per route template, method and status, with its time."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["arrived"] = started  # routes time their own parts from it
        status = [500]

        async def seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                # the server's whole time for the request up to its answer (``app``), beside
                # a route's own parts (``search``): a client tells the server from the network
                took = f"app;dur={(time.perf_counter() - started) * 1000:.2f}".encode()
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", took)]}
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            self.metrics.request(scope["method"], route, status[0],
                                 time.perf_counter() - started)


def _local_docs(app: FastAPI) -> None:
    """The docs page at ``/api/v1/docs`` with Swagger UI 5 (it reads FastAPI's OpenAPI 3.1)
    served from this server (the files the ``fastapi-offline`` package ships), not a CDN: it
    works on a network without internet."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    static = files("fastapi_offline") / "static"
    app.mount("/api/v1/static/swagger", StaticFiles(directory=str(static)), name="swagger")

    @app.get("/api/v1/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The interactive API documentation (no key needed, like the OpenAPI document)."""
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json", title="Find Me AI API",
            swagger_js_url="/api/v1/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/api/v1/static/swagger/swagger-ui.css",
            swagger_favicon_url="/api/v1/static/swagger/favicon.png")


def create_app(settings: Settings) -> FastAPI:
    """The API over the workspace of ``settings`` (opened at start, as the dashboard's)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from findme.ui import state

        ws = await run_in_threadpool(state.workspace, settings)
        app.state.calls = CallLog(ws.records)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.calls.close)
            await run_in_threadpool(state.close_all)

    app = FastAPI(
        title="Find Me AI API", version=VERSION, lifespan=lifespan,
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
        description="Register missing and found children, search photos, review leads, "
                    "import case lists and scan CCTV recordings: the dashboard's rules, for "
                    "other systems. Send `Authorization: Bearer KEY` (a key made with "
                    "`findme apikeys add NAME --role ROLE`); a key is limited exactly as a "
                    "person with its role. Every refusal is `{\"error\": {\"code\", "
                    "\"message\"}}`.")
    app.state.settings = settings
    # an uploaded photo stays in memory, as on the dashboard (Starlette writes parts over 1 MB
    # to a temporary file); only larger files (recordings) are spooled to disk
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size,
                                         settings.max_file_bytes)
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter()
    app.state.keys = KeyCache()
    errors.install(app)
    _local_docs(app)
    for module in (routes_cases, routes_search, routes_leads, routes_jobs, routes_meta):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(Measured, metrics=app.state.metrics)
    return app
