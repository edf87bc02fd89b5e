"""The API's JSON shapes (Pydantic models, which are its OpenAPI schema) and the functions
that fill them from ``findme``'s record types.

``SearchOut`` is the JSON of ``findme search --json``: ``{"results": [{"image", "error",
"faces": [{"box", "quality", "matches": [Match.as_dict()]}], "leads"}]}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from findme.cases.found import contact_for
from findme.cases.records import CASE_STATUSES, FOUND_STATUSES
from findme.cases.tables import CaseRecord, PhotoRecord, aware

Status = Literal[tuple(dict.fromkeys(CASE_STATUSES + FOUND_STATUSES))]  # type: ignore[valid-type]
Kind = Literal["missing", "found"]
#: a time as RFC 3339 with its zone (SQLite hands stored UTC times back without one)
Time = Annotated[dt.datetime, AfterValidator(aware)]


class Loose(BaseModel):
    """A response object that may grow fields later (clients must ignore unknown ones)."""

    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    """``up`` or ``down``, nothing more."""

    status: Literal["up", "down"]


class Contact(BaseModel):
    """Who to call, as the key's role may see it (a guardian's contact needs
    ``cases.contact``; ``hidden`` says one exists but is not shown)."""

    label: str
    value: str | None
    hidden: bool


class PhotoOut(BaseModel):
    """A registered photo's record (never its pixels)."""

    id: int
    status: str
    taken_date: dt.date | None = None
    age_at_photo: float | None = None
    reasons: list[str] = []
    created_at: Time


class CaseSummary(BaseModel):
    """A record in a list."""

    id: int
    label: str
    kind: str
    name: str
    status: str
    photos: int
    created_at: Time


class CaseOut(Loose):
    """One record: a missing case or a found record (``kind``)."""

    id: int
    label: str
    kind: str
    name: str
    status: str
    ref: str | None = None
    birth_date: dt.date | None = None
    age_at_disappearance: int | None = None
    gender: str | None = None
    last_seen_place: str | None = None
    last_seen_date: dt.date | None = None
    description: str | None = None
    consent_recorded: bool = False
    lawful_basis: str | None = None
    assigned_to: str | None = None
    found_place: str | None = None
    found_at: Time | None = None
    institution: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    languages: str | None = None
    marks: str | None = None
    linked_case_id: int | None = None
    contact: Contact
    photos: list[PhotoOut]
    created_at: Time
    updated_at: Time


class CaseList(BaseModel):
    """A page of records, newest first."""

    cases: list[CaseSummary]
    total: int


class PhotoOutcomeOut(BaseModel):
    """What happened to one offered photo."""

    photo: str
    accepted: bool
    photo_id: int | None = None
    reasons: list[str] = []


class RegisterOut(BaseModel):
    """A registration (or photos added): the record, each photo's outcome, and the
    cross-match pairs (with their leads) saving it made."""

    case_id: int
    label: str
    kind: str
    photos: list[PhotoOutcomeOut]
    cross_pairs: list[dict[str, Any]] = []


class StatusIn(BaseModel):
    """A new status: ``open``/``found``/``closed`` for a missing case; ``in_care``,
    ``identified``, ``transferred`` or ``closed`` for a found record."""

    model_config = ConfigDict(extra="forbid")
    status: Status


class StatusOut(BaseModel):
    """The record's status now."""

    id: int
    status: str


class Erased(BaseModel):
    """The record erased: rows, photos, crops and vectors."""

    erased: int


class FaceOut(BaseModel):
    """One face of a searched photo: its box, its quality, its ranked matches."""

    box: list[int]
    quality: dict[str, Any]
    matches: list[dict[str, Any]]


class SearchEntry(BaseModel):
    """One searched file: an error, or its faces and the leads made."""

    image: str
    error: str | None
    faces: list[FaceOut]
    leads: list[int] = []


class SearchOut(BaseModel):
    """The JSON of ``findme search --json``."""

    results: list[SearchEntry]
    problems: list[str] = Field(default=[], description="files skipped by the budgets")


class ReviewIn(BaseModel):
    """A verdict on a lead: ``confirm`` or ``reject``, a note, and (``cases.edit`` only)
    whether a confirmation marks the case found."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["confirm", "reject"]
    note: str = Field(default="", max_length=2000)
    mark_found: bool = False


class ReviewOut(BaseModel):
    """What the verdict did."""

    lead_id: int
    status: str
    confirmations_needed: int
    case_marked_found: bool


class ReviewEntry(BaseModel):
    """One reviewer's verdict."""

    reviewer: str
    verdict: str
    note: str | None
    at: Time


class LeadOut(BaseModel):
    """A lead with what a reviewer needs beside it."""

    id: int
    case_id: int
    case_name: str
    case_status: str
    found_id: int | None
    photo_id: int | None
    probe_id: int | None
    decision: str
    score: float
    scores: dict[str, float]
    margin: float | None
    stranger_rate: float | None
    status: str
    note: str | None
    source: str | None
    source_ref: str | None
    created_at: Time
    reviewed_at: Time | None
    reviewed_by: str | None
    reviews: list[ReviewEntry]


class LeadList(BaseModel):
    """Leads, best score first."""

    leads: list[LeadOut]


class ImportOut(BaseModel):
    """An import job: its state, its progress, and once done each row's result (``report``:
    the JSON of ``findme import --json``)."""

    id: int
    file_name: str
    status: str
    dry_run: bool
    queued: bool
    done_rows: int
    total_rows: int
    error: str | None
    created_at: Time
    finished_at: Time | None
    report: dict[str, Any] | None = None


class ScanOut(BaseModel):
    """A CCTV scan job: its state, progress, and the sightings found (each with its lead)."""

    id: int
    camera: str
    location: str | None
    status: str
    done_s: float
    duration_s: float | None
    frames: int
    error: str | None
    warnings: list[str] = []
    created_at: Time
    finished_at: Time | None
    sightings: list[dict[str, Any]]


class ScansStarted(BaseModel):
    """The scan jobs started (one per uploaded file)."""

    scan_ids: list[int]
    queued: bool


def case_out(record: CaseRecord, photos: list[PhotoRecord], role: str) -> CaseOut:
    """A record as ``role`` may see it (the contact rule of :func:`contact_for`)."""
    contact = contact_for(record, role)
    fields = {f: getattr(record, f) for f in CaseOut.model_fields
              if f not in ("label", "contact", "photos") and hasattr(record, f)}
    return CaseOut(**fields, label=record.label,
                   contact=Contact(label=contact.label, value=contact.contact,
                                   hidden=contact.hidden),
                   photos=[PhotoOut(id=p.id, status=p.status, taken_date=p.taken_date,
                                    age_at_photo=p.age_at_photo, reasons=list(p.reasons or []),
                                    created_at=p.created_at) for p in photos])
