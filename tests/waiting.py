"""Waiting on a dashboard page as a person does: look again until something shows."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

LIMIT = 1800.0  # generous: only ever reached when something is wrong (a loaded 2-core machine)


def rerun_until(at: AppTest, shown: Callable[[AppTest], bool], what: str,
                limit: float = LIMIT) -> None:
    """Rerun ``at`` (as its progress fragments do, about every second) until ``shown(at)`` is
    true or the page raised; fails after ``limit`` seconds (a guard, never a measured time)."""
    deadline = time.monotonic() + limit
    while not at.exception and not shown(at):
        assert time.monotonic() < deadline, f"{what} never showed"
        time.sleep(1.0)
        at.run()
