"""The Search page's history: who searched what, when, how many faces, which leads came of it.

Read from the ``probes`` table and the leads each probe made (no face is kept for a search that
made no lead; a lead keeps only its face crop). Input: records, the viewer's name and whether
they may see everyone's searches. Output: a DataFrame whose empty cells read ``—``.
"""

from __future__ import annotations

import re

import pandas as pd

from findme.cases import leads
from findme.cases.records import Records
from findme.cases.tables import Probe
from findme.ui.search_words import short_name

COLUMNS = ["when", "who", "photo", "faces", "leads"]
DASH = "—"
_BY = re.compile(r"^(?P<name>.*) \(by (?P<who>[^()]*)\)$", re.S)


#: characters of a probe's reference (the ``probes.source_ref`` column's length)
REF_LIMIT: int = Probe.__table__.c.source_ref.type.length


def photo_ref(name: str, actor: str) -> str:
    """The reference of a photo searched by ``actor``: ``"<file name> (by <actor>)"``, the file
    name shortened so the whole fits :data:`REF_LIMIT` (cutting the whole reference instead
    dropped the real user, and a long file name ending in ``(by someone)`` then named
    another person as the searcher)."""
    tail = f" (by {actor})"
    return name[:max(0, REF_LIMIT - len(tail))] + tail


def split_ref(ref: str | None) -> tuple[str, str | None]:
    """A photo probe's reference ``"<file name> (by <user>)"`` as (file name, user); a
    reference without the user gives (reference, None)."""
    m = _BY.match(ref or "")
    if m is None:
        return (ref or "", None)
    return m["name"], m["who"]


def lead_words(made: tuple[tuple[int, int, str, str], ...]) -> str:
    """``lead 4 → #2 (possible, new); lead 5 → #7 (match, confirmed)`` or ``none``."""
    if not made:
        return "none"
    return "; ".join(f"lead {i} → #{case} ({decision}, {status})"
                     for i, case, decision, status in made)


def history_frame(records: Records, viewer: str, everyone: bool, limit: int = 50,
                  sources: tuple[str, ...] = ("photo",)) -> pd.DataFrame:
    """The newest ``limit`` photo searches (``viewer``'s own unless ``everyone``), newest
    first: when, who, photo (shortened file name), faces, leads."""
    rows = []
    for rec in leads.recent_searches(records, limit * (1 if everyone else 4), sources):
        name, who = split_ref(rec.source_ref)
        if not everyone and who != viewer:
            continue
        rows.append({"when": f"{rec.at:%Y-%m-%d %H:%M}", "who": who or DASH,
                     "photo": short_name(name) or DASH, "faces": rec.faces,
                     "leads": lead_words(rec.leads)})
        if len(rows) == limit:
            break
    return pd.DataFrame(rows, columns=COLUMNS)
