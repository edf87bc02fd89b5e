"""The gallery size a search's open-set thresholds follow (ready photos of one side's records),
counted through the smaller side: the same number as a join of every photo with its case, with
either side the larger, photos not ready left out, and an empty side."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from findme.cases.records import Records, open_records
from findme.cases.tables import Case, Photo
from findme.config import Settings


def _joined(records: Records, kind: str) -> int:
    with records.session() as s:
        return s.scalar(select(func.count()).select_from(Photo).join(
            Case, Photo.case_id == Case.id).where(Photo.status == "ready",
                                                   Case.kind == kind)) or 0


def _add(records: Records, rng: random.Random, n_cases: int, kind: str, start: int) -> None:
    with records.session() as s:
        for i in range(n_cases):
            case = Case(name=f"{kind} {i}", consent_recorded=True, kind=kind,
                        lawful_basis="duty of care" if kind == "found" else None)
            s.add(case)
            s.flush()
            for k in range(rng.randint(0, 4)):
                s.add(Photo(case_id=case.id, file_path=f"p/{start + i}-{k}.jpg",
                            sha256=f"{start + i:032x}{k:032x}",
                            status=rng.choice(["ready", "ready", "ready", "rejected"])))


def test_ready_faces_counts_each_side_as_a_join_does(ws_settings: Settings) -> None:
    records = open_records(ws_settings)
    rng = random.Random(7)
    assert records.ready_faces("missing") == records.ready_faces("found") == 0
    _add(records, rng, 40, "missing", 0)  # one side only
    assert records.ready_faces("missing") == _joined(records, "missing") > 0
    assert records.ready_faces("found") == 0
    _add(records, rng, 10, "found", 1000)  # found the smaller side
    for kind in ("missing", "found"):
        assert records.ready_faces(kind) == _joined(records, kind) > 0, kind
    _add(records, rng, 80, "found", 2000)  # found now the larger side
    for kind in ("missing", "found"):
        assert records.ready_faces(kind) == _joined(records, kind) > 0, kind
    with records.session() as s:  # photos leaving the store (erased, rejected) leave the count
        s.execute(Photo.__table__.update().where(Photo.id % 3 == 0).values(status="deleted"))
    for kind in ("missing", "found"):
        assert records.ready_faces(kind) == _joined(records, kind), kind
    records.engine.dispose()
