"""Who is calling: the API key (``Authorization: Bearer KEY``), its role, its rate, the audit.

:func:`keyed` is the dependency of every route that needs a key: no key, an unknown one or a
revoked one is ``401``; past the key's rate ``429`` (with ``Retry-After``); otherwise the call is
audited (``api.call``, the method and path, under ``api:<key name>``; written in batches by
:class:`findme.api.audit.CallLog`) and a :class:`Caller` handed to the route. :func:`need`
adds a permission of :data:`findme.cases.users.PERMISSIONS`, held exactly as by a person of the
key's role (``403`` otherwise, audited ``api.refused``). Keys are looked up at most once a
second each (:class:`KeyCache`), so a revocation holds within a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from findme.api.audit import CallLog
from findme.api.errors import ApiError
from findme.cases import apikeys
from findme.cases.apikeys import ApiKeyRecord
from findme.cases.users import allowed
from findme.workspace import Workspace

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="an API key made with `findme apikeys add NAME --role ROLE`")


async def workspace(request: Request) -> Workspace:
    """The process's open workspace (:func:`findme.ui.state.workspace`, as the dashboard's;
    opened when the app starts, so this only looks it up)."""
    from findme.ui import state

    return state.workspace(request.app.state.settings)


@dataclass(frozen=True)
class Caller:
    """The key of a call and the workspace it acts on."""

    key: ApiKeyRecord
    ws: Workspace
    target: str  # "METHOD /path", as audited
    log: CallLog

    @property
    def actor(self) -> str:
        """The audit log's name of this caller: ``api:<key name>``."""
        return self.key.actor

    @property
    def role(self) -> str:
        """The key's role."""
        return self.key.role

    def can(self, permission: str) -> bool:
        """Whether the key's role holds ``permission``."""
        return self.key.active and allowed(self.key.role, permission)

    def require(self, permission: str) -> None:
        """Raise ``403`` (audited ``api.refused``) unless the key's role holds
        ``permission``."""
        if not self.can(permission):
            self.log.add(self.actor, "api.refused", self.target,
                         f"needs {permission} (role {self.role})")
            raise ApiError(403, f"the key's role ({self.role}) lacks the {permission} "
                                "permission")


class KeyCache:
    """Keys as looked up in the database, kept :data:`KEY_SECONDS` (a revocation holds within
    that time): most calls then check their key without a query and without leaving the event
    loop. Unknown keys are remembered too, so guessing does not become a query per request."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, ApiKeyRecord | None]] = {}

    def get(self, ws: Workspace, key: str) -> ApiKeyRecord | None:
        """The key's record (None for an unknown key)."""
        now = time.monotonic()
        hit = self._seen.get(key)
        if hit is not None and now - hit[0] < KEY_SECONDS:
            return hit[1]
        record = apikeys.lookup(ws.records, key)
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[key] = (now, record)
        return record


KEY_SECONDS = 1.0


async def keyed(request: Request,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                ws: Annotated[Workspace, Depends(workspace)]) -> Caller:
    """Authenticate, rate-limit and audit a call; see the module docstring."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "send an API key as 'Authorization: Bearer KEY'", headers=challenge)
    key = request.app.state.keys.get(ws, credentials.credentials.strip())
    target = f"{request.method} {request.url.path}"
    log: CallLog = request.app.state.calls
    if key is None:
        raise ApiError(401, "this API key is not known", headers=challenge)
    if not key.active:
        log.add(key.actor, "api.refused", target, "revoked key")
        raise ApiError(401, "this API key was revoked", headers=challenge)
    wait = request.app.state.limiter.take(key.name, key.rate_per_minute)
    if wait:
        log.add(key.actor, "api.refused", target, "rate limit")
        raise ApiError(429, f"this key may make {key.rate_per_minute} requests per minute; "
                            f"try again in {wait:.0f} s",
                       headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    log.add(key.actor, "api.call", target)
    return Caller(key, ws, target, log)


def need(permission: str) -> Callable[[Caller], Caller]:
    """A dependency: :func:`keyed`, then ``403`` unless the key's role holds ``permission``."""

    async def check(caller: Annotated[Caller, Depends(keyed)]) -> Caller:
        caller.require(permission)  # no I/O: a refusal is queued for the audit
        return caller

    check.__name__ = f"need_{permission.replace('.', '_')}"
    return check
