"""Background work on a distributed task queue: Dramatiq over Redis (``FINDME_BROKER_URL``).

Two kinds of job: CCTV scans (:mod:`findme.video.scans`) and case imports
(:mod:`findme.cases.import_jobs`). Without a broker nothing here is used: scans run in threads of
the dashboard and imports in the page's or the CLI's process, as they always did. With one, the
CCTV page, ``findme scan --queue`` and ``findme watch`` (with a broker), the Register page's
import and ``findme import --queue`` write the job row (``queued``) and send a message;
``findme worker`` processes on any machine that reaches the broker, the database
(``FINDME_DATABASE_URL``), a Chroma server (``FINDME_CHROMA_URL``) and the data folder (uploads)
take them one at a time. Progress, stop and results stay in the job rows, as before.

Why Dramatiq rather than Celery: its Redis broker acknowledges a message only after the job is
done and gives a dead worker's messages to another worker once that worker's heartbeat stops
(``FINDME_QUEUE_HEARTBEAT`` seconds), instead of a visibility timeout that would hand a long
scan to a second worker while the first is still on it; and Celery 5.7 pins a ``python-dateutil``
that conflicts with ChromaDB's dependencies. A job taken over restarts from the beginning: a
sighting already turned into a lead by the dead worker is found again, not duplicated
(:func:`findme.cases.leads.lead_from_sighting`), and an import is idempotent by case number and
photo bytes (:func:`findme.cases.import_jobs.merge_rows` keeps the dead worker's row results).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from findme.cases.records import Records
from findme.config import Settings
from findme.video import scans
from findme.workspace import Workspace, open_workspace

QUEUE = "findme-scans"
IMPORT_QUEUE = "findme-imports"


@functools.cache
def _broker(url: str, heartbeat_seconds: float) -> Any:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url, heartbeat_timeout=int(heartbeat_seconds * 1000),
                         maintenance_chance=50_000,  # 5% of fetches check for dead workers
                         namespace="findme")
    dramatiq.set_broker(broker)
    return broker


def _declare(fn: Any, url: str, heartbeat_seconds: float, name: str, queue: str,
             hours: int) -> Any:
    """An actor for ``fn`` on the broker: retried 3 times, stopped after ``hours``."""
    import dramatiq

    return dramatiq.Actor(fn, broker=_broker(url, heartbeat_seconds), actor_name=name,
                          queue_name=queue, priority=0,
                          options={"max_retries": 3, "time_limit": hours * 3600 * 1000})


@functools.cache
def _scan_actor(url: str, heartbeat_seconds: float) -> Any:
    return _declare(_scan, url, heartbeat_seconds, "scan_video", QUEUE, 7 * 24)


@functools.cache
def _import_actor(url: str, heartbeat_seconds: float) -> Any:
    return _declare(_import, url, heartbeat_seconds, "import_cases", IMPORT_QUEUE, 24)


def _require_broker(settings: Settings) -> None:
    if not settings.broker_url:
        raise ValueError("no task queue: set FINDME_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")


def import_actor(settings: Settings) -> Any:
    """The import actor bound to the configured broker (ValueError without one)."""
    _require_broker(settings)
    return _import_actor(settings.broker_url, settings.queue_heartbeat_seconds)


def submit_import(records: Records, sheet_name: str, sheet: bytes,
                  photos: bytes | Path | None, dry_run: bool, actor_name: str | None) -> int:
    """Keep the files (:func:`findme.cases.import_jobs.keep_files`), record a ``queued``
    import job and send it to the queue; returns the job id."""
    from findme.cases import import_jobs

    send = import_actor(records.settings).send  # fails before anything is kept
    folder = import_jobs.keep_files(records.settings, sheet_name, sheet, photos)
    job_id = import_jobs.create(records, sheet_name, str(folder), dry_run, actor_name)
    send(job_id)
    return job_id


def actor(settings: Settings) -> Any:
    """The scan actor bound to the configured broker (ValueError without one)."""
    _require_broker(settings)
    return _scan_actor(settings.broker_url, settings.queue_heartbeat_seconds)


def submit(records: Records, source: str, camera: str, every_s: float,
           location: str | None, actor_name: str | None, fp: str | None = None) -> int:
    """Record a ``queued`` scan job and send it to the queue; returns the job id. The message
    carries the source as given (a camera URL with its password; the row keeps it redacted)."""
    scan_id = scans._create(records, source, camera, location, every_s, actor_name, fp,
                            status="queued")
    actor(records.settings).send(scan_id, source)
    return scan_id


# ----------------------------------------------------------------------------- worker side

_worker_ws: list[Workspace] = []
_worker_lock = threading.Lock()


def worker_name() -> str:
    """``host:pid`` of this worker process (shown on the CCTV page beside a running job)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _workspace() -> Workspace:
    from findme.config import get_settings

    with _worker_lock:
        if not _worker_ws:
            _worker_ws.append(open_workspace(get_settings()))
        return _worker_ws[0]


def _scan(scan_id: int, source: str) -> None:
    """The job: claim it, scan, record sightings and leads; remove an uploaded video once it is
    scanned (a worker killed mid-scan leaves it for the worker that takes the job over)."""
    ws = _workspace()
    if not scans.claim(ws.records, scan_id, worker_name()):
        return
    try:
        scans.run_claimed(ws, scan_id, source)
    finally:
        job = scans.get(ws.records, scan_id)
        if job.status != "running" and scans.is_upload(ws.settings, source):
            Path(source).unlink(missing_ok=True)


def _import(job_id: int) -> None:
    """The job: claim the import, run it, remove its kept files once it is finished."""
    from findme.cases import import_jobs

    ws = _workspace()
    import_jobs.run(ws.records, ws.store, ws.settings, job_id, worker_name())


def run_worker(settings: Settings, threads: int = 1) -> None:
    """Process scan and import jobs until SIGTERM or SIGINT (``findme worker``)."""
    from dramatiq import Worker

    actor(settings)  # declares the actors on the broker
    import_actor(settings)
    broker = _broker(settings.broker_url, settings.queue_heartbeat_seconds)
    _workspace()  # open the stores (and fail early) before taking a job
    worker = Worker(broker, queues={QUEUE, IMPORT_QUEUE}, worker_threads=threads,
                    worker_timeout=1000)
    worker.queue_prefetch = threads  # one job per thread: the others stay for other workers
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    print(f"findme worker {worker_name()} waiting for scan and import jobs", flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        worker.stop(timeout=30_000)
        for ws in _worker_ws:
            ws.close()
