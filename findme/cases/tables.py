"""The case database's tables (SQLAlchemy 2) and their read-only record types.

Tables: cases, photos, probes, leads, lead reviews and the audit log; other families (users,
alerts, scans) declare theirs on the same :class:`Base` in their own repository modules. Code
outside ``findme/cases`` never touches these rows directly: it calls a repository
(:class:`findme.cases.records.Records`, :mod:`findme.cases.leads`, ...) that hands back the frozen
``*Record`` values defined here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now() -> dt.datetime:
    """The current time in UTC (every stored time is UTC)."""
    return dt.datetime.now(dt.UTC)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


# ----------------------------------------------------------------------------- tables


class Base(DeclarativeBase):
    """Declarative base of every table.

    Every table's integer id is ``AUTOINCREMENT`` on SQLite: an id names one thing forever (a
    case number in the audit log, a lead in a link, a photo's vectors), so the id of an erased
    row is never handed out again (plain SQLite reuses the highest freed one; PostgreSQL's
    sequences never do). A table that sets its own ``__table_args__`` must keep
    ``sqlite_autoincrement`` (``tests/test_ids.py`` checks every table).
    """

    __table_args__ = {"sqlite_autoincrement": True}


class Case(Base):
    """A registered child: ``kind`` ``missing`` (a missing report) or ``found`` (a child found
    and in care whose family is unknown; shown as ``F-<id>``, same id space, never reused)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="missing", server_default="missing",
                                      index=True)
    name: Mapped[str] = mapped_column(String(200))
    ref: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True,
                                            unique=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    age_at_disappearance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gender: Mapped[str | None] = mapped_column(String(30), nullable=True)
    last_seen_place: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_seen_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    guardian_contact: Mapped[str | None] = mapped_column(String(300), nullable=True)
    consent_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    lawful_basis: Mapped[str | None] = mapped_column(String(300), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    # found records (kind "found"): where, when, who holds the child, estimated age
    found_place: Mapped[str | None] = mapped_column(String(300), nullable=True)
    found_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    institution: Mapped[str | None] = mapped_column(String(300), nullable=True)
    institution_contact: Mapped[str | None] = mapped_column(String(300), nullable=True)
    age_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    age_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    languages: Mapped[str | None] = mapped_column(String(200), nullable=True)
    marks: Mapped[str | None] = mapped_column(Text, nullable=True)
    linked_case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now,
                                                    onupdate=now)


class Photo(Base):
    """A registered photo of a case; ``ready`` only once its vectors are in the store."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    file_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    taken_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    age_at_photo: Mapped[float | None] = mapped_column(Float, nullable=True)
    face_box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    landmarks: Mapped[list | None] = mapped_column(JSON, nullable=True)
    quality: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    reasons: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Probe(Base):
    """Something searched: a photo upload, a webcam frame, a CCTV file."""

    __tablename__ = "probes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    camera: Mapped[str | None] = mapped_column(String(200), nullable=True)
    faces: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Lead(Base):
    """A probe face that may show a registered child, waiting for a person's review.

    ``probe_fingerprint`` (a hash of the searched image's pixels, see
    :func:`findme.cases.leads.fingerprint`) with the partial unique index: one open (``new``)
    lead per case per searched image, whoever searches it and however often.

    A cross-match lead pairs a missing case (``case_id``, ``photo_id``) with a found record
    (``found_id``, ``found_photo_id``): one per pair, ever (``uq_leads_cross_pair``)."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("uq_leads_open_probe", "case_id", "probe_fingerprint", unique=True,
              sqlite_where=text("status = 'new'"), postgresql_where=text("status = 'new'")),
        Index("uq_leads_cross_pair", "case_id", "found_id", unique=True),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    probe_id: Mapped[int | None] = mapped_column(ForeignKey("probes.id", ondelete="SET NULL"),
                                                 nullable=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"),
                                                 nullable=True)
    face_box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    fused_score: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    decision: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="new", index=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    crop_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    margin: Mapped[float | None] = mapped_column(Float, nullable=True)
    stranger_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    quality: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    probe_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    found_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                                 nullable=True, index=True)
    found_photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("photos.id", ondelete="SET NULL"), nullable=True)
    age_gap_years: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class LeadReview(Base):
    """One reviewer's verdict on a lead (two are needed under the two-person rule)."""

    __tablename__ = "lead_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class AuditEntry(Base):
    """Who did what, when. Details never hold a child's name (erasure must leave no trace)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class CaseRecord:
    """A case as read from the database."""

    id: int
    name: str
    birth_date: dt.date | None
    age_at_disappearance: int | None
    gender: str | None
    last_seen_place: str | None
    last_seen_date: dt.date | None
    description: str | None
    guardian_contact: str | None
    consent_recorded: bool
    assigned_to: str | None
    status: str
    lawful_basis: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    ref: str | None = None
    kind: str = "missing"
    found_place: str | None = None
    found_at: dt.datetime | None = None
    institution: str | None = None
    institution_contact: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    languages: str | None = None
    marks: str | None = None
    linked_case_id: int | None = None

    @property
    def label(self) -> str:
        """The number people see: ``#12`` for a missing case, ``F-12`` for a found record."""
        return f"F-{self.id}" if self.kind == "found" else f"#{self.id}"


@dataclass(frozen=True)
class PhotoRecord:
    """A registered photo as read from the database (``file_path`` relative to the data dir)."""

    id: int
    case_id: int
    file_path: str
    sha256: str
    taken_date: dt.date | None
    face_box: list | None
    landmarks: list | None
    quality: dict | None
    status: str
    reasons: list | None
    created_at: dt.datetime
    age_at_photo: float | None = None


@dataclass(frozen=True)
class LeadRecord:
    """A lead as read from the database."""

    id: int
    probe_id: int | None
    case_id: int
    photo_id: int | None
    face_box: list | None
    fused_score: float
    scores: dict | None
    decision: str
    status: str
    note: str | None
    crop_path: str | None
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    reviewed_by: str | None
    margin: float | None = None
    stranger_rate: float | None = None
    quality: dict | None = None
    found_id: int | None = None
    found_photo_id: int | None = None
    age_gap_years: float | None = None
