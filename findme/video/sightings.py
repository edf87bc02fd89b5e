"""Turning video sightings into leads, without flooding anyone.

A sighting (one appearance of a registered child on one camera,
:mod:`findme.video.processor`) becomes a
lead with its best face crop, as photo matches do (``match`` and ``possible``). Repeated sightings
of the same case on the same camera within ``FINDME_SIGHTING_COOLDOWN`` seconds (600) create one
lead, not many; the repeats are audited. Alerts follow the alert rules, with the camera as the
source of the alert cooldown.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from findme.alerts import rules as alerts
from findme.cases.records import AuditEntry, Lead, Probe, Records
from findme.config import Settings
from findme.search.matcher import save_lead_crop
from findme.video.processor import Sighting


def recent_lead(records: Records, case_id: int, camera: str, seconds: float) -> int | None:
    """A lead of ``case_id`` from ``camera`` made in the last ``seconds``, if any."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    with records.session() as s:
        return s.scalar(select(Lead.id).join(Probe, Lead.probe_id == Probe.id).where(
            Lead.case_id == case_id, Probe.camera == camera, Lead.created_at >= since)
            .order_by(Lead.id.desc()).limit(1))


def record(records: Records, settings: Settings, sighting: Sighting, camera: str,
           source: str = "cctv", source_ref: str | None = None) -> int | None:
    """Make a lead of a sighting (with its crop) and run the alert rules; returns the lead id,
    or None when the same case already has a lead from this camera within the cooldown."""
    if sighting.decision not in ("match", "possible"):
        return None
    earlier = recent_lead(records, sighting.case_id, camera, settings.sighting_cooldown_seconds)
    if earlier is not None:
        with records.session() as s:
            s.add(AuditEntry(actor="system", action="sighting.repeat", target=f"lead:{earlier}",
                             detail=f"case:{sighting.case_id} camera:{camera}"))
        return None
    ref = f"{source_ref or camera} {sighting.first_s:.1f}-{sighting.last_s:.1f} s"
    probe = records.add_probe(source, ref[:500], 1, camera)
    lead = records.add_lead(probe, sighting.case_id, sighting.photo_id, list(sighting.box),
                            sighting.score, sighting.scores, sighting.decision,
                            None if sighting.crop is None or not sighting.crop.size
                            else save_lead_crop(settings, sighting.crop,
                                                f"video-{uuid.uuid4().hex}"))
    alerts.on_lead(records, settings, lead, sighting.case_id, sighting.decision, sighting.score,
                   f"{source} {camera}", f"camera:{camera}")
    return lead
