"""The case database: validation, versioned schema upgrades, repository behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from findme.cases import records as rec
from findme.config import Settings

HEAD = sorted(p.name[:4] for p in (rec.MIGRATIONS / "versions").glob("0*.py"))[-1]


def test_old_database_upgrades_and_keeps_its_data(ws_settings: Settings) -> None:
    engine = rec._engine(ws_settings.db_url)
    rec.migrate(engine, "0001")
    assert rec.schema_revision(engine) == "0001"
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cases (name, consent_recorded, status, created_at, "
                          "updated_at) VALUES ('Old Case', 1, 'open', :n, :n)"), {"n": now})
        conn.execute(text("INSERT INTO photos (case_id, file_path, sha256, status, created_at) "
                          "VALUES (1, 'photos/1/a.jpg', 'ab', 'ready', :n)"), {"n": now})
    engine.dispose()

    records = rec.open_records(ws_settings)
    assert rec.schema_revision(records.engine) == HEAD
    assert records.get_case(1).name == "Old Case"
    assert records.photos(1)[0].landmarks is None  # column added by 0002
    probe = records.add_probe("photo", "x.jpg", 1)
    lead = records.add_lead(probe, 1, 1, [1, 2, 3, 4], 0.9, {"facenet": 0.7}, "match")
    assert records.leads(case_id=1)[0].id == lead
    rec.open_records(ws_settings)  # idempotent
    assert rec.schema_revision(records.engine) == HEAD


@pytest.mark.parametrize("details,message", [
    (rec.CaseDetails(name="  "), "name is required"),
    (rec.CaseDetails(name="A", age_at_disappearance=-1), "between 0 and 120"),
    (rec.CaseDetails(name="A", birth_date=dt.date.today() + dt.timedelta(days=3)), "future"),
    (rec.CaseDetails(name="A", last_seen_date=dt.date(2020, 1, 1),
                     birth_date=dt.date(2021, 1, 1)), "before the date of birth"),
    (rec.CaseDetails(name="x" * 201), "200 characters"),
])
def test_bad_case_details_change_nothing(ws_settings: Settings, details: rec.CaseDetails,
                                         message: str) -> None:
    records = rec.open_records(ws_settings)
    with pytest.raises(rec.RecordError, match=message):
        records.create_case(details)
    assert records.counts()["cases"] == 0


def test_repository_round_trip(ws_settings: Settings) -> None:
    records = rec.open_records(ws_settings)
    cid = records.create_case(rec.CaseDetails(
        name="Asha", age_at_disappearance=9, gender="female", last_seen_place="Central station",
        last_seen_date=dt.date(2026, 10, 1), guardian_contact="+10000000", consent_recorded=True),
        actor="tester")
    case = records.get_case(cid)
    assert (case.name, case.status, case.consent_recorded) == ("Asha", "open", True)
    records.set_case_status(cid, "found", actor="tester")
    assert records.get_case(cid).status == "found"
    assert records.open_case_names([cid]) == {}
    with pytest.raises(rec.RecordError):
        records.set_case_status(cid, "lost")
    with pytest.raises(rec.RecordError, match="no case"):
        records.get_case(999)
    actions = [e["action"] for e in records.audit_log()]
    assert actions[:2] == ["case.status", "case.create"]
    assert all("Asha" not in (e["detail"] or "") for e in records.audit_log())


def test_foreign_keys_enforced(ws_settings: Settings) -> None:
    records = rec.open_records(ws_settings)
    with pytest.raises(rec.RecordError):
        records.add_photo(42, "p.jpg", "x", [0, 0, 1, 1], [], {})


@pytest.mark.heavy
def test_concurrent_first_start_migrates_once(ws_settings: Settings) -> None:
    """Several processes opening a brand-new database at once: all succeed, one schema."""
    import subprocess
    import sys
    import time

    code = ("import sys, time, pathlib; from dataclasses import replace\n"
            "from findme.config import get_settings\n"
            "from findme.cases.records import CaseDetails, open_records\n"
            f"s = replace(get_settings(), data_dir=pathlib.Path({str(ws_settings.data_dir)!r}))\n"
            "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # start together\n"
            "open_records(s).create_case(CaseDetails(name='c'))\n")
    start = str(time.time() + 8)
    procs = [subprocess.Popen([sys.executable, "-c", code, start], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    records = rec.open_records(ws_settings)
    assert records.counts()["cases"] == 4
    assert rec.schema_revision(records.engine) == HEAD


def test_the_data_folder_and_database_are_private(ws_settings: Settings) -> None:
    """0755 / 0644 would let every local user read children's records and password hashes."""
    import os
    import stat

    os.chmod(ws_settings.data_dir, 0o755)  # as an older version left it
    records = rec.open_records(ws_settings)
    records.create_case(rec.CaseDetails(name="Private"))
    records = rec.open_records(ws_settings)  # a restart tightens what exists
    assert stat.S_IMODE(ws_settings.data_dir.stat().st_mode) == 0o700
    for f in ws_settings.data_dir.glob("findme.db*"):
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
