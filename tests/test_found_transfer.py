"""Import and export with found records (issue 21): the ``kind`` column, found fields, per-photo
age, report rows carrying ``case_id`` or ``found_id``; export -> import round-trips them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.records import open_records
from findme.cases.transfer import PhotoSource, export_cases, import_cases, open_sheet
from findme.config import Settings
from findme.evaluation.datasets import identities
from findme.workspace import open_workspace

from .conftest import usable_photos

pytestmark = pytest.mark.heavy
HEADER = ["ref", "kind", "name", "photos", "consent", "lawful_basis", "found_place", "found_at",
          "institution", "institution_contact", "age_min", "age_max", "languages", "marks",
          "status", "age_at_photo", "taken_date"]


def _fields(settings: Settings) -> set[tuple]:
    records = open_records(settings)
    try:
        return {(c.ref, c.kind, c.name, c.status, c.lawful_basis, c.found_place,
                 c.found_at.replace(tzinfo=None) if c.found_at else None, c.institution,
                 c.institution_contact, c.age_min, c.age_max, c.languages, c.marks,
                 tuple((p.age_at_photo, p.taken_date) for p in records.photos(c.id)))
                for c in records.list_cases(kind=None)}
    finally:
        records.engine.dispose()


def test_import_with_kind_and_export_round_trip(ws_settings: Settings, celeb5: Path,
                                                tmp_path: Path) -> None:
    people = identities(celeb5 / "train")
    folder = tmp_path / "photos"
    folder.mkdir()
    madonna = usable_photos(people["madonna"], ws_settings, 4)
    for p in madonna:
        shutil.copy(p, folder / p.name)
    rows = [
        ["M-1", "", "Madonna C.", f"{madonna[0].name};{madonna[1].name}", "yes", "", "", "",
         "", "", "", "", "", "", "", "7", "2019-05-01"],
        ["F-7", "found", "unknown", f"{madonna[2].name};{madonna[3].name}", "", "welfare "
         "committee order 3/2026", "Platform 4", "2026-11-02T08:15", "Home", "+1 555 0100",
         "8", "10", "Hindi", "scar on the chin", "", "", ""],
        ["F-8", "found", "unknown", madonna[2].name, "", "", "", "", "", "", "", "", "", "",
         "", "", ""],  # no lawful basis: rejected
        ["F-9", "found", "unknown", madonna[2].name, "", "duty of care", "", "", "", "", "",
         "", "", "", "open", "", ""],  # a missing case's status: rejected
    ]
    sheet = io.StringIO()
    w = csv.writer(sheet)
    w.writerow(HEADER)
    w.writerows(rows)
    parsed, _, ignored = open_sheet("cases.csv", sheet.getvalue().encode())
    assert ignored == ()
    with open_workspace(ws_settings) as ws:
        report = import_cases(parsed, PhotoSource(folder), ws.records, ws.store, ws.settings,
                              "tester")
        got = {r["ref"]: r for r in report.as_dict()["rows"]}
        assert got["M-1"]["status"] == "imported" and got["M-1"]["case_id"]
        assert got["F-7"]["status"] == "imported" and got["F-7"]["found_id"]
        assert got["F-7"]["case_id"] is None and got["F-7"]["kind"] == "found"
        assert got["F-8"]["status"] == "rejected" and "lawful basis" in \
            " ".join(got["F-8"]["reasons"])
        assert got["F-9"]["status"] == "rejected"
        # the saved rows were matched both ways: one cross-match lead
        (lead,) = ws.records.leads()
        assert (lead.case_id, lead.found_id) == (got["M-1"]["case_id"], got["F-7"]["found_id"])
        assert lead.age_gap_years is not None
        # a second run changes nothing
        again = import_cases(parsed, PhotoSource(folder), ws.records, ws.store, ws.settings,
                             "tester")
        assert {r.ref: r.status for r in again.rows if r.status != "rejected"} == {
            "M-1": "unchanged", "F-7": "unchanged"}
        zip_path = tmp_path / "export.zip"
        assert export_cases(ws.records, ws.settings, zip_path, "tester") == 2
    before = _fields(ws_settings)
    assert ("F-7", "found", "unknown", "in_care", "welfare committee order 3/2026",
            "Platform 4", dt.datetime(2026, 11, 2, 8, 15), "Home", "+1 555 0100", 8, 10,
            "Hindi", "scar on the chin", ((None, None), (None, None))) in before

    other = replace(ws_settings, data_dir=tmp_path / "other")
    other.data_dir.mkdir()
    (other.data_dir / "weights").symlink_to(ws_settings.weights_dir)
    parsed, photos, _ = open_sheet("export.zip", zip_path.read_bytes())
    with open_workspace(other) as ws:
        report = import_cases(parsed, photos, ws.records, ws.store, ws.settings, "tester")
        assert report.count("imported") == 2, report.as_dict()
        assert len(ws.records.leads()) == 1
    assert _fields(other) == before
