"""A page refreshes itself only while work it shows is under way (findme.ui.refresh).

An idle page with a one-second fragment timer lost sidebar clicks: Streamlit folds the timer's
rerun into the pending page change and keeps the timer's page. These pin the rule the pages
follow (no timer while idle; one whole-page rerun when the work ends) and that every page's
timed fragment goes through it.
"""

from __future__ import annotations

import re
from pathlib import Path

from findme.ui import refresh

PAGES = Path(__file__).resolve().parent.parent / "pages"


def test_a_timer_only_while_work_runs() -> None:
    assert refresh.every(1.0, True) == 1.0
    assert refresh.every(2.0, False) is None


def test_the_end_of_work_is_seen_once() -> None:
    state: dict = {}
    assert not refresh.ended(state, "jobs", [])  # nothing ran, nothing ended
    assert not refresh.ended(state, "jobs", [3])  # starts
    assert not refresh.ended(state, "jobs", [3, 4])  # another starts
    assert refresh.ended(state, "jobs", [4])  # 3 ended: the page reruns once
    assert not refresh.ended(state, "jobs", [4])  # ...and not again
    assert refresh.ended(state, "jobs", [])
    assert not refresh.ended(state, "other", [])  # each key is its own


def test_no_page_keeps_a_fixed_timer() -> None:
    timed = {}
    for page in sorted(PAGES.glob("*.py")):
        for k, m in enumerate(re.finditer(r"st\.fragment\(\s*run_every=([\w.]+)",
                                          page.read_text())):
            timed[f"{page.name} #{k}: {m.group(1)}"] = m.group(1) == "refresh.every"
    assert len(timed) >= 6, timed  # live camera, CCTV, imports, drives, two evaluations
    assert all(timed.values()), [k for k, ok in timed.items() if not ok]


def test_jobs_under_way_are_the_queued_and_running_ones() -> None:
    from types import SimpleNamespace as Job

    jobs = [Job(id=1, status="done"), Job(id=2, status="queued"), Job(id=3, status="running"),
            Job(id=4, status="failed")]
    assert refresh.under_way(jobs) == [2, 3]
