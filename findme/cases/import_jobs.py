"""Case imports as jobs: the ``import_jobs`` table, its repository, and the runs.

An import leaves the request path either way, with the same job row and progress: with a task
queue (``FINDME_BROKER_URL`` and a Chroma server) the Register page and ``findme import --queue``
keep the uploaded sheet and photos under ``uploads/imports/<job folder>/`` in the data folder,
write a ``queued`` row and send a message, and a ``findme worker`` claims the row; without one
(or with an embedded store, e.g. the demo) the dashboard keeps the files the same way and runs
the job in a worker thread of its own (:func:`start_local`). Either runner imports (:func:`run`)
and writes progress and each batch's row results here, so any page or process sees them. A job
``queued`` -> ``running`` -> ``done`` / ``failed``. A queue worker that dies mid-import leaves
the job to another worker, which imports the whole sheet again: rows the first one wrote come
out ``unchanged`` (an import is idempotent by case number and photo bytes), and
:func:`merge_rows` keeps what the first worker reported for them. A dashboard that stops
mid-import cannot hand its job over: :func:`stop_local` (its shutdown) ends it at a row boundary
as ``failed``, and :func:`fail_orphans` marks one whose dashboard process is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases.local_runs import LOCAL, LocalRuns, local_worker, progress_fraction
from findme.cases.records import Records
from findme.cases.tables import Base, aware, now
from findme.cases.transfer import (
    ImportReport,
    RowResult,
    import_files,
    read_sheet,
)
from findme.config import Settings
from findme.priority import step_aside
from findme.search.store import VectorStore
from findme.workspace import upload_name

STATUSES = ("queued", "running", "done", "failed")
STOPPED = ("stopped: the dashboard shut down during the import; import the files again (rows "
           "already imported come out unchanged)")
ORPHANED = ("the dashboard that ran this import stopped before it ended; import the files "
            "again (rows already imported come out unchanged)")
#: ``hook(job_id, done, total)``: called after each progress report of a run
Hook = Callable[[int, int, int], None]


class ImportJob(Base):
    """One import of an uploaded case list."""

    __tablename__ = "import_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(300))
    folder: Mapped[str] = mapped_column(String(1000))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[list | None] = mapped_column(JSON, nullable=True)
    ignored_columns: Mapped[list | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)


@dataclass(frozen=True)
class ImportJobRecord:
    """An import job as read from the database; ``rows`` are row results as
    :meth:`findme.cases.transfer.RowResult.as_dict` gives them."""

    id: int
    file_name: str
    folder: str
    dry_run: bool
    status: str
    done_rows: int
    total_rows: int
    rows: list | None
    ignored_columns: list | None
    error: str | None
    worker: str | None
    started_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def fraction(self) -> float:
        """Share of the rows checked so far (1.0 once finished)."""
        return progress_fraction(self.status, self.done_rows, self.total_rows)


def _record(row: ImportJob) -> ImportJobRecord:
    values = {f: getattr(row, f) for f in ImportJobRecord.__dataclass_fields__}
    values["created_at"] = aware(row.created_at)
    values["finished_at"] = aware(row.finished_at)
    return ImportJobRecord(**values)


def create(records: Records, file_name: str, folder: str, dry_run: bool,
           actor: str | None) -> int:
    """Record a ``queued`` import of the files kept in ``folder``; returns the job id."""
    with records.session() as s:
        row = ImportJob(file_name=file_name[:300], folder=folder[:1000], dry_run=dry_run,
                        status="queued", done_rows=0, total_rows=0, started_by=actor)
        s.add(row)
        s.flush()
        return row.id


def get(records: Records, job_id: int) -> ImportJobRecord | None:
    """One import job (None when there is no such job)."""
    with records.session() as s:
        row = s.get(ImportJob, job_id)
        return _record(row) if row is not None else None


def recent(records: Records, limit: int = 10) -> list[ImportJobRecord]:
    """Import jobs, newest first."""
    with records.session() as s:
        return [_record(r) for r in s.scalars(select(ImportJob).order_by(ImportJob.id.desc())
                                              .limit(limit))]


def claim(records: Records, job_id: int, worker: str) -> ImportJobRecord | None:
    """Take a queued job, or one left ``running`` by a worker that died (the queue hands a
    message to a second worker only then), for ``worker``. Returns the job as it was before
    (its ``rows`` are what an earlier worker reported), or None for a finished job."""
    before = get(records, job_id)
    with records.session() as s:
        taken = s.execute(update(ImportJob).where(
            ImportJob.id == job_id, ImportJob.status.in_(("queued", "running"))).values(
            status="running", worker=worker[:200], done_rows=0, error=None,
            finished_at=None)).rowcount == 1
    return before if taken else None


def progress(records: Records, job_id: int, done: int, total: int) -> None:
    """Rows checked so far, out of ``total``."""
    with records.session() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id)
                  .values(done_rows=done, total_rows=total))


def save_rows(records: Records, job_id: int, rows: list[dict]) -> None:
    """The row results known so far (every batch, so a worker taking over knows them)."""
    with records.session() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(rows=rows))


def finish(records: Records, job_id: int, rows: list[dict], ignored: list[str]) -> None:
    """The job is done: every row's result and the sheet's ignored columns."""
    with records.session() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="done", rows=rows, ignored_columns=ignored, finished_at=now(),
            done_rows=len(rows), total_rows=len(rows)))


def fail(records: Records, job_id: int, error: str) -> None:
    """The job failed as a whole (an unreadable sheet, ...): ``error`` says why."""
    with records.session() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="failed", error=error[:2000], finished_at=now()))


def merge_rows(earlier: list[dict] | None, now_rows: list[dict]) -> list[dict]:
    """A taken-over import's results: a row this run finds ``unchanged`` that the dead worker
    had reported ``imported`` or ``updated`` keeps that earlier result (the dead worker wrote
    it); every other row is as this run found it."""
    before = {r["row"]: r for r in earlier or []}
    merged = []
    for r in now_rows:
        old = before.get(r["row"])
        if (r["status"] == "unchanged" and old is not None
                and old["status"] in ("imported", "updated") and old["ref"] == r["ref"]):
            merged.append(old)
        else:
            merged.append(r)
    return merged


# ----------------------------------------------------------------------------- uploads and runs

PHOTOS = "photos.zip"


def upload_folder(settings: Settings) -> Path:
    """Where queued imports keep their files until a worker has imported them."""
    return settings.data_dir / "uploads" / "imports"


def keep_files(settings: Settings, sheet_name: str, sheet: bytes,
               photos: bytes | Path | None) -> Path:
    """Keep an import's sheet and photo ZIP (bytes, or a ZIP file to move in) for a worker:
    ``uploads/imports/<random>/`` in the data folder, readable by this user only."""
    folder = upload_folder(settings) / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    _write_private(_sheet_path(folder, sheet_name), sheet)
    if isinstance(photos, Path):
        shutil.move(photos, folder / PHOTOS)
        os.chmod(folder / PHOTOS, 0o600)
    elif photos is not None:
        _write_private(folder / PHOTOS, photos)
    return folder


def _sheet_path(folder: Path, sheet_name: str) -> Path:
    return folder / (upload_name(sheet_name) or "cases.csv")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # children's records
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Stopped(Exception):
    """Raised inside a run at a progress report once the run was asked to stop."""


_watchers: list[Hook] = []
_local_lock = threading.Lock()  # the watchers
_local = LocalRuns()  # imports running in threads of this process


@contextlib.contextmanager
def watch(hook: Hook) -> Iterator[None]:
    """Call ``hook(job_id, done, total)`` after every progress report of every run in this
    process while the block runs (tests hold an import mid-way with it; logging). It runs in
    the run's thread."""
    with _local_lock:
        _watchers.append(hook)
    try:
        yield
    finally:
        with _local_lock:
            _watchers.remove(hook)


def run(records: Records, store: VectorStore, settings: Settings, job_id: int,
        worker: str, hook: Hook | None = None, stop: threading.Event | None = None,
        dashboard: bool = False) -> ImportJobRecord | None:
    """Claim and run one import in this thread: progress and each batch's results go
    to the job row; the kept files are removed once the job is done or failed (a worker
    killed midway leaves them for the worker that takes the job over). ``hook`` (and any
    :func:`watch` hooks) is called after each progress report; once ``stop`` is set the run
    ends at the next one, the job ``failed`` with :data:`STOPPED`. In a ``dashboard`` thread
    each row first steps aside while a person's search runs in the process
    (:mod:`findme.priority`). Returns the finished job, or None when it was not this worker's
    to run."""
    before = claim(records, job_id, worker)
    if before is None:
        return None
    folder = Path(before.folder)
    try:
        sheet = read_sheet(_sheet_path(folder, before.file_name), before.file_name)
        photos = folder / PHOTOS if (folder / PHOTOS).exists() else None
        seen = [0.0]

        def step(done: int, total: int, _ref: str) -> None:
            if dashboard:
                step_aside()  # a person's search in this process goes first
            if done >= total or time.monotonic() - seen[0] >= 0.5:
                seen[0] = time.monotonic()
                progress(records, job_id, done, total)
            with _local_lock:
                hooks = ([hook] if hook else []) + list(_watchers)
            for h in hooks:
                h(job_id, done, total)
            if stop is not None and stop.is_set():
                raise Stopped(STOPPED)

        def batch(rows: list[RowResult]) -> None:
            save_rows(records, job_id, merge_rows(before.rows, [r.as_dict() for r in rows]))

        report = import_files(before.file_name, sheet, photos, records, store, settings,
                              before.started_by or "queue", dry_run=before.dry_run,
                              progress=step, on_rows=None if before.dry_run else batch)
    except Stopped:
        fail(records, job_id, STOPPED)
    except (OSError, ValueError) as exc:  # ImportFileError is a ValueError
        fail(records, job_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - the job row must say it failed, whatever the cause
        traceback.print_exc()
        fail(records, job_id, f"the import stopped: {type(exc).__name__}: {exc}")
    else:
        finish(records, job_id, merge_rows(before.rows, [r.as_dict() for r in report.rows]),
               list(report.ignored_columns))
    shutil.rmtree(folder, ignore_errors=True)
    return get(records, job_id)


def report_of(job: ImportJobRecord) -> ImportReport:
    """A finished job's rows as an :class:`ImportReport` (the page's table, the CLI's JSON)."""
    return ImportReport(rows=[RowResult.from_dict(r) for r in job.rows or []],
                        dry_run=job.dry_run, ignored_columns=tuple(job.ignored_columns or ()))


# ----------------------------------------------------------------------------- dashboard threads


def start_local(records: Records, store: VectorStore, settings: Settings, sheet_name: str,
                sheet: bytes, photos: bytes | Path | None, dry_run: bool, actor: str | None,
                hook: Hook | None = None) -> int:
    """Keep the files and record the job as the queue does (:func:`keep_files`,
    :func:`create`), then run it (:func:`run`) in a worker thread of this process; returns the
    job id at once. The row is ``running`` on :func:`local_worker` before this returns, and
    progress and results reach it as they would from a queue worker. ``hook`` as in
    :func:`run`."""
    folder = keep_files(settings, sheet_name, sheet, photos)
    job_id = create(records, sheet_name, str(folder), dry_run, actor)
    _local.start(  # known here before the row names this process (see fail_orphans)
        job_id, lambda stop: run(records, store, settings, job_id, local_worker(), hook, stop,
                                 dashboard=True),
        f"findme-import-{job_id}", lambda: claim(records, job_id, local_worker()))
    return job_id


def running_local() -> list[int]:
    """Ids of the imports running in threads of this process."""
    return _local.running()


def stop_local(timeout: float = 600.0) -> None:
    """Ask every import running in a thread of this process to stop at its next row (each
    ends ``failed`` with :data:`STOPPED`) and wait up to ``timeout`` seconds each for its
    thread (shutdown: a process must not end inside a model call)."""
    _local.stop_all(timeout)


def fail_orphans(records: Records) -> int:
    """Mark ``failed`` (with :data:`ORPHANED`) the imports a dashboard thread was running
    when its process ended (no queue hands them to anyone), and remove their kept files;
    returns how many."""
    with records.session() as s:
        rows = s.execute(select(ImportJob.id, ImportJob.worker, ImportJob.folder).where(
            ImportJob.status == "running", ImportJob.worker.like(f"{LOCAL} %"))).all()
    failed = 0
    for job_id, worker, folder in rows:
        if not _local.orphaned(worker, job_id):
            continue
        with records.session() as s:
            done = s.execute(update(ImportJob).where(
                ImportJob.id == job_id, ImportJob.status == "running",
                ImportJob.worker == worker).values(
                status="failed", error=ORPHANED, finished_at=now())).rowcount == 1
        if done:
            shutil.rmtree(folder, ignore_errors=True)
            failed += 1
    return failed
