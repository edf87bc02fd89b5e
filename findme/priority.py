"""People first: background work steps aside while a person's search runs.

A search a person waits for (:meth:`findme.workspace.Workspace.search`) runs inside
:func:`person_waiting`; background work in the same process (evaluations, imports and scans in
their worker threads) calls :func:`step_aside` between its steps. On a small machine the two
would otherwise share the cores and the person's search would take twice as long; this way the
search competes with one step at most. A step waits at most ``max_wait`` seconds, so a stream of
searches slows background work but never stops it. Workers in other processes (the task queue)
are not slowed: they run on other machines or under the operating system's own scheduling.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_changed = threading.Condition()
_searching = 0


@contextmanager
def person_waiting() -> Iterator[None]:
    """Mark a person's search as running for the ``with`` block."""
    global _searching
    with _changed:
        _searching += 1
    try:
        yield
    finally:
        with _changed:
            _searching -= 1
            if _searching == 0:
                _changed.notify_all()


def searching() -> int:
    """How many people's searches run in this process now."""
    return _searching


def step_aside(max_wait: float = 5.0) -> bool:
    """Between two steps of background work: return at once when no person's search runs,
    else wait until none does, at most ``max_wait`` seconds. Returns whether it waited."""
    with _changed:
        if _searching == 0:
            return False
        _changed.wait_for(lambda: _searching == 0, timeout=max_wait)
        return True
