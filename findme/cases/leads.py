"""Leads: the one place that makes them, the queue a reviewer works through, verdicts.

Making a lead (:func:`create_lead`) is one transaction: the lead row, its audit entry and its
alert outbox rows commit together (the probe-face crop is written just before; a crash leaves at
most a stray crop, which the start-up reconcile removes). Photo search, the CLI, the webcam and
CCTV all come here: :func:`record_search` for a searched photo, :func:`lead_from_match` for a
person's "Create lead", :func:`lead_from_sighting` for video.

A photo searched again makes no second lead: a searched image's lead carries the image's
:func:`fingerprint`, and the database keeps one open (``new``) lead per case per fingerprint (a
partial unique index), so the same photo uploaded twice, or by two people at once, leaves one
lead; the repeat is audited on it (``lead.repeat``). Different photos of a child make their own
leads, and once a lead is reviewed a new search of its photo may make a new one. Video frames
(``VIDEO_SOURCES``) keep a lead per frame for review; their repeats are ruled by the camera
cooldown and :func:`lead_from_sighting`.

A lead is a probe face that may show a registered child. A person decides: ``confirm`` or
``reject`` with a note. Under the two-person rule (``FINDME_TWO_PERSON_RULE``) a lead counts as
confirmed only after two different reviewers confirm it; one rejection rejects it. Confirming can
mark the case found; confirming a cross-match lead (a missing case and a found record) links the
two: the case becomes ``found``, the found record ``identified``. Every verdict is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from findme.alerts.rules import queue_for_lead
from findme.cases.records import RecordError, Records, _values, add_audit, fault_point
from findme.cases.tables import (
    AuditEntry,
    Case,
    Lead,
    LeadRecord,
    LeadReview,
    Photo,
    Probe,
    aware,
)
from findme.config import Settings
from findme.faces.detect import Face
from findme.faces.image import crop_face
from findme.faces.quality import Quality
from findme.search.decision import Decision

if TYPE_CHECKING:
    from findme.search.matcher import Match, SearchResult
    from findme.video.processor import Sighting

VERDICTS = ("confirm", "reject")
VIDEO_SOURCES = ("cctv", "webcam")  # frames: each a moment of a stream, under the camera cooldown


# ----------------------------------------------------------------------------- making leads


@dataclass(frozen=True)
class NewLead:
    """What a lead is made of: the case and registered photo it may show, the probe face's box,
    fused score, per-model scores and decision, and the probe face crop (RGB) to keep.
    ``fingerprint`` (see :func:`fingerprint`) names the searched image: one open lead per case
    per fingerprint; None for leads no image rule applies to (a person's own, video)."""

    case_id: int
    photo_id: int | None
    face_box: tuple[int, int, int, int]
    score: float
    scores: dict[str, float]
    decision: Decision
    crop: np.ndarray | None = None
    margin: float | None = None
    stranger_rate: float | None = None
    quality: dict | None = None
    fingerprint: str | None = None
    found_id: int | None = None  # a cross-match lead: the found record (one lead per pair)
    found_photo_id: int | None = None
    age_gap_years: float | None = None

    @classmethod
    def of_match(cls, match: Match, crop: np.ndarray | None,
                 quality: dict | None = None, fingerprint: str | None = None) -> NewLead:
        """A lead of a ranked :class:`~findme.search.matcher.Match` (with what a reviewer
        needs: margin to the next case, stranger chance, the probe face's quality)."""
        return cls(match.case_id, match.photo_id, tuple(match.box), match.score, match.scores,
                   Decision(match.decision), crop, match.margin, match.stranger_rate, quality,
                   fingerprint)


def fingerprint(image: np.ndarray) -> str:
    """A searched image's fingerprint: the SHA-256 (hex, 64 characters) of its decoded pixels,
    shape and type. The same file decodes to the same pixels, so the same bytes (under any file
    name, and a lossless copy of them) give the same fingerprint; any other photo another."""
    digest = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def open_lead(records: Records, case_id: int, fingerprint: str) -> int | None:
    """The open (``new``) lead of ``case_id`` made from the image with ``fingerprint``, if
    any (there is at most one)."""
    with records.session() as s:
        return s.scalar(select(Lead.id).where(Lead.case_id == case_id,
                                              Lead.probe_fingerprint == fingerprint,
                                              Lead.status == "new"))


def cross_lead(records: Records, case_id: int, found_id: int) -> int | None:
    """The cross-match lead of missing case ``case_id`` and found record ``found_id``, if
    any (there is at most one, whatever its status)."""
    with records.session() as s:
        return s.scalar(select(Lead.id).where(Lead.case_id == case_id,
                                              Lead.found_id == found_id))


def _save_crop(settings: Settings, crop: np.ndarray) -> str:
    """Keep a probe face crop: JPEG ``leads/<random>.jpg`` in the data folder; returns its path
    relative to the data folder."""
    from PIL import Image

    settings.leads_dir.mkdir(parents=True, exist_ok=True)
    rel = f"leads/{uuid.uuid4().hex}.jpg"
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop)).save(buf, "JPEG", quality=90)
    (settings.data_dir / rel).write_bytes(buf.getvalue())
    return rel


class CaseErased(RecordError):
    """The matched case was erased between the search and its lead (searches and erasures run
    side by side): nothing was written."""


def _case_exists(records: Records, case_id: int) -> bool:
    with records.session() as s:
        return s.get(Case, case_id) is not None


def create_lead(records: Records, settings: Settings, new: NewLead, probe_id: int | None,
                source: str, alert_source: str | None = None, actor: str = "system") -> int:
    """Make a lead: crop file, then lead row + audit entry + alert outbox rows in one commit.

    ``source`` names where the probe came from in alerts (``photo``, ``cctv Gate 3``...);
    ``alert_source`` keys the alert cooldown (one camera, one uploader; default ``source``).
    A crash before the commit leaves no lead and no alert (the stray crop is removed by the
    start-up reconcile); an error removes the crop at once. Returns the lead id.

    With ``new.fingerprint`` set and an open lead of the case from that image already there
    (made before, or by a search committing a moment earlier), no lead, crop or alert is made:
    the repeat (``probe_id``) is audited on the existing lead and its id returned. The database
    decides (a unique index checked by the insert itself), so concurrent searches cannot race.
    """
    crop = _save_crop(settings, new.crop) if new.crop is not None and new.crop.size else None
    try:
        with records.session() as s:
            lead_id = records.add_lead(probe_id, new.case_id, new.photo_id, list(new.face_box),
                                       new.score, new.scores, Decision(new.decision), crop,
                                       actor, session=s, margin=new.margin,
                                       stranger_rate=new.stranger_rate, quality=new.quality,
                                       fingerprint=new.fingerprint, found_id=new.found_id,
                                       found_photo_id=new.found_photo_id,
                                       age_gap_years=new.age_gap_years)
            fault_point("lead-before-alerts")
            queue_for_lead(s, settings, lead_id, new.case_id, new.decision, new.score, source,
                           alert_source)
            if new.found_id is not None:  # the other side: whoever holds the found child
                queue_for_lead(s, settings, lead_id, new.found_id, new.decision, new.score,
                               source, f"{alert_source or source}:found")
            fault_point("lead-before-commit")
        return lead_id
    except IntegrityError:
        if crop:
            (settings.data_dir / crop).unlink(missing_ok=True)
        if new.found_id is not None:  # the pair has its lead already (made once, ever)
            pair = cross_lead(records, new.case_id, new.found_id)
            if pair is not None:
                return pair
            if not (_case_exists(records, new.case_id) and _case_exists(records, new.found_id)):
                raise CaseErased(f"case #{new.case_id} or found record F-{new.found_id} was "
                                 "erased after the search: no lead made") from None
            raise
        existing = (open_lead(records, new.case_id, new.fingerprint)
                    if new.fingerprint is not None else None)
        if existing is None:
            if not _case_exists(records, new.case_id):  # erased between search and lead
                raise CaseErased(f"case #{new.case_id} was erased after the search: no lead "
                                 "made") from None
            raise
        records.audit(actor, "lead.repeat", f"lead:{existing}",
                      f"case:{new.case_id} probe:{probe_id}")
        return existing
    except BaseException:
        if crop:
            (settings.data_dir / crop).unlink(missing_ok=True)
        raise


def record_search(records: Records, settings: Settings, image: np.ndarray,
                  result: SearchResult, source: str, source_ref: str | None = None,
                  alert_source: str | None = None) -> SearchResult:
    """Record a photo search of the RGB ``image`` as a probe and make a lead of each face whose
    best match is ``match`` or ``possible`` (faces that match nobody leave nothing).

    One open lead per case per image: when several faces of the photo match one case, the
    best-scoring face makes its lead; when the same image was searched before and its lead for
    that case is still open, that lead is returned (the repeat audited), not a second one.
    (A video frame, ``source`` in ``VIDEO_SOURCES``, is exempt: see the module docstring.)
    Returns ``result`` with its ``probe_id`` and ``lead_ids`` (each once, best score first)."""
    probe_id = records.add_probe(source, source_ref, len(result.faces))
    image_fp = None if source in VIDEO_SOURCES else fingerprint(image)
    lead_ids: list[int] = []
    cases: set[int] = set()
    for fr in sorted(result.faces, key=lambda f: -f.best.score if f.best else 0.0):
        best = fr.best
        if best is None or not Decision(best.decision).makes_lead or best.case_id in cases:
            continue
        cases.add(best.case_id)
        new = NewLead.of_match(best, crop_face(image, fr.face.box), fr.quality.as_dict(),
                               image_fp)
        try:
            lead_id = create_lead(records, settings, new, probe_id, source,
                                  alert_source or f"{source}:{source_ref or ''}")
        except CaseErased:
            continue  # nobody to find any more: the search result still shows the match
        if lead_id not in lead_ids:
            lead_ids.append(lead_id)
    return replace(result, probe_id=probe_id, lead_ids=lead_ids)


def lead_from_match(records: Records, settings: Settings, crop: np.ndarray, face: Face,
                    match: Match, probe_id: int | None, actor: str,
                    quality: Quality | None = None) -> int:
    """A person's "Create lead" on a shown match the search did not make a lead of; ``crop``
    is the searched face. Returns the lead id (the existing one when this probe face already
    has a lead for this case)."""
    if probe_id is not None:
        with records.session() as s:
            for lead in s.scalars(select(Lead).where(Lead.case_id == match.case_id,
                                                     Lead.probe_id == probe_id)):
                if lead.face_box == list(face.box):
                    return lead.id
    new = NewLead.of_match(match, crop, quality.as_dict() if quality is not None else None)
    return create_lead(records, settings, new, probe_id, "photo", f"manual:{probe_id}", actor)


def recent_lead(records: Records, case_id: int, camera: str, seconds: float) -> int | None:
    """A lead of ``case_id`` from ``camera`` made in the last ``seconds``, if any."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with records.session() as s:
        return s.scalar(select(Lead.id).join(Probe, Lead.probe_id == Probe.id).where(
            Lead.case_id == case_id, Probe.camera == camera, Lead.created_at >= since)
            .order_by(Lead.id.desc()).limit(1))


def lead_from_sighting(records: Records, settings: Settings, sighting: Sighting, camera: str,
                       source: str = "cctv", source_ref: str | None = None) -> int | None:
    """Make a lead of a video sighting (its best face crop; the camera keys the alert
    cooldown). Repeated sightings of one case on one camera within
    ``FINDME_SIGHTING_COOLDOWN`` seconds make one lead, not many (the repeats are audited).
    Returns the lead id (the existing one when this very sighting, same source and times, was
    recorded before: a queued scan taken over after its worker died), or None for a repeat or a
    sighting that is no lead."""
    if not Decision(sighting.decision).makes_lead:
        return None
    ref = f"{source_ref or camera} {sighting.first_s:.1f}-{sighting.last_s:.1f} s"[:500]
    with records.session() as s:  # the same sighting again (a queue job taken over): its lead
        same = s.scalar(select(Lead.id).join(Probe, Lead.probe_id == Probe.id).where(
            Lead.case_id == sighting.case_id, Probe.camera == camera, Probe.source_ref == ref)
            .limit(1))
    if same is not None:
        return same
    earlier = recent_lead(records, sighting.case_id, camera, settings.sighting_cooldown_seconds)
    if earlier is not None:
        records.audit("system", "sighting.repeat", f"lead:{earlier}",
                      f"case:{sighting.case_id} camera:{camera}")
        return None
    probe = records.add_probe(source, ref, 1, camera)
    new = NewLead(sighting.case_id, sighting.photo_id, tuple(sighting.box), sighting.score,
                  sighting.scores, Decision(sighting.decision), sighting.crop, sighting.margin,
                  sighting.stranger_rate, sighting.quality)
    try:
        return create_lead(records, settings, new, probe, f"{source} {camera}",
                           f"camera:{camera}")
    except CaseErased:
        return None


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
    camera: str | None = None  # the probe's camera (CCTV, webcam), if any

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
                                tuple(reviews[lead.id]), probe.camera if probe else None))
        return out


def per_case(records: Records, status: str | None = None) -> dict[int, int]:
    """``{case id: number of leads}`` (of one status when given)."""
    with records.session() as s:
        q = select(Lead.case_id, func.count()).group_by(Lead.case_id)
        if status is not None:
            q = q.where(Lead.status == status)
        return dict(s.execute(q).all())


def count(records: Records, status: str | None = None, decision: str | None = None,
          since: dt.datetime | None = None) -> int:
    """How many leads, filtered by status, decision and creation time."""
    with records.session() as s:
        q = select(func.count()).select_from(Lead)
        if status is not None:
            q = q.where(Lead.status == status)
        if decision is not None:
            q = q.where(Lead.decision == decision)
        if since is not None:
            q = q.where(Lead.created_at >= since)
        return s.scalar(q) or 0


def made_since(records: Records, since: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """``(created at, decision)`` of every lead made since ``since`` (aware UTC times)."""
    with records.session() as s:
        rows = s.execute(select(Lead.created_at, Lead.decision).where(
            Lead.created_at >= since)).all()
    return [(aware(t), d) for t, d in rows]


@dataclass(frozen=True)
class LeadGroup:
    """The leads of one probe (one photo, one video track): a crowd photo is one group, not a
    row per face. ``views`` keep the queue's order (best score first)."""

    probe_id: int | None
    views: tuple[LeadView, ...]

    @property
    def best(self) -> LeadView:
        """The group's first (highest-scoring) lead."""
        return self.views[0]


def why(lead: LeadRecord) -> str:
    """What a reviewer should weigh beside the score, in words: the margin to the next case,
    how often a person in no case would score as high, and the probe face's quality."""
    parts = []
    if lead.margin is None:
        parts.append("no other case came close")
    else:
        parts.append(f"{lead.margin:.2f} above the next case"
                     + (" (close: compare both)" if lead.margin < 0.05 else ""))
    if lead.stranger_rate is not None:
        rate = lead.stranger_rate
        parts.append("a person in no case scores this high in "
                     + (f"about 1 of {round(1 / rate):,} searches" if rate > 0 else
                        "practically no search"))
    q = lead.quality or {}
    if q:
        parts.append(f"searched face {q.get('face_px', '?')} px, sharpness "
                     f"{q.get('sharpness', 0):.0f}"
                     + (f" ({'; '.join(q['reasons'])})" if q.get("reasons") else ""))
    return "; ".join(parts)


def grouped(views: list[LeadView]) -> list[LeadGroup]:
    """Leads grouped by probe, groups in the order of their best lead (a lead without a probe
    is a group of its own)."""
    groups: dict[object, list[LeadView]] = {}
    for v in views:
        key = v.lead.probe_id if v.lead.probe_id is not None else ("lead", v.lead.id)
        groups.setdefault(key, []).append(v)
    return [LeadGroup(vs[0].lead.probe_id, tuple(vs)) for vs in groups.values()]


def queue(records: Records, status: str | None = "new", case_id: int | None = None,
          limit: int = 200) -> list[LeadView]:
    """Leads to review, highest score first, then oldest first (a strong old lead is on top).
    ``case_id``: the leads of one record (a missing case's, or the cross-match leads a found
    record is part of)."""
    with records.session() as s:
        q = select(Lead).order_by(Lead.fused_score.desc(), Lead.created_at, Lead.id).limit(limit)
        if status:
            q = q.where(Lead.status == status)
        if case_id is not None:
            q = q.where((Lead.case_id == case_id) | (Lead.found_id == case_id))
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
           mark_found: bool = False, role: str | None = None) -> ReviewOutcome:
    """Record ``reviewer``'s ``confirm`` or ``reject`` of a lead that is still ``new``.

    One reviewer gives one verdict per lead. A rejection rejects the lead. A confirmation
    confirms it, or (two-person rule) waits for a second, different reviewer. When the lead
    becomes confirmed by this verdict and ``mark_found`` is set, the case is marked found (the
    reviewer whose verdict confirms decides that; with ``role`` given, only a role with
    ``cases.edit`` may, since a found case leaves every search). Returns what happened; raises
    :class:`RecordError` for a bad request.
    """
    if verdict not in VERDICTS:
        raise RecordError(f"verdict must be one of {', '.join(VERDICTS)}")
    if mark_found and role is not None:
        from findme.cases.users import allowed

        if not allowed(role, "cases.edit"):  # marking found takes a child out of every search
            raise RecordError("marking a case found needs the cases.edit permission; confirm "
                              "the lead and ask an investigator")
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
        add_audit(s, actor=reviewer, action=f"lead.{verdict}", target=f"lead:{lead_id}",
                         detail=f"case:{lead.case_id}" + (" mark-found" if mark_found else ""))
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
        if lead.status == "confirmed" and lead.found_id is not None:
            found = _link(s, lead, reviewer, now)
        elif lead.status == "confirmed" and mark_found:
            case = s.get(Case, lead.case_id)
            if case is not None and case.status == "open":
                case.status = "found"
                case.updated_at = now
                add_audit(s, actor=reviewer, action="case.status",
                                 target=f"case:{lead.case_id}", detail=f"found (lead {lead_id})")
                found = True
        return ReviewOutcome(lead.status, max(0, needed - len(confirmers))
                             if lead.status == "new" else 0, found)


def _link(s: Session, lead: Lead, reviewer: str, now: dt.datetime) -> bool:
    """A confirmed cross-match lead: the missing case becomes ``found`` and the found record
    ``identified`` (linked to the case), both audited in the reviewer's transaction ``s``.
    Returns whether the case was marked found (it may have been found already)."""
    case, child = s.get(Case, lead.case_id), s.get(Case, lead.found_id)
    marked = False
    if case is not None and case.status == "open":
        case.status, case.updated_at = "found", now
        add_audit(s, actor=reviewer, action="case.status", target=f"case:{case.id}",
                  detail=f"found (lead {lead.id}, found:{lead.found_id})")
        marked = True
    if child is not None and child.status != "identified":
        child.status, child.linked_case_id, child.updated_at = "identified", lead.case_id, now
        add_audit(s, actor=reviewer, action="case.status", target=f"case:{child.id}",
                  detail=f"identified (lead {lead.id}, case:{lead.case_id})")
    return marked


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk rejection did: the leads rejected, and the leads left as they were with
    the reason (already reviewed, reviewed by this person before...)."""

    rejected: tuple[int, ...]
    refused: tuple[tuple[int, str], ...]


def reject_many(records: Records, lead_ids: list[int], reviewer: str, note: str,
                role: str | None = None) -> BulkOutcome:
    """Reject each of ``lead_ids`` with one ``note`` (one :func:`review` each, so each lead
    gets its own review row and audit entry ``lead.reject``). A note is required: a bulk
    rejection must say why. Leads that cannot be rejected are reported, never half-done."""
    if not (note or "").strip():
        raise RecordError("say why these leads are rejected (the note is kept on each lead)")
    done: list[int] = []
    refused: list[tuple[int, str]] = []
    for lead_id in dict.fromkeys(lead_ids):
        try:
            review(records, lead_id, reviewer, "reject", note, False, role)
        except RecordError as exc:
            refused.append((lead_id, str(exc)))
        else:
            done.append(lead_id)
    return BulkOutcome(tuple(done), tuple(refused))


@dataclass(frozen=True)
class SearchRecord:
    """One recorded search (a probe): what was searched (source, reference, camera), when, how
    many faces it held, and the leads it made or fed (``(lead id, case id, decision, status)``,
    a repeat of an open lead included). No face is kept here."""

    probe_id: int
    source: str
    source_ref: str | None
    camera: str | None
    faces: int
    at: dt.datetime
    leads: tuple[tuple[int, int, str, str], ...]


def recent_searches(records: Records, limit: int = 50,
                    sources: tuple[str, ...] | None = None) -> list[SearchRecord]:
    """The newest ``limit`` searches (of ``sources`` when given), newest first, each with its
    leads; a repeated image's lead (audited ``lead.repeat`` with ``probe:N``) counts for the
    repeat too."""
    with records.session() as s:
        q = select(Probe).order_by(Probe.id.desc()).limit(limit)
        if sources:
            q = q.where(Probe.source.in_(sources))
        probes = list(s.scalars(q))
        ids = [p.id for p in probes]
        made: dict[int, list[tuple[int, int, str, str]]] = {i: [] for i in ids}
        if ids:
            for lead in s.scalars(select(Lead).where(Lead.probe_id.in_(ids))
                                  .order_by(Lead.fused_score.desc())):
                made[lead.probe_id].append((lead.id, lead.case_id, lead.decision, lead.status))
            lo = min(ids)
            oldest = min(p.created_at for p in probes)
            repeats = s.execute(select(AuditEntry.target, AuditEntry.detail).where(
                AuditEntry.action == "lead.repeat", AuditEntry.at >= oldest)).all()
            wanted: dict[int, list[int]] = {}
            for target, detail in repeats:
                probe = _probe_of(detail)
                if probe is not None and probe >= lo and probe in made and target:
                    wanted.setdefault(probe, []).append(int(target.split(":", 1)[1]))
            if wanted:
                rows = {lead.id: lead for lead in s.scalars(select(Lead).where(
                    Lead.id.in_({i for v in wanted.values() for i in v})))}
                for probe, lead_ids in wanted.items():
                    for i in lead_ids:
                        if i in rows and all(i != m[0] for m in made[probe]):
                            made[probe].append((i, rows[i].case_id, rows[i].decision,
                                                rows[i].status))
        return [SearchRecord(p.id, p.source, p.source_ref, p.camera, p.faces,
                             aware(p.created_at), tuple(made[p.id])) for p in probes]


def _probe_of(detail: str | None) -> int | None:
    """The probe id in an audit detail ``case:3 probe:17``, or None."""
    for part in (detail or "").split():
        if part.startswith("probe:") and part[6:].isdigit():
            return int(part[6:])
    return None
