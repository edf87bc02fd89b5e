"""``findme api`` (the REST API on uvicorn) and ``findme apikeys`` (keys for it).

``findme apikeys add NAME --role ROLE`` prints the key once (``--json``: ``{"name", "role",
"key"}``); only its hash is stored. ``list`` shows names, roles and each key's first
characters; ``revoke NAME`` refuses a key from then on.
"""

from __future__ import annotations

import argparse
import json
import sys

from findme.cli.common import fail as _fail
from findme.config import get_settings


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the API on ``--host``/``--port`` (loopback by default; ``--https`` with the
    dashboard's certificate, ``make cert``) until stopped."""
    import uvicorn

    from findme.api.app import create_app

    settings = get_settings()
    tls: dict[str, str] = {}
    if args.https:
        cert, key = settings.data_dir / "tls" / "cert.pem", settings.data_dir / "tls" / "key.pem"
        if not (cert.is_file() and key.is_file()):
            return _fail(f"no certificate in {cert.parent}: run `make cert` first")
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    from findme.search.store import StoreBusy, StoreRefused
    from findme.ui import state

    try:  # opened here, so a store another process holds is one sentence, not a traceback
        state.workspace(settings)
    except (StoreBusy, StoreRefused) as exc:
        return _fail(f"{exc} (beside a running dashboard, run the API under `make serve`, or "
                     "point both at a Chroma server with FINDME_CHROMA_URL)")
    scheme = "https" if tls else "http"
    print(f"Find Me AI API on {scheme}://{args.host}:{args.port}/api/v1 (OpenAPI: "
          f"/api/v1/openapi.json, docs: /api/v1/docs)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.log_level in ("info", "debug"), server_header=False, **tls)
    return 0


def cmd_apikeys(args: argparse.Namespace) -> int:
    """Add, list or revoke API keys."""
    from findme.cases import apikeys
    from findme.cases.records import RecordError, open_records

    records = open_records(get_settings())
    try:
        if args.action == "list":
            rows = [k.as_dict() for k in apikeys.list_keys(records)]
            if args.json:
                print(json.dumps(rows))
            else:
                for r in rows:
                    print(f"{r['name']:24} {r['role']:13} {r['prefix']}...  "
                          f"{r['rate_per_minute']}/min  "
                          f"{'active' if r['active'] else 'revoked ' + r['revoked_at']}")
            return 0
        if not args.name:
            return _fail(f"apikeys {args.action} needs a key name")
        if args.action == "add":
            if not args.role:
                return _fail("apikeys add needs --role (admin, investigator, reviewer, viewer, "
                             "shelter)")
            made, key = apikeys.add_key(records, args.name, args.role, args.actor, args.rate)
            if args.json:
                print(json.dumps({"name": made.name, "role": made.role, "key": key}))
            else:
                print(key)
                print(f"API key {made.name} ({made.role}): shown once, keep it now",
                      file=sys.stderr)
        elif args.action == "revoke":
            apikeys.revoke_key(records, args.name, args.actor)
            print(f"API key {args.name} revoked")
    except RecordError as exc:
        return _fail(str(exc))
    finally:
        records.engine.dispose()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``api`` and ``apikeys`` to the ``findme`` parser."""
    from findme.cases.apikeys import DEFAULT_RATE
    from findme.cases.users import ROLES

    p = sub.add_parser("api", help="serve the REST API (FastAPI on uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address (0.0.0.0: the LAN)")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--https", action="store_true",
                   help="serve HTTPS with data/tls/cert.pem and key.pem (make cert)")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("apikeys", help="API keys: add (printed once), list, revoke")
    p.add_argument("action", choices=["add", "list", "revoke"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=list(ROLES))
    p.add_argument("--rate", type=int, default=DEFAULT_RATE,
                   help=f"requests per minute (default {DEFAULT_RATE})")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_apikeys)
