"""The case database on a real PostgreSQL server (started on 127.0.0.1 by the test)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from findme.cases import records as rec
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.faces.image import load_image
from findme.workspace import open_workspace

HEAD = sorted(p.name[:4] for p in (rec.MIGRATIONS / "versions").glob("0*.py"))[-1]


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail("PostgreSQL is not installed: `make system-packages` installs it")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster listening on 127.0.0.1 only."""
    folder = Path(tempfile.mkdtemp(prefix="findme-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(_as_postgres([_bin("initdb"), "-D", str(data), "-U", "findme",
                                 "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(data), "-w", "-l",
                                 str(folder / "log"), "-o",
                                 f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
                                 "start"]), check=True, capture_output=True, timeout=120)
    url = f"postgresql+psycopg://findme@127.0.0.1:{port}/postgres"
    try:
        yield url
    finally:
        subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _fresh(url: str) -> None:
    engine = rec._engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def test_old_schema_upgrades_on_postgres(postgres_url: str, ws_settings: Settings) -> None:
    _fresh(postgres_url)
    engine = rec._engine(postgres_url)
    rec.migrate(engine, "0001")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cases (name, consent_recorded, status, created_at, "
                          "updated_at) VALUES ('Old Case', true, 'open', :n, :n)"), {"n": now})
    engine.dispose()
    records = rec.open_records(replace(ws_settings, database_url=postgres_url))
    assert rec.schema_revision(records.engine) == HEAD
    case = records.get_case(1)
    assert case.name == "Old Case" and case.created_at.tzinfo is not None
    records.set_case_status(1, "found", actor="pg-test")
    assert records.audit_log()[0]["action"] == "case.status"


def test_case_numbers_are_not_reused_on_postgres(postgres_url: str, ws_settings: Settings
                                                ) -> None:
    """create, erase, create: a new number (sequences never hand one out twice), also after
    reopening; the one-open-lead-per-searched-photo index exists here too."""
    _fresh(postgres_url)
    settings = replace(ws_settings, database_url=postgres_url)
    records = rec.open_records(settings)
    first = records.create_case(rec.CaseDetails("First"), actor="pg-test")
    records.delete_case_rows(first, actor="pg-test")
    second = records.create_case(rec.CaseDetails("Second"), actor="pg-test")
    records.delete_case_rows(second, actor="pg-test")
    records.engine.dispose()
    reopened = rec.open_records(settings)
    third = reopened.create_case(rec.CaseDetails("Third"), actor="pg-test")
    assert len({first, second, third}) == 3 and third > second > first
    with reopened.engine.connect() as conn:
        assert conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                 "'uq_leads_open_probe'")).scalar().endswith(
            "WHERE ((status)::text = 'new'::text)")
    reopened.engine.dispose()


def test_concurrent_leads_from_one_image_make_one_on_postgres(postgres_url: str,
                                                              ws_settings: Settings) -> None:
    """Four writers making the lead of one case from one image at once, each on its own
    connection: PostgreSQL's unique index makes one lead; every writer gets its id."""
    import threading

    import numpy as np

    from findme.cases.leads import NewLead, create_lead
    from findme.search.decision import Decision

    _fresh(postgres_url)
    settings = replace(ws_settings, database_url=postgres_url)
    case = rec.open_records(settings).create_case(rec.CaseDetails("A"), actor="pg-test")
    new = NewLead(case, None, (5, 5, 40, 40), 0.99, {"facenet": 0.9}, Decision.MATCH,
                  np.full((48, 48, 3), 120, np.uint8), fingerprint="f" * 64)
    start, ids, errors = threading.Barrier(4), [], []

    def make() -> None:
        records = rec.open_records(settings)
        try:
            start.wait()
            ids.append(create_lead(records, settings, new, None, "photo"))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)
        finally:
            records.engine.dispose()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    records = rec.open_records(settings)
    (lead,) = records.leads()
    assert errors == [] and ids == [lead.id] * 4
    assert len(list(settings.leads_dir.iterdir())) == 1
    records.engine.dispose()


@pytest.mark.heavy
def test_enroll_search_erase_with_postgres_records(postgres_url: str, ws_settings: Settings,
                                                   orl: Path) -> None:
    _fresh(postgres_url)
    settings = replace(ws_settings, database_url=postgres_url)
    with open_workspace(settings) as ws:
        result = enroll_case(rec.CaseDetails(name="Postgres Child", age_at_disappearance=8,
                                             last_seen_date=dt.date(2026, 9,
                                                                    1), consent_recorded=True),
                             [PhotoInput(f"{i}.pgm", (orl / "s22" / f"{i}.pgm").read_bytes())
                              for i in (1, 2, 3)], ws.records, ws.store, settings)
        found = ws.search(load_image(orl / "s22" / "9.pgm", settings), source="photo",
                          source_ref="pg.jpg")
        assert found.faces[0].best.case_id == result.case_id
        assert found.lead_ids and ws.records.leads()[0].scores.keys() == set(settings.models)
        again = ws.search(load_image(orl / "s22" / "9.pgm", settings), source="photo",
                          source_ref="pg (1).jpg")  # the same photo again: the same lead
        assert again.lead_ids == found.lead_ids and len(ws.records.leads()) == 1
        delete_case(result.case_id, ws.records, ws.store, settings)
        counts = ws.records.counts()
        assert (counts["cases"], counts["photos"], counts["leads"]) == (0, 0, 0)
    with open_workspace(settings) as ws:  # reconcile on a clean PostgreSQL store: nothing to do
        assert not ws.repaired.changed


def test_ready_faces_on_postgres(postgres_url: str, ws_settings: Settings) -> None:
    """The gallery count walks the smaller side with a correlated subquery: PostgreSQL gives
    the same numbers as a join, either side the larger."""
    import random

    from tests.test_ready_faces import _add, _joined

    _fresh(postgres_url)
    records = rec.open_records(replace(ws_settings, database_url=postgres_url))
    rng = random.Random(3)
    _add(records, rng, 30, "missing", 0)
    _add(records, rng, 8, "found", 1000)
    for kind in ("missing", "found"):
        assert records.ready_faces(kind) == _joined(records, kind) > 0, kind
    _add(records, rng, 40, "found", 2000)
    for kind in ("missing", "found"):
        assert records.ready_faces(kind) == _joined(records, kind) > 0, kind
    records.engine.dispose()
