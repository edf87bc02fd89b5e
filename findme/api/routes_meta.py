"""``/api/v1/health`` (no key: ``up`` or ``down``, nothing else) and ``/metrics`` (Prometheus;
a key with ``audit.view``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from findme.api.auth import Caller, need
from findme.api.errors import responses
from findme.api.schemas import Health

router = APIRouter(tags=["meta"])


@router.get("/api/v1/health", response_model=Health,
            responses={503: {"model": Health, "description": "down"}},
            summary="Up or down (no key)")
def health(request: Request) -> JSONResponse:
    """``up`` when the case database answers and the workspace is open; ``down`` (503)
    otherwise. Says nothing else, so it needs no key."""
    from findme.ui import state

    try:
        ws = state.workspace(request.app.state.settings)
        with ws.records.session() as s:
            s.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure is "down", and only that is said
        return JSONResponse({"status": "down"}, status_code=503)
    return JSONResponse({"status": "up"})


def _metrics(request: Request, caller: Caller) -> PlainTextResponse:
    text_ = request.app.state.metrics.render(caller.ws.records)
    return PlainTextResponse(text_, media_type="text/plain; version=0.0.4")


@router.get("/api/v1/metrics", response_class=PlainTextResponse,
            responses={**responses(json_route=False), 200: {"content": {"text/plain": {
                "schema": {"type": "string"}}}, "description": "Prometheus text format"}},
            summary="Prometheus metrics (audit.view)")
def metrics(request: Request,
            caller: Annotated[Caller, Depends(need("audit.view"))]) -> PlainTextResponse:
    """Searches, leads, alerts, cases, the queue's depth and latency histograms, in
    Prometheus' text format (also served at ``/metrics``)."""
    return _metrics(request, caller)


@router.get("/metrics", include_in_schema=False)
def metrics_root(request: Request,
                 caller: Annotated[Caller, Depends(need("audit.view"))]) -> PlainTextResponse:
    """``/metrics``, where Prometheus looks by default."""
    return _metrics(request, caller)
