"""Every refusal as ``{"error": {"code", "message"}}``: the error type, its handlers, and the
error responses each route declares in the OpenAPI document.

No handler ever returns a traceback: an unexpected exception is logged on the server and
answered ``500 {"error": {"code": "internal", ...}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("findme.api")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported",
          422: "invalid", 429: "rate_limited", 503: "unavailable"}


class ApiError(Exception):
    """A refusal: HTTP ``status``, a short machine ``code``, a sentence ``message``, and any
    ``extra`` fields that go inside ``error`` (e.g. the suspected duplicates)."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers
        self.extra = extra


class ErrorDetail(BaseModel):
    """What went wrong: ``code`` (``unauthorized``, ``forbidden``, ``not_found``,
    ``invalid``, ``duplicate``, ``too_large``, ``rate_limited``, ``unavailable``...) and a
    sentence. Some errors add fields (``duplicates``, ``photos``)."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every refusal."""

    error: ErrorDetail


def body(status: int, message: str, code: str | None = None, **extra: Any) -> dict:
    """The JSON of a refusal."""
    return {"error": {"code": code or _CODES.get(status, "error"), "message": message,
                      **extra}}


def error_response(status: int, message: str, code: str | None = None,
                   headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A refusal as a response."""
    return JSONResponse(body(status, message, code, **extra), status_code=status,
                        headers=headers)


def responses(*statuses: int, json_route: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses (plus the ones every keyed call
    may meet: 400, 401, 403, 413, 422, 429)."""
    descriptions = {400: "the body cannot be parsed (not JSON, a broken multipart form)",
                    401: "no key, an unknown key or a revoked key",
                    403: "the key's role lacks the permission", 404: "no such record",
                    409: "the child looks already registered (duplicates listed)",
                    413: "the request or a file is larger than the budget",
                    422: "a bad value, or nothing usable (the message says which)",
                    429: "the key's rate limit was reached (Retry-After)",
                    503: "the models or the vector store are not available now"}
    wanted = sorted({400, 401, 403, 413, 422, 429, *statuses})
    if not json_route:  # another media type for 200: the errors' own (JSON) must be named
        return {s: {"description": descriptions.get(s, "refused"), "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
            for s in wanted}
    return {s: {"model": ErrorBody, "description": descriptions.get(s, "refused")}
            for s in wanted}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query",
                                                                            "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into :func:`body`."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "refused"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    from findme.faces.loading import ModelUnavailable
    from findme.search.calibration import CalibrationMissing
    from findme.search.store import StoreBusy

    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, str(exc) or "not available now; try again",
                              headers={"Retry-After": "30"})

    for cls in (ModelUnavailable, CalibrationMissing, StoreBusy):
        app.add_exception_handler(cls, _unavailable)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "the server failed to answer this request; it is logged",
                              "internal")
