"""Matching both ways: missing reports against found children, as leads a person reviews.

Saving a record (a missing case or a found record, or photos added to either) searches its faces
against every open record of the other side (:func:`match_record`); a drive
(:func:`crossmatch`) does it for every open found record against every open missing case, in
batches through the vector store. A pair at ``possible`` or better becomes a **cross-match lead**
(the missing case and its photo, the found record and its photo, scores, decision, the age gap
when both photos' ages are known) through :func:`findme.cases.leads.create_lead`, once per pair
ever (a unique index decides, so a repeat or a concurrent drive adds nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from findme.cases.leads import CaseErased, NewLead, create_lead, cross_lead
from findme.cases.leads import get as get_lead
from findme.cases.records import RecordError, Records
from findme.cases.tables import CaseRecord, LeadRecord, PhotoRecord
from findme.config import Settings
from findme.search.crossmatch import PairScore, search_side, stored_faces
from findme.search.decision import Decision
from findme.search.matcher import Matcher
from findme.search.store import VectorStore

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CrossPair:
    """A missing case and a found record that may be one child: the best pair of photos, the
    fused score, per-model scores, decision, the age gap in years (None when an age is unknown)
    and the lead it has (``new`` when this run made it)."""

    case_id: int
    found_id: int
    case_photo_id: int
    found_photo_id: int
    score: float
    scores: dict[str, float]
    decision: Decision
    age_gap_years: float | None
    lead_id: int | None = None
    new: bool = False

    def as_dict(self) -> dict:
        """The JSON shape of ``findme crossmatch --json``."""
        return {"case_id": self.case_id, "found_id": self.found_id,
                "score": round(self.score, 4), "decision": str(self.decision),
                "age_gap_years": None if self.age_gap_years is None
                else round(self.age_gap_years, 1), "lead_id": self.lead_id}


@dataclass(frozen=True)
class DriveResult:
    """A drive's pairs (``possible`` or better, best first) and how many leads it made."""

    pairs: list[CrossPair]
    new_leads: int

    def as_dict(self) -> dict:
        """``{"pairs": [...], "new_leads": N}``."""
        return {"pairs": [p.as_dict() for p in self.pairs], "new_leads": self.new_leads}


def age_at_photo(photo: PhotoRecord, case: CaseRecord) -> float | None:
    """The child's age in years on a photo: the age recorded with it, else from the date of
    birth and the date taken, else (a found record's photo, taken at intake) the middle of the
    estimated age range; None when nothing tells."""
    if photo.age_at_photo is not None:
        return float(photo.age_at_photo)
    if case.birth_date is not None and photo.taken_date is not None:
        return (photo.taken_date - case.birth_date).days / 365.25
    if case.kind == "found" and (case.age_min is not None or case.age_max is not None):
        low = case.age_min if case.age_min is not None else case.age_max
        high = case.age_max if case.age_max is not None else case.age_min
        assert low is not None and high is not None
        taken = photo.taken_date or photo.created_at.date()
        return (low + high) / 2 - (case.created_at.date() - taken).days / 365.25
    return None


def _age_gap(records: Records, pair: PairScore, missing_side: bool) -> float | None:
    """Years between the two photos' ages (found minus missing), or None."""
    case_id, found_id = ((pair.case_id, pair.other_id) if missing_side
                         else (pair.other_id, pair.case_id))
    case_photo, found_photo = ((pair.photo_id, pair.other_photo_id) if missing_side
                               else (pair.other_photo_id, pair.photo_id))
    photos = {p.id: p for p in records.photos(ids=[case_photo, found_photo])}
    if case_photo not in photos or found_photo not in photos:
        return None
    ages = [age_at_photo(photos[case_photo], records.get_case(case_id)),
            age_at_photo(photos[found_photo], records.get_case(found_id))]
    return None if None in ages else ages[1] - ages[0]  # type: ignore[operator]


def _oriented(records: Records, pair: PairScore, missing_side: bool) -> CrossPair:
    if missing_side:
        return CrossPair(pair.case_id, pair.other_id, pair.photo_id, pair.other_photo_id,
                         pair.score, pair.scores, pair.decision,
                         _age_gap(records, pair, True))
    return CrossPair(pair.other_id, pair.case_id, pair.other_photo_id, pair.photo_id,
                     pair.score, pair.scores, pair.decision, _age_gap(records, pair, False))


def lead_for_pair(records: Records, settings: Settings, pair: CrossPair,
                  actor: str = "system") -> CrossPair:
    """The pair with its cross-match lead: made now (``new``) through the one
    :func:`~findme.cases.leads.create_lead`, or the one it already has. A pair below
    ``possible``, or one whose record was erased meanwhile, is returned without a lead."""
    if not pair.decision.makes_lead:
        return pair
    existing = cross_lead(records, pair.case_id, pair.found_id)
    if existing is not None:
        return replace(pair, lead_id=existing)
    new = NewLead(pair.case_id, pair.case_photo_id, (0, 0, 0, 0), pair.score, pair.scores,
                  pair.decision, None, found_id=pair.found_id,
                  found_photo_id=pair.found_photo_id, age_gap_years=pair.age_gap_years)
    try:
        lead_id = create_lead(records, settings, new, None, f"cross-match F-{pair.found_id}",
                              f"crossmatch:{pair.case_id}:{pair.found_id}", actor)
    except CaseErased:
        return pair
    return replace(pair, lead_id=lead_id, new=True)


def match_record(records: Records, store: VectorStore, settings: Settings, case_id: int,
                 matcher: Matcher | None = None, actor: str = "system") -> list[CrossPair]:
    """Search a just-saved record's ready faces against every open record of the other side
    and make a lead of each pair at ``possible`` or better. Returns those pairs (best first);
    [] at once when the other side has no open record (no calibration is even loaded)."""
    kind = records.kinds([case_id]).get(case_id)
    if kind is None:
        return []
    other = "found" if kind == "missing" else "missing"
    open_ids = set(records.open_ids(other))
    if not open_ids:
        return []
    matcher = matcher or Matcher(records, store, settings)
    pairs = search_side(matcher, stored_faces(matcher, [case_id]), other, open_ids)
    return [lead_for_pair(records, settings, _oriented(records, p, kind == "missing"), actor)
            for p in pairs if p.decision.makes_lead]


def crossmatch(records: Records, store: VectorStore, settings: Settings,
               matcher: Matcher | None = None, progress: Progress | None = None,
               actor: str = "system") -> DriveResult:
    """A drive: every open found record against every open missing case, in batches through
    the vector store. Each pair at ``possible`` or better gets its lead once (a second run
    makes none). ``progress(done, total)`` counts found faces searched. Returns the pairs,
    best first, and how many leads this run made."""
    found_ids = records.open_ids("found")
    missing_ids = set(records.open_ids("missing"))
    if not found_ids or not missing_ids:
        if progress is not None:
            progress(0, 0)
        return DriveResult([], 0)
    matcher = matcher or Matcher(records, store, settings)
    faces = stored_faces(matcher, found_ids)
    pairs = [p for p in search_side(matcher, faces, "missing", missing_ids, progress)
             if p.decision.makes_lead]
    out = [lead_for_pair(records, settings, _oriented(records, p, False), actor)
           for p in pairs]
    made = sum(p.new for p in out)
    records.audit(actor, "crossmatch.run", None,
                  f"{len(found_ids)} found x {len(missing_ids)} missing: {len(out)} pair(s), "
                  f"{made} new lead(s)")
    return DriveResult(out, made)


def age_text(years: float | None) -> str:
    """A child's age on a photo in words for a reviewer (``about 7.5``, ``unknown``)."""
    return "unknown" if years is None else f"about {max(0.0, years):.1f}"


def age_gap_text(years: float | None) -> str:
    """The age gap in words for a reviewer (``4.5 years``, ``unknown``)."""
    return "unknown" if years is None else f"{abs(years):.1f} years"


__all__ = ["CrossLeadView", "CrossPair", "DriveResult", "age_at_photo", "age_gap_text", "age_text",
           "cross_view", "crossmatch", "lead_for_pair", "match_record"]


@dataclass(frozen=True)
class CrossLeadView:
    """A cross-match lead as a reviewer sees it: the missing case and the found record side by
    side (records, the two photos' stored paths, the child's age on each when known, the gap),
    the lead itself (scores, decision, status)."""

    lead: LeadRecord
    case: CaseRecord
    found: CaseRecord
    case_photo_path: str | None
    found_photo_path: str | None
    case_age: float | None
    found_age: float | None

    @property
    def age_gap_years(self) -> float | None:
        """Years between the two photos (found minus missing), None when an age is unknown."""
        if self.case_age is None or self.found_age is None:
            return self.lead.age_gap_years
        return self.found_age - self.case_age


def cross_view(records: Records, lead_id: int) -> CrossLeadView:
    """The two sides of cross-match lead ``lead_id`` (:class:`RecordError` when there is no
    such lead or it is not a cross-match lead)."""
    lead = get_lead(records, lead_id).lead
    if lead.found_id is None:
        raise RecordError(f"no cross-match lead with id {lead_id}")
    case, found = records.get_case(lead.case_id), records.get_case(lead.found_id)
    ids = [i for i in (lead.photo_id, lead.found_photo_id) if i is not None]
    photos = {p.id: p for p in records.photos(ids=ids)}
    mine = photos.get(lead.photo_id) if lead.photo_id is not None else None
    theirs = photos.get(lead.found_photo_id) if lead.found_photo_id is not None else None
    return CrossLeadView(lead, case, found, mine.file_path if mine else None,
                         theirs.file_path if theirs else None,
                         age_at_photo(mine, case) if mine else None,
                         age_at_photo(theirs, found) if theirs else None)
