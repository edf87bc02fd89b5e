"""The review desk's view-model: the lead queue filtered (case, source, camera, decision, dates),
as a table whose rows a person clicks, and the words shown beside a lead.

Input: :class:`findme.cases.leads.LeadView` lists and filter values. Output: lists, DataFrames
and strings; nothing here draws widgets or writes (verdicts are ``findme.cases.leads``).
Empty values read ``—`` or ``unknown``, never ``None``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from findme.cases import leads
from findme.config import Settings
from findme.ui.face_crops import NO_FACE, file_thumbnail

DASH = "—"
QUEUE_LIMIT = 500  # leads the desk reads per status (best first)
QUEUE_COLUMNS = ["face", "lead", "case", "name", "decision", "score", "source", "camera",
                 "from", "when", "status", "confirmations"]


@dataclass(frozen=True)
class Filters:
    """What the desk shows: one case (its leads, either side of a cross-match), sources,
    cameras and decisions (empty: all), and a date range of the search (inclusive)."""

    case_id: int | None = None
    sources: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None

    def active(self) -> bool:
        """Whether anything is filtered."""
        return bool(self.case_id is not None or self.sources or self.cameras or self.decisions
                    or self.since or self.until)


@dataclass(frozen=True)
class Options:
    """The values the queue holds, for the filter widgets: case ids with their labels,
    sources, cameras, decisions."""

    cases: dict[int, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()


def when(view: leads.LeadView) -> dt.datetime:
    """When the lead's face was searched (its probe), else when the lead was made."""
    return view.searched_at or view.lead.created_at


def case_label(view: leads.LeadView) -> str:
    """``#12`` for a lead of a missing case, ``#12 ↔ F-40`` for a cross-match lead."""
    lead = view.lead
    return f"#{lead.case_id}" + (f" ↔ F-{lead.found_id}" if lead.found_id is not None else "")


def options(views: Sequence[leads.LeadView]) -> Options:
    """The cases, sources, cameras and decisions found in ``views`` (sorted)."""
    cases: dict[int, str] = {}
    for v in views:
        cases.setdefault(v.lead.case_id, f"#{v.lead.case_id} {v.case_name}")
        if v.lead.found_id is not None:
            cases.setdefault(v.lead.found_id, f"F-{v.lead.found_id}")
    return Options(dict(sorted(cases.items())),
                   tuple(sorted({source_of(v) for v in views})),
                   tuple(sorted({v.camera for v in views if v.camera})),
                   tuple(sorted({v.lead.decision for v in views})))


def source_of(view: leads.LeadView) -> str:
    """The lead's source (``photo``, ``cctv``, ``webcam``...; ``crossmatch`` for a pair of
    records; ``by hand`` when no probe is recorded)."""
    if view.source:
        return view.source
    return "crossmatch" if view.lead.found_id is not None else "by hand"


def apply(views: Sequence[leads.LeadView], f: Filters) -> list[leads.LeadView]:
    """The views that pass filters ``f``, in their order."""
    out = []
    for v in views:
        if f.case_id is not None and f.case_id not in (v.lead.case_id, v.lead.found_id):
            continue
        if f.sources and source_of(v) not in f.sources:
            continue
        if f.cameras and v.camera not in f.cameras:
            continue
        if f.decisions and v.lead.decision not in f.decisions:
            continue
        day = when(v).date()
        if (f.since and day < f.since) or (f.until and day > f.until):
            continue
        out.append(v)
    return out


def ordered(views: Sequence[leads.LeadView]) -> list[leads.LeadView]:
    """``views`` with the leads of one searched photo (one probe) together, groups in the order
    of their best lead: the rows of the desk's table."""
    return [v for g in leads.grouped(list(views)) for v in g.views]


def queue_frame(views: Sequence[leads.LeadView], settings: Settings | None = None
                ) -> pd.DataFrame:
    """One row per lead (the order of ``views``): a thumbnail of the searched face (only when
    ``settings`` is given: pass it only for a role that may see photos), lead id, case, name,
    decision, score, source, camera, where from, when, status and confirmations."""
    rows = []
    for v in views:
        rows.append({
            "face": (file_thumbnail(settings, v.lead.crop_path) or NO_FACE) if settings
            else None,
            "lead": v.lead.id, "case": case_label(v), "name": v.case_name,
            "decision": v.lead.decision, "score": round(v.lead.fused_score, 3),
            "source": source_of(v), "camera": v.camera or DASH,
            "from": v.source_ref or DASH, "when": when(v).strftime("%Y-%m-%d %H:%M"),
            "status": v.lead.status, "confirmations": v.confirmations})
    frame = pd.DataFrame(rows, columns=QUEUE_COLUMNS)
    return frame if settings else frame.drop(columns=["face"])


def pick_label(view: leads.LeadView) -> str:
    """The lead picker's line: ``lead 18 · #3 Ben (match 0.91) · photo``."""
    return (f"lead {view.lead.id} · {case_label(view)} {view.case_name} "
            f"({view.lead.decision} {view.lead.fused_score:.2f}) · {source_of(view)}")


def context_lines(view: leads.LeadView) -> list[str]:
    """The lead's context in words (markdown-safe apart from user text, which the caller passes
    through ``safe``): source, where from, camera, when searched, when made."""
    lead = view.lead
    out = [f"source: {source_of(view)}"]
    if view.camera:
        out.append(f"camera: {view.camera}")
    if view.source_ref:
        out.append(f"from: {view.source_ref}")
    out.append(f"searched {when(view):%Y-%m-%d %H:%M} UTC")
    if lead.probe_id is not None:
        out.append(f"probe {lead.probe_id}")
    return out


def selected_ids(frame: pd.DataFrame, rows: Sequence[int]) -> list[int]:
    """The lead ids of the table rows ``rows`` (positions, as a dataframe selection gives them);
    positions past the table are ignored."""
    return [int(frame.iloc[r]["lead"]) for r in rows if 0 <= r < len(frame)]
