"""``findme import`` and ``findme export``: an organisation's case list in, the registry out."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from findme.cli.common import fail as _fail
from findme.config import get_settings

if TYPE_CHECKING:
    from findme.cases.transfer import ImportReport, PhotoSource


def _bar(done: int, total: int, label: str) -> None:
    """A one-line progress bar on stderr (stdout stays clean for ``--json``)."""
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"{label[:30]:<30}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_import(args: argparse.Namespace) -> int:
    """Import a case list (CSV, Excel or an export ZIP); prints counts or ``--json``."""
    from findme.cases.records import open_records
    from findme.cases.transfer import (
        ImportFileError,
        PhotoSource,
        import_cases,
        open_sheet,
        read_sheet,
    )
    from findme.search.store import StoreBusy
    from findme.workspace import open_workspace

    settings = get_settings()
    sheet = Path(args.file)
    try:
        data = read_sheet(sheet)
        folder = Path(args.photos) if args.photos else sheet.resolve().parent
        if args.photos and not folder.is_dir():
            return _fail(f"{args.photos}: not a folder")
        rows, source, ignored = open_sheet(sheet.name, data)
        if source.archive is None or args.photos:
            source = PhotoSource(folder=folder)
    except (OSError, ValueError, ImportFileError) as exc:
        return _fail(f"{sheet}: {exc}")
    if args.queue:
        return _queue_import(args, sheet.name, data, rows, source)
    progress = None if args.quiet else _bar
    try:
        if args.dry_run:
            records = open_records(settings)
            try:
                report = import_cases(rows, source, records, None, settings, args.actor,
                                      dry_run=True, progress=progress)
            finally:
                records.engine.dispose()
        else:
            with open_workspace(settings) as ws:
                report = import_cases(rows, source, ws.records, ws.store, settings, args.actor,
                                      progress=progress)
    except StoreBusy as exc:
        return _fail(str(exc))
    report.ignored_columns = ignored
    return _print_report(report, args)


def _print_report(report: ImportReport, args: argparse.Namespace) -> int:
    ignored = report.ignored_columns
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(report.summary())
        if ignored:
            print(f"columns ignored: {', '.join(ignored)}")
        for r in report.rows:
            if r.status == "rejected":
                print(f"  row {r.row} ({r.ref or 'no ref'}): " + "; ".join(r.reasons))
    return 1 if report.count("rejected") else 0


def _queue_import(args: argparse.Namespace, name: str, data: bytes, rows: list,
                  source: PhotoSource) -> int:
    """``findme import --queue``: hand the sheet and the photos it names (packed into a ZIP
    when they are in a folder here) to the task queue; with ``--wait``, follow the job."""
    import tempfile
    import time

    from findme import queue
    from findme.cases import import_jobs
    from findme.cases.records import open_records
    from findme.cases.transfer import pack_photos

    settings = get_settings()
    if not settings.broker_url:
        return _fail("no task queue: set FINDME_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    records = open_records(settings)
    try:
        photos: Path | None = None
        if source.folder is not None:  # a sheet + a photo folder on this machine
            folder = import_jobs.upload_folder(settings)
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".zip", dir=folder)
            os.close(fd)
            photos = Path(tmp)
            pack_photos(rows, source.folder, photos, settings.max_image_bytes)
        try:
            job_id = queue.submit_import(records, name, data, photos, args.dry_run, args.actor)
        finally:
            if photos is not None:
                photos.unlink(missing_ok=True)  # moved in when it was kept
        if not args.wait:
            print(json.dumps({"job_id": job_id, "status": "queued"}) if args.json
                  else f"import job {job_id} queued")
            return 0
        while (job := import_jobs.get(records, job_id)).status in ("queued", "running"):
            if not args.quiet and job.total_rows:
                _bar(min(job.done_rows, job.total_rows - 1), job.total_rows,
                     job.worker or "queued")
            time.sleep(0.5)
        if job.status == "failed":
            return _fail(f"import job {job_id} failed: {job.error}")
        return _print_report(import_jobs.report_of(job), args)
    except ValueError as exc:
        return _fail(str(exc))
    finally:
        records.engine.dispose()


def cmd_export(args: argparse.Namespace) -> int:
    """Write every case with its photos to a ZIP (readable by ``findme import``): first to a
    new private ``OUT.zip.part`` (refused when anything, a symlink included, is at that name),
    renamed when complete; returns the exit code."""
    from findme.cases.records import open_records
    from findme.cases.transfer import export_cases

    settings = get_settings()
    out = Path(args.out)
    if out.suffix.lower() != ".zip":
        return _fail("the export is a .zip file")
    if os.path.lexists(out) and not args.force:
        return _fail(f"{out} exists (use --force to replace it)")
    tmp = out.with_name(out.name + ".part")
    try:  # children's records: a new private file; never a symlink or file planted at the name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _fail(f"{tmp} exists (an export stopped half-way, or someone put it there): "
                     "look at it, remove it and try again")
    except OSError as exc:
        return _fail(f"{tmp}: {exc.strerror or exc}")
    records = open_records(settings)
    try:
        with os.fdopen(fd, "wb") as f:
            n = export_cases(records, settings, f, args.actor)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # ours: created above, never someone else's
        raise
    finally:
        records.engine.dispose()
    print(f"{n} case(s) written to {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``import`` and ``export`` to the ``findme`` parser."""
    p = sub.add_parser("import", help="import cases from a CSV/Excel sheet (or an export ZIP)",
                       description="Columns: ref, name, photos (';'-separated paths), age, "
                       "gender, birth_date, last_seen, last_seen_date, description, guardian, "
                       "consent (yes/no) or lawful_basis, status. A re-import updates by ref.")
    p.add_argument("file", metavar="CASES", help=".csv, .xlsx, or a .zip holding cases.csv")
    p.add_argument("--photos", metavar="DIR",
                   help="folder the photo paths are relative to (default: the sheet's folder)")
    p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--queue", action="store_true",
                   help="hand the import to the task queue (FINDME_BROKER_URL): a `findme "
                   "worker` runs it; photos in a folder here are packed and sent along")
    p.add_argument("--wait", action="store_true",
                   help="with --queue: follow the job and print its report")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write every case and its photos to a ZIP")
    p.add_argument("out", metavar="OUT.zip")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--actor", default="cli", help="who is doing this (for the audit log)")
    p.set_defaults(func=cmd_export)
