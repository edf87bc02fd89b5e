"""The cases table of the dashboard: cases as a pandas frame, filtered, with photo and lead counts.

Input: an open workspace and filter values; output: a DataFrame (guardian contacts only for a
role that may see them). Nothing here draws widgets.
"""

from __future__ import annotations

import pandas as pd

from findme.cases import leads as lead_repo
from findme.workspace import Workspace


def cases_frame(ws: Workspace, text: str = "", statuses: tuple[str, ...] = (),
                with_contact: bool = False) -> pd.DataFrame:
    """Cases newest first, filtered by a text (name, place, description, case number) and
    statuses; columns id, name, status, age, gender, last seen place/date, photos, leads, open
    leads, assigned to, registered (and guardian contact when allowed)."""
    cases = ws.records.list_cases()
    photos = ws.records.ready_photos_per_case()
    leads = lead_repo.per_case(ws.records)
    waiting = lead_repo.per_case(ws.records, "new")
    needle = text.strip().lower()
    rows = []
    for c in cases:
        if statuses and c.status not in statuses:
            continue
        hay = " ".join(str(v or "") for v in (c.id, c.name, c.last_seen_place, c.description))
        if needle and needle not in hay.lower() and needle.lstrip("#") != str(c.id):
            continue
        row = {"id": c.id, "name": c.name, "status": c.status,
               "age": c.age_at_disappearance, "gender": c.gender,
               "last seen": c.last_seen_place, "last seen date": c.last_seen_date,
               "photos": photos.get(c.id, 0), "leads": leads.get(c.id, 0),
               "leads to review": waiting.get(c.id, 0), "assigned to": c.assigned_to,
               "registered": c.created_at}
        if with_contact:
            row["guardian contact"] = c.guardian_contact
        rows.append(row)
    columns = ["id", "name", "status", "age", "gender", "last seen", "last seen date", "photos",
               "leads", "leads to review", "assigned to", "registered"]
    return pd.DataFrame(rows, columns=columns + (["guardian contact"] if with_contact else []))
