"""``/api/v1/leads``: the review queue and verdicts (:mod:`findme.cases.leads`; the two-person
rule and who may mark a case found are its rules). A webhook alert carries ``lead_id``: read it
at ``GET /api/v1/leads/{lead_id}``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from findme.api.auth import Caller, need
from findme.api.errors import ApiError, responses
from findme.api.schemas import LeadList, LeadOut, ReviewEntry, ReviewIn, ReviewOut
from findme.cases import leads
from findme.cases.records import RecordError

router = APIRouter(prefix="/api/v1", tags=["leads"])
LeadId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def lead_out(view: leads.LeadView) -> LeadOut:
    """A lead with its context, as JSON."""
    lead = view.lead
    return LeadOut(id=lead.id, case_id=lead.case_id, case_name=view.case_name,
                   case_status=view.case_status, found_id=lead.found_id,
                   photo_id=lead.photo_id, probe_id=lead.probe_id, decision=lead.decision,
                   score=round(lead.fused_score, 4),
                   scores={m: round(float(v), 4) for m, v in (lead.scores or {}).items()},
                   margin=lead.margin, stranger_rate=lead.stranger_rate, status=lead.status,
                   note=lead.note, source=view.source, source_ref=view.source_ref,
                   created_at=lead.created_at, reviewed_at=lead.reviewed_at,
                   reviewed_by=lead.reviewed_by,
                   reviews=[ReviewEntry(reviewer=r.reviewer, verdict=r.verdict, note=r.note,
                                        at=r.at) for r in view.reviews])


@router.get("/leads", response_model=LeadList, responses=responses(),
            summary="Leads to review, best first")
def list_leads(caller: Annotated[Caller, Depends(need("leads.review"))],
               status: Annotated[Literal["new", "confirmed", "rejected"] | None,
                                 Query(description="default: new")] = "new",
               case_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> LeadList:
    """Highest score first, then oldest first (the review desk's order)."""
    return LeadList(leads=[lead_out(v) for v in leads.queue(caller.ws.records, status,
                                                             case_id, limit)])


@router.get("/leads/{lead_id}", response_model=LeadOut, responses=responses(404),
            summary="Read one lead")
def get_lead(caller: Annotated[Caller, Depends(need("leads.review"))],
             lead_id: LeadId) -> LeadOut:
    """One lead with its case, source and verdicts so far."""
    try:
        return lead_out(leads.get(caller.ws.records, lead_id))
    except RecordError:
        raise ApiError(404, f"no lead with id {lead_id}") from None


@router.post("/leads/{lead_id}/review", response_model=ReviewOut,
             responses=responses(404, 409), summary="Confirm or reject a lead")
def review_lead(caller: Annotated[Caller, Depends(need("leads.review"))], lead_id: LeadId,
                verdict: ReviewIn) -> ReviewOut:
    """One verdict per reviewer (the key is the reviewer); ``409`` when the lead was reviewed
    already. ``mark_found`` needs ``cases.edit``."""
    records = caller.ws.records
    try:
        leads.get(records, lead_id)
    except RecordError:
        raise ApiError(404, f"no lead with id {lead_id}") from None
    if verdict.mark_found:
        caller.require("cases.edit")
    try:
        out = leads.review(records, lead_id, caller.actor, verdict.verdict, verdict.note,
                           verdict.mark_found, caller.role)
    except RecordError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    return ReviewOut(lead_id=lead_id, status=out.status,
                     confirmations_needed=out.confirmations_needed,
                     case_marked_found=out.case_marked_found)
