"""``findme users ...`` and ``findme demo``: accounts and the demo workspace from the command line.

Passwords are read from a prompt (twice) or, for scripts, one line on standard input with
``--password-stdin``; never from an argument (it would sit in the shell history).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from findme.cli.common import fail as _fail


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Repeat it: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _records():  # -> Records
    from findme.cases.records import open_records
    from findme.config import get_settings

    return open_records(get_settings())


def cmd_users(args: argparse.Namespace) -> int:
    """Add, list, disable, enable, change the role of, or reset the password of an account."""
    from findme.cases import users
    from findme.cases.records import RecordError

    records = _records()
    try:
        if args.action == "list":
            rows = [{"username": u.username, "role": u.role, "active": u.active,
                     "email": u.email, "phone": u.phone} for u in users.list_users(records)]
            if args.json:
                print(json.dumps(rows))
            else:
                for r in rows:
                    print(f"{r['username']:20} {r['role']:13} "
                          f"{'active' if r['active'] else 'disabled'}")
            return 0
        if not args.name:
            return _fail(f"users {args.action} needs a user name")
        if args.action == "add":
            if not args.role:
                return _fail("users add needs --role (admin, investigator, reviewer, viewer)")
            u = users.add_user(records, args.name, _password(args), args.role, args.actor,
                               args.email, args.phone)
            print(f"user {u.username} added as {u.role}")
        elif args.action == "role":
            if not args.role:
                return _fail("users role needs --role")
            users.set_role(records, args.name, args.role, args.actor)
            print(f"user {args.name} is now {args.role}")
        elif args.action in ("disable", "enable"):
            users.set_active(records, args.name, args.action == "enable", args.actor)
            print(f"user {args.name} {args.action}d")
        elif args.action == "password":
            users.reset_password(records, args.name, _password(args), args.actor)
            print(f"password of {args.name} reset")
    except (RecordError, ValueError) as exc:
        return _fail(str(exc))
    finally:
        records.engine.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo workspace (sample cases from public photos) into ``$FINDME_DATA_DIR/demo``."""
    import shutil

    from findme import demo
    from findme.config import get_settings
    from findme.evaluation.datasets import DataUnavailable
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    live = get_settings()
    settings = demo.demo_settings(live)
    if args.reset:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    try:
        with open_workspace(settings) as ws:
            report = demo.load(ws, live, lambda what, k, n: print(f"[{k}/{n}] {what}",
                                                                  file=sys.stderr),
                               actor=args.actor)
    except StoreBusy as exc:
        return _fail(f"{exc} (is the dashboard running? use its 'Load the demo' button)", 1)
    except DataUnavailable as exc:
        return _fail(str(exc), 1)
    out = {"folder": str(settings.data_dir), "cases": report.cases, "photos": report.photos,
           "rejected": report.rejected, "leads": report.leads, "sightings": report.sightings,
           "alerts": report.alerts, "already_loaded": report.already_loaded}
    print(json.dumps(out) if args.json else
          (f"demo workspace already loaded in {settings.data_dir}" if report.already_loaded
           else f"demo workspace: {report.cases} cases, {report.photos} photos, "
                f"{report.leads} leads, {report.sightings} CCTV sighting(s), {report.alerts} "
                f"dashboard alerts in {settings.data_dir}"))
    return 0


def cmd_setup_code(args: argparse.Namespace) -> int:
    """Print the first-admin setup code while no account exists (``make run`` does this before
    the dashboard starts); print nothing once an account exists."""
    from findme.cases import users
    from findme.config import get_settings

    records = _records()
    if users.count_users(records) == 0:
        path = users.setup_code(get_settings())
        print(f"Find Me AI: no account exists yet. Open the dashboard and create the first admin "
              f"with the setup code {path.read_text().strip()} (also in {path}).", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``users`` and ``demo`` sub-commands to the ``findme`` parser."""
    p = sub.add_parser("users", help="dashboard accounts: add, list, role, disable, password")
    p.add_argument("action", choices=["add", "list", "role", "disable", "enable", "password"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=["admin", "investigator", "reviewer", "viewer",
                                         "shelter"])
    p.add_argument("--email", help="address for e-mail alerts")
    p.add_argument("--phone", help="number for SMS alerts")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from one line of standard input")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("setup-code", help="print the first-admin setup code while no account "
                       "exists (make run does)")
    p.set_defaults(func=cmd_setup_code)

    p = sub.add_parser("demo", help="load the demo workspace (sample cases, apart from real ones)")
    p.add_argument("--reset", action="store_true", help="delete the demo workspace first")
    p.add_argument("--actor", default="cli")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo)
