"""``POST /api/v1/search``: photos (or ZIPs of photos) in, the JSON of ``findme search --json``
out. Unpacking and budgets are the Search page's (:func:`findme.ui.photo_search.expand`), the
search and its leads the workspace's (:meth:`findme.workspace.Workspace.search`, recorded as a
``photo`` probe: leads made exactly as for a person's upload)."""

from __future__ import annotations

import time
import zipfile
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from findme.api import uploads
from findme.api.auth import Caller, need
from findme.api.errors import responses
from findme.api.schemas import FaceOut, SearchEntry, SearchOut
from findme.faces.image import ImageError, load_image
from findme.search.matcher import SearchResult
from findme.ui.photo_search import Upload, expand
from findme.ui.search_history import photo_ref

router = APIRouter(prefix="/api/v1", tags=["search"])


def entry(image: str, result: SearchResult) -> SearchEntry:
    """One searched file as ``findme search --json`` gives it."""
    return SearchEntry(image=image, error=None, faces=[
        FaceOut(box=[int(v) for v in fr.face.box], quality=fr.quality.as_dict(),
                matches=[m.as_dict() for m in fr.matches]) for fr in result.faces],
        leads=list(result.lead_ids))


@router.post("/search", response_model=SearchOut, responses=responses(503),
             summary="Search photos against every registered child")
def search(request: Request, caller: Annotated[Caller, Depends(need("search"))],
           photos: Annotated[list[UploadFile], File(description=(
               "one or more photos, or ZIP files of photos"))],
           top: Annotated[int, Form(ge=1, le=50, description="matches per face")] = 5
           ) -> Response:
    """Every face of every photo is searched against every open record; a face whose best
    match is ``match`` or ``possible`` makes a lead (one per case per photo, as on the Search
    page). A file that cannot be read gets its own ``error``. The ``Server-Timing`` header
    gives the time spent decoding and searching (``search;dur=`` milliseconds), so a client
    can tell the search from the transport; ``before;dur=`` the time from the request's
    arrival to the search's start (upload, key check, the wait for a worker), and ``app;dur=``
    the server's whole time up to its answer."""
    began = time.perf_counter()
    # from the request's arrival to here: its upload, the multipart parsing, the key check
    # and the wait for a worker thread (``Server-Timing: before``)
    before = began - getattr(request.state, "arrived", began)
    ws = caller.ws
    metrics = request.app.state.metrics
    files = [Upload(name, data) for name, data in uploads.read_all(photos, ws.settings)]
    files, problems = expand(files, ws.settings)
    limit = ws.settings.max_file_bytes
    results = []
    spent = 0.0
    for up in files:
        try:
            data = up.read(limit)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            results.append(SearchEntry(image=up.name, error=f"cannot be unpacked ({exc})",
                                       faces=[]))
            continue
        if len(data) > limit:
            results.append(SearchEntry(image=up.name, error=f"larger than {limit // 2**20} MB "
                                                            "unpacked", faces=[]))
            continue
        started = time.perf_counter()
        try:
            image = load_image(data, ws.settings)
        except ImageError as exc:
            results.append(SearchEntry(image=up.name, error=exc.detail, faces=[]))
            continue
        finally:
            spent += time.perf_counter() - started
        started = time.perf_counter()
        found = ws.search(image, top, "photo", photo_ref(up.name, caller.actor))
        took = time.perf_counter() - started
        spent += took
        metrics.search(len(found.faces), took)
        results.append(entry(up.name, found))
    # serialised once here (FastAPI would dump and validate the model again: a millisecond or
    # two per request, at the API's overhead budget)
    return Response(SearchOut(results=results, problems=problems).model_dump_json(),
                    media_type="application/json",
                    headers={"Server-Timing": f"search;dur={spent * 1000:.2f}, "
                                              f"before;dur={before * 1000:.2f}"})
