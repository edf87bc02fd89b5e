"""Reviewing leads: the queue a reviewer works through, verdicts, the two-person rule.

A lead is a probe face that may show a registered child. A person decides: ``confirm`` or
``reject`` with a note. Under the two-person rule (``FINDME_TWO_PERSON_RULE``) a lead counts as
confirmed only after two different reviewers confirm it; one rejection rejects it. Confirming can
mark the case found. Every verdict is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from findme.cases.records import (
    AuditEntry,
    Case,
    Lead,
    LeadRecord,
    LeadReview,
    Photo,
    Probe,
    RecordError,
    Records,
    _values,
)

VERDICTS = ("confirm", "reject")


@dataclass(frozen=True)
class Review:
    """One reviewer's verdict."""

    reviewer: str
    verdict: str
    note: str | None
    at: dt.datetime


@dataclass(frozen=True)
class LeadView:
    """A lead with what a reviewer needs beside it: the case, the registered photo that matched,
    where and when the probe came from, and the verdicts so far."""

    lead: LeadRecord
    case_name: str
    case_status: str
    photo_path: str | None
    source: str | None
    source_ref: str | None
    searched_at: dt.datetime | None
    reviews: tuple[Review, ...]

    @property
    def confirmations(self) -> int:
        """How many different reviewers confirmed."""
        return len({r.reviewer for r in self.reviews if r.verdict == "confirm"})


@dataclass(frozen=True)
class ReviewOutcome:
    """What a verdict did: the lead's status now, confirmations still needed, and whether the
    case was marked found."""

    status: str
    confirmations_needed: int
    case_marked_found: bool


def _views(records: Records, leads: list[Lead]) -> list[LeadView]:
    if not leads:
        return []
    ids = [lead.id for lead in leads]
    with records.session() as s:
        cases = {c.id: c for c in s.scalars(select(Case).where(
            Case.id.in_({lead.case_id for lead in leads})))}
        photos = dict(s.execute(select(Photo.id, Photo.file_path).where(
            Photo.id.in_({lead.photo_id for lead in leads if lead.photo_id}))).all())
        probes = {p.id: p for p in s.scalars(select(Probe).where(
            Probe.id.in_({lead.probe_id for lead in leads if lead.probe_id})))}
        reviews: dict[int, list[Review]] = {i: [] for i in ids}
        for r in s.scalars(select(LeadReview).where(LeadReview.lead_id.in_(ids))
                           .order_by(LeadReview.id)):
            reviews[r.lead_id].append(Review(r.reviewer, r.verdict, r.note, r.at))
        out = []
        for lead in leads:
            probe = probes.get(lead.probe_id) if lead.probe_id else None
            case = cases[lead.case_id]
            out.append(LeadView(_values(lead, LeadRecord), case.name, case.status,
                                photos.get(lead.photo_id) if lead.photo_id else None,
                                probe.source if probe else None,
                                probe.source_ref if probe else None,
                                probe.created_at if probe else None,
                                tuple(reviews[lead.id])))
        return out


def queue(records: Records, status: str | None = "new", case_id: int | None = None,
          limit: int = 200) -> list[LeadView]:
    """Leads to review, highest score first, then oldest first (a strong old lead is on top)."""
    with records.session() as s:
        q = select(Lead).order_by(Lead.fused_score.desc(), Lead.created_at, Lead.id).limit(limit)
        if status:
            q = q.where(Lead.status == status)
        if case_id is not None:
            q = q.where(Lead.case_id == case_id)
        leads = list(s.scalars(q))
    return _views(records, leads)


def get(records: Records, lead_id: int) -> LeadView:
    """One lead with its context, or :class:`RecordError`."""
    with records.session() as s:
        lead = s.get(Lead, lead_id)
        if lead is None:
            raise RecordError(f"no lead with id {lead_id}")
    return _views(records, [lead])[0]


def review(records: Records, lead_id: int, reviewer: str, verdict: str, note: str = "",
           mark_found: bool = False) -> ReviewOutcome:
    """Record ``reviewer``'s ``confirm`` or ``reject`` of a lead that is still ``new``.

    One reviewer gives one verdict per lead. A rejection rejects the lead. A confirmation
    confirms it, or (two-person rule) waits for a second, different reviewer. When the lead
    becomes confirmed by this verdict and ``mark_found`` is set, the case is marked found (the
    reviewer whose verdict confirms decides that). Returns what happened; raises
    :class:`RecordError` for a bad request.
    """
    if verdict not in VERDICTS:
        raise RecordError(f"verdict must be one of {', '.join(VERDICTS)}")
    needed = 2 if records.settings.two_person_rule else 1
    now = dt.datetime.now(dt.UTC)
    with records.session() as s:
        lead = s.get(Lead, lead_id, with_for_update=True)
        if lead is None:
            raise RecordError(f"no lead with id {lead_id}")
        if lead.status != "new":
            raise RecordError(f"lead {lead_id} was already {lead.status}")
        earlier = list(s.scalars(select(LeadReview).where(LeadReview.lead_id == lead_id)))
        if any(r.reviewer == reviewer for r in earlier):
            raise RecordError("you already reviewed this lead; a second reviewer must decide")
        note = (note or "").strip() or None
        s.add(LeadReview(lead_id=lead_id, reviewer=reviewer, verdict=verdict, note=note, at=now))
        s.add(AuditEntry(actor=reviewer, action=f"lead.{verdict}", target=f"lead:{lead_id}",
                         detail=f"case:{lead.case_id}" + (" mark-found" if mark_found else "")))
        confirmers = {r.reviewer for r in earlier if r.verdict == "confirm"}
        found = False
        if verdict == "reject":
            lead.status = "rejected"
        else:
            confirmers.add(reviewer)
            if len(confirmers) >= needed:
                lead.status = "confirmed"
        if lead.status != "new":
            lead.reviewed_at = now
            lead.reviewed_by = ", ".join(sorted(confirmers)) if lead.status == "confirmed" \
                else reviewer
            lead.note = note
        if lead.status == "confirmed" and mark_found:
            case = s.get(Case, lead.case_id)
            if case is not None and case.status == "open":
                case.status = "found"
                case.updated_at = now
                s.add(AuditEntry(actor=reviewer, action="case.status",
                                 target=f"case:{lead.case_id}", detail=f"found (lead {lead_id})"))
                found = True
        return ReviewOutcome(lead.status, max(0, needed - len(confirmers))
                             if lead.status == "new" else 0, found)
