"""The cases table of the dashboard: cases as a pandas frame, filtered, with photo and lead counts.

Input: an open workspace and filter values; output: a DataFrame (guardian contacts only for a
role that may see them). Nothing here draws widgets.
"""

from __future__ import annotations

import pandas as pd

from findme.cases import leads as lead_repo
from findme.ui.face_crops import NO_FACE, thumbnails
from findme.workspace import Workspace

EMPTY = "—"  # what an empty cell shows (never "None")
MAX_THUMBNAILS = 300  # records given a thumbnail (each reads a stored photo once, then cached)


def cases_frame(ws: Workspace, text: str = "", statuses: tuple[str, ...] = (),
                with_contact: bool = False, kind: str = "missing",
                with_photos: bool = False) -> pd.DataFrame:
    """Records of ``kind`` newest first, filtered by a text (name, place, description, case
    number) and statuses. Missing cases: id, number, name, status, age, gender, last seen
    place/date, photos, leads, open leads, assigned to, registered (and guardian contact when
    allowed). Found records: id, number, name, status, estimated age, gender, found where/when,
    institution and its contact, photos, leads, open leads, registered. With ``with_photos``
    (only for a role that may see photos) a first ``face`` column holds a small data-URL
    thumbnail of each record's registered face (the newest ``MAX_THUMBNAILS`` records). Empty
    cells read ``—``."""
    cases = ws.records.list_cases(kind=kind)
    photos = ws.records.ready_photos_per_case()
    leads = lead_repo.per_case(ws.records)
    waiting = lead_repo.per_case(ws.records, "new")
    needle = text.strip().lower()
    rows = []
    for c in cases:
        if statuses and c.status not in statuses:
            continue
        hay = " ".join(str(v or "") for v in (c.id, c.label, c.name, c.last_seen_place,
                                               c.found_place, c.institution, c.description))
        if needle and needle not in hay.lower() and needle.lstrip("#f-") != str(c.id):
            continue
        row = {"id": c.id, "number": c.label, "name": c.name, "status": c.status}
        if kind == "found":
            row |= {"estimated age": _age_range(c.age_min, c.age_max), "gender": c.gender,
                    "found where": c.found_place,
                    "found on": c.found_at.date() if c.found_at else None,
                    "institution": c.institution, "institution contact": c.institution_contact}
        else:
            row |= {"age": c.age_at_disappearance, "gender": c.gender,
                    "last seen": c.last_seen_place, "last seen date": c.last_seen_date}
        row |= {"photos": photos.get(c.id, 0), "leads": leads.get(c.id, 0),
                "leads to review": waiting.get(c.id, 0), "registered": c.created_at}
        if kind != "found":
            row["assigned to"] = c.assigned_to
            if with_contact:
                row["guardian contact"] = c.guardian_contact
        rows.append({k: EMPTY if v is None or v == "" else v for k, v in row.items()})
    if kind == "found":
        columns = ["id", "number", "name", "status", "estimated age", "gender", "found where",
                   "found on", "institution", "institution contact", "photos", "leads",
                   "leads to review", "registered"]
    else:
        columns = ["id", "number", "name", "status", "age", "gender", "last seen",
                   "last seen date", "photos", "leads", "leads to review", "registered",
                   "assigned to"] + (["guardian contact"] if with_contact else [])
    frame = pd.DataFrame(rows, columns=columns)
    if with_photos:
        ids = [int(i) for i in frame["id"]]
        first = ids[:MAX_THUMBNAILS]  # newest first: the rows a person looks at
        thumbs = thumbnails(ws.settings, ws.records.photos(case_ids=first, status="ready")) \
            if first else {}
        frame.insert(1, "face", [thumbs.get(i, NO_FACE) for i in ids])
    frame["registered"] = [t.strftime("%Y-%m-%d") if hasattr(t, "strftime") else t
                           for t in frame["registered"]]
    return frame


def _age_range(low: int | None, high: int | None) -> str | None:
    """``"6-8"``, ``"6"``, ``"6 or older"``, ``"up to 8"`` or None from an estimated age range."""
    if low is None and high is None:
        return None
    if low is not None and high is not None:
        return f"{low}" if low == high else f"{low}-{high}"
    return f"{low} or older" if low is not None else f"up to {high}"
