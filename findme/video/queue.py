"""CCTV scans on a distributed task queue: Dramatiq over Redis (``FINDME_BROKER_URL``).

Without a broker nothing here is used: scans run in threads of the dashboard, as they always did.
With one, the CCTV page, ``findme scan --queue`` and ``findme watch`` (with a broker) write the
job row (``queued``) and send a message; ``findme worker`` processes on any machine that reaches
the broker, the database (``FINDME_DATABASE_URL``), a Chroma server (``FINDME_CHROMA_URL``) and
the data folder (uploads) take them one at a time. Progress, stop and results stay in the job
rows, as before.

Why Dramatiq rather than Celery: its Redis broker acknowledges a message only after the job is
done and gives a dead worker's messages to another worker once that worker's heartbeat stops
(``FINDME_QUEUE_HEARTBEAT`` seconds), instead of a visibility timeout that would hand a long
scan to a second worker while the first is still on it; and Celery 5.7 pins a ``python-dateutil``
that conflicts with ChromaDB's dependencies. A job taken over restarts from the beginning of its
video; a sighting already turned into a lead by the dead worker is found again, not duplicated
(:func:`findme.cases.leads.lead_from_sighting`).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
from typing import Any

from findme.cases.records import Records
from findme.config import Settings
from findme.video import scans
from findme.workspace import Workspace, open_workspace

QUEUE = "findme-scans"


@functools.cache
def _broker(url: str, heartbeat_seconds: float) -> Any:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url, heartbeat_timeout=int(heartbeat_seconds * 1000),
                         maintenance_chance=50_000,  # 5% of fetches check for dead workers
                         namespace="findme")
    dramatiq.set_broker(broker)
    return broker


@functools.cache
def _scan_actor(url: str, heartbeat_seconds: float) -> Any:
    import dramatiq

    broker = _broker(url, heartbeat_seconds)
    return dramatiq.Actor(_scan, broker=broker, actor_name="scan_video", queue_name=QUEUE,
                          priority=0, options={"max_retries": 3,
                                               "time_limit": 7 * 24 * 3600 * 1000})


def actor(settings: Settings) -> Any:
    """The scan actor bound to the configured broker (ValueError without one)."""
    if not settings.broker_url:
        raise ValueError("no task queue: set FINDME_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
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
            from pathlib import Path

            Path(source).unlink(missing_ok=True)


def run_worker(settings: Settings, threads: int = 1) -> None:
    """Process scan jobs until SIGTERM or SIGINT (``findme worker``)."""
    from dramatiq import Worker

    actor(settings)  # declares the actor on the broker
    broker = _broker(settings.broker_url, settings.queue_heartbeat_seconds)
    _workspace()  # open the stores (and fail early) before taking a job
    worker = Worker(broker, queues={QUEUE}, worker_threads=threads, worker_timeout=1000)
    worker.queue_prefetch = threads  # one job per thread: the others stay for other workers
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    print(f"findme worker {worker_name()} waiting for scan jobs", flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        worker.stop(timeout=30_000)
        for ws in _worker_ws:
            ws.close()
