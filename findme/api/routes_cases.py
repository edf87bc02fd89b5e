"""``/api/v1/cases`` and ``/api/v1/found``: register (with photos), list, read, change status,
add photos, erase. The rules are :mod:`findme.cases.registry`'s (consent / lawful basis,
duplicates at the door, cross-matching) and :mod:`findme.cases.found`'s (who may register or
change which kind, who sees which contact)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from sqlalchemy.exc import IntegrityError

from findme.api import uploads
from findme.api.auth import Caller, keyed, need
from findme.api.errors import ApiError, responses
from findme.api.schemas import (
    CaseList,
    CaseOut,
    CaseSummary,
    Erased,
    Kind,
    PhotoOutcomeOut,
    RegisterOut,
    Status,
    StatusIn,
    StatusOut,
    case_out,
)
from findme.cases.found import register_permission
from findme.cases.records import GENDERS, CaseDetails, RecordError
from findme.cases.registry import (
    DuplicateSuspected,
    EnrollmentRejected,
    EnrollResult,
    PhotoInput,
    PhotoOutcome,
    add_photos,
    delete_case,
    enroll_case,
)
from findme.cases.tables import CaseRecord

router = APIRouter(prefix="/api/v1", tags=["cases"])
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the record's number")]
Gender = Literal[GENDERS]  # type: ignore[valid-type]
Photos = Annotated[list[UploadFile], File(description="one or more photos of the child "
                                                      "(JPEG, PNG, WebP, BMP)")]


def _record(caller: Caller, case_id: int) -> CaseRecord:
    try:
        return caller.ws.records.get_case(case_id)
    except RecordError:
        raise ApiError(404, f"no record with id {case_id}") from None


def _age(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value <= 120):
        raise ApiError(422, "age_at_photo must be between 0 and 120 years")
    return value


def _photos(caller: Caller, files: list[UploadFile], face: int | None,
            taken: dt.date | None, age: float | None) -> list[PhotoInput]:
    read = uploads.read_all(files, caller.ws.settings)
    return [PhotoInput(name, data, face - 1 if face else None, taken, _age(age))
            for name, data in read]


def _outcomes(outcomes: list[PhotoOutcome]) -> list[PhotoOutcomeOut]:
    return [PhotoOutcomeOut(photo=o.name, accepted=o.accepted, photo_id=o.photo_id,
                            reasons=list(o.reasons)) for o in outcomes]


def _enroll(caller: Caller, details: CaseDetails, photos: list[PhotoInput],
            allow_duplicate: bool, duplicate_of: int | None) -> RegisterOut:
    """:func:`enroll_case` with the caller as actor; its refusals as API errors."""
    ws = caller.ws
    if duplicate_of is not None:
        target = _record(caller, duplicate_of)
        caller.require(register_permission(target.kind))
    try:
        result: EnrollResult = enroll_case(details, photos, ws.records, ws.store, ws.settings,
                                           actor=caller.actor, allow_duplicate=allow_duplicate,
                                           duplicate_of=duplicate_of)
    except DuplicateSuspected as exc:
        raise ApiError(409, str(exc), "duplicate", duplicates=[
            {"case_id": d.case_id, "label": d.label, "score": round(d.score, 4),
             "decision": str(d.decision), "registered_at": d.registered_at.isoformat()}
            for d in exc.duplicates]) from None
    except EnrollmentRejected as exc:
        raise ApiError(422, str(exc), "no_usable_photo", photos=[
            o.model_dump() for o in _outcomes(exc.outcomes)]) from None
    except RecordError as exc:
        raise ApiError(422, str(exc)) from None
    except IntegrityError:
        raise ApiError(409, "a record with this case number (ref) exists already",
                       "conflict") from None
    record = ws.records.get_case(result.case_id)
    return RegisterOut(case_id=result.case_id, label=record.label, kind=record.kind,
                       photos=_outcomes(result.photos),
                       cross_pairs=[p.as_dict() for p in result.cross_pairs])


Text300 = Annotated[str | None, Form(max_length=300)]


@router.post("/cases", status_code=201, response_model=RegisterOut,
             responses=responses(404, 409, 503),
             summary="Register a missing child with photos")
def register_missing(
        caller: Annotated[Caller, Depends(need(register_permission("missing")))],
        photos: Photos,
        name: Annotated[str, Form(min_length=1, max_length=200)],
        consent: Annotated[bool, Form(description="the guardian's consent is recorded")] = False,
        lawful_basis: Annotated[str | None, Form(
            max_length=300, description="another lawful basis instead of consent, e.g. "
                                        "'court order 12/2026'")] = None,
        guardian_contact: Text300 = None,
        birth_date: Annotated[dt.date | None, Form()] = None,
        age: Annotated[int | None, Form(ge=0, le=120,
                                        description="age at disappearance")] = None,
        gender: Annotated[Gender | None, Form()] = None,
        last_seen_place: Text300 = None,
        last_seen_date: Annotated[dt.date | None, Form()] = None,
        description: Annotated[str | None, Form(max_length=5000)] = None,
        assigned_to: Annotated[str | None, Form(max_length=100)] = None,
        ref: Annotated[str | None, Form(min_length=1, max_length=100,
                                        description="your own case number (unique)")] = None,
        face: Annotated[int | None, Form(ge=1, le=50, description=(
            "which face (1 = largest) in photos with several"))] = None,
        taken_date: Annotated[dt.date | None, Form()] = None,
        age_at_photo: Annotated[float | None, Form(ge=0, le=120)] = None,
        allow_duplicate: Annotated[bool, Form(description=(
            "register even if the child looks already registered (audited)"))] = False,
        duplicate_of: Annotated[int | None, Form(ge=1, le=2**31 - 1, description=(
            "add the photos to this record instead"))] = None,
) -> RegisterOut:
    """Register a child reported missing. Photos are stored only with the guardian's consent
    or another lawful basis; a child who looks already registered is refused with ``409``
    (the suspected records listed) unless ``allow_duplicate`` or ``duplicate_of``."""
    details = CaseDetails(name=name, birth_date=birth_date, age_at_disappearance=age,
                          gender=gender, last_seen_place=last_seen_place,
                          last_seen_date=last_seen_date, description=description,
                          guardian_contact=guardian_contact, consent_recorded=consent,
                          assigned_to=assigned_to, lawful_basis=lawful_basis, ref=ref)
    return _enroll(caller, details, _photos(caller, photos, face, taken_date, age_at_photo),
                   allow_duplicate, duplicate_of)


@router.post("/found", status_code=201, response_model=RegisterOut,
             responses=responses(404, 409, 503),
             summary="Register a child found and in care with photos")
def register_found(
        caller: Annotated[Caller, Depends(need(register_permission("found")))],
        photos: Photos,
        lawful_basis: Annotated[str, Form(min_length=1, max_length=300, description=(
            "the basis for storing the photos, e.g. the institution's duty of care"))],
        name: Annotated[str, Form(min_length=1, max_length=200,
                                  description="the name given, if any")] = "unknown",
        gender: Annotated[Gender | None, Form()] = None,
        found_place: Text300 = None,
        found_at: Annotated[dt.datetime | None, Form()] = None,
        institution: Text300 = None,
        institution_contact: Text300 = None,
        age_min: Annotated[int | None, Form(ge=0, le=120)] = None,
        age_max: Annotated[int | None, Form(ge=0, le=120)] = None,
        languages: Annotated[str | None, Form(max_length=200)] = None,
        marks: Annotated[str | None, Form(max_length=5000)] = None,
        description: Annotated[str | None, Form(max_length=5000)] = None,
        assigned_to: Annotated[str | None, Form(max_length=100)] = None,
        face: Annotated[int | None, Form(ge=1, le=50)] = None,
        taken_date: Annotated[dt.date | None, Form()] = None,
        age_at_photo: Annotated[float | None, Form(ge=0, le=120)] = None,
        allow_duplicate: Annotated[bool, Form()] = False,
        duplicate_of: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> RegisterOut:
    """Register a child found and in care whose family is unknown (shown as ``F-<id>``);
    it is matched against every open missing case at once (cross-match leads)."""
    details = CaseDetails(name=name, gender=gender, description=description,
                          lawful_basis=lawful_basis, kind="found", found_place=found_place,
                          found_at=found_at, institution=institution,
                          institution_contact=institution_contact, age_min=age_min,
                          age_max=age_max, languages=languages, marks=marks,
                          assigned_to=assigned_to)
    return _enroll(caller, details, _photos(caller, photos, face, taken_date, age_at_photo),
                   allow_duplicate, duplicate_of)


@router.get("/cases", response_model=CaseList, responses=responses(),
            summary="List records")
def list_cases(caller: Annotated[Caller, Depends(need("cases.view"))],
               kind: Annotated[Kind | None, Query(description="missing (default) or found"
                                                  )] = "missing",
               status: Annotated[Status | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> CaseList:
    """Records of one kind, newest first (no contacts: read one record for those)."""
    records = caller.ws.records
    rows = records.list_cases(status, kind=kind)
    ready = records.ready_photos_per_case()
    page = rows[offset:offset + limit]
    return CaseList(total=len(rows), cases=[
        CaseSummary(id=c.id, label=c.label, kind=c.kind, name=c.name, status=c.status,
                    photos=ready.get(c.id, 0), created_at=c.created_at) for c in page])


@router.get("/cases/{case_id}", response_model=CaseOut, responses=responses(404),
            summary="Read one record")
def get_case(caller: Annotated[Caller, Depends(need("cases.view"))],
             case_id: CaseId) -> CaseOut:
    """One record (missing or found) with its photos' records; a guardian's contact only for
    a role with ``cases.contact``."""
    record = _record(caller, case_id)
    return case_out(record, caller.ws.records.photos(case_id), caller.role)


@router.put("/cases/{case_id}/status", response_model=StatusOut, responses=responses(404),
            summary="Change a record's status")
def set_status(caller: Annotated[Caller, Depends(keyed)], case_id: CaseId,
               change: StatusIn) -> StatusOut:
    """``cases.edit`` for a missing case, ``found.register`` for a found record."""
    record = _record(caller, case_id)
    caller.require(register_permission(record.kind))
    try:
        caller.ws.records.set_case_status(case_id, change.status, caller.actor)
    except RecordError as exc:
        raise ApiError(422, str(exc)) from None
    return StatusOut(id=case_id, status=change.status)


@router.post("/cases/{case_id}/photos", response_model=RegisterOut,
             responses=responses(404, 503), summary="Add photos to a record")
def add_case_photos(caller: Annotated[Caller, Depends(keyed)], case_id: CaseId,
                    photos: Photos,
                    face: Annotated[int | None, Form(ge=1, le=50)] = None,
                    taken_date: Annotated[dt.date | None, Form()] = None,
                    age_at_photo: Annotated[float | None, Form(ge=0, le=120)] = None
                    ) -> RegisterOut:
    """Add photos (unusable ones come back with their reasons); the record is then matched
    against the other side again."""
    record = _record(caller, case_id)
    caller.require(register_permission(record.kind))
    ws = caller.ws
    inputs = _photos(caller, photos, face, taken_date, age_at_photo)
    try:
        outcomes = add_photos(case_id, inputs, ws.records, ws.store, ws.settings,
                              caller.actor)
    except RecordError as exc:
        raise ApiError(404 if "no case" in str(exc) else 422, str(exc)) from None
    return RegisterOut(case_id=case_id, label=record.label, kind=record.kind,
                       photos=_outcomes(outcomes))


@router.delete("/cases/{case_id}", response_model=Erased, responses=responses(404, 503),
               summary="Erase a record and everything stored about it")
def erase_case(caller: Annotated[Caller, Depends(need("cases.erase"))],
               case_id: CaseId) -> Erased:
    """Rows, photos, lead crops and vectors (the vector store rebuilt, so no erased vector
    stays on disk)."""
    _record(caller, case_id)
    ws = caller.ws
    try:
        delete_case(case_id, ws.records, ws.store, ws.settings, actor=caller.actor)
    except RecordError:
        raise ApiError(404, f"no record with id {case_id}") from None
    return Erased(erased=case_id)
