"""Background work on a distributed task queue: Dramatiq over Redis (``FINDME_BROKER_URL``).

Three kinds of job: CCTV scans (:mod:`findme.video.scans`), case imports
(:mod:`findme.cases.import_jobs`) and drives, found records against missing cases
(:mod:`findme.cases.drive_jobs`). Without a broker nothing here is used: scans and the Register
page's imports run in worker threads of the dashboard (the same job rows and progress), and
``findme import`` in its own process. With one, the
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

Every message names its workspace (``live`` or ``demo``), never a path: the worker maps the name
to settings itself (``live``: its own ``FINDME_*`` settings; ``demo``: the demo folder inside
them) and runs the job there, so a demo job never touches real cases. A worker keeps each
workspace it has opened (an embedded vector store, the demo's, only for the job's length).
Messages carry ids only: a scan's source (a camera URL may hold a password) is kept in a 0600
file in the data folder (:func:`findme.video.scans.keep_source`) and removed when the job ends.
A broker URL without a password gets the one ``findme serve`` generated
(``run/redis.password`` in the data folder), so a command run beside it reaches the broker.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from findme.cases.records import Records
from findme.config import Settings
from findme.video import scans
from findme.video.frames import redact
from findme.workspace import Workspace, open_workspace

QUEUE = "findme-scans"
IMPORT_QUEUE = "findme-imports"
DRIVE_QUEUE = "findme-drives"
WORKSPACES = ("live", "demo")
PASSWORD_FILE = ("run", "redis.password")  # under the data folder, written by `findme serve`


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


@functools.cache
def _drive_actor(url: str, heartbeat_seconds: float) -> Any:
    return _declare(_drive, url, heartbeat_seconds, "crossmatch_drive", DRIVE_QUEUE, 24)


def _require_broker(settings: Settings) -> None:
    if not settings.broker_url:
        raise ValueError("no task queue: set FINDME_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")


def broker_url(settings: Settings) -> str:
    """The configured broker URL; one without a password gets the password ``findme serve``
    keeps in the data folder (``run/redis.password``, 0600) when that file exists."""
    url = settings.broker_url
    path = settings.data_dir.joinpath(*PASSWORD_FILE)
    parts = urlsplit(url)
    if not url or parts.password or not path.is_file():
        return url
    password = path.read_text(encoding="utf-8").strip()
    netloc = f":{quote(password, safe='')}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def workspace_name(settings: Settings) -> str:
    """The name a worker knows this workspace by: ``live`` for this process's configured data
    folder, ``demo`` for the demo folder inside it. ValueError for any other folder (a worker
    could not find its job)."""
    from findme.config import get_settings

    live = get_settings()
    here = settings.data_dir.resolve()
    if here == live.data_dir.resolve():
        return "live"
    if here == live.demo_dir.resolve():
        return "demo"
    raise ValueError(f"{settings.data_dir} is neither the configured data folder nor its demo: "
                     "a queue worker could not find this job")


def workspace_settings(name: str, live: Settings) -> Settings:
    """The settings of the workspace a message names, from the worker's own ``live`` settings
    (ValueError for a name the queue does not know: a message never chooses a folder)."""
    from findme import demo

    if name == "live":
        return live
    if name == "demo":
        return demo.demo_settings(live)
    raise ValueError(f"unknown workspace {name!r} in a queue message (known: {WORKSPACES})")


def import_actor(settings: Settings) -> Any:
    """The import actor bound to the configured broker (ValueError without one)."""
    _require_broker(settings)
    return _import_actor(broker_url(settings), settings.queue_heartbeat_seconds)


def submit_import(records: Records, sheet_name: str, sheet: bytes,
                  photos: bytes | Path | None, dry_run: bool, actor_name: str | None) -> int:
    """Keep the files (:func:`findme.cases.import_jobs.keep_files`), record a ``queued``
    import job in the workspace of ``records`` and send its id and workspace name to the
    queue; returns the job id."""
    from findme.cases import import_jobs

    send = import_actor(records.settings).send_with_options  # fails before anything is kept
    workspace = workspace_name(records.settings)
    folder = import_jobs.keep_files(records.settings, sheet_name, sheet, photos)
    job_id = import_jobs.create(records, sheet_name, str(folder), dry_run, actor_name)
    send(args=(job_id,), kwargs={"workspace": workspace})
    return job_id


def drive_actor(settings: Settings) -> Any:
    """The drive actor bound to the configured broker (ValueError without one)."""
    _require_broker(settings)
    return _drive_actor(broker_url(settings), settings.queue_heartbeat_seconds)


def submit_drive(records: Records, actor_name: str | None) -> int:
    """Record a ``queued`` drive in the workspace of ``records`` and send its id and the
    workspace name to the queue; returns the job id."""
    from findme.cases import drive_jobs

    send = drive_actor(records.settings).send_with_options  # fails before anything is written
    workspace = workspace_name(records.settings)
    job_id = drive_jobs.create(records, actor_name)
    send(args=(job_id,), kwargs={"workspace": workspace})
    return job_id


def actor(settings: Settings) -> Any:
    """The scan actor bound to the configured broker (ValueError without one)."""
    _require_broker(settings)
    return _scan_actor(broker_url(settings), settings.queue_heartbeat_seconds)


def submit(records: Records, source: str, camera: str, every_s: float,
           location: str | None, actor_name: str | None, fp: str | None = None) -> int:
    """Record a ``queued`` scan job in the workspace of ``records`` and send it to the queue;
    returns the job id. The message carries the job id and the workspace name only: the
    source as given (a camera URL with its password; the row keeps it redacted) is kept in a
    0600 file in the data folder until the job ends."""
    send = actor(records.settings).send_with_options  # fails before anything is written
    workspace = workspace_name(records.settings)
    scan_id = scans._create(records, source, camera, location, every_s, actor_name, fp,
                            status="queued")
    scans.keep_source(records.settings, scan_id, source)
    send(args=(scan_id,), kwargs={"workspace": workspace})
    return scan_id


# ----------------------------------------------------------------------------- worker side

_worker_ws: dict[str, Workspace] = {}
_worker_lock = threading.Lock()


def worker_name() -> str:
    """``host:pid`` of this worker process (shown on the CCTV page beside a running job)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def _workspace(name: str) -> Iterator[Workspace]:
    """The named workspace of this worker's settings: kept open for later jobs when its vector
    store is a Chroma server; an embedded store (the demo's) belongs to one process at a time,
    so it is opened for this job only and released afterwards."""
    from findme.config import get_settings

    settings = workspace_settings(name, get_settings())
    if not settings.chroma_url:
        ws = open_workspace(settings)
        try:
            yield ws
        finally:
            ws.close()
        return
    with _worker_lock:
        if name not in _worker_ws:
            _worker_ws[name] = open_workspace(settings)
        ws = _worker_ws[name]
    yield ws


def _scan(scan_id: int, legacy_source: str | None = None, workspace: str = "live") -> None:
    """The job: in the named workspace, claim it, scan its kept source, record sightings and
    leads; once the job has ended, remove the kept source and an uploaded video (a worker
    killed mid-scan leaves both for the worker that takes the job over). ``legacy_source``:
    a message sent before workspaces were named (live only, and only when it is that row's)."""
    with _opened(workspace, "scan", scan_id) as ws:
        if ws is None:
            return
        job = _job(ws, scan_id)
        if job is None:  # no such job in this workspace: nothing to run or remove
            return
        source = scans.kept_source(ws.settings, scan_id)
        if (source is None and legacy_source is not None and workspace == "live"
                and job.source == redact(legacy_source)[:1000]):
            source = legacy_source
        if not scans.claim(ws.records, scan_id, worker_name()):
            _finish_scan(ws, scan_id, source)
            return
        try:
            if source is None:
                scans._update(ws.records, scan_id, status="failed", finished_at=scans._now(),
                              error="the job's source was not kept; start the scan again")
            else:
                scans.run_claimed(ws, scan_id, source)
        finally:
            _finish_scan(ws, scan_id, source)


def _job(ws: Workspace, scan_id: int) -> scans.ScanRecord | None:
    """The scan job with this id in the workspace, or None."""
    return scans.find(ws.records, scan_id)


def _finish_scan(ws: Workspace, scan_id: int, source: str | None) -> None:
    """Remove what a job kept once it is no longer running or queued."""
    job = _job(ws, scan_id)
    if job is None or job.status in ("running", "queued"):
        return
    scans.drop_source(ws.settings, scan_id)
    if source is not None and scans.is_upload(ws.settings, source):
        Path(source).unlink(missing_ok=True)


def _import(job_id: int, workspace: str = "live") -> None:
    """The job: in the named workspace, claim the import, run it, remove its kept files once
    it is finished."""
    from findme.cases import import_jobs

    with _opened(workspace, "import", job_id) as ws:
        if ws is not None:
            import_jobs.run(ws.records, ws.store, ws.settings, job_id, worker_name())


def _drive(job_id: int, workspace: str = "live") -> None:
    """The job: in the named workspace, claim the drive and run it."""
    from findme.cases import drive_jobs

    with _opened(workspace, "drive", job_id) as ws:
        if ws is not None:
            drive_jobs.run(ws.records, ws.store, ws.settings, job_id, worker_name())


@contextmanager
def _opened(name: str, kind: str, job_id: int) -> Iterator[Workspace | None]:
    """:func:`_workspace`, or None when its embedded vector store is held by another process
    (the dashboard that owns the demo): the job is then marked failed with a sentence saying
    so, instead of being retried against a store it cannot open."""
    from findme.search.store import StoreBusy

    with ExitStack() as stack:
        try:
            ws: Workspace | None = stack.enter_context(_workspace(name))
        except StoreBusy:
            ws = None
            _fail_busy(name, kind, job_id)
        yield ws


def _fail_busy(name: str, kind: str, job_id: int) -> None:
    """Mark a job failed because its workspace's embedded store is another process's."""
    from findme.cases import drive_jobs, import_jobs
    from findme.cases.records import open_records
    from findme.config import get_settings

    why = (f"the {name} workspace's vector store is in use by another process (the dashboard "
           "runs that workspace's jobs itself); start it again there")
    records = open_records(workspace_settings(name, get_settings()))
    try:
        if kind == "import":
            if import_jobs.claim(records, job_id, worker_name()) is not None:
                import_jobs.fail(records, job_id, why)
        elif kind == "drive":
            if drive_jobs.claim(records, job_id, worker_name()):
                drive_jobs.fail(records, job_id, why)
        elif scans.claim(records, job_id, worker_name()):
            scans._update(records, job_id, status="failed", error=why,
                          finished_at=scans._now())
            scans.drop_source(records.settings, job_id)
    finally:
        records.engine.dispose()


def run_worker(settings: Settings, threads: int = 1) -> None:
    """Process scan, import and drive jobs until SIGTERM or SIGINT (``findme worker``)."""
    from dramatiq import Worker

    actor(settings)  # declares the actors on the broker
    import_actor(settings)
    drive_actor(settings)
    broker = _broker(broker_url(settings), settings.queue_heartbeat_seconds)
    with _workspace("live"):  # open the stores (and fail early) before taking a job
        pass
    worker = Worker(broker, queues={QUEUE, IMPORT_QUEUE, DRIVE_QUEUE}, worker_threads=threads,
                    worker_timeout=1000)
    worker.queue_prefetch = threads  # one job per thread: the others stay for other workers
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    print(f"findme worker {worker_name()} waiting for scan, import and drive jobs", flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        worker.stop(timeout=30_000)
        for ws in _worker_ws.values():
            ws.close()
        _worker_ws.clear()
