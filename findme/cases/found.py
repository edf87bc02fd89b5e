"""The found-children registry's own rules: retention and the shelter's view of a record.

A found record (``kind`` ``found``: a child in care whose family is unknown) lives in the
``cases`` table beside missing reports, numbered in the same never-reused id space and shown as
``F-<id>``. Its status runs ``in_care`` -> ``transferred`` / ``identified`` / ``closed``. Such
records are sensitive and kept only while needed: once ``identified`` or ``closed`` and untouched
for ``FINDME_FOUND_RETENTION_DAYS`` days, :func:`sweep_retention` erases them the way a case is
erased (rows, photos, crops, vectors, the vector store rebuilt; see
:func:`findme.cases.registry.delete_case`). It runs when a workspace opens and with
``findme retention``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from findme.cases.records import Records
from findme.cases.tables import Case, CaseRecord
from findme.config import Settings
from findme.search.store import VectorStore

EXPIRING_STATUSES = ("identified", "closed")


def expired(records: Records, settings: Settings, at: dt.datetime | None = None) -> list[int]:
    """Ids of found records past retention at ``at`` (default now): ``identified`` or
    ``closed`` and not updated for ``FINDME_FOUND_RETENTION_DAYS`` days."""
    cutoff = (at or dt.datetime.now(dt.UTC)) - dt.timedelta(days=settings.found_retention_days)
    with records.session() as s:
        return list(s.scalars(select(Case.id).where(
            Case.kind == "found", Case.status.in_(EXPIRING_STATUSES),
            Case.updated_at <= cutoff).order_by(Case.id)))


def sweep_retention(records: Records, store: VectorStore, settings: Settings,
                    at: dt.datetime | None = None, actor: str = "retention") -> list[int]:
    """Erase every found record past retention (:func:`expired`), each audited
    (``case.erase`` by ``retention``); returns the erased ids."""
    from findme.cases.registry import delete_case

    ids = expired(records, settings, at)
    for case_id in ids:
        delete_case(case_id, records, store, settings, actor=actor)
    return ids


@dataclass(frozen=True)
class ContactView:
    """Who to call about a record, as a role may see it: a found record's institution contact
    (anyone who sees the record), a missing case's guardian contact (``cases.contact`` only;
    None otherwise)."""

    label: str
    contact: str | None
    hidden: bool


def contact_for(record: CaseRecord, role: str | None) -> ContactView:
    """The contact a person of ``role`` may see for ``record`` (what the Cases page and a lead
    show): a guardian's contact needs ``cases.contact`` (never a shelter); an institution's
    contact is shown to everyone who may see the record."""
    from findme.cases.users import allowed

    if record.kind == "found":
        return ContactView("institution contact", record.institution_contact, False)
    if allowed(role, "cases.contact"):
        return ContactView("guardian contact", record.guardian_contact, False)
    return ContactView("guardian contact", None, record.guardian_contact is not None)


def register_permission(kind: str) -> str:
    """The permission registering (or adding photos to, or changing the status of) a record of
    ``kind`` needs: ``cases.edit`` for a missing case, ``found.register`` for a found record
    (a shelter holds the second, not the first)."""
    return "found.register" if kind == "found" else "cases.edit"


def may_register(role: str | None, kind: str) -> bool:
    """Whether ``role`` may register a record of ``kind`` (see :func:`register_permission`)."""
    from findme.cases.users import allowed

    return allowed(role, register_permission(kind))
