"""Bringing an organisation's case list in, and the registry out: bulk import and export.

Import reads a CSV or Excel sheet (or a ZIP holding ``cases.csv`` and the photos, which is what
:func:`export_cases` writes). One row is one child:

======================  ==========================================================================
column                  meaning
======================  ==========================================================================
``ref``                 the organisation's own case number; unique: a re-import updates, never
                        duplicates
``name``                the child's name
``photos``              one or more photo paths separated by ``;`` (relative to the photo folder,
                        the sheet's folder, or inside the ZIP); a path that resolves outside that
                        folder (``..``, an absolute path, a symlink) is refused
``age``, ``gender``     optional; age at disappearance in years
``birth_date``,         optional dates, ``YYYY-MM-DD``
``last_seen_date``
``last_seen``           optional place last seen
``description``,        optional notes and guardian contact
``guardian``
``consent``             ``yes``/``no``: the guardian's consent is recorded
``lawful_basis``        or another lawful basis (court order, police request): one of the two is
                        required
``status``              optional ``open`` (default), ``found`` or ``closed``; a found record:
                        ``in_care`` (default), ``identified``, ``transferred`` or ``closed``
``kind``                optional ``missing`` (default) or ``found`` (a child found and in care:
                        ``lawful_basis`` required, ``guardian``/``consent`` not used)
``found_place``,        a found record: where and when (``YYYY-MM-DD[THH:MM]``) the child was
``found_at``            found
``institution``,        the institution holding the child and its contact
``institution_contact``
``age_min``,            the estimated age range (years)
``age_max``
``languages``,          language(s) spoken, identifying marks
``marks``
``taken_date``,         optional, for every photo of the row: when taken, the child's age on it
``age_at_photo``
======================  ==========================================================================

A saved row is searched against the other side as any registration is (cross-match leads). Each
report row carries ``case_id`` (missing) or ``found_id`` (found) and its ``kind``.

Every row is checked first (details, every photo read, decoded, one usable face). A photo that
cannot be used is left out and reported on its row ("b.jpg: not added (...)"), while the row's
usable photos are kept: the Register page's rule. A row is rejected, with its reasons and
nothing of it stored, when its details are wrong or a new case is left with no usable photo;
the other rows go on.
Usable faces are embedded in batches (the models load once). ``dry_run`` checks everything and
writes nothing. A photo already registered for the case (same bytes) is skipped, so running an
import twice changes nothing. A sheet is streamed and refused past :data:`MAX_ROWS` rows
before the rest is read. Formula-like text is exported behind an apostrophe
(:func:`defuse_cell`) that the import takes off again. (Over 400 lines as one cohesive
thing: the import format, read and written.)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from findme.cases.records import (
    CASE_STATUSES,
    FOUND_STATUSES,
    KINDS,
    CaseDetails,
    RecordError,
    Records,
    same_value,
)
from findme.cases.registry import (
    Candidate,
    PhotoInput,
    PhotoOutcome,
    embed_candidates,
    inspect_for_enrollment,
    require_lawful_basis,
    store_prepared,
    update_case,
)
from findme.config import Settings
from findme.faces.image import read_limited
from findme.search.store import VectorStore

COLUMNS = ("ref", "name", "photos", "age", "gender", "birth_date", "last_seen",
           "last_seen_date", "description", "guardian", "consent", "lawful_basis", "status",
           "kind", "found_place", "found_at", "institution", "institution_contact", "age_min",
           "age_max", "languages", "marks", "taken_date", "age_at_photo")
REQUIRED = ("ref", "name")
MAX_ROWS = 20_000
MAX_COLUMNS = 100  # cells read per line; further columns are ignored
BLANK_TAIL = 1_000  # blank lines looked at past the last row before a sheet counts as too long
MAX_SHEET_BYTES = 50 * 2**20
MAX_ZIP_BYTES = 4 * 2**30  # an export ZIP holds the photos too
BATCH_ROWS = 16  # rows whose faces are embedded together
YES = {"yes", "y", "true", "1", "x", "ja", "oui", "si", "sí"}
NO = {"no", "n", "false", "0", "", "nein", "non"}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (not a sheet, no ``ref``/``name`` column...)."""


@dataclass(frozen=True)
class RowResult:
    """What happened to one row: ``imported`` (a new case), ``updated``, ``unchanged`` or
    ``rejected`` (with reasons; nothing of it stored). In a dry run, what would happen. A row
    that is not rejected may still carry reasons: one per photo left out."""

    row: int
    ref: str | None
    case_id: int | None
    status: str
    reasons: tuple[str, ...] = ()
    kind: str = "missing"

    @classmethod
    def from_dict(cls, d: dict) -> RowResult:
        """The inverse of :meth:`as_dict` (a queue job's stored rows)."""
        kind = d.get("kind") or "missing"
        return cls(d["row"], d.get("ref"), d.get("found_id") if kind == "found"
                   else d.get("case_id"), d["status"], tuple(d.get("reasons") or ()), kind)

    def as_dict(self) -> dict:
        """The row as the JSON of ``findme import --json``: ``case_id`` for a missing case,
        ``found_id`` for a found record (and ``case_id`` None)."""
        out = {"row": self.row, "ref": self.ref, "case_id": self.case_id,
               "status": self.status, "reasons": list(self.reasons), "kind": self.kind}
        if self.kind == "found":
            out.update(case_id=None, found_id=self.case_id)
        return out


@dataclass
class ImportReport:
    """Counts and every row's result."""

    rows: list[RowResult] = field(default_factory=list)
    dry_run: bool = False
    ignored_columns: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        """How many rows ended with ``status``."""
        return sum(r.status == status for r in self.rows)

    def summary(self) -> str:
        """``3 imported, 0 updated, 1 unchanged, 1 rejected`` (``would be imported`` in a dry
        run)."""
        verb = "would be " if self.dry_run else ""
        return (f"{self.count('imported')} {verb}imported, {self.count('updated')} {verb}updated,"
                f" {self.count('unchanged')} unchanged, {self.count('rejected')} rejected")

    def as_dict(self) -> dict:
        """``{"imported", "updated", "unchanged", "rejected", "dry_run", "rows": [...]}``."""
        return {"imported": self.count("imported"), "updated": self.count("updated"),
                "unchanged": self.count("unchanged"), "rejected": self.count("rejected"),
                "dry_run": self.dry_run, "ignored_columns": list(self.ignored_columns),
                "rows": [r.as_dict() for r in self.rows]}


# ----------------------------------------------------------------------------- reading sheets


#: what reading a damaged ZIP member raises (bad CRC, broken deflate stream, cut off, a
#: compression method or encryption zipfile cannot read)
ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                     RuntimeError)


class PhotoSource:
    """Where a sheet's photo paths point: a folder on this machine, or a ZIP's members.

    A path in a folder is resolved (``..``, symlinks) and must stay inside the folder; a ZIP
    member must stay inside the ZIP. A damaged member is that photo's error, not the import's.
    """

    def __init__(self, folder: Path | None = None, archive: zipfile.ZipFile | None = None,
                 prefix: str = "") -> None:
        self.folder = folder
        self.archive = archive
        self.prefix = prefix

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of the photo ``name`` (at most ``limit``); ValueError (or OSError) with a
        sentence when it cannot be read: missing, outside the folder or ZIP, too large,
        damaged."""
        if self.archive is not None:
            member = PurePosixPath(self.prefix, member_name(name))
            if ".." in member.parts or member.is_absolute():
                raise ValueError("the path leaves the ZIP")
            try:
                info = self.archive.getinfo(str(member))
            except KeyError:
                raise ValueError("no such file in the ZIP") from None
            if info.file_size > limit:
                raise ValueError(f"larger than {limit // 2**20} MB")
            try:
                with self.archive.open(info) as f:
                    data = f.read(limit + 1)
            except ZIP_MEMBER_ERRORS as exc:
                raise ValueError(f"damaged in the ZIP ({type(exc).__name__})") from None
            if len(data) > limit:
                raise ValueError(f"larger than {limit // 2**20} MB")
            return data
        if self.folder is None:
            raise ValueError("no photo folder was given")
        return _read_regular(inside_folder(self.folder, name), limit)


def inside_folder(folder: Path, name: str) -> Path:
    """The real path of the sheet's photo path ``name`` (relative to ``folder``, or absolute),
    every ``..`` and symlink resolved; ValueError when that lands outside ``folder`` (``..``, an
    absolute path elsewhere, a symlink pointing out) or the file does not exist."""
    try:
        root = folder.resolve()
        path = (root / name).resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        raise ValueError("the path cannot be resolved (a symlink loop?)") from None
    if not path.is_relative_to(root):
        raise ValueError("outside the photo folder")
    if not path.exists():
        raise ValueError("no such file")
    return path


def _read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes, never more than ``limit``: opened without following a symlink
    put in its place after :func:`inside_folder` resolved it, and without blocking on a named
    pipe; ValueError for anything else, or over the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise OSError(f"cannot read the file ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > limit:
            raise ValueError(f"file is {info.st_size / 2**20:.0f} MB, over the "
                             f"{limit / 2**20:.0f} MB limit")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file grew past the {limit / 2**20:.0f} MB limit while read")
    return data


def read_sheet(path: Path, name: str | None = None) -> bytes:
    """A sheet file's bytes (``name``, default the path's, says what kind): at most
    :data:`MAX_SHEET_BYTES`, or :data:`MAX_ZIP_BYTES` for a ZIP; ValueError when larger."""
    zipped = (name or path.name).lower().endswith(".zip")
    return read_limited(path, MAX_ZIP_BYTES if zipped else MAX_SHEET_BYTES)


def member_name(path: str) -> str:
    """A sheet's photo path as a ZIP member name: ``/`` separators, no leading ``/`` (how
    :func:`pack_photos` stores absolute paths)."""
    return path.replace("\\", "/").lstrip("/")


def photo_paths(rows: Sequence[dict[str, str]]) -> list[str]:
    """Every photo path the sheet's rows name, once each, in order."""
    seen: dict[str, None] = {}
    for row in rows:
        for name in (row.get("photos") or "").split(";"):
            if name.strip():
                seen.setdefault(name.strip(), None)
    return list(seen)


def pack_photos(rows: Sequence[dict[str, str]], folder: Path, out: Path, limit: int) -> int:
    """Write the photos the rows name (relative to ``folder``, or absolute) into the ZIP
    ``out``, each under its sheet path (:func:`member_name`), so the sheet and that ZIP can be
    imported on another machine. A photo that cannot be read is left out (its row is then
    rejected with "no such file in the ZIP", as it would be here); returns how many were packed."""
    packed = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in photo_paths(rows):
            try:
                data = PhotoSource(folder=folder).read(name, limit)
            except (OSError, ValueError):
                continue
            archive.writestr(member_name(name), data)
            packed += 1
    return packed


def open_files(sheet_name: str, sheet: bytes, photos_zip: Path | bytes | None
               ) -> tuple[list[dict[str, str]], PhotoSource, tuple[str, ...]]:
    """Open uploaded files as :func:`open_sheet` does, the photos inside a ZIP (``photos_zip``,
    or the export ZIP that is the sheet). Raises :class:`ImportFileError` with a sentence when
    the files as a whole cannot be read."""
    source = None
    if photos_zip is not None:
        try:
            source = PhotoSource(archive=zipfile.ZipFile(
                io.BytesIO(photos_zip) if isinstance(photos_zip, bytes) else photos_zip))
        except zipfile.BadZipFile:
            raise ImportFileError("the photos file is not a readable ZIP") from None
    rows, found, ignored = open_sheet(sheet_name, sheet, source)
    if found.archive is None:
        raise ImportFileError("add the photos as a ZIP file (the paths in the sheet are "
                              "inside it), or import an export ZIP")
    return rows, found, ignored


def import_files(sheet_name: str, sheet: bytes, photos_zip: Path | bytes | None,
                 records: Records, store: VectorStore | None, settings: Settings, actor: str,
                 dry_run: bool = False,
                 progress: Callable[[int, int, str], None] | None = None,
                 on_rows: Callable[[list[RowResult]], None] | None = None) -> ImportReport:
    """Import uploaded files: a sheet (``.csv``/``.xlsx``) whose photo paths are inside
    ``photos_zip``, or an export ZIP holding its own photos. Raises :class:`ImportFileError`
    with a sentence when the files as a whole cannot be read; see :func:`import_cases`."""
    rows, found, ignored = open_files(sheet_name, sheet, photos_zip)
    report = import_cases(rows, found, records, None if dry_run else store, settings, actor,
                          dry_run=dry_run, progress=progress, on_rows=on_rows)
    report.ignored_columns = ignored
    return report


def open_sheet(name: str, data: bytes, photos: PhotoSource | None = None
               ) -> tuple[list[dict[str, str]], PhotoSource, tuple[str, ...]]:
    """Parse an uploaded or read file (``.csv``, ``.xlsx`` or a ``.zip`` with ``cases.csv``
    or ``cases.xlsx``): (rows as ``{column: text}``, where its photos are, ignored columns)."""
    if len(data) > MAX_SHEET_BYTES and not name.lower().endswith(".zip"):
        raise ImportFileError(f"the sheet is over {MAX_SHEET_BYTES // 2**20} MB")
    lower = name.lower()
    if lower.endswith(".zip"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise ImportFileError("not a readable ZIP file") from None
        sheets = [n for n in archive.namelist()
                  if PurePosixPath(n).name.lower() in ("cases.csv", "cases.xlsx")
                  and not n.startswith("__MACOSX/")]
        if not sheets:
            raise ImportFileError("the ZIP holds no cases.csv or cases.xlsx")
        sheet = min(sheets, key=len)
        info = archive.getinfo(sheet)
        if info.file_size > MAX_SHEET_BYTES:
            raise ImportFileError(f"{sheet} is over {MAX_SHEET_BYTES // 2**20} MB")
        prefix = str(PurePosixPath(sheet).parent).lstrip(".")
        try:
            content = archive.read(info)
        except ZIP_MEMBER_ERRORS:
            raise ImportFileError(f"{sheet} is damaged in the ZIP") from None
        rows, ignored = _parse(sheet, content)
        return rows, photos or PhotoSource(archive=archive, prefix=prefix), ignored
    rows, ignored = _parse(name, data)
    return rows, photos or PhotoSource(), ignored


def _parse(name: str, data: bytes) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """A sheet's bytes as (rows as ``{column: text}``, ignored columns). Streamed: at most
    :data:`MAX_ROWS` rows (and :data:`MAX_COLUMNS` columns) are read; one more refuses the sheet
    before the rest is parsed. Empty lines keep their row number (as ``{}``); blank lines at the
    end are dropped. Every cell loses the guard :func:`defuse_cell` gave it on export."""
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        header, table = _limited(_xlsx_lines(data))
    elif lower.endswith((".csv", ".txt")):
        try:
            header, table = _limited(_csv_lines(data, "utf-8-sig"))
        except UnicodeDecodeError:
            header, table = _limited(_csv_lines(data, "cp1252"))
    else:
        raise ImportFileError("import a .csv or .xlsx sheet, or a .zip holding cases.csv")
    header = [h.strip().lower().replace(" ", "_") for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(f"the sheet has no {' or '.join(missing)} column (columns: "
                              f"{', '.join(COLUMNS)})")
    ignored = tuple(h for h in header if h and h not in COLUMNS)
    rows = []
    for values in table:
        rows.append({h: restore_cell(v).strip() for h, v in zip(header, values, strict=False)
                     if h in COLUMNS})  # an empty line ([]) keeps its row number: skipped
    return rows, ignored


def _limited(lines: Iterator[list[str]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a sheet's ``lines``, read one at a time and no further than
    :data:`MAX_ROWS` rows (blank rows as ``[]``; blank rows at the end dropped, at most
    :data:`BLANK_TAIL` of them looked at past the limit). ImportFileError beyond that."""
    too_many = ImportFileError(f"the sheet has more than {MAX_ROWS} rows; at most {MAX_ROWS} "
                               "per import")
    header = next(lines, None)
    if header is None:
        raise ImportFileError("the sheet is empty")
    table: list[list[str]] = []
    blank = 0
    for values in lines:
        if not any(v.strip() for v in values):
            blank += 1
            if len(table) + blank > MAX_ROWS + BLANK_TAIL:
                raise too_many
            continue
        table += [[] for _ in range(blank)]
        blank = 0
        if len(table) >= MAX_ROWS:
            raise too_many
        table.append(values)
    return header, table


def _csv_lines(data: bytes, encoding: str) -> Iterator[list[str]]:
    """A CSV's lines as lists of text, decoded as they are read (UnicodeDecodeError from
    ``utf-8-sig`` says: try ``cp1252``); at most :data:`MAX_COLUMNS` cells a line."""
    errors = "strict" if encoding.startswith("utf") else "replace"
    try:
        dialect: type[csv.Dialect] = csv.Sniffer().sniff(
            data[:4096].decode(encoding, errors="ignore"), delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors=errors, newline="")
    try:
        for line in csv.reader(text, dialect):
            yield line[:MAX_COLUMNS]
    except csv.Error as exc:
        raise ImportFileError(f"not a readable CSV sheet ({exc})") from None


def _xlsx_lines(data: bytes) -> Iterator[list[str]]:
    """The first worksheet's rows as lists of text (:func:`_cell`), streamed by openpyxl in
    read-only mode; as wide as the header (at most :data:`MAX_COLUMNS`)."""
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            strings = [i for i in z.infolist() if i.filename.endswith("sharedStrings.xml")]
            if sum(i.file_size for i in strings) > MAX_SHEET_BYTES:  # read whole when opened
                raise ImportFileError("the workbook's text table is too large")
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True,
                                      keep_links=False)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # a workbook's stated size may be wrong: read what is there
            first = next(sheet.iter_rows(max_row=1, max_col=MAX_COLUMNS, values_only=True), ())
            header = [_cell(v) for v in first]
            while header and not header[-1].strip():
                header.pop()
            if not header:
                return
            yield header
            for values in sheet.iter_rows(min_row=2, max_col=len(header), values_only=True):
                yield [_cell(v) for v in values]
        finally:
            book.close()
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser error is "not a workbook"
        raise ImportFileError(f"not a readable Excel workbook ({exc})") from None


def _cell(value: object) -> str:
    """An Excel cell as text (dates as ``YYYY-MM-DD``, whole numbers without ``.0``)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _details(row: dict[str, str]) -> tuple[CaseDetails, str]:
    """A row's case details and status (RecordError with a sentence for a bad field)."""

    def date(column: str) -> dt.date | None:
        text = row.get(column, "")
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            raise RecordError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None

    def number(column: str) -> int | None:
        text = row.get(column, "")
        try:
            return int(float(text)) if text else None
        except ValueError:
            raise RecordError(f"{column} {text!r} is not a number") from None

    age = number("age")
    consent_text = row.get("consent", "").lower()
    if consent_text not in YES | NO:
        raise RecordError(f"consent {row.get('consent')!r} is not yes or no")
    kind = row.get("kind", "").lower() or "missing"
    if kind not in KINDS:
        raise RecordError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    statuses = FOUND_STATUSES if kind == "found" else CASE_STATUSES
    status = row.get("status", "").lower() or statuses[0]
    if status not in statuses:
        raise RecordError(f"status {status!r} is not one of {', '.join(statuses)}")
    found_at = row.get("found_at", "")
    try:
        found_time = dt.datetime.fromisoformat(found_at) if found_at else None
    except ValueError:
        raise RecordError(f"found_at {found_at!r} is not a date (YYYY-MM-DD[THH:MM])") from None
    if found_time is not None and found_time.tzinfo is None:
        found_time = found_time.replace(tzinfo=dt.UTC)
    details = CaseDetails(
        name=row.get("name", ""), ref=row.get("ref", "") or None, birth_date=date("birth_date"),
        age_at_disappearance=age, gender=row.get("gender") or None,
        last_seen_place=row.get("last_seen") or None, last_seen_date=date("last_seen_date"),
        description=row.get("description") or None, guardian_contact=row.get("guardian") or None,
        consent_recorded=consent_text in YES, lawful_basis=row.get("lawful_basis") or None,
        kind=kind, found_place=row.get("found_place") or None, found_at=found_time,
        institution=row.get("institution") or None,
        institution_contact=row.get("institution_contact") or None,
        age_min=number("age_min"), age_max=number("age_max"),
        languages=row.get("languages") or None, marks=row.get("marks") or None)
    if not details.ref:
        raise RecordError("the case number (ref) is empty")
    details.validate()
    require_lawful_basis(details)
    return details, status


# ----------------------------------------------------------------------------- importing


@dataclass
class _Row:
    number: int
    ref: str | None
    details: CaseDetails | None = None
    status: str = "open"
    existing: object | None = None  # CaseRecord
    candidates: list[Candidate] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # photos left out: one line each
    taken_date: dt.date | None = None
    age_at_photo: float | None = None


def _photo_date(text: str) -> dt.date | None:
    """A ``taken_date`` cell (ValueError when it is not ``YYYY-MM-DD``)."""
    return dt.date.fromisoformat(text[:10]) if text else None


def import_cases(rows: Sequence[dict[str, str]], photos: PhotoSource, records: Records,
                 store: VectorStore | None, settings: Settings, actor: str,
                 dry_run: bool = False,
                 progress: Callable[[int, int, str], None] | None = None,
                 on_rows: Callable[[list[RowResult]], None] | None = None) -> ImportReport:
    """Import parsed sheet ``rows`` (see :func:`open_sheet`); photos read from ``photos``.

    ``progress(done, total, ref)`` is called as rows are checked and written; ``on_rows(results)``
    after each batch is written, with every row result so far (a queue job keeps them, so a
    worker taking the job over knows what was written). With ``dry_run``
    (``store`` may then be None) nothing is written and no face is embedded. Returns the report;
    a per-row problem never stops the rest.
    """
    report = ImportReport(dry_run=dry_run)
    total = len(rows)
    seen_refs: set[str] = set()
    for chunk in _chunks(list(enumerate(rows, start=2)), BATCH_ROWS):  # row 1 is the header
        checked = []
        for number, row in chunk:
            if progress:
                progress(number - 2, total, row.get("ref", ""))
            if row:
                checked.append(_check_row(number, row, photos, records, settings, seen_refs))
        good = [r for r in checked if not r.reasons]
        if not dry_run:
            assert store is not None, "a store is needed to import"
            prepared = iter(embed_candidates([c for r in good for c in r.candidates], settings))
            for r in good:
                mine = [next(prepared) for _ in r.candidates]
                report.rows.append(_write_row(r, mine, records, store, settings, actor))
        else:
            report.rows += [RowResult(r.number, r.ref, getattr(r.existing, "id", None),
                                      _would_be(r), tuple(r.skipped),
                                      r.details.kind if r.details else "missing")
                            for r in good]
        report.rows += [RowResult(r.number, r.ref, getattr(r.existing, "id", None), "rejected",
                                  tuple(r.reasons)) for r in checked if r.reasons]
        if on_rows:
            on_rows(sorted(report.rows, key=lambda r: r.row))
    if progress:
        progress(total, total, "done")
    report.rows.sort(key=lambda r: r.row)
    if not dry_run:
        records.audit(actor, "cases.import", None,
                      f"{report.count('imported')} imported, {report.count('updated')} updated, "
                      f"{report.count('rejected')} rejected")
    return report


def _chunks(items: list, n: int) -> Iterator[list]:
    for k in range(0, len(items), n):
        yield items[k:k + n]


def _check_row(number: int, row: dict[str, str], photos: PhotoSource, records: Records,
               settings: Settings, seen_refs: set[str]) -> _Row:
    ref = row.get("ref") or None
    out = _Row(number, ref)
    try:
        out.details, out.status = _details(row)
    except RecordError as exc:
        out.reasons.append(str(exc))
        return out
    assert out.details.ref is not None
    if out.details.ref in seen_refs:
        out.reasons.append(f"case number {out.details.ref!r} is on an earlier row too")
        return out
    seen_refs.add(out.details.ref)
    out.existing = records.case_by_ref(out.details.ref)
    if out.existing is not None and out.existing.kind != out.details.kind:
        out.reasons.append(f"case number {out.details.ref!r} is a {out.existing.kind} record, "
                           f"not {out.details.kind}")
        return out
    try:
        out.taken_date = _photo_date(row.get("taken_date", ""))
        text = row.get("age_at_photo", "")
        out.age_at_photo = float(text) if text else None
    except ValueError:
        out.reasons.append("taken_date must be YYYY-MM-DD and age_at_photo a number")
        return out
    known = ({p.sha256 for p in records.photos(out.existing.id) if p.status != "rejected"}
             if out.existing else set())
    names = [p.strip() for p in row.get("photos", "").split(";") if p.strip()]
    if not names and out.existing is None:
        out.reasons.append("no photo: a new case needs at least one")
    for name in names:
        try:
            data = photos.read(name, settings.max_file_bytes)
        except (OSError, ValueError) as exc:
            out.skipped.append(f"{name}: not added ({exc})")
            continue
        found = inspect_for_enrollment(PhotoInput(name, data, None, out.taken_date,
                                                  out.age_at_photo), settings)
        if isinstance(found, PhotoOutcome):
            out.skipped.append(f"{name}: not added ({', '.join(found.reasons)})")
        elif found.sha256 not in known and all(c.sha256 != found.sha256
                                               for c in out.candidates):
            out.candidates.append(found)
    if out.skipped and not out.candidates and out.existing is None:
        out.reasons += [*out.skipped, "no usable photo: a new case needs at least one"]
    return out


def _would_be(r: _Row) -> str:
    if r.existing is None:
        return "imported"
    assert r.details is not None
    changed = any(not same_value(getattr(r.existing, f), getattr(r.details, f))
                  for f in CaseDetails.__dataclass_fields__ if f != "kind"
                  ) or r.existing.status != r.status
    return "updated" if changed or r.candidates else "unchanged"


def _write_row(r: _Row, prepared: list, records: Records, store: VectorStore,
               settings: Settings, actor: str) -> RowResult:
    assert r.details is not None
    try:
        if r.existing is None:
            case_id = records.create_case(r.details, actor)
            status = "imported"
        else:
            case_id = r.existing.id
            changed = update_case(records, case_id, r.details, actor)
            status = "updated" if changed or prepared else "unchanged"
        first = "in_care" if r.details.kind == "found" else "open"
        if (r.existing is None and r.status != first) or (
                r.existing is not None and r.existing.status != r.status):
            records.set_case_status(case_id, r.status, actor)
            status = "updated" if r.existing is not None else status
        if prepared:
            store_prepared(case_id, prepared, records, store, settings)
            if r.existing is not None:
                records.audit(actor, "case.photos.add", f"case:{case_id}",
                              f"{len(prepared)} photo(s)")
            from findme.cases.crossleads import match_record

            match_record(records, store, settings, case_id, actor=actor)
    except RecordError as exc:
        return RowResult(r.number, r.ref, getattr(r.existing, "id", None), "rejected",
                         (str(exc),), r.details.kind)
    return RowResult(r.number, r.ref, case_id, status, tuple(r.skipped), r.details.kind)


# ----------------------------------------------------------------------------- exporting


def export_cases(records: Records, settings: Settings, out: Path | io.BytesIO, actor: str
                 ) -> int:
    """Write every case as a ZIP that :func:`import_cases` reads back: ``cases.csv`` in the
    import format and ``photos/<case>/<photo id>.jpg`` (the stored, metadata-free files, byte
    for byte). No vectors, leads or audit rows. Audited; returns the number of cases.

    Cases without an organisation number get ``case-<id>`` as their ``ref`` in the file."""
    cases = sorted(records.list_cases(kind=None), key=lambda c: c.id)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # quotes a cell holding a CR or an LF
    writer.writerow(COLUMNS)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for c in cases:
            ref = c.ref or f"case-{c.id}"
            folder = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in ref)
            paths = []
            ready = []
            for p in records.photos(c.id):
                src = settings.data_dir / p.file_path
                if p.status != "ready" or not src.is_file():
                    continue
                rel = f"photos/{folder}/{p.id}.jpg"
                z.write(src, rel, compress_type=zipfile.ZIP_STORED)
                paths.append(rel)
                ready.append(p)
            taken = {p.taken_date for p in ready}
            ages = {p.age_at_photo for p in ready}
            writer.writerow([_text(v) for v in (
                ref, c.name, ";".join(paths), c.age_at_disappearance, c.gender, c.birth_date,
                c.last_seen_place, c.last_seen_date, c.description, c.guardian_contact,
                "yes" if c.consent_recorded else "no", c.lawful_basis, c.status, c.kind,
                c.found_place, c.found_at.isoformat() if c.found_at else None, c.institution,
                c.institution_contact, c.age_min, c.age_max, c.languages, c.marks,
                # one value per row: kept when every photo shares it
                taken.pop() if len(taken) == 1 else None,
                ages.pop() if len(ages) == 1 else None)])
        z.writestr("cases.csv", buf.getvalue())
    records.audit(actor, "cases.export", None, f"{len(cases)} case(s)")
    return len(cases)


def _text(value: object) -> str:
    """A CSV cell: empty for None, any other value as text defused by :func:`defuse_cell`."""
    return "" if value is None else defuse_cell(str(value))


# ----------------------------------------------------------------------------- formula guard

#: characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell, or a line
#: of a cell, as a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CLASS = "".join(map(re.escape, FORMULA_STARTS))  # inside a regex [...]
#: where a line starts: the text's start, after LF, after a CR that is not part of CR LF
_LINE_START = r"(?:^|(?<=\n)|(?<=\r)(?!\n))"
_UNGUARDED = re.compile(_LINE_START + f"(?=[{_CLASS}]|'[{_CLASS}'])")
_GUARDED = re.compile(_LINE_START + f"'(?=[{_CLASS}'])")


def defuse_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it but never runs it: every line (the text's start, and
    after each CR, LF or CR LF inside it) that starts with ``= + - @``, a tab or a CR gets a
    leading apostrophe, as OWASP advises (``+91 98765 43210`` -> ``'+91 98765 43210``). A line
    that already starts with an apostrophe followed by one of those (or by another apostrophe)
    gets one more, so :func:`restore_cell` gives back exactly ``text``; any other text comes out
    as it went in (``'Tis`` stays ``'Tis``)."""
    return _UNGUARDED.sub("'", text)


def restore_cell(text: str) -> str:
    """The inverse of :func:`defuse_cell`: the guarding apostrophe taken off each line start
    (``'+91 98765 43210`` -> ``+91 98765 43210``). The import applies it to every cell, so an
    export reads back exactly."""
    return _GUARDED.sub("", text)
