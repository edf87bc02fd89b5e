"""When a page refreshes itself: only while work it shows is under way.

A Streamlit fragment with ``run_every`` asks the server for a rerun on a timer. Streamlit
(1.67) folds such a timed request into a page change still pending and keeps the *timer's*
page: a sidebar link clicked while the timer fires opens the page the person was leaving
(seen on the Live camera page: the click on *CCTV footage* was lost about once in ten). So a
page keeps no timer while idle, and a fragment that follows work asks for the whole page once
when the work ends (its next run then has no timer). It also spares the server one rerun per
second per open tab that nobody is watching change.

Pure functions of plain values: tested without Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from findme.cases.local_runs import UNDER_WAY


def every(seconds: float, active: bool) -> float | None:
    """A fragment's ``run_every``: ``seconds`` while ``active`` (something it shows is under
    way), else None (no timer)."""
    return seconds if active else None


def under_way(jobs: Iterable[Any]) -> list[Any]:
    """The ids of the jobs (anything with ``id`` and ``status``) that are not over yet."""
    return [j.id for j in jobs if j.status in UNDER_WAY]


def ended(state: MutableMapping[str, Any], key: str, active_ids: Iterable[Any]) -> bool:
    """Whether something that was under way when the fragment last looked (the ids it
    remembers under ``key`` in ``state``, a page's own state dict) is no longer: the caller
    then reruns the whole page, so the page shows the result and drops its timer."""
    now = set(active_ids)
    before = state.get(key, set())
    state[key] = now
    return bool(before - now)
