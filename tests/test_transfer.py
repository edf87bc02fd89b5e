"""Bulk import and export with real photos, models, SQLite and Chroma in a temp folder."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.records import open_records
from findme.cases.transfer import (
    ImportFileError,
    PhotoSource,
    export_cases,
    import_cases,
    open_sheet,
)
from findme.config import Settings
from findme.faces.image import load_image
from findme.workspace import open_workspace

from .conftest import usable_photos

HEADER = ["ref", "name", "photos", "age", "gender", "last_seen", "last_seen_date", "consent",
          "lawful_basis"]


def _write_sheet(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def _stored(settings: Settings) -> dict[str, list[str]]:
    """``{ref: sorted sha256 of each stored photo file}``."""
    records = open_records(settings)
    try:
        return {c.ref: sorted(hashlib.sha256((settings.data_dir / p.file_path).read_bytes())
                              .hexdigest() for p in records.photos(c.id))
                for c in records.list_cases()}
    finally:
        records.engine.dispose()


def _details(settings: Settings) -> set[tuple]:
    records = open_records(settings)
    try:
        return {(c.ref, c.name, c.age_at_disappearance, c.gender, c.last_seen_place,
                 c.last_seen_date, c.consent_recorded, c.lawful_basis, c.status)
                for c in records.list_cases()}
    finally:
        records.engine.dispose()


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FINDME_DATA_DIR=str(settings.data_dir))
    return subprocess.run([sys.executable, "-m", "findme.cli", *args], env=env,
                          capture_output=True, text=True, timeout=1800)


@pytest.mark.heavy
def test_two_hundred_cases_import_once_export_and_come_back(
        ws_settings: Settings, orl: Path, celeb5: Path, tmp_path: Path) -> None:
    """200 cases with 1-3 photos each in one command (ORL people with 3 photos, the
    5-celebrity people with 2, public portraits with 1) plus a row whose photo is cut off: that
    row alone is rejected with its reason. A second run changes nothing. The export, imported
    into an empty data folder, gives the same cases with byte-identical photos, searchable."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rows = []
    for k, person in enumerate(sorted(orl.iterdir(), key=lambda p: int(p.name[1:]))):
        rows.append([f"ORL-{k:03d}", f"Orl Child {k}", ";".join(
            str(person.relative_to(orl.parent) / f"{n}.pgm") for n in (1, 2, 3)),
            str(6 + k % 10), "", "Bus station", "2026-03-01", "yes", ""])
    for person in sorted((celeb5 / "train").iterdir()):
        rows.append([f"CEL-{person.name}", person.name.replace("_", " ").title(), ";".join(
            str(p.relative_to(celeb5.parent))
            for p in usable_photos(sorted(person.iterdir()), ws_settings, 2)),
            "", "", "", "", "no", "police request 4/2026"])
    portraits = usable_photos(sorted((orl.parent / "distractors").iterdir()), ws_settings,
                              200 - len(rows))
    for k, p in enumerate(portraits):
        rows.append([f"POR-{k:03d}", f"Portrait {k}", str(p.relative_to(orl.parent)), "", "",
                     "", "", "yes", ""])
    assert len(rows) == 200
    broken = photos / "cut-off.jpg"
    broken.write_bytes((celeb5 / "val" / "madonna").iterdir().__next__().read_bytes()[:3000])
    rows.insert(17, ["BAD-001", "Cut Off", str(broken), "", "", "", "", "yes", ""])
    sheet = _write_sheet(tmp_path / "cases.csv", rows)
    for row in rows[:17] + rows[18:]:  # the photo folder: photos resolve only inside it
        for name in row[2].split(";"):
            (photos / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(orl.parent / name, photos / name)

    first = _run(ws_settings, "import", str(sheet), "--photos", str(photos), "--json")
    report = json.loads(first.stdout)
    assert first.returncode == 1, first.stderr[-2000:]  # one row rejected
    rejected = [r for r in report["rows"] if r["status"] == "rejected"]
    assert (report["imported"], report["updated"], report["rejected"]) == (200, 0, 1), rejected
    (bad,) = rejected
    assert bad["ref"] == "BAD-001" and bad["row"] == 19 and bad["case_id"] is None
    assert "cut off" in bad["reasons"][0] or "damaged" in bad["reasons"][0], bad
    assert "201/201 done" in first.stderr  # the progress bar
    before = _stored(ws_settings)
    assert len(before) == 200 and sum(map(len, before.values())) == 40 * 3 + 5 * 2 + 155

    again = json.loads(_run(ws_settings, "import", str(sheet), "--photos", str(photos),
                            "--json").stdout)
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 200)
    assert _stored(ws_settings) == before

    out = tmp_path / "export.zip"
    assert _run(ws_settings, "export", str(out)).returncode == 0
    assert out.stat().st_mode & 0o077 == 0
    fresh = replace(ws_settings, data_dir=tmp_path / "fresh")
    fresh.data_dir.mkdir()
    (fresh.data_dir / "weights").symlink_to(ws_settings.weights_dir)
    back = json.loads(_run(fresh, "import", str(out), "--json").stdout)
    assert back["imported"] == 200 and back["rejected"] == 0
    assert _details(fresh) == _details(ws_settings)
    assert _stored(fresh) == before  # the very same photo files
    with open_workspace(fresh) as ws:
        best = ws.matcher.search_image(load_image(orl / "s7" / "9.pgm", fresh)).faces[0].best
        assert best is not None
        assert ws.records.get_case(best.case_id).ref == "ORL-006"
        assert [e["action"] for e in ws.records.audit_log(action="cases.import")]


@pytest.mark.heavy
def test_dry_run_writes_nothing_and_bad_rows_say_why(ws_settings: Settings, orl: Path,
                                                    tmp_path: Path) -> None:
    rows = [
        ["A-1", "Good Child", "s1/1.pgm;s1/2.pgm", "9", "", "", "", "yes", ""],
        ["A-2", "No Basis", "s2/1.pgm", "", "", "", "", "no", ""],
        ["A-3", "Bad Date", "s3/1.pgm", "", "", "", "03/01/2026", "yes", ""],
        ["A-1", "Twice", "s4/1.pgm", "", "", "", "", "yes", ""],
        ["A-5", "Missing Photo", "s5/nope.pgm", "", "", "", "", "yes", ""],
        ["A-6", "No Photo", "", "", "", "", "", "yes", ""],
        ["A-7", "Leaves Zip", "../../etc/passwd", "", "", "", "", "yes", ""],
        ["", "", "", "", "", "", "", "", ""],
        ["A-9", "Good Two", "s9/1.pgm", "eleven", "", "", "", "yes", ""],
        ["A-10", "One Bad Photo", "s10/1.pgm;s10/nope.pgm", "", "", "", "", "yes", ""],
    ]
    sheet = _write_sheet(tmp_path / "cases.csv", rows)
    parsed, _, _ = open_sheet(sheet.name, sheet.read_bytes())
    records = open_records(ws_settings)
    try:
        report = import_cases(parsed, PhotoSource(folder=orl), records, None, ws_settings,
                              "tester", dry_run=True)
        assert records.list_cases() == [] and not (ws_settings.data_dir / "photos").exists()
    finally:
        records.engine.dispose()
    by_ref = {(r.row, r.ref): r for r in report.rows}
    assert by_ref[(2, "A-1")].status == "imported"
    reasons = {r.row: " ".join(r.reasons) for r in report.rows if r.status == "rejected"}
    assert "consent" in reasons[3] and "date" in reasons[4] and "earlier row" in reasons[5]
    assert "no such file" in reasons[6] and "needs at least one" in reasons[7]
    assert "age" in reasons[10] and 9 not in reasons  # the empty line is skipped
    # one unusable photo leaves the row's usable ones in, and says which was left out (the
    # Register page's rule)
    kept = by_ref[(11, "A-10")]
    assert kept.status == "imported", kept
    assert kept.reasons and "s10/nope.pgm: not added" in kept.reasons[0], kept
    from findme.ui.importing import report_table

    table = report_table(report)
    assert "would be imported" in set(table["status"]) and "imported" not in set(table["status"])
    assert "None" not in table.astype(str).to_string()
    with pytest.raises(ImportFileError, match="no ref"):
        open_sheet("x.csv", b"name,photos\nA,b.jpg\n")
    with pytest.raises(ImportFileError, match=".csv or .xlsx"):
        open_sheet("cases.pdf", b"%PDF-1.4")


def test_excel_sheets_read_like_csv(tmp_path: Path) -> None:
    """An .xlsx with real dates and numbers reads as the same text a CSV gives."""
    import datetime as dt

    import pandas as pd

    path = tmp_path / "cases.xlsx"
    pd.DataFrame({"Ref": ["X-1"], "Name": ["Ana"], "Photos": ["a.jpg; b.jpg"], "Age": [7.0],
                  "Last Seen Date": [dt.datetime(2026, 2, 3)], "Notes": ["kept apart"]}
                 ).to_excel(path, index=False)
    rows, source, ignored = open_sheet(path.name, path.read_bytes())
    assert rows == [{"ref": "X-1", "name": "Ana", "photos": "a.jpg; b.jpg", "age": "7",
                     "last_seen_date": "2026-02-03"}]
    assert ignored == ("notes",) and source.archive is None


def test_export_keeps_a_formula_like_name_as_text(ws_settings: Settings) -> None:
    """A name starting with ``=`` is exported as text a spreadsheet will not run (a leading
    apostrophe; read back unchanged); the export is audited."""
    import io
    import zipfile

    from findme.cases.records import CaseDetails

    records = open_records(ws_settings)
    try:
        records.create_case(CaseDetails(name='=HYPERLINK("http://x")', ref="F-1",
                                        consent_recorded=True))
        buf = io.BytesIO()
        assert export_cases(records, ws_settings, buf, "tester") == 1
        text = zipfile.ZipFile(buf).read("cases.csv").decode()
        assert text.startswith("ref,name,photos") and ",\"'=HYPERLINK" in text
        rows, source, _ = open_sheet("export.zip", buf.getvalue())
        assert rows[0]["name"] == '=HYPERLINK("http://x")' and source.archive is not None
        assert records.audit_log(action="cases.export")
    finally:
        records.engine.dispose()
