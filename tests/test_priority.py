"""People first: background work in the dashboard's process steps aside while a person's search
runs, and is slowed, never stopped, by a stream of searches."""

from __future__ import annotations

import threading

from findme import priority


def test_background_work_waits_for_a_search_then_goes_on() -> None:
    stepped = threading.Event()
    waited: list[bool] = []

    def background() -> None:
        waited.append(priority.step_aside(max_wait=600))
        stepped.set()

    assert priority.step_aside() is False  # nobody searching: no wait at all
    with priority.person_waiting():
        assert priority.searching() == 1
        worker = threading.Thread(target=background)
        worker.start()
        assert not stepped.wait(0.5)  # still aside while the search runs
    assert stepped.wait(60) and waited == [True]  # the search ended: the work goes on
    worker.join()
    assert priority.searching() == 0


def test_a_stream_of_searches_never_stops_background_work() -> None:
    with priority.person_waiting(), priority.person_waiting():
        assert priority.searching() == 2
        assert priority.step_aside(max_wait=0.05) is True  # waited its bound, then went on
    assert priority.searching() == 0
