"""Ids are never reused: a case number, photo, lead or alert id names one thing forever (the
audit log, leads, exports and vectors refer to them), also after erasure, a restart, and an
upgrade from a schema whose SQLite tables reused the highest freed id."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
from sqlalchemy import Integer, text

from findme.cases import records as rec
from findme.cases.leads import NewLead, create_lead
from findme.cases.tables import Base
from findme.config import Settings
from findme.search.decision import Decision

HEAD = sorted(p.name[:4] for p in (rec.MIGRATIONS / "versions").glob("0*.py"))[-1]
BEFORE = "0012"  # the last schema whose SQLite tables reused ids


def _id_tables(db: Path) -> dict[str, str]:
    """``{table: CREATE statement}`` of every table with an integer ``id`` primary key."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        out = {}
        for name, sql in rows:
            cols = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
            if any(c[1] == "id" and c[5] == 1 and c[2].upper() == "INTEGER" for c in cols):
                out[name] = sql
    return out


def _lead(records: rec.Records, settings: Settings, case_id: int) -> int:
    new = NewLead(case_id, None, (5, 5, 40, 40), 0.99, {"facenet": 0.9}, Decision.MATCH,
                  np.full((48, 48, 3), 120, np.uint8))
    return create_lead(records, settings, new, records.add_probe("photo", "p.jpg", 1), "photo")


def test_case_numbers_are_not_reused_after_erasure_or_a_restart(ws_settings: Settings) -> None:
    """create, erase, create: the second child gets a new number, and so do its photo, probe,
    lead and alerts; reopening the database changes nothing."""
    from findme.alerts.store import list_alerts

    records = rec.open_records(ws_settings)
    first = records.create_case(rec.CaseDetails("First Child"), actor="t")
    photo = records.add_photo(first, "photos/a.jpg", "ab", [0, 0, 9, 9], [], {})
    lead = _lead(records, ws_settings, first)
    alerts = {a.id for a in list_alerts(records)}
    assert alerts, "the lead should have queued at least a dashboard alert"
    records.delete_case_rows(first, actor="t")

    second = records.create_case(rec.CaseDetails("Second Child"), actor="t")
    assert second != first
    assert records.add_photo(second, "photos/b.jpg", "cd", [0, 0, 9, 9], [], {}) != photo
    second_lead = _lead(records, ws_settings, second)
    assert second_lead != lead
    assert not alerts & {a.id for a in list_alerts(records)}
    targets = [e["target"] for e in records.audit_log(action="case.create")]
    assert len(targets) == len(set(targets)) == 2

    records.delete_case_rows(second, actor="t")
    records.engine.dispose()
    reopened = rec.open_records(ws_settings)
    third = reopened.create_case(rec.CaseDetails("Third Child"), actor="t")
    assert third not in (first, second) and third > second
    assert _lead(reopened, ws_settings, third) not in (lead, second_lead)


def test_every_table_with_an_id_never_reuses_one(ws_settings: Settings) -> None:
    """The schema the migrations build and the one the ORM declares agree: every table with an
    integer id is AUTOINCREMENT on SQLite (a table added later without it fails here)."""
    import findme.alerts.store
    import findme.cases.import_jobs
    import findme.cases.signins
    import findme.cases.users
    import findme.video.scans  # noqa: F401  (each declares its tables on Base)

    rec.open_records(ws_settings).engine.dispose()
    tables = _id_tables(ws_settings.data_dir / "findme.db")
    assert {"cases", "photos", "probes", "leads", "lead_reviews", "audit_log", "users",
            "alerts", "alert_attempts", "signin_sessions", "scans", "import_jobs"} <= set(tables)
    assert [t for t, sql in tables.items() if "AUTOINCREMENT" not in sql] == []
    declared = [t.name for t in Base.metadata.sorted_tables
                if len(t.primary_key.columns) == 1
                and isinstance(next(iter(t.primary_key.columns)).type, Integer)
                and not t.dialect_options["sqlite"]["autoincrement"]]
    assert declared == []


def _old_database(settings: Settings) -> None:
    """A database at the schema before ids stopped being reused, with a row in every table
    and every relation; case 4 and lead 3 were made and erased (the audit log remembers)."""
    engine = rec._engine(settings.db_url)
    rec.migrate(engine, BEFORE)
    n = dt.datetime(2026, 5, 1, 12, 0, 0)
    sql = [
        "INSERT INTO cases (id, name, consent_recorded, status, created_at, updated_at, ref) "
        "VALUES (1, 'A', 1, 'open', :n, :n, 'R-1'), (2, 'B', 1, 'open', :n, :n, NULL), "
        "(3, 'C', 0, 'found', :n, :n, 'R-3')",
        "INSERT INTO photos (id, case_id, file_path, sha256, status, created_at, face_box) "
        "VALUES (1, 1, 'p/1.jpg', 'a1', 'ready', :n, '[1, 2, 3, 4]'), "
        "(2, 2, 'p/2.jpg', 'b2', 'ready', :n, NULL), (3, 3, 'p/3.jpg', 'c3', 'pending', :n, NULL)",
        "INSERT INTO probes (id, source, source_ref, faces, created_at) "
        "VALUES (1, 'photo', 'tip.jpg', 2, :n)",
        "INSERT INTO leads (id, probe_id, case_id, photo_id, fused_score, decision, status, "
        "created_at, scores) VALUES (1, 1, 2, 2, 0.9, 'match', 'new', :n, '{\"facenet\": 0.8}'), "
        "(2, 1, 1, 1, 0.7, 'possible', 'rejected', :n, NULL)",
        "INSERT INTO lead_reviews (id, lead_id, reviewer, verdict, at) "
        "VALUES (1, 2, 'rita', 'reject', :n)",
        "INSERT INTO users (id, username, password_hash, role, active, failed_attempts, "
        "created_at) VALUES (1, 'admin', 'h', 'admin', 1, 0, :n)",
        "INSERT INTO alerts (id, key, lead_id, case_id, channel, recipient, body, status, "
        "attempts, created_at) VALUES (1, 'k1', 1, 2, 'dashboard', 'all', 'b', 'sent', 1, :n)",
        "INSERT INTO alert_attempts (id, alert_id, at, ok) VALUES (1, 1, :n, 1)",
        "INSERT INTO alert_reads (alert_id, username, at) VALUES (1, 'admin', :n)",
        "INSERT INTO signin_sessions (id, token_hash, username, stamp, created_at, "
        "last_seen_at, expires_at, revoked) VALUES (1, 't', 'admin', 's', :n, :n, :n, 0)",
        "INSERT INTO scans (id, source, camera, every_s, status, done_s, frames, created_at) "
        "VALUES (1, 'clip.mp4', 'Gate', 1.0, 'done', 5.0, 10, :n)",
        "INSERT INTO import_jobs (id, file_name, folder, status, created_at) "
        "VALUES (1, 'cases.csv', 'imports/1', 'done', :n)",
        "INSERT INTO audit_log (actor, action, target, at) VALUES "
        "('t', 'case.create', 'case:1', :n), ('t', 'case.create', 'case:2', :n), "
        "('t', 'case.create', 'case:3', :n), ('t', 'case.create', 'case:4', :n), "
        "('t', 'lead.create', 'lead:3', :n), ('t', 'case.erase', 'case:4', :n)",
    ]
    with engine.begin() as conn:
        for s in sql:
            conn.execute(text(s), {"n": n})
    engine.dispose()


def _dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table (the columns the old schema had), in id order."""
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'")]
        out = {}
        for name in names:
            cols = [c[1] for c in conn.execute(f'PRAGMA table_info("{name}")')]
            out[name] = (cols, conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall())
    return out


def _indexes(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                "AND sql IS NOT NULL").fetchall())


def _foreign_keys(db: Path) -> dict[str, set[tuple]]:
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name != 'sqlite_sequence'")]
        return {n: {(r[2], r[3], r[4], r[6]) for r in
                    conn.execute(f'PRAGMA foreign_key_list("{n}")')} for n in names}


def test_upgrade_keeps_every_row_and_relation_and_skips_erased_numbers(
        ws_settings: Settings) -> None:
    """The rebuild of every table keeps each row, index and foreign key (photos still belong to
    their cases, leads to theirs: nothing cascades); numbers the audit log shows were used and
    erased before the upgrade are not handed out again."""
    db = ws_settings.data_dir / "findme.db"
    _old_database(ws_settings)
    before, indexes, fks = _dump(db), _indexes(db), _foreign_keys(db)

    records = rec.open_records(ws_settings)
    assert rec.schema_revision(records.engine) == HEAD
    after = _dump(db)
    assert before.keys() <= after.keys()  # later migrations add tables (api_keys, drive_jobs)
    assert all(not after[t][1] for t in after.keys() - before.keys()), "new tables start empty"
    for table, (cols, rows) in before.items():
        new_cols, new_rows = after[table]
        assert new_cols[:len(cols)] == cols, table
        assert [r[:len(cols)] for r in new_rows] == rows, table
    assert indexes <= _indexes(db)
    now_fks = _foreign_keys(db)  # every relation kept (0014 adds the found side of a lead)
    assert fks.keys() <= now_fks.keys() and all(fks[t] <= now_fks[t] for t in fks)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert [t for t, sql in _id_tables(db).items() if "AUTOINCREMENT" not in sql] == []

    assert [p.case_id for p in records.photos()] == [1, 2, 3]
    assert {(lead.id, lead.case_id, lead.probe_id, lead.photo_id)
            for lead in records.leads()} == {(1, 2, 1, 2), (2, 1, 1, 1)}
    assert records.case_by_ref("R-3").id == 3
    new_case = records.create_case(rec.CaseDetails("D"), actor="t")
    assert new_case == 5  # 4 was used and erased before the upgrade
    assert _lead(records, ws_settings, new_case) == 4  # lead 3 likewise
    from findme.alerts.store import list_alerts

    assert 1 in {a.id for a in list_alerts(records)}
    records.delete_case_rows(2, actor="t")  # the foreign keys still cascade: lead 1's alert
    assert [p.case_id for p in records.photos()] == [1, 3]
    assert {lead.case_id for lead in records.leads()} == {1, 5}
    assert 1 not in {a.id for a in list_alerts(records)}
