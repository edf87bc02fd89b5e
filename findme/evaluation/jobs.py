"""Evaluations that run off the request path: a worker thread per job, with stored progress.

A page starts a job and returns at once; the job keeps its stage, counts, result or error, and
the page (or anything else) reads them while it runs::

    job = jobs.start_own_cases(ws, owner="data/ana")   # returns at once
    job.fraction, job.text                              # 0.5, "scoring: 1/2"
    job.finished.wait(); job.result                     # an Evaluation (or job.error)

Both kinds run here: an evaluation of own cases (:func:`start_own_cases`) and one of a folder
of labeled photos, a public set or a server folder (:func:`start_folder`). Jobs live in this
process (one table, the latest job per owner); an owner is whatever keeps people apart, e.g.
the workspace's data folder and the user name (:func:`owner_of`), so one person has one
evaluation at a time. The work holds no lock of its own: the stored vectors are read through
the store's own lock (shared with searches), photos are embedded through the models'
per-predict locks, the scoring is numpy on copies; between two steps (photos, scorers) a job
steps aside while a person's search runs in this process (:mod:`findme.priority`).
:func:`stop_all` (the dashboard's shutdown) asks running jobs to stop at their next progress
report and waits for them, so no process ends inside a model call.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from findme.config import Settings
from findme.evaluation.protocol import Evaluation, Progress, evaluate, evaluate_own_cases
from findme.priority import step_aside

_lock = threading.Lock()  # the table below and the watchers
_latest: dict[str, EvaluationJob] = {}
_watchers: list[Progress] = []
_ids = itertools.count(1)
STOPPED = "stopped: the dashboard shut down before the evaluation ended; run it again"


class Stopped(Exception):
    """Raised inside a job's work at a progress report once the job was asked to stop."""


@dataclass
class EvaluationJob:
    """One evaluation running (or run) in a worker thread.

    ``title``: what is evaluated (``own cases``, a folder's name); ``stage``, ``done``,
    ``total``: the last progress reported; ``result``: the :class:`Evaluation` once finished
    well; ``error``: a sentence once it failed (or was stopped); ``finished``: set when either
    happened; ``stop``: set to ask the work to end at its next progress report.
    """

    id: int
    owner: str
    title: str = ""
    stage: str = "starting"
    done: int = 0
    total: int = 0
    result: Evaluation | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
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


def owner_of(data_dir: Path | str, username: str) -> str:
    """The owner key of ``username``'s evaluations in the workspace of ``data_dir``."""
    return f"{data_dir}:{username}"


@contextlib.contextmanager
def watch(hook: Progress) -> Iterator[None]:
    """Call ``hook(stage, done, total)`` after every progress report of every job while the
    block runs (tests hold a job mid-way with it; logging). It runs in the job's thread."""
    with _lock:
        _watchers.append(hook)
    try:
        yield
    finally:
        with _lock:
            _watchers.remove(hook)


def start(owner: str, work: Callable[[Progress], Evaluation],
          hook: Progress | None = None, title: str = "") -> EvaluationJob:
    """Run ``work(progress)`` in a worker thread as ``owner``'s job; returns the job at once.

    While ``owner`` has a job running, that job is returned and nothing new starts. ``hook``
    (tests, logging) is called after each progress report is stored, then any :func:`watch`
    hooks; a job asked to stop raises :class:`Stopped` there. An exception of the kinds a
    person can act on (ValueError, FileNotFoundError, PermissionError, RuntimeError) becomes
    ``job.error``; any other is stored as its type and message too (never lost in a thread).
    """
    with _lock:
        current = _latest.get(owner)
        if current is not None and current.running:
            return current
        job = _latest[owner] = EvaluationJob(next(_ids), owner, title)

    def progress(stage: str, done: int, total: int) -> None:
        job._progress(stage, done, total)
        step_aside()  # a person's search in this process goes first
        with _lock:
            hooks = ([hook] if hook else []) + list(_watchers)
        for h in hooks:
            h(stage, done, total)
        if job.stop.is_set():
            raise Stopped(STOPPED)

    def run() -> None:
        try:
            job.result = work(progress)
        except Stopped:
            job.error = STOPPED
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
                                                            progress=progress), hook,
                 "own cases")


def start_folder(owner: str, settings: Settings, dataset: Path, models: Sequence[str],
                 enroll: int = 3, distractors: Path | None = None,
                 conditions: Sequence[str] = ("original",), gallery_sizes: Sequence[int] = (),
                 hook: Progress | None = None) -> EvaluationJob:
    """Start the protocol on a folder of labeled photos (see
    :func:`~findme.evaluation.protocol.evaluate`; ``dataset`` and ``distractors`` already
    checked with :func:`~findme.evaluation.protocol.check_folder`) with ``settings``' models
    and calibration, as ``owner``'s job; returns the job at once. Its progress is reported per
    photo embedded and per condition scored; a folder it cannot use ends it with
    ``job.error``."""
    models, conditions, sizes = list(models), list(conditions), list(gallery_sizes)
    return start(owner, lambda progress: evaluate(
        Path(dataset), models, int(enroll), distractors, conditions, settings=settings,
        progress=progress, gallery_sizes=sizes), hook, Path(dataset).name)


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
    """Wait (up to ``timeout`` seconds each) for running jobs to end (tests)."""
    with _lock:
        running = [j for j in _latest.values() if j.running]
    for job in running:
        job.finished.wait(timeout)


def stop_all(timeout: float = 600.0) -> None:
    """Ask every running job to stop at its next progress report (it ends with
    ``job.error`` = :data:`STOPPED`) and wait up to ``timeout`` seconds each for its thread to
    end (shutdown: a process must not end inside a model call)."""
    with _lock:
        running = [j for j in _latest.values() if j.running]
    for job in running:
        job.stop.set()
    for job in running:
        if job.thread is not None:
            job.thread.join(timeout)
