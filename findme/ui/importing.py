"""The Register page's import section and the Admin page's export: uploads in, a table out.

Photos come only from what is uploaded (a ZIP of photos, or an export ZIP holding cases.csv and
its photos): a page never reads a server folder.
"""

from __future__ import annotations

import io

import pandas as pd

from findme.cases import drive_jobs, import_jobs
from findme.cases.drive_jobs import DriveJobRecord
from findme.cases.import_jobs import ImportJobRecord
from findme.cases.local_runs import UNDER_WAY
from findme.cases.transfer import ImportReport, export_cases, open_files
from findme.workspace import Workspace


def uses_queue(ws: Workspace) -> bool:
    """Whether imports of ``ws`` go to the task queue (a broker, and a vector store other
    processes can reach: a Chroma server); otherwise a dashboard thread runs them."""
    return bool(ws.settings.broker_url) and not ws.store.embedded


def submit_import(ws: Workspace, sheet_name: str, sheet: bytes, photos_zip: bytes | None,
                  actor: str, dry_run: bool) -> int:
    """Check that the uploaded files (a ``.csv``/``.xlsx`` sheet whose photo paths are inside
    ``photos_zip``, or an export ZIP) can be read, raising
    :class:`~findme.cases.transfer.ImportFileError` with a sentence if not; then hand them to
    the task queue (:func:`uses_queue`) or to a worker thread of this process, the same job
    row either way. Returns the job id at once; :func:`recent_jobs` shows its progress."""
    open_files(sheet_name, sheet, photos_zip)
    if uses_queue(ws):
        from findme import queue

        return queue.submit_import(ws.records, sheet_name, sheet, photos_zip, dry_run, actor)
    return import_jobs.start_local(ws.records, ws.store, ws.settings, sheet_name, sheet,
                                   photos_zip, dry_run, actor)


def recent_jobs(ws: Workspace, limit: int = 5) -> list[ImportJobRecord]:
    """The workspace's latest import jobs, newest first (a job whose dashboard process ended
    mid-way is marked failed first, so it never shows as running forever)."""
    import_jobs.fail_orphans(ws.records)
    return import_jobs.recent(ws.records, limit)


def job_line(job: ImportJobRecord) -> str:
    """One line about an import job: file, state, progress or counts, worker, error."""
    what = f"Import {job.id} ({job.file_name}{', check only' if job.dry_run else ''})"
    if job.status == "queued":
        return f"{what}: waiting for a worker"
    if job.status == "running":
        return (f"{what}: {job.done_rows}/{job.total_rows or '?'} rows checked on "
                f"{job.worker}")
    if job.status == "failed":
        return f"{what}: failed, {job.error}"
    report = import_jobs.report_of(job)
    ignored = f"; columns ignored: {', '.join(report.ignored_columns)}" \
        if report.ignored_columns else ""
    return f"{what}: {report.summary()}{ignored}"


def report_table(report: ImportReport) -> pd.DataFrame:
    """One row per sheet row: row number, case number, case id (``—`` for none), status
    (``would be imported`` / ``would be updated`` in a check-only run) and reasons (a rejected
    row's, or the photos left out of a kept row)."""
    verb = "would be " if report.dry_run else ""
    return pd.DataFrame([{"row": r.row, "ref": r.ref or "—",
                          "case": "—" if r.case_id is None else
                          (f"F-{r.case_id}" if r.kind == "found" else f"#{r.case_id}"),
                          "status": f"{verb}{r.status}" if r.status in ("imported", "updated")
                          else r.status,
                          "reasons": "; ".join(r.reasons)} for r in report.rows],
                        columns=["row", "ref", "case", "status", "reasons"])


def export_zip(ws: Workspace, actor: str) -> tuple[bytes, int]:
    """Every case with its photos as ZIP bytes (see :func:`export_cases`), and the count."""
    buf = io.BytesIO()
    n = export_cases(ws.records, ws.settings, buf, actor)
    return buf.getvalue(), n


def recent_drives(ws: Workspace, limit: int = 3) -> list[DriveJobRecord]:
    """The workspace's latest drives, newest first (a drive whose dashboard process ended
    mid-way is marked failed first: it never shows as running forever, nor blocks the next)."""
    drive_jobs.fail_orphans(ws.records)
    return drive_jobs.recent(ws.records, limit)


def start_drive(ws: Workspace, actor: str) -> int:
    """Start a drive (every open found record against every open missing case): on the task
    queue (:func:`uses_queue`) or in a worker thread of this process, the same job row either
    way. Returns the job id at once; :func:`recent_drives` shows progress.
    :class:`ValueError` (with a sentence) while another drive is queued or running."""
    busy = [j for j in recent_drives(ws, 3) if j.status in UNDER_WAY]
    if busy:  # one drive at a time: a second click must not start a second full drive
        raise ValueError(f"drive {busy[0].id} is still {busy[0].status}: wait for it to end")
    if uses_queue(ws):
        from findme import queue

        return queue.submit_drive(ws.records, actor)
    return drive_jobs.start_local(ws.records, ws.store, ws.settings, actor)
