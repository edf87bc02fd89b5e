"""Searching photos people send in: uploads (single photos or ZIP files), one search each, a table.

Memory is bounded per request: ZIP members are read one at a time when searched (never all at
once), every file and ZIP member of a request shares one unpacked-size budget
(``max_request_bytes``), and a result keeps only a small annotated preview and the face crops
(compressed), never the decoded photo. Folders, hidden files and ``__MACOSX`` entries in a ZIP
are skipped. A file that is not an image (or is damaged) gets its own error row and nothing is
stored for it.

A result remembers the workspace it was searched in: :func:`create_lead` refuses to act on it in
another one (a demo result under *Real cases*), with a sentence instead of a database error.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError

from findme.cases import leads
from findme.cases.records import RecordError
from findme.config import Settings
from findme.faces.image import ImageError, crop_face, load_image
from findme.search.matcher import Match, SearchResult
from findme.ui.images import draw_faces
from findme.ui.search_history import photo_ref
from findme.workspace import Workspace

MAX_ZIP_FILES = 500
PREVIEW_SIDE = 900  # longest side of the annotated preview kept per photo
CROP_SIDE = 320  # longest side of a kept face crop


@dataclass(frozen=True)
class Upload:
    """One file to search: its name (``archive.zip/inner.jpg`` for ZIP members) and either its
    bytes or the ZIP member to read them from when it is searched."""

    name: str
    data: bytes = b""
    member: tuple[zipfile.ZipFile, zipfile.ZipInfo] | None = None

    def read(self, limit: int) -> bytes:
        """The file's bytes (at most ``limit + 1``, so an over-long member is noticed)."""
        if self.member is None:
            return self.data
        archive, info = self.member
        with archive.open(info) as src:
            return src.read(limit + 1)


@dataclass(frozen=True)
class PhotoSearch:
    """The outcome for one uploaded file: a JPEG preview with the faces numbered, one PNG crop
    per face (both small) and the result, or an error; ``workspace`` is the data folder of the
    workspace it was searched in."""

    name: str
    preview: bytes | None
    result: SearchResult | None
    error: str | None = None
    crops: tuple[bytes, ...] = ()
    workspace: str = ""

    def crop(self, face: int) -> np.ndarray:
        """Face ``face`` (0-based) as an RGB array, e.g. for a lead made by hand."""
        return _decode(self.crops[face])


def expand(files: Sequence[Upload], settings: Settings) -> tuple[list[Upload], list[str]]:
    """Uploads with every ZIP replaced by its members (read later, one at a time); returns
    (uploads, problems). Every file of the request counts against one unpacked-size budget."""
    out: list[Upload] = []
    problems: list[str] = []
    budget = settings.max_request_bytes
    total = 0

    def fits(label: str, size: int) -> bool:
        nonlocal total
        if total + size > budget:
            problems.append(f"{label}: the files of one search may hold at most "
                            f"{budget / 2**20:.0f} MB unpacked; it and the rest were skipped")
            return False
        total += size
        return True

    for f in files:
        if not f.name.lower().endswith(".zip"):
            if not fits(f.name, len(f.data)):
                break
            out.append(f)
            continue
        try:
            archive = zipfile.ZipFile(io.BytesIO(f.data))
        except zipfile.BadZipFile:
            problems.append(f"{f.name}: not a readable ZIP file")
            continue
        members = [m for m in archive.infolist() if not m.is_dir()
                   and not m.filename.startswith("__MACOSX/")
                   and not m.filename.rsplit("/", 1)[-1].startswith(".")]
        if len(members) > MAX_ZIP_FILES:
            problems.append(f"{f.name}: {len(members)} files; at most {MAX_ZIP_FILES} per ZIP")
            continue
        for m in members:
            label = f"{f.name}/{m.filename}"
            if m.file_size > settings.max_file_bytes:
                problems.append(f"{label}: larger than {settings.max_file_bytes // 2**20} MB")
                continue
            if not fits(label, m.file_size):
                return out, problems
            out.append(Upload(label, member=(archive, m)))
    return out, problems


def search_uploads(ws: Workspace, uploads: Sequence[Upload], actor: str, top_k: int = 5,
                   progress: Callable[[int, int, str], None] | None = None
                   ) -> list[PhotoSearch]:
    """Search each upload (recorded as a ``photo`` probe; leads made per the matching rules).
    One upload's bytes and pixels are in memory at a time."""
    out = []
    limit = ws.settings.max_file_bytes
    for k, up in enumerate(uploads):
        if progress:
            progress(k, len(uploads), up.name)
        try:
            data = up.read(limit)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            out.append(PhotoSearch(up.name, None, None, f"cannot be unpacked ({exc})"))
            continue
        if len(data) > limit:  # the ZIP's directory understated the size
            out.append(PhotoSearch(up.name, None, None,
                                   f"larger than {limit // 2**20} MB unpacked"))
            continue
        try:
            image = load_image(data, ws.settings)
        except ImageError as exc:
            out.append(PhotoSearch(up.name, None, None, exc.detail))
            continue
        del data
        result = ws.search(image, top_k, "photo", photo_ref(up.name, actor))
        out.append(replace(summarise(up.name, image, result),
                           workspace=_workspace_key(ws)))
    if progress:
        progress(len(uploads), len(uploads), "done")
    return out


def _workspace_key(ws: Workspace) -> str:
    return str(Path(ws.settings.data_dir).resolve())


def create_lead(ws: Workspace, search: PhotoSearch, face: int, match: Match, actor: str) -> int:
    """A person's "Create lead" on match ``match`` of face ``face`` (1-based) of a shown result;
    returns the lead id (the existing one when this face already has a lead for this case).

    Raises :class:`RecordError` with a sentence, and writes nothing, when the result was searched
    in another workspace than ``ws`` (the demo's result under *Real cases*, or the other way),
    or its case or searched photo is no longer there (erased, or changed since)."""
    if search.result is None or not 1 <= face <= len(search.result.faces):
        raise RecordError("this result holds no such face")
    if search.workspace != _workspace_key(ws):
        raise RecordError("this result was searched in another workspace; search the photo "
                          "again here")
    try:
        case = ws.records.get_case(match.case_id)
    except RecordError:
        raise RecordError(f"case #{match.case_id} is no longer in this workspace; search "
                          "the photo again") from None
    if case.name != match.name:
        raise RecordError(f"case #{match.case_id} changed since this search; search the "
                          "photo again")
    fr = search.result.faces[face - 1]
    try:
        return leads.lead_from_match(ws.records, ws.settings, search.crop(face - 1), fr.face,
                                     match, search.result.probe_id, actor, fr.quality)
    except IntegrityError:
        raise RecordError("the searched photo or the case is no longer in this workspace; "
                          "search the photo again") from None


def summarise(name: str, image: np.ndarray, result: SearchResult) -> PhotoSearch:
    """What is kept of a searched photo: the preview with numbered faces coloured by decision
    (at most ``PREVIEW_SIDE`` px) and each face's crop (at most ``CROP_SIDE`` px)."""
    decisions = [fr.best.decision if fr.best else "none" for fr in result.faces]
    preview = draw_faces(image, [fr.face.box for fr in result.faces], decisions)
    crops = tuple(_encode(_shrink(crop_face(image, fr.face.box), CROP_SIDE), ".png")
                  for fr in result.faces)
    return PhotoSearch(name, _encode(_shrink(preview, PREVIEW_SIDE), ".jpg"), result,
                       crops=crops)


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def _encode(rgb: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == ".jpg" else [])
    if not ok:
        raise ValueError(f"cannot encode a {rgb.shape} image as {ext}")
    return buf.tobytes()


def _decode(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def results_table(searches: Sequence[PhotoSearch]) -> pd.DataFrame:
    """One row per (photo, face, ranked match): what the CSV export holds. Faces without a
    match and unreadable files get a row too, so nothing silently disappears."""
    rows = []
    for s in searches:
        if s.result is None:
            rows.append({"photo": s.name, "face": None, "rank": None, "case_id": None,
                         "name": None, "score": None, "decision": None, "note": s.error})
            continue
        if not s.result.faces:
            rows.append({"photo": s.name, "face": None, "rank": None, "case_id": None,
                         "name": None, "score": None, "decision": None,
                         "note": "no face found"})
        for fi, fr in enumerate(s.result.faces, 1):
            if not fr.matches:
                rows.append({"photo": s.name, "face": fi, "rank": None, "case_id": None,
                             "name": None, "score": None, "decision": "none",
                             "note": "; ".join(fr.quality.reasons) or "no registered child close"})
            for rank, m in enumerate(fr.matches, 1):
                row = {"photo": s.name, "face": fi, "rank": rank, "case_id": m.case_id,
                       "name": m.name, "score": round(m.score, 4), "decision": m.decision,
                       "note": "; ".join(fr.quality.reasons)}
                row.update({f"cosine_{model}": round(v, 4) for model, v in m.scores.items()})
                rows.append(row)
    return pd.DataFrame(rows)
