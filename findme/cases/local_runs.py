"""Jobs a dashboard runs in threads of its own process (imports, drives when no task queue is
configured): each job's thread and its stop event, so a page can tell whether a job is still
this process's and shutdown can stop them all at a safe point.

In: a job id, the function that runs it (called as ``work(stop)`` in a daemon thread), a thread
name. Out: the ids running (:meth:`LocalRuns.running`), :meth:`LocalRuns.stop_all`, and
:meth:`LocalRuns.orphaned`: whether a ``running`` job row written by a dashboard thread lost
its process (killed, crashed), so it can be marked failed instead of showing as running forever.
"""

from __future__ import annotations

import os
import socket
import threading
import traceback
from collections.abc import Callable

#: the worker name of a job run in a dashboard thread starts with it (``dashboard host:pid``)
LOCAL = "dashboard"


def local_worker() -> str:
    """The worker name of a job run in a thread of this process: ``dashboard host:pid``."""
    return f"{LOCAL} {socket.gethostname()}:{os.getpid()}"

#: the statuses of a job (import, drive, scan) that is not over yet
UNDER_WAY = ("queued", "running")


def progress_fraction(status: str, done: int, total: int) -> float:
    """A job's share done: ``done / total`` while it runs (0.0 before a total is known), 1.0
    once ``done`` or ``failed``."""
    if status in ("done", "failed"):
        return 1.0
    return min(1.0, done / total) if total else 0.0


class LocalRuns:
    """One family of jobs (one per module) running in threads of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def start(self, job_id: int, work: Callable[[threading.Event], None], name: str,
              before_start: Callable[[], None] | None = None) -> None:
        """Run ``work(stop)`` for ``job_id`` in a daemon thread named ``name``. The job is
        known here before ``before_start()`` (e.g. claiming the job row for this process)
        runs and before the thread starts; it is forgotten when ``work`` returns. An
        exception from ``work`` is printed (its job row could not be written)."""
        stop = threading.Event()

        def body() -> None:
            try:
                work(stop)
            except Exception:  # noqa: BLE001 - the row could not be written (database gone)
                traceback.print_exc()
            finally:
                with self._lock:
                    self._runs.pop(job_id, None)

        thread = threading.Thread(target=body, daemon=True, name=name)
        with self._lock:
            self._runs[job_id] = (thread, stop)
        if before_start is not None:
            before_start()
        thread.start()

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._runs

    def stopping(self, job_id: int) -> bool:
        """Whether job ``job_id`` (still running here) was asked to stop."""
        with self._lock:
            run = self._runs.get(job_id)
        return run is not None and run[1].is_set()

    def running(self) -> list[int]:
        """Ids of the jobs running in threads of this process."""
        with self._lock:
            return sorted(self._runs)

    def orphaned(self, worker: str | None, job_id: int) -> bool:
        """Whether job ``job_id``, ``running`` on ``worker``, lost the dashboard process that
        ran it: this process without its thread here, or a process of this host that is gone.
        A queue worker's job (taken over by the next worker) and another host's (whose
        processes cannot be seen from here) are never orphans."""
        if not worker or not worker.startswith(f"{LOCAL} "):
            return False
        host, _, pid = worker.removeprefix(f"{LOCAL} ").rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False
        if int(pid) == os.getpid():
            return job_id not in self
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):  # alive, another user's / not a pid
            return False
        return False

    def stop_all(self, timeout: float = 600.0) -> None:
        """Ask every job to stop at its next safe point and wait up to ``timeout`` seconds
        each for its thread (shutdown: a process must not end inside a model call)."""
        with self._lock:
            runs = list(self._runs.values())
        for _, stop in runs:
            stop.set()
        for thread, _ in runs:
            if thread.is_alive():
                thread.join(timeout)


__all__ = ["LOCAL", "UNDER_WAY", "LocalRuns", "local_worker", "progress_fraction"]
