"""Video scans as background jobs whose status lives in the database (so a page reload, or a
second browser, sees the same progress), and the one-shot scan the CLI and the folder watcher
use.

A job row goes ``running`` -> ``done`` / ``failed`` / ``stopped``; progress (seconds done, frames,
speed vs real time) is written about once a second. A job that was running when its process died
is marked ``interrupted`` when the workspace opens again.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases.leads import lead_from_sighting
from findme.cases.records import Records
from findme.cases.tables import Base
from findme.cases.tables import now as _now
from findme.config import Settings
from findme.priority import step_aside
from findme.video import processor as video
from findme.video import strips
from findme.video.frames import VideoError, check_camera_url, is_stream, redact
from findme.workspace import Workspace, upload_name

STATUSES = ("queued", "running", "done", "failed", "stopped", "interrupted")



class Scan(Base):
    """One scan of a video file or stream."""

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    fingerprint: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    camera: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(300), nullable=True)
    every_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="running", index=True)
    done_s: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)
    sightings: Mapped[list | None] = mapped_column(JSON, nullable=True)
    warnings: Mapped[list | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    faces_seen: Mapped[int | None] = mapped_column(Integer, nullable=True)  # detections
    faces_tracked: Mapped[int | None] = mapped_column(Integer, nullable=True)  # distinct faces


@dataclass(frozen=True)
class ScanRecord:
    """A scan job as read from the database."""

    id: int
    source: str
    camera: str
    location: str | None
    every_s: float
    status: str
    done_s: float
    duration_s: float | None
    frames: int
    speed: float | None
    sightings: list | None
    warnings: list | None
    error: str | None
    started_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    worker: str | None = None
    cancel_requested: bool = False
    faces_seen: int | None = None
    faces_tracked: int | None = None

    @property
    def fraction(self) -> float | None:
        """Share of the video done (None for streams of unknown length)."""
        if not self.duration_s:
            return None
        return min(1.0, self.done_s / self.duration_s) if self.status == "running" else 1.0


def fingerprint(path: Path) -> str:
    """Identity of a video file for the folder watcher: name, size and modification time."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}"[-200:]


def _record(s: Scan) -> ScanRecord:
    return ScanRecord(**{f: getattr(s, f) for f in ScanRecord.__dataclass_fields__})


def list_scans(records: Records, limit: int = 50) -> list[ScanRecord]:
    """Scan jobs, newest first."""
    with records.session() as s:
        return [_record(r) for r in s.scalars(select(Scan).order_by(Scan.id.desc())
                                              .limit(limit))]


def get(records: Records, scan_id: int) -> ScanRecord:
    """One scan job."""
    with records.session() as s:
        return _record(s.get(Scan, scan_id))


def find(records: Records, scan_id: int) -> ScanRecord | None:
    """One scan job, or None when there is no such job."""
    with records.session() as s:
        row = s.get(Scan, scan_id)
        return _record(row) if row is not None else None


def scanned(records: Records, fp: str) -> bool:
    """Whether a file with this fingerprint was scanned already."""
    with records.session() as s:
        return s.scalar(select(Scan.id).where(Scan.fingerprint == fp).limit(1)) is not None


def mark_interrupted(records: Records) -> int:
    """Jobs left ``running`` by a process that ended: mark them ``interrupted``, and remove
    the uploaded videos they were scanning (a copy of footage must not outlive its scan).
    Returns how many jobs were marked."""
    if records.settings.broker_url:  # jobs run on queue workers, which outlive a dashboard
        return 0
    with records.session() as s:
        marked = s.execute(update(Scan).where(Scan.status == "running").values(
            status="interrupted", finished_at=_now(),
            error="the dashboard stopped during the scan; upload the video again")).rowcount
    remove_stale_uploads(records.settings)
    return marked


def remove_stale_uploads(settings: Settings) -> list[Path]:
    """Delete uploaded videos that no scan of this process is reading (left by a dashboard
    that stopped mid-scan); returns what was removed."""
    folder = settings.data_dir / "uploads"
    if not folder.is_dir():
        return []
    with _jobs_lock:
        busy = set(_sources.values())
    removed = []
    for path in folder.iterdir():
        if path.is_file() and str(path) not in busy:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _create(records: Records, source: str, camera: str, location: str | None, every_s: float,
            actor: str | None, fp: str | None, status: str = "running") -> int:
    with records.session() as s:
        row = Scan(source=redact(source)[:1000], fingerprint=fp, camera=redact(camera)[:200],
                   location=(location or None), every_s=every_s, status=status,
                   done_s=0.0, frames=0, started_by=actor)
        s.add(row)
        s.flush()
        return row.id


def _update(records: Records, scan_id: int, **values: object) -> None:
    with records.session() as s:
        s.execute(update(Scan).where(Scan.id == scan_id).values(**values))


def run_scan(ws: Workspace, source: str, camera: str, every_s: float,
             location: str | None = None, actor: str | None = None, record_leads: bool = True,
             lock: AbstractContextManager | None = None,
             stop: Callable[[], bool] | None = None,
             progress: Callable[[float, float | None, int, float], None] | None = None,
             fp: str | None = None) -> tuple[int, video.ScanResult | None]:
    """Scan one video as a recorded job (in this thread); returns (job id, result or None when
    the video could not be opened). Sightings become leads unless ``record_leads`` is False."""
    scan_id = _create(ws.records, source, camera, location, every_s, actor, fp)
    return scan_id, _execute(ws, scan_id, source, camera, every_s, record_leads, lock, stop,
                             progress)


def with_names(records: Records, found: list[dict] | None) -> list[dict]:
    """A job's sightings with each case's current name (erased cases are left out)."""
    found = found or []
    names = records.case_names(sorted({f["case_id"] for f in found}))
    return [{**f, "name": names[f["case_id"]]} for f in found if f["case_id"] in names]


@dataclass(frozen=True)
class CameraSummary:
    """One camera (or source) as the scans of it add up: its latest scan, how many scans,
    sightings of registered children (erased cases left out) and faces seen."""

    camera: str
    location: str | None
    scans: int
    last_scan_id: int
    last_status: str
    last_scan_at: dt.datetime
    sightings: int
    faces_seen: int


def cameras(records: Records, limit: int = 2000) -> list[CameraSummary]:
    """Every camera named by the last ``limit`` scans, the most recently scanned first; its
    location is the latest one typed for it."""
    items = list_scans(records, limit)
    names = records.case_names(sorted({f["case_id"] for j in items
                                       for f in (j.sightings or [])}))
    out: dict[str, dict] = {}
    for j in items:  # newest first
        c = out.setdefault(j.camera, {"camera": j.camera, "location": None, "scans": 0,
                                      "last_scan_id": j.id, "last_status": j.status,
                                      "last_scan_at": j.created_at, "sightings": 0,
                                      "faces_seen": 0})
        c["location"] = c["location"] or j.location
        c["scans"] += 1
        c["sightings"] += sum(1 for f in j.sightings or [] if f["case_id"] in names)
        c["faces_seen"] += j.faces_tracked or 0
    return [CameraSummary(**c) for c in out.values()]


def _execute(ws: Workspace, scan_id: int, source: str, camera: str, every_s: float,
             record_leads: bool, lock: AbstractContextManager | None,
             stop: Callable[[], bool] | None,
             progress: Callable[[float, float | None, int, float], None] | None
             ) -> video.ScanResult | None:
    guard = lock if lock is not None else nullcontext()
    last = [0.0]

    def on_progress(done: float, duration: float | None, frames: int, speed: float) -> None:
        step_aside()  # a person's search in this process goes first
        if progress:
            progress(done, duration, frames, speed)
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            _update(ws.records, scan_id, done_s=done, duration_s=duration, frames=frames,
                    speed=speed)

    keeper = strips.FrameKeeper()
    try:
        result = video.scan(source, ws.matcher, ws.settings, every_s, on_progress, stop,
                            lock=guard, on_frame=keeper.add)
    except VideoError as exc:
        _update(ws.records, scan_id, status="failed", error=redact(str(exc), source),
                finished_at=_now())
        return None
    except Exception as exc:  # noqa: BLE001 - the job records any failure instead of vanishing
        _update(ws.records, scan_id, status="failed",
                error=redact(f"{type(exc).__name__}: {exc}", source), finished_at=_now())
        raise
    found = []
    ref = redact(source) if is_stream(source) else Path(source).name
    for n, s in enumerate(result.sightings):
        lead = None
        if record_leads:
            with guard:
                lead = lead_from_sighting(ws.records, ws.settings, s, camera, "cctv", ref)
        row = {k: v for k, v in s.as_dict().items() if k != "name"}  # names stay in cases only
        strip = strips.save_checked(  # never for a case erased meanwhile
            ws.settings, s.case_id, scan_id, n, keeper.pick(s.first_s, s.last_s),
            lambda cid=s.case_id: cid in ws.records.case_names([cid]))
        found.append({**row, "lead_id": lead, "strip": strip})
    keeper.frames.clear()
    stopped = stop is not None and stop()
    _update(ws.records, scan_id, status="stopped" if stopped else "done",
            done_s=result.processed_s, duration_s=result.report.duration_s,
            frames=result.frames, speed=result.speed, sightings=found,
            warnings=result.report.warnings, finished_at=_now(),
            faces_seen=result.faces_seen, faces_tracked=result.faces_tracked)
    return result


# ----------------------------------------------------------------------------- background jobs

_jobs: dict[int, tuple[threading.Thread, threading.Event]] = {}
_sources: dict[int, str] = {}  # job id -> what it reads
_jobs_lock = threading.Lock()


def start(ws: Workspace, source: str, camera: str, every_s: float, location: str | None,
          actor: str, on_done: Callable[[], None] | None = None,
          lock: AbstractContextManager | None = None) -> int:
    """Start a scan in a background thread; returns its job id at once. ``on_done`` runs when
    the scan ends (e.g. to remove an uploaded temporary file); ``lock``, if given, is held
    around each frame's recognition (nothing needs it in the dashboard: the models and the
    store lock themselves)."""
    scan_id = _create(ws.records, source, camera, location, every_s, actor, None)
    stop = threading.Event()

    def work() -> None:
        try:
            _execute(ws, scan_id, source, camera, every_s, True, lock, stop.is_set, None)
        finally:
            with _jobs_lock:
                _jobs.pop(scan_id, None)
                _sources.pop(scan_id, None)
            if on_done:
                on_done()

    thread = threading.Thread(target=work, daemon=True, name=f"findme-scan-{scan_id}")
    with _jobs_lock:
        _jobs[scan_id] = (thread, stop)
        _sources[scan_id] = source
    thread.start()
    return scan_id


def stop_all() -> None:
    """Stop every background scan of this process and wait for them (shutdown, tests)."""
    with _jobs_lock:
        jobs = list(_jobs.values())
    for _, stop in jobs:
        stop.set()
    for thread, _ in jobs:
        thread.join(timeout=60)


def stop_job(scan_id: int, records: Records | None = None) -> bool:
    """Ask a scan to stop after the current frame: a thread of this process directly, a job
    on a queue worker through its row (``records`` given); a queued job never starts."""
    with _jobs_lock:
        job = _jobs.get(scan_id)
    if job is not None:
        job[1].set()
        return True
    if records is None:
        return False
    with records.session() as s:
        if s.execute(update(Scan).where(Scan.id == scan_id, Scan.status == "queued")
                     .values(status="stopped", finished_at=_now(),
                             cancel_requested=True)).rowcount:
            drop_source(records.settings, scan_id)  # it never runs: its secret goes now
        return s.execute(update(Scan).where(Scan.id == scan_id, Scan.status == "running")
                         .values(cancel_requested=True)).rowcount == 1


# ----------------------------------------------------------------------------- queue workers


def claim(records: Records, scan_id: int, worker: str) -> bool:
    """Take a queued job, or one left ``running`` by a worker that died (the queue hands a
    message to a second worker only then), for ``worker``; progress starts again. Returns
    False for a job that is finished or was stopped."""
    with records.session() as s:
        return s.execute(update(Scan).where(
            Scan.id == scan_id, Scan.status.in_(("queued", "running")),
            Scan.cancel_requested.is_(False)).values(
            status="running", worker=worker[:200], done_s=0.0, frames=0, error=None,
            sightings=None, finished_at=None)).rowcount == 1


def run_claimed(ws: Workspace, scan_id: int, source: str) -> video.ScanResult | None:
    """Run a claimed job in this thread: the row gives camera and sampling; a stop asked for
    in the row (from the dashboard) is seen within a second."""
    job = get(ws.records, scan_id)
    checked = [0.0, False]

    def stop() -> bool:
        if time.monotonic() - checked[0] >= 1.0:
            checked[0] = time.monotonic()
            with ws.records.session() as s:
                checked[1] = bool(s.scalar(select(Scan.cancel_requested)
                                           .where(Scan.id == scan_id)))
        return checked[1]

    return _execute(ws, scan_id, source, job.camera, job.every_s, True, None, stop, None)


def _source_file(settings: Settings, scan_id: int) -> Path:
    return settings.data_dir / "uploads" / "sources" / f"scan-{int(scan_id)}"


def keep_source(settings: Settings, scan_id: int, source: str) -> Path:
    """Keep a queued job's source as given (a camera URL may carry a password, which the row
    keeps redacted) where only this user can read it: ``uploads/sources/scan-<id>`` in the data
    folder, mode 0600 in a 0700 folder. The queue's message carries only the job id, so no
    credential reaches the broker. Returns the file."""
    folder = _source_file(settings, scan_id).parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    path = _source_file(settings, scan_id)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(source)
    return path


def kept_source(settings: Settings, scan_id: int) -> str | None:
    """The source :func:`keep_source` kept for a job (None when there is none)."""
    try:
        return _source_file(settings, scan_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def drop_source(settings: Settings, scan_id: int) -> None:
    """Remove a job's kept source (the job ended: done, failed or stopped)."""
    _source_file(settings, scan_id).unlink(missing_ok=True)


def is_upload(settings: Settings, source: str) -> bool:
    """Whether ``source`` is a video uploaded for a scan (removed once it is scanned)."""
    path = Path(source)
    return not is_stream(source) and path.parent == settings.data_dir / "uploads"


# ----------------------------------------------------------------------------- uploads


def save_upload(settings: Settings, name: str, data: bytes) -> Path:
    """Keep an uploaded video for its scan: ``uploads/<random>-<safe name>`` in the data folder
    (the name reduced to letters, digits and ``._-``, at most 80 characters)."""
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{upload_name(name)}"
    path.write_bytes(data)
    return path


def source_name(source: str) -> str:
    """What a person recognises a scan's source by: the stream URL, or the uploaded file's
    original name (without the random prefix :func:`save_upload` gave it)."""
    return source if is_stream(source) else source.rsplit("/", 1)[-1].split("-", 1)[-1]


def start_uploads(ws: Workspace, files: Sequence[tuple[str, bytes]], url: str, camera: str,
                  every_s: float, location: str | None, actor: str,
                  may_use_urls: bool = False) -> list[int]:
    """Start one background scan per uploaded file ``(name, bytes)`` and for ``url`` when given.

    Raises ValueError with a sentence (and starts nothing) when the camera has no name, there is
    nothing to scan, the URL is not an allowed stream, or a URL is given by someone without the
    ``cameras.manage`` permission (``may_use_urls``: the server itself connects to it). Uploaded
    copies are removed once scanned.
    """
    camera, url = camera.strip(), url.strip()
    if url and not may_use_urls:
        raise ValueError("scanning a stream URL needs the cameras.manage permission (the "
                         "server connects to it); upload a recording instead")
    if not camera:
        raise ValueError("give the camera a name: sightings and the alert cooldown are per "
                         "camera")
    if not files and not url:
        raise ValueError("add a video file or a stream URL")
    if url:
        try:
            url = check_camera_url(url, ws.settings.camera_networks)
        except VideoError as exc:
            raise ValueError(str(exc)) from exc
    ids = []
    # On the task queue when there is one and its workers can open this workspace's vector
    # store (a Chroma server); an embedded store (the demo's) belongs to this process, so its
    # scans run here.
    if ws.settings.broker_url and not ws.store.embedded:
        from findme import queue

        for name, data in files:
            path = save_upload(ws.settings, name, data)
            ids.append(queue.submit(ws.records, str(path), camera, every_s, location, actor))
        if url:
            ids.append(queue.submit(ws.records, url, camera, every_s, location, actor))
        return ids
    for name, data in files:
        path = save_upload(ws.settings, name, data)
        ids.append(start(ws, str(path), camera, every_s, location, actor,
                         lambda p=path: p.unlink(missing_ok=True)))
    if url:
        ids.append(start(ws, url, camera, every_s, location, actor))
    return ids
