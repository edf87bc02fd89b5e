"""Searching photos people send in: uploads (single photos or ZIP files), one search each, a table.

A ZIP is opened with limits (number of files, size of each, total size), so a zip bomb cannot
exhaust memory; folders, hidden files and ``__MACOSX`` entries are skipped. A file that is not an
image (or is damaged) gets its own error row and nothing is stored for it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from findme.config import Settings
from findme.faces.image import ImageError, load_image
from findme.search.matcher import SearchResult
from findme.workspace import Workspace

MAX_ZIP_FILES = 500
MAX_ZIP_TOTAL = 2 * 2**30


@dataclass(frozen=True)
class Upload:
    """One file to search: its name (``archive.zip/inner.jpg`` for ZIP members) and bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class PhotoSearch:
    """The outcome for one uploaded file: the decoded image and result, or an error."""

    name: str
    image: np.ndarray | None
    result: SearchResult | None
    error: str | None = None


def expand(files: Sequence[Upload], settings: Settings) -> tuple[list[Upload], list[str]]:
    """Uploads with every ZIP replaced by its members; returns (uploads, problems)."""
    out: list[Upload] = []
    problems: list[str] = []
    for f in files:
        if not f.name.lower().endswith(".zip"):
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
        total = 0
        for m in members:
            label = f"{f.name}/{m.filename}"
            if m.file_size > settings.max_file_bytes:
                problems.append(f"{label}: larger than {settings.max_file_bytes // 2**20} MB")
                continue
            total += m.file_size
            if total > MAX_ZIP_TOTAL:
                problems.append(f"{f.name}: more than {MAX_ZIP_TOTAL // 2**30} GB unpacked; "
                                "the rest was skipped")
                break
            try:
                with archive.open(m) as src:
                    data = src.read(settings.max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                problems.append(f"{label}: cannot be unpacked ({exc})")
                continue
            out.append(Upload(label, data))
    return out, problems


def search_uploads(ws: Workspace, uploads: Sequence[Upload], actor: str, top_k: int = 5,
                   progress: Callable[[int, int, str], None] | None = None
                   ) -> list[PhotoSearch]:
    """Search each upload (recorded as a ``photo`` probe; leads made per the matching rules)."""
    out = []
    for k, up in enumerate(uploads):
        if progress:
            progress(k, len(uploads), up.name)
        try:
            image = load_image(up.data, ws.settings)
        except ImageError as exc:
            out.append(PhotoSearch(up.name, None, None, exc.detail))
            continue
        result = ws.search(image, top_k, "photo", f"{up.name} (by {actor})")
        out.append(PhotoSearch(up.name, image, result))
    if progress:
        progress(len(uploads), len(uploads), "done")
    return out


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
