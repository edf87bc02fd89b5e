"""Work that runs off the request path: ``/api/v1/imports`` (a case list with a photos ZIP,
:func:`findme.ui.importing.submit_import`: queued when a broker is configured, a worker thread
otherwise) and ``/api/v1/scans`` (CCTV recordings, :func:`findme.video.scans.start_uploads`).
A start answers ``202`` with the job's id at once; the job's own URL gives its progress and, at
the end, its report or sightings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile

from findme.api import uploads
from findme.api.auth import Caller, need
from findme.api.errors import ApiError, responses
from findme.api.schemas import ImportOut, ScanOut, ScansStarted
from findme.cases import import_jobs
from findme.cases.import_jobs import ImportJobRecord
from findme.ui.importing import submit_import, uses_queue
from findme.video import scans

router = APIRouter(prefix="/api/v1", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def import_out(job: ImportJobRecord, queued: bool) -> ImportOut:
    """An import job as JSON (its report once done)."""
    report = import_jobs.report_of(job).as_dict() if job.status == "done" else None
    return ImportOut(id=job.id, file_name=job.file_name, status=job.status,
                     dry_run=job.dry_run, queued=queued, done_rows=job.done_rows,
                     total_rows=job.total_rows, error=job.error, created_at=job.created_at,
                     finished_at=job.finished_at, report=report)


@router.post("/imports", status_code=202, response_model=ImportOut,
             responses=responses(503), summary="Start importing a case list")
def start_import(caller: Annotated[Caller, Depends(need("cases.edit"))],
                 sheet: Annotated[UploadFile, File(description=(
                     "the case list (.csv, .xlsx) or an export .zip"))],
                 photos: Annotated[UploadFile | None, File(description=(
                     "the photos (.zip) the sheet's photo paths point into"))] = None,
                 dry_run: Annotated[bool, Form(description="check only, save nothing")] = False
                 ) -> ImportOut:
    """The Register page's import: every row checked, a bad row rejected with its reasons
    while the others go on; importing again updates (by ``ref``), never duplicates."""
    ws = caller.ws
    name, data = uploads.read(sheet, ws.settings.max_request_bytes, "cases.csv")
    zipped = uploads.read(photos, ws.settings.max_request_bytes, "photos.zip")[1] \
        if photos is not None else None
    try:
        job_id = submit_import(ws, name, data, zipped, caller.actor, dry_run)
    except ValueError as exc:  # ImportFileError: the files cannot be read as a whole
        raise ApiError(422, str(exc)) from None
    job = import_jobs.get(ws.records, job_id)
    assert job is not None
    return import_out(job, uses_queue(ws))


@router.get("/imports/{job_id}", response_model=ImportOut, responses=responses(404),
            summary="An import's progress and report")
def get_import(caller: Annotated[Caller, Depends(need("cases.edit"))],
               job_id: JobId) -> ImportOut:
    """``queued`` -> ``running`` -> ``done`` (with ``report``) or ``failed`` (with
    ``error``)."""
    import_jobs.fail_orphans(caller.ws.records)
    job = import_jobs.get(caller.ws.records, job_id)
    if job is None:
        raise ApiError(404, f"no import with id {job_id}")
    return import_out(job, uses_queue(caller.ws))


def scan_out(caller: Caller, job: scans.ScanRecord) -> ScanOut:
    """A scan job as JSON, its sightings with each case's current name; a sighting's frame
    strip (files of the child's face) only for a key whose role may see photos."""
    sightings = scans.with_names(caller.ws.records, job.sightings)
    if not caller.can("photos.view"):
        sightings = [{k: v for k, v in f.items() if k != "strip"} for f in sightings]
    return ScanOut(id=job.id, camera=job.camera, location=job.location, status=job.status,
                   done_s=job.done_s, duration_s=job.duration_s, frames=job.frames,
                   error=job.error, warnings=[str(w) for w in job.warnings or []],
                   created_at=job.created_at, finished_at=job.finished_at,
                   sightings=sightings)


@router.post("/scans", status_code=202, response_model=ScansStarted,
             responses=responses(503), summary="Scan uploaded CCTV recordings")
def start_scan(caller: Annotated[Caller, Depends(need("search"))],
               videos: Annotated[list[UploadFile], File(description=(
                   "recordings (mp4, avi, mkv, mov, webm)"))],
               camera: Annotated[str, Form(min_length=1, max_length=200, description=(
                   "the camera's name: sightings and the alert cooldown are per camera"))],
               location: Annotated[str | None, Form(max_length=300)] = None,
               every_s: Annotated[float, Form(ge=0.05, le=10.0, description=(
                   "look at a frame every this many seconds"))] = 0.2) -> ScansStarted:
    """One background scan per file (on the task queue when there is one); sightings of
    registered children become leads. Faces that match nobody are counted, never kept."""
    ws = caller.ws
    files = [uploads.read(v, ws.settings.max_request_bytes, f"video-{k}.mp4")
             for k, v in enumerate(videos, 1)]
    try:
        ids = scans.start_uploads(ws, files, "", camera, every_s, location, caller.actor,
                                  may_use_urls=False)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return ScansStarted(scan_ids=ids, queued=bool(ws.settings.broker_url)
                        and not ws.store.embedded)


@router.get("/scans/{scan_id}", response_model=ScanOut, responses=responses(404),
            summary="A scan's progress and sightings")
def get_scan(caller: Annotated[Caller, Depends(need("search"))], scan_id: JobId) -> ScanOut:
    """``running`` -> ``done`` / ``failed`` / ``stopped``; ``sightings``: each case seen, when,
    how sure, and its ``lead_id``."""
    job = scans.find(caller.ws.records, scan_id)
    if job is None:
        raise ApiError(404, f"no scan with id {scan_id}")
    return scan_out(caller, job)
