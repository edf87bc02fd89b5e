"""What every ``findme`` sub-command module shares."""

from __future__ import annotations

import sys


def fail(message: str, code: int = 2) -> int:
    """Print one ``findme: ...`` line on stderr and return the exit code (2: bad input)."""
    print(f"findme: {message}", file=sys.stderr)
    return code
