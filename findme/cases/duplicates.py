"""Duplicates at the door, across the registry, and merging two records of one child.

The same child is often registered twice (two police stations, two NGOs, a found child moved
between institutions, a double click). Before a record is saved, :func:`find_duplicates`
searches its faces against the *same* side and returns the likely duplicates for the person to
see (open it, add the photos to it, or register anyway: :func:`findme.cases.registry.enroll_case`
takes that choice and audits it). :func:`duplicate_pairs` lists likely duplicates in the whole
registry; :func:`merge_cases` joins two records of one kind (photos, vectors, leads, alerts,
history) and the audit log keeps both numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from findme.cases.records import RecordError, Records, add_audit
from findme.cases.tables import AuditEntry, Case, Lead, Photo, aware, now
from findme.config import Settings
from findme.search.crossmatch import PairScore, QueryFace, search_side, stored_faces
from findme.search.decision import Decision
from findme.search.matcher import Matcher
from findme.search.store import VectorStore


@dataclass(frozen=True)
class Duplicate:
    """A registered record the new one may duplicate: its id and the number people see
    (``#12`` / ``F-12``), name, when and by whom it was registered, the best score between any
    of the new faces and its photos, and the decision."""

    case_id: int
    label: str
    name: str
    registered_at: dt.datetime
    registered_by: str | None
    score: float
    decision: Decision

    def sentence(self) -> str:
        """"this child may already be registered as #12, Asha K., registered 3 days ago by
        rita" (what the register form shows)."""
        days = (dt.datetime.now(dt.UTC) - self.registered_at).days
        when = "today" if days < 1 else "yesterday" if days == 1 else f"{days} days ago"
        by = f" by {self.registered_by}" if self.registered_by else ""
        return (f"this child may already be registered as {self.label}, {self.name}, "
                f"registered {when}{by} ({self.decision}, score {self.score:.2f})")


def _registered_by(records: Records, case_ids: list[int]) -> dict[int, str]:
    targets = [f"case:{c}" for c in case_ids]
    with records.session() as s:
        rows = s.execute(select(AuditEntry.target, AuditEntry.actor).where(
            AuditEntry.action == "case.create", AuditEntry.target.in_(targets))).all()
    return {int(t.split(":", 1)[1]): a for t, a in rows}


def find_duplicates(records: Records, store: VectorStore, settings: Settings, kind: str,
                    vectors: Sequence[dict[str, np.ndarray]], matcher: Matcher | None = None,
                    exclude: int | None = None) -> list[Duplicate]:
    """Records of ``kind`` (open ones) that the faces ``vectors`` (``{model: vector}`` each, a
    new record's photos before it is saved) may show, at ``possible`` or better, best first.
    ``exclude`` leaves one record out (the record the photos are being added to)."""
    open_ids = set(records.open_ids(kind)) - {exclude}
    if not vectors or not open_ids:
        return []
    matcher = matcher or Matcher(records, store, settings)
    faces = [QueryFace(-1, -1 - k, v) for k, v in enumerate(vectors)]
    pairs = [p for p in search_side(matcher, faces, kind, open_ids) if p.decision.makes_lead]
    if not pairs:
        return []
    ids = [p.other_id for p in pairs]
    cases = {}
    for case_id in ids:
        try:
            cases[case_id] = records.get_case(case_id)
        except RecordError:  # erased meanwhile
            continue
    by = _registered_by(records, ids)
    return [Duplicate(p.other_id, cases[p.other_id].label, cases[p.other_id].name,
                      aware(cases[p.other_id].created_at) or now(), by.get(p.other_id),
                      p.score, p.decision) for p in pairs if p.other_id in cases]


def duplicate_pairs(records: Records, store: VectorStore, settings: Settings,
                    matcher: Matcher | None = None) -> dict[str, list[PairScore]]:
    """Likely duplicate pairs in the whole registry, per side: ``{"missing": [...],
    "found": [...]}``, each pair once (lower id first), ``possible`` or better, best first."""
    matcher = matcher or Matcher(records, store, settings)
    out: dict[str, list[PairScore]] = {}
    for kind in ("missing", "found"):
        ids = records.open_ids(kind)
        pairs = search_side(matcher, stored_faces(matcher, ids), kind, set(ids)) if ids else []
        seen: dict[tuple[int, int], PairScore] = {}
        for p in pairs:
            if not p.decision.makes_lead:
                continue
            key = (min(p.case_id, p.other_id), max(p.case_id, p.other_id))
            if key not in seen or seen[key].score < p.score:
                seen[key] = p if p.case_id < p.other_id else PairScore(
                    p.other_id, p.other_photo_id, p.case_id, p.photo_id, p.score, p.scores,
                    p.decision)
        out[kind] = sorted(seen.values(), key=lambda p: (-p.score, p.case_id, p.other_id))
    return out


def merge_cases(records: Records, store: VectorStore, keep: int, merge: int,
                actor: str = "system") -> int:
    """Join record ``merge`` into record ``keep`` (both of one kind): its photos (vectors
    relabelled), leads, alerts and audit history now belong to ``keep``; ``merge``'s row is
    removed and its number never handed out again. A lead the two both have (the same searched
    image open on both, or the same cross-match pair) is kept once: ``merge``'s copy is
    dropped. The audit log keeps both numbers (``case.merge`` on both). Returns the number of
    photos moved."""
    if keep == merge:
        raise RecordError("a record cannot be merged with itself")
    kinds = records.kinds([keep, merge])
    if keep not in kinds or merge not in kinds:
        raise RecordError(f"no record with id {merge if keep in kinds else keep}")
    if kinds[keep] != kinds[merge]:
        raise RecordError("only records of one kind can be merged (a missing case and a found "
                          "record are linked by confirming their cross-match lead)")
    with records.session() as s:
        photo_ids = list(s.scalars(select(Photo.id).where(Photo.case_id == merge)))
        s.execute(update(Photo).where(Photo.case_id == merge).values(case_id=keep))
        _move_leads(s, keep, merge)
        from findme.alerts.store import Alert

        s.execute(update(Alert).where(Alert.case_id == merge).values(case_id=keep))
        kept = s.get(Case, keep)
        assert kept is not None
        kept.updated_at = now()
        add_audit(s, actor, "case.merge", f"case:{keep}", f"merged case:{merge} into it, "
                  f"{len(photo_ids)} photo(s)")
        add_audit(s, actor, "case.merge", f"case:{merge}", f"merged into case:{keep}")
        s.execute(Case.__table__.delete().where(Case.id == merge))
    for model in store.models():
        store.set_owner(model, photo_ids, [keep] * len(photo_ids),
                        [kinds[keep]] * len(photo_ids))
    return len(photo_ids)


def _move_leads(s: Session, keep: int, merge: int) -> None:
    """Move ``merge``'s leads (as the missing side, and as the found side) to ``keep``,
    dropping the ones ``keep`` already has (same open searched image, same pair)."""
    for lead in list(s.scalars(select(Lead).where(Lead.case_id == merge))):
        clash = None
        if lead.found_id is not None:
            clash = select(Lead.id).where(Lead.case_id == keep, Lead.found_id == lead.found_id)
        elif lead.probe_fingerprint is not None and lead.status == "new":
            clash = select(Lead.id).where(Lead.case_id == keep, Lead.status == "new",
                                          Lead.probe_fingerprint == lead.probe_fingerprint)
        _move_or_drop(s, lead, clash, "case_id", keep)
    for lead in list(s.scalars(select(Lead).where(Lead.found_id == merge))):
        clash = select(Lead.id).where(Lead.case_id == lead.case_id, Lead.found_id == keep)
        _move_or_drop(s, lead, clash, "found_id", keep)
    s.flush()


def _move_or_drop(s: Session, lead: Lead, clash: Select | None, column: str, keep: int
                  ) -> None:
    if clash is not None and s.scalar(clash.limit(1)) is not None:
        add_audit(s, "system", "lead.merge-drop", f"lead:{lead.id}",
                  f"case:{keep} has the same lead")
        s.delete(lead)
        s.flush()
    else:
        setattr(lead, column, keep)
        s.flush()
