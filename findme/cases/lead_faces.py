"""A confirmed lead's searched face, added to its case as a registered photo.

A reviewer who confirmed that a searched face shows the child may keep that face as one more
photo of the case (a newer photo helps the next search). It goes through
:func:`findme.cases.registry.add_photos` like any added photo (checked, embedded, searched
against the other registry), is stored under the case's lawful basis (none recorded: refused),
and is audited as ``case.photos.from_lead``.
"""

from __future__ import annotations

from findme.cases import leads
from findme.cases.records import RecordError, Records
from findme.cases.registry import PhotoInput, PhotoOutcome, add_photos
from findme.cases.users import allowed
from findme.config import Settings
from findme.search.store import VectorStore


def can_add(lead: leads.LeadView, role: str | None) -> str | None:
    """Why the searched face of ``lead`` cannot be added to its case by ``role``, or None
    when it can: only a confirmed lead of a missing case (not a cross-match lead) whose face
    crop was kept, by a role with ``cases.edit``."""
    if not allowed(role, "cases.edit"):
        return "adding a photo to a case needs the cases.edit permission"
    if lead.lead.status != "confirmed":
        return "only a confirmed lead's face can be added to the case"
    if lead.lead.found_id is not None:
        return "a cross-match lead joins two records; add photos on the Cases page"
    if not lead.lead.crop_path:
        return "the searched face was not kept"
    return None


def add_face_to_case(records: Records, store: VectorStore, settings: Settings, lead_id: int,
                     actor: str, role: str | None) -> PhotoOutcome:
    """Add confirmed lead ``lead_id``'s searched face as a photo of its case; returns the
    photo's outcome (``accepted`` or the reasons it was not usable). Raises
    :class:`RecordError` with a sentence when the lead may not give its face (see
    :func:`can_add`) or the case has no lawful basis recorded."""
    view = leads.get(records, lead_id)
    refusal = can_add(view, role)
    if refusal:
        raise RecordError(refusal)
    case = records.get_case(view.lead.case_id)
    basis = (case.lawful_basis or "").strip()
    if not (basis or (case.kind != "found" and case.consent_recorded)):
        raise RecordError(f"case #{case.id} has no consent or other lawful basis recorded: "
                          "no photo may be stored")
    path = settings.data_dir / (view.lead.crop_path or "")
    try:
        data = path.read_bytes()
    except OSError:
        raise RecordError("the searched face's file is gone") from None
    (outcome,) = add_photos(case.id, [PhotoInput(f"lead-{lead_id}.jpg", data)], records, store,
                            settings, actor)
    basis = "guardian's consent" if case.consent_recorded and case.kind != "found" else basis
    records.audit(actor, "case.photos.from_lead", f"case:{case.id}",
                  f"lead:{lead_id} {'added' if outcome.accepted else 'not usable'}; "
                  f"basis: {basis}"[:500])
    return outcome
