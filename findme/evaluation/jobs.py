"""Evaluations that run off the request path: a worker thread per job, with stored progress.

A page starts a job and returns at once; the job keeps its stage, counts, result or error, and
the page (or anything else) reads them while it runs::

    job = jobs.start_own_cases(ws, owner="data/ana")   # returns at once
    job.fraction, job.text                              # 0.5, "scoring: 1/2"
    job.finished.wait(); job.result                     # an Evaluation (or job.error)

Jobs live in this process (one table, the latest job per owner); an owner is whatever keeps
people apart, e.g. the workspace's data folder and the user name. The work holds no lock of its
own: the stored vectors are read through the store's own lock (shared with searches), the
scoring is numpy on copies.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from findme.evaluation.protocol import Evaluation, Progress, evaluate_own_cases

_lock = threading.Lock()  # the table below
_latest: dict[str, EvaluationJob] = {}
_ids = itertools.count(1)


@dataclass
class EvaluationJob:
    """One evaluation running (or run) in a worker thread.

    ``stage``, ``done``, ``total``: the last progress reported; ``result``: the
    :class:`Evaluation` once finished well; ``error``: a sentence once it failed;
    ``finished``: set when either happened.
    """

    id: int
    owner: str
    stage: str = "starting"
    done: int = 0
    total: int = 0
    result: Evaluation | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the job has not finished yet."""
        return not self.finished.is_set()

    @property
    def fraction(self) -> float:
        """Share done of the current stage, in [0, 1] (1.0 once finished)."""
        if not self.running:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def text(self) -> str:
        """The progress as a short line, e.g. ``scoring: 1/3``."""
        return f"{self.stage}: {self.done}/{self.total}" if self.total else self.stage

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total


def start(owner: str, work: Callable[[Progress], Evaluation],
          hook: Progress | None = None) -> EvaluationJob:
    """Run ``work(progress)`` in a worker thread as ``owner``'s job; returns the job at once.

    While ``owner`` has a job running, that job is returned and nothing new starts. ``hook``
    (tests, logging) is called after each progress report is stored. An exception of the kinds
    a person can act on (ValueError, FileNotFoundError, PermissionError, RuntimeError) becomes
    ``job.error``; any other is stored as its type and message too (never lost in a thread).
    """
    with _lock:
        current = _latest.get(owner)
        if current is not None and current.running:
            return current
        job = _latest[owner] = EvaluationJob(next(_ids), owner)

    def progress(stage: str, done: int, total: int) -> None:
        job._progress(stage, done, total)
        if hook:
            hook(stage, done, total)

    def run() -> None:
        try:
            job.result = work(progress)
        except (ValueError, FileNotFoundError, PermissionError, RuntimeError) as exc:
            job.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported on the page instead of vanishing
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished.set()

    job.thread = threading.Thread(target=run, daemon=True, name=f"findme-evaluation-{job.id}")
    job.thread.start()
    return job


def start_own_cases(ws: Any, owner: str, hook: Progress | None = None) -> EvaluationJob:
    """Start leave-one-photo-out over the registered cases of workspace ``ws`` (records, store,
    settings) as ``owner``'s job (see :func:`evaluate_own_cases`); returns the job at once."""
    return start(owner, lambda progress: evaluate_own_cases(ws.records, ws.store, ws.settings,
                                                            progress=progress), hook)


def latest(owner: str) -> EvaluationJob | None:
    """``owner``'s latest job (running or finished), or None."""
    with _lock:
        return _latest.get(owner)


def forget(job: EvaluationJob) -> None:
    """Drop a finished job from the table (its result has been taken)."""
    with _lock:
        if _latest.get(job.owner) is job and not job.running:
            del _latest[job.owner]


def wait_all(timeout: float = 30.0) -> None:
    """Wait (up to ``timeout`` seconds each) for running jobs to end (shutdown, tests)."""
    with _lock:
        running = [j for j in _latest.values() if j.running]
    for job in running:
        job.finished.wait(timeout)
