"""Drives as jobs: every open found record matched against every open missing case, off the
request path, with progress any page or process can read (the ``drive_jobs`` table).

A drive runs either in a ``findme worker`` (a task queue is configured: the Cases page and
``findme crossmatch --queue`` record a ``queued`` row and send a message naming the workspace
and the job id only) or in a worker thread of the dashboard (:func:`start_local`). Either runner
calls :func:`run`: it claims the row (``queued`` -> ``running``, once), runs
:func:`findme.cases.crossleads.crossmatch` reporting found faces searched, and ends ``done``
with the pair count and the leads this run made, or ``failed`` with a sentence. A drive is
idempotent (each pair gets its lead once), so a job taken over after a worker died simply runs
again.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import traceback
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from findme.cases.local_runs import LOCAL, LocalRuns, local_worker, progress_fraction
from findme.cases.records import Records
from findme.cases.tables import Base, aware, now
from findme.config import Settings
from findme.priority import step_aside
from findme.search.store import VectorStore

STATUSES = ("queued", "running", "done", "failed")
STOPPED = "stopped: the dashboard shut down during the drive; start it again (nothing is lost)"
ORPHANED = ("the dashboard that ran this drive stopped before it ended; start it again (pairs "
            "already found keep their leads)")


class DriveJob(Base):
    """One drive: found records against missing cases."""

    __tablename__ = "drive_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    done_faces: Mapped[int] = mapped_column(Integer, default=0)
    total_faces: Mapped[int] = mapped_column(Integer, default=0)
    pairs: Mapped[int] = mapped_column(Integer, default=0)
    new_leads: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)


@dataclass(frozen=True)
class DriveJobRecord:
    """A drive job as read from the database."""

    id: int
    status: str
    done_faces: int
    total_faces: int
    pairs: int
    new_leads: int
    error: str | None
    worker: str | None
    started_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def fraction(self) -> float:
        """Share of the found faces searched so far (1.0 once finished)."""
        return progress_fraction(self.status, self.done_faces, self.total_faces)

    def line(self) -> str:
        """One line for a person: what the drive did or is doing."""
        who = f" by {self.started_by}" if self.started_by else ""
        head = f"Drive {self.id} ({self.created_at:%Y-%m-%d %H:%M} UTC{who}): "
        if self.status == "queued":
            return head + "queued, waiting for a worker"
        if self.status == "running":
            return head + f"{self.done_faces} of {self.total_faces} found faces searched"
        if self.status == "failed":
            return head + f"failed: {self.error}"
        return head + (f"{self.pairs} likely pair(s), {self.new_leads} new lead(s) to review"
                       if self.pairs else "no found child is close to any missing child")


def _record(row: DriveJob) -> DriveJobRecord:
    values = {f: getattr(row, f) for f in DriveJobRecord.__dataclass_fields__}
    values["created_at"] = aware(row.created_at)
    values["finished_at"] = aware(row.finished_at)
    return DriveJobRecord(**values)


def create(records: Records, actor: str | None) -> int:
    """Record a ``queued`` drive; returns its id (audited)."""
    with records.session() as s:
        row = DriveJob(status="queued", done_faces=0, total_faces=0, pairs=0, new_leads=0,
                       started_by=actor)
        s.add(row)
        s.flush()
        job_id = row.id
    records.audit(actor or "system", "crossmatch.start", f"drive:{job_id}")
    return job_id


def get(records: Records, job_id: int) -> DriveJobRecord | None:
    """One drive job (None when there is no such job)."""
    with records.session() as s:
        row = s.get(DriveJob, job_id)
        return _record(row) if row is not None else None


def recent(records: Records, limit: int = 5) -> list[DriveJobRecord]:
    """The latest drive jobs, newest first."""
    with records.session() as s:
        return [_record(r) for r in s.scalars(
            select(DriveJob).order_by(DriveJob.id.desc()).limit(limit))]


def claim(records: Records, job_id: int, worker: str) -> bool:
    """Take a ``queued`` job (or one a dead queue worker left ``running``) for ``worker``;
    False when it is finished or missing."""
    with records.session() as s:
        return s.execute(update(DriveJob).where(
            DriveJob.id == job_id, DriveJob.status.in_(("queued", "running"))).values(
            status="running", worker=worker[:200])).rowcount == 1


def _set(records: Records, job_id: int, **values: object) -> None:
    with records.session() as s:
        s.execute(update(DriveJob).where(DriveJob.id == job_id).values(**values))


def fail(records: Records, job_id: int, error: str) -> None:
    """End a job ``failed`` with a sentence saying why."""
    _set(records, job_id, status="failed", error=error, finished_at=now())


def run(records: Records, store: VectorStore, settings: Settings, job_id: int, worker: str,
        stop: threading.Event | None = None, dashboard: bool = False) -> DriveJobRecord | None:
    """Claim and run drive ``job_id`` in this thread (progress to its row at most twice a
    second); ``stop`` ends it at the next batch as ``failed`` (:data:`STOPPED`). In a
    ``dashboard`` thread each batch first steps aside for a person's search. Returns the
    finished job, or None when it was not this worker's to run."""
    from findme.cases.crossleads import crossmatch

    if not claim(records, job_id, worker):
        return None
    job = get(records, job_id)
    actor = job.started_by if job is not None and job.started_by else "queue"
    seen = [0.0]

    class Stopped(Exception):
        """The drive was asked to stop."""

    def step(done: int, total: int) -> None:
        if dashboard:
            step_aside()
        if done >= total or time.monotonic() - seen[0] >= 0.5:
            seen[0] = time.monotonic()
            _set(records, job_id, done_faces=done, total_faces=total)
        if stop is not None and stop.is_set():
            raise Stopped

    try:
        result = crossmatch(records, store, settings, progress=step, actor=actor)
    except Stopped:
        fail(records, job_id, STOPPED)
    except Exception as exc:  # noqa: BLE001 - the job row must say it failed, whatever the cause
        traceback.print_exc()
        fail(records, job_id, f"the drive stopped: {type(exc).__name__}: {exc}")
    else:
        _set(records, job_id, status="done", pairs=len(result.pairs),
             new_leads=result.new_leads, finished_at=now())
    return get(records, job_id)


# ----------------------------------------------------------------------------- dashboard threads

_local = LocalRuns()  # drives running in threads of this process


def start_local(records: Records, store: VectorStore, settings: Settings,
                actor: str | None) -> int:
    """Record a drive and run it in a worker thread of this process; returns its id at once
    (the row is ``running`` before this returns)."""
    job_id = create(records, actor)
    _local.start(job_id, lambda stop: run(records, store, settings, job_id, local_worker(),
                                          stop, dashboard=True),
                 f"findme-drive-{job_id}", lambda: claim(records, job_id, local_worker()))
    return job_id


def running_local() -> list[int]:
    """Ids of the drives running in threads of this process."""
    return _local.running()


def fail_orphans(records: Records) -> int:
    """Mark ``failed`` (with :data:`ORPHANED`) the drives a dashboard thread was running when
    its process ended (killed, crashed: no queue hands them to anyone); otherwise such a drive
    would show as running forever and no drive could start again. Returns how many."""
    with records.session() as s:
        rows = s.execute(select(DriveJob.id, DriveJob.worker).where(
            DriveJob.status == "running", DriveJob.worker.like(f"{LOCAL} %"))).all()
    failed = 0
    for job_id, worker in rows:
        if not _local.orphaned(worker, job_id):
            continue
        with records.session() as s:
            failed += s.execute(update(DriveJob).where(
                DriveJob.id == job_id, DriveJob.status == "running",
                DriveJob.worker == worker).values(
                status="failed", error=ORPHANED, finished_at=now())).rowcount
    return failed


def stop_local(timeout: float = 600.0) -> None:
    """Ask every drive running in a thread of this process to stop at its next batch and
    wait up to ``timeout`` seconds each (shutdown: no process ends inside a model call)."""
    _local.stop_all(timeout)


__all__ = ["ORPHANED", "STATUSES", "STOPPED", "DriveJob", "DriveJobRecord", "claim", "create",
           "fail", "fail_orphans", "get", "recent", "run", "running_local", "start_local",
           "stop_local"]
