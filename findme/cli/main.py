"""The ``findme`` command: provision, models, embed, enroll, search, evaluate, users, demo...

One module per command group (``models``, ``cases``, ``found``, ``evaluate``, ``people``,
``alerts``, ``video``), each with a ``register(sub)``. Every sub-command prints JSON with
``--json`` and exits non-zero with one clear line on stderr when its input is bad or a needed
model is missing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from findme.cli import (
    alerts,
    api,
    cases,
    cert,
    evaluate,
    found,
    models,
    people,
    serve,
    transfer,
    video,
)
from findme.cli.common import fail as _fail
from findme.config import ConfigError, get_settings


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    ap = argparse.ArgumentParser(prog="findme", description="Find Me AI command line")
    sub = ap.add_subparsers(dest="command", required=True)
    for group in (models, cases, found, transfer, evaluate, people, alerts, video, serve, cert,
                  api):
        group.register(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``findme`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        get_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
