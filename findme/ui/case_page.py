"""A case page's tables: its leads (with the desk's words), its sightings (CCTV and webcam
leads) and its history (the audit rows about it).

Input: the open workspace's records and a case id. Output: DataFrames whose empty cells read
``—`` (never ``None``). Nothing here draws widgets; the page decides who sees what.
"""

from __future__ import annotations

import pandas as pd

from findme.cases import leads
from findme.cases.records import Records
from findme.ui.review_desk import DASH, case_label, source_of, when

LEAD_COLUMNS = ["lead", "pair", "when", "source", "from", "score", "decision", "status",
                "reviewed by", "note"]
SIGHTING_COLUMNS = ["lead", "camera", "when", "from", "score", "decision", "status"]
HISTORY_COLUMNS = ["at", "who", "what", "detail"]


def _text(value: object) -> object:
    return DASH if value is None or value == "" else value


def case_leads(records: Records, case_id: int, limit: int = 500) -> list[leads.LeadView]:
    """Every lead of the record (any status; either side of a cross-match), best first."""
    return leads.queue(records, status=None, case_id=case_id, limit=limit)


def leads_frame(views: list[leads.LeadView]) -> pd.DataFrame:
    """One row per lead that is not a video sighting: lead id, the pair (``#3`` or
    ``#3 ↔ F-9``), when, source, where from, score, decision, status, reviewed by, note."""
    rows = [{"lead": v.lead.id, "pair": case_label(v), "when": f"{when(v):%Y-%m-%d %H:%M}",
             "source": source_of(v), "from": _text(v.source_ref),
             "score": round(v.lead.fused_score, 3), "decision": v.lead.decision,
             "status": v.lead.status, "reviewed by": _text(v.lead.reviewed_by),
             "note": _text(v.lead.note)}
            for v in views if source_of(v) not in leads.VIDEO_SOURCES]
    return pd.DataFrame(rows, columns=LEAD_COLUMNS)


def sightings_frame(views: list[leads.LeadView]) -> pd.DataFrame:
    """One row per video sighting (a CCTV or webcam lead): lead id, camera, when, where from,
    score, decision, status."""
    rows = [{"lead": v.lead.id, "camera": _text(v.camera), "when": f"{when(v):%Y-%m-%d %H:%M}",
             "from": _text(v.source_ref), "score": round(v.lead.fused_score, 3),
             "decision": v.lead.decision, "status": v.lead.status}
            for v in views if source_of(v) in leads.VIDEO_SOURCES]
    return pd.DataFrame(rows, columns=SIGHTING_COLUMNS)


def history_frame(records: Records, case_id: int, limit: int = 200) -> pd.DataFrame:
    """The audit rows about the record (registered, viewed, edited, photos added, status
    changes...), newest first: when, who, what, detail."""
    rows = [{"at": f"{e['at']:%Y-%m-%d %H:%M}" if hasattr(e["at"], "strftime")
             else _text(e["at"]), "who": _text(e["actor"]), "what": _text(e["action"]),
             "detail": _text(e.get("detail"))}
            for e in records.audit_log(limit=limit, target=f"case:{case_id}")]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
