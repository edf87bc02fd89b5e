"""The Register page's import section and the Admin page's export: uploads in, a table out.

Photos come only from what is uploaded (a ZIP of photos, or an export ZIP holding cases.csv and
its photos): a page never reads a server folder.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pandas as pd

from findme.cases import import_jobs
from findme.cases.import_jobs import ImportJobRecord
from findme.cases.transfer import ImportReport, export_cases, import_files, open_files
from findme.workspace import Workspace


def run_import(ws: Workspace, sheet_name: str, sheet: bytes, photos_zip: bytes | None,
               actor: str, dry_run: bool,
               progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Import an uploaded sheet (``.csv``/``.xlsx``, photo paths inside ``photos_zip``) or an
    export ZIP in this process. Raises :class:`~findme.cases.transfer.ImportFileError` with a
    sentence when the files as a whole cannot be read."""
    return import_files(sheet_name, sheet, photos_zip, ws.records, ws.store, ws.settings, actor,
                        dry_run=dry_run, progress=progress)


def queue_import(ws: Workspace, sheet_name: str, sheet: bytes, photos_zip: bytes | None,
                 actor: str, dry_run: bool) -> int:
    """Check that the uploaded files can be read (ImportFileError with a sentence if not),
    then hand them to the task queue; returns the job id."""
    from findme import queue

    open_files(sheet_name, sheet, photos_zip)
    return queue.submit_import(ws.records, sheet_name, sheet, photos_zip, dry_run, actor)


def job_line(job: ImportJobRecord) -> str:
    """One line about a queued import: file, state, progress or counts, worker, error."""
    what = f"Import {job.id} ({job.file_name}{', check only' if job.dry_run else ''})"
    if job.status == "queued":
        return f"{what}: waiting for a worker"
    if job.status == "running":
        return (f"{what}: {job.done_rows}/{job.total_rows or '?'} rows checked on "
                f"{job.worker}")
    if job.status == "failed":
        return f"{what}: failed, {job.error}"
    return f"{what}: {import_jobs.report_of(job).summary()}"


def report_table(report: ImportReport) -> pd.DataFrame:
    """One row per sheet row: row number, case number, case id, status, reasons."""
    return pd.DataFrame([{"row": r.row, "ref": r.ref, "case": r.case_id, "status": r.status,
                          "reasons": "; ".join(r.reasons)} for r in report.rows],
                        columns=["row", "ref", "case", "status", "reasons"])


def export_zip(ws: Workspace, actor: str) -> tuple[bytes, int]:
    """Every case with its photos as ZIP bytes (see :func:`export_cases`), and the count."""
    buf = io.BytesIO()
    n = export_cases(ws.records, ws.settings, buf, actor)
    return buf.getvalue(), n
