"""The Register page's import section and the Admin page's export: uploads in, a table out.

Photos come only from what is uploaded (a ZIP of photos, or an export ZIP holding cases.csv and
its photos): a page never reads a server folder.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pandas as pd

from findme.cases.transfer import (
    ImportFileError,
    ImportReport,
    PhotoSource,
    export_cases,
    import_cases,
    open_sheet,
)
from findme.workspace import Workspace


def run_import(ws: Workspace, sheet_name: str, sheet: bytes, photos_zip: bytes | None,
               actor: str, dry_run: bool,
               progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Import an uploaded sheet (``.csv``/``.xlsx``, photo paths inside ``photos_zip``) or an
    export ZIP. Raises :class:`ImportFileError` with a sentence when the files as a whole
    cannot be read."""
    source = None
    if photos_zip is not None:
        try:
            source = PhotoSource(archive=zipfile.ZipFile(io.BytesIO(photos_zip)))
        except zipfile.BadZipFile:
            raise ImportFileError("the photos file is not a readable ZIP") from None
    rows, found, ignored = open_sheet(sheet_name, sheet, source)
    if found.archive is None:
        raise ImportFileError("add the photos as a ZIP file (the paths in the sheet are "
                              "inside it), or import an export ZIP")
    report = import_cases(rows, found, ws.records, None if dry_run else ws.store, ws.settings,
                          actor, dry_run=dry_run, progress=progress)
    report.ignored_columns = ignored
    return report


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
