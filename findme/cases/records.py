"""The case database: cases, photos, probes, leads and the audit log (SQLAlchemy 2).

SQLite file in the data folder by default; any SQLAlchemy URL through ``FINDME_DATABASE_URL``
(PostgreSQL works unchanged: only portable types are used). The schema is versioned with Alembic
(``findme/migrations``); :func:`open_records` upgrades an older database to the current version.

The :class:`Records` repository returns plain frozen values (:class:`CaseRecord`, ...), never
ORM objects, so callers cannot accidentally write through them. (Over 400 lines as one cohesive
thing: the engine, the migrations and the one repository of cases, photos, probes and audit.)
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from findme.cases.tables import (
    AuditEntry,
    Case,
    CaseRecord,
    Lead,
    LeadRecord,
    LeadReview,
    Photo,
    PhotoRecord,
    Probe,
    aware,
    now,
)
from findme.config import Settings
from findme.search.decision import Decision

CASE_STATUSES = ("open", "found", "closed")
FOUND_STATUSES = ("in_care", "identified", "transferred", "closed")
OPEN_FOUND_STATUSES = ("in_care", "transferred")  # identity still unknown: searched
KINDS = ("missing", "found")
GENDERS = ("female", "male", "other", "unknown")
PHOTO_STATUSES = ("pending", "ready", "rejected")
LEAD_STATUSES = ("new", "confirmed", "rejected")
DECISIONS = tuple(Decision)
MIGRATIONS = Path(__file__).parent / "migrations"
FAULT_ENV = "FINDME_FAULT"  # test hook: simulate a crash at a named point (fault_point)


class RecordError(ValueError):
    """A request the database cannot satisfy (unknown id, bad value); the message says which."""


@dataclass(frozen=True)
class CaseDetails:
    """What a case worker enters when registering a child (validated by :meth:`validate`)."""

    name: str
    birth_date: dt.date | None = None
    age_at_disappearance: int | None = None
    gender: str | None = None
    last_seen_place: str | None = None
    last_seen_date: dt.date | None = None
    description: str | None = None
    guardian_contact: str | None = None
    consent_recorded: bool = False
    assigned_to: str | None = None
    lawful_basis: str | None = None
    ref: str | None = None  # the organisation's own case number (unique)
    # a found record (kind "found": a child in care whose family is unknown)
    kind: str = "missing"
    found_place: str | None = None
    found_at: dt.datetime | None = None
    institution: str | None = None
    institution_contact: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    languages: str | None = None
    marks: str | None = None

    @property
    def has_lawful_basis(self) -> bool:
        """Whether the guardian's consent, or another lawful basis (a court order, a police
        request...) stated in the case, is recorded: without it no photo may be stored. A found
        record has no guardian to consent: it needs its stated basis (a welfare committee's
        order, the institution's duty of care...)."""
        if self.kind == "found":
            return bool((self.lawful_basis or "").strip())
        return self.consent_recorded or bool((self.lawful_basis or "").strip())

    def validate(self) -> None:
        """Raise :class:`RecordError` with a plain sentence for the first bad field."""
        if not self.name or not self.name.strip():
            raise RecordError("a name is required")
        if len(self.name) > 200:
            raise RecordError("the name is longer than 200 characters")
        if self.ref is not None and not 1 <= len(self.ref.strip()) <= 100:
            raise RecordError("the case number (ref) must be 1-100 characters")
        if self.lawful_basis is not None and len(self.lawful_basis) > 300:
            raise RecordError("the lawful basis is longer than 300 characters")
        if self.age_at_disappearance is not None and not 0 <= self.age_at_disappearance <= 120:
            raise RecordError("age at disappearance must be between 0 and 120")
        today = dt.date.today()
        if self.birth_date and self.birth_date > today:
            raise RecordError("the date of birth is in the future")
        if self.last_seen_date and self.last_seen_date > today:
            raise RecordError("the last-seen date is in the future")
        if self.birth_date and self.last_seen_date and self.last_seen_date < self.birth_date:
            raise RecordError("the last-seen date is before the date of birth")
        if self.kind not in KINDS:
            raise RecordError(f"kind must be one of {', '.join(KINDS)}")
        for label, value in (("minimum age", self.age_min), ("maximum age", self.age_max)):
            if value is not None and not 0 <= value <= 120:
                raise RecordError(f"the estimated {label} must be between 0 and 120")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise RecordError("the estimated minimum age is above the maximum")
        if self.found_at is not None:
            found_at = self.found_at if self.found_at.tzinfo else self.found_at.replace(
                tzinfo=dt.UTC)
            if found_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
                raise RecordError("the date found is in the future")
        if self.kind == "found" and self.guardian_contact:
            raise RecordError("a found record holds the institution's contact, not a "
                              "guardian's (the family is unknown)")
        for label, value, limit in (("found place", self.found_place, 300),
                                    ("institution", self.institution, 300),
                                    ("institution contact", self.institution_contact, 300),
                                    ("languages", self.languages, 200)):
            if value is not None and len(value) > limit:
                raise RecordError(f"the {label} is longer than {limit} characters")


def same_value(a: object, b: object) -> bool:
    """Whether a stored field and an entered one are the same (a stored time comes back from
    SQLite without its zone: both are compared as UTC)."""
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return aware(a) == aware(b)
    return a == b


def add_audit(s: Session, actor: str, action: str, target: str | None = None,
              detail: str | None = None) -> None:
    """The one way an audit row is written: inside the caller's transaction ``s``, so the entry
    and what it records commit (or vanish) together. ``detail`` never holds a child's name."""
    s.add(AuditEntry(actor=actor, action=action, target=target, detail=detail))


def fault_point(name: str) -> None:
    """Test hook: die abruptly (as a power cut would) when ``FINDME_FAULT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os._exit(70)


def _values(row: Any, cls: type) -> Any:
    return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


# ----------------------------------------------------------------------------- engine


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten on disk
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One process migrates at a time (two starting at once on an empty database would both
    create the tables). SQLite: a lock file beside the database; PostgreSQL: an advisory lock
    taken inside the migration transaction (see :func:`migrate`)."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest) with Alembic, one process at a
    time."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.url.get_backend_name() == "sqlite"
    with _migration_lock(engine), engine.connect() as conn:
        if sqlite:  # a table rebuilt by a migration must not cascade-delete its children
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            if engine.url.get_backend_name() == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(48151623)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Records:
    """Repository over the case database. Build with :func:`open_records`."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions() as s, s.begin():
            yield s

    # ------------------------------------------------------------------ cases

    def create_case(self, details: CaseDetails, actor: str = "system") -> int:
        """Insert a case (status ``open``); returns its id, the case number, which is never one
        an erased case had (AUTOINCREMENT on SQLite, a sequence on PostgreSQL). Validates
        ``details`` first."""
        details.validate()
        with self.session() as s:
            case = Case(**{f: getattr(details, f) for f in CaseDetails.__dataclass_fields__})
            case.name = details.name.strip()
            if details.kind == "found":
                case.status = "in_care"
            s.add(case)
            s.flush()
            add_audit(s, actor=actor, action="case.create", target=f"case:{case.id}",
                      detail="found" if details.kind == "found" else None)
            return case.id

    def update_case(self, case_id: int, details: CaseDetails, actor: str = "system"
                    ) -> list[str]:
        """Replace a case's details (validated first; audited with the changed field names,
        never their values); returns the names of the fields that changed."""
        details.validate()
        with self.session() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise RecordError(f"no case with id {case_id}")
            changed = []
            for f in CaseDetails.__dataclass_fields__:
                if f == "kind":  # a record's side never changes (merge joins same kinds)
                    continue
                value = getattr(details, f)
                if f == "name":
                    value = value.strip()
                if not same_value(getattr(case, f), value):
                    setattr(case, f, value)
                    changed.append(f)
            if changed:
                case.updated_at = now()
                add_audit(s, actor=actor, action="case.edit", target=f"case:{case_id}",
                          detail=", ".join(changed))
            return changed

    def get_case(self, case_id: int) -> CaseRecord:
        """The case, or :class:`RecordError` when there is none with that id."""
        with self.session() as s:
            row = s.get(Case, case_id)
            if row is None:
                raise RecordError(f"no case with id {case_id}")
            return _values(row, CaseRecord)

    def case_by_ref(self, ref: str) -> CaseRecord | None:
        """The case with the organisation's case number ``ref``, or None."""
        with self.session() as s:
            row = s.scalar(select(Case).where(Case.ref == ref.strip()))
            return _values(row, CaseRecord) if row else None

    def list_cases(self, status: str | None = None, kind: str | None = "missing"
                   ) -> list[CaseRecord]:
        """Cases of one ``kind`` (``missing`` by default, ``found``, or None for both),
        optionally of one status, newest first."""
        with self.session() as s:
            q = select(Case).order_by(Case.id.desc())
            if status:
                q = q.where(Case.status == status)
            if kind:
                q = q.where(Case.kind == kind)
            return [_values(r, CaseRecord) for r in s.scalars(q)]

    def open_ids(self, kind: str) -> list[int]:
        """Ids of the records of ``kind`` still searched: open missing cases, found records in
        care or transferred (identity unknown)."""
        with self.session() as s:
            return list(s.scalars(select(Case.id).where(Case.kind == kind, Case.status.in_(
                ("open",) if kind == "missing" else OPEN_FOUND_STATUSES)).order_by(Case.id)))

    def kinds(self, case_ids: list[int] | None = None) -> dict[int, str]:
        """``{case id: kind}`` for the given ids (every case when None)."""
        with self.session() as s:
            q = select(Case.id, Case.kind)
            if case_ids is not None:
                q = q.where(Case.id.in_(case_ids))
            return dict(s.execute(q).all())

    def case_names(self, case_ids: list[int]) -> dict[int, str]:
        """``{case id: name}`` for the given ids (unknown ids are left out)."""
        if not case_ids:
            return {}
        with self.session() as s:
            return dict(s.execute(select(Case.id, Case.name).where(Case.id.in_(case_ids))).all())

    def open_case_names(self, case_ids: list[int]) -> dict[int, str]:
        """``{case id: name}`` of the given cases that are still open (searchable)."""
        if not case_ids:
            return {}
        with self.session() as s:
            return dict(s.execute(select(Case.id, Case.name).where(
                Case.id.in_(case_ids), Case.status == "open")).all())

    def set_case_status(self, case_id: int, status: str, actor: str = "system") -> None:
        """Mark a case open, found or closed, a found record in care, identified, transferred
        or closed (audited)."""
        kind = self.kinds([case_id]).get(case_id, "missing")
        allowed_statuses = FOUND_STATUSES if kind == "found" else CASE_STATUSES
        if status not in allowed_statuses:
            raise RecordError(f"status must be one of {', '.join(allowed_statuses)}")
        with self.session() as s:
            if s.execute(update(Case).where(Case.id == case_id).values(
                    status=status, updated_at=now())).rowcount == 0:
                raise RecordError(f"no case with id {case_id}")
            add_audit(s, actor=actor, action="case.status", target=f"case:{case_id}",
                             detail=status)

    def delete_case_rows(self, case_id: int, actor: str = "system"
                         ) -> tuple[list[PhotoRecord], list[str]]:
        """Delete a case with its photos and leads in one transaction; returns the deleted
        photos and the lead-crop paths (so the caller can remove files and vectors)."""
        with self.session() as s:
            if s.get(Case, case_id) is None:
                raise RecordError(f"no case with id {case_id}")
            photos = [_values(p, PhotoRecord)
                      for p in s.scalars(select(Photo).where(Photo.case_id == case_id))]
            crops = [c for c in s.scalars(select(Lead.crop_path).where(Lead.case_id == case_id))
                     if c]
            probes = set(s.scalars(select(Lead.probe_id).where(
                Lead.case_id == case_id, Lead.probe_id.is_not(None))))
            crops += [c for c in s.scalars(select(Lead.crop_path).where(
                Lead.found_id == case_id)) if c]
            s.execute(delete(Lead).where((Lead.case_id == case_id) | (Lead.found_id == case_id)))
            if probes:  # what was searched (file names, camera URLs) only for this case
                s.execute(delete(Probe).where(Probe.id.in_(probes), ~select(Lead.id).where(
                    Lead.probe_id == Probe.id).exists()))
            s.execute(delete(Photo).where(Photo.case_id == case_id))
            s.execute(delete(Case).where(Case.id == case_id))
            add_audit(s, actor=actor, action="case.erase", target=f"case:{case_id}")
        self.flush_journal()
        return photos, crops

    def flush_journal(self) -> bool:
        """Move every committed change from SQLite's write-ahead log into the database file and
        empty the log, so erased rows (overwritten in place: ``secure_delete``) leave no copy in
        ``findme.db-wal`` while the dashboard keeps the database open. Returns whether the log
        was emptied (always True on PostgreSQL, which has no such file here)."""
        if self.engine.url.get_backend_name() != "sqlite":
            return True
        for _ in range(50):  # a reader mid-transaction holds the log: wait for it
            with self.engine.connect() as conn:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy is not None and busy[0] == 0:
                return True
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------------ photos

    def add_photo(self, case_id: int, file_path: str, sha256: str, face_box: list,
                  landmarks: list, quality: dict, taken_date: dt.date | None = None,
                  age_at_photo: float | None = None) -> int:
        """Insert a ``pending`` photo of a case; returns its id."""
        with self.session() as s:
            if s.get(Case, case_id) is None:
                raise RecordError(f"no case with id {case_id}")
            photo = Photo(case_id=case_id, file_path=file_path, sha256=sha256,
                          face_box=face_box, landmarks=landmarks, quality=quality,
                          taken_date=taken_date, age_at_photo=age_at_photo,
                          status="pending")
            s.add(photo)
            s.flush()
            return photo.id

    def set_photo_status(self, photo_ids: list[int], status: str,
                         reasons: list[str] | None = None) -> None:
        """Set the status of photos (``ready`` once their vectors are stored)."""
        if status not in PHOTO_STATUSES:
            raise RecordError(f"photo status must be one of {', '.join(PHOTO_STATUSES)}")
        if not photo_ids:
            return
        with self.session() as s:
            s.execute(update(Photo).where(Photo.id.in_(photo_ids)).values(status=status,
                                                                          reasons=reasons))

    def photos(self, case_id: int | None = None, status: str | None = None,
               ids: list[int] | None = None, case_ids: list[int] | None = None
               ) -> list[PhotoRecord]:
        """Photos filtered by case(s), status and/or ids, oldest first."""
        with self.session() as s:
            q = select(Photo).order_by(Photo.id)
            if case_id is not None:
                q = q.where(Photo.case_id == case_id)
            if case_ids is not None:
                q = q.where(Photo.case_id.in_(case_ids))
            if status is not None:
                q = q.where(Photo.status == status)
            if ids is not None:
                q = q.where(Photo.id.in_(ids))
            return [_values(p, PhotoRecord) for p in s.scalars(q)]

    def photo_cases(self, photo_ids: list[int]) -> dict[int, int]:
        """``{photo id: case id}`` for the given photos (unknown ids are left out)."""
        if not photo_ids:
            return {}
        with self.session() as s:
            return dict(s.execute(select(Photo.id, Photo.case_id).where(
                Photo.id.in_(photo_ids))).all())

    def ready_photo_cases(self, case_ids: list[int]) -> dict[int, int]:
        """``{photo id: case id}`` of the ready photos of the given cases, oldest first (ids
        and case ids only: a drive reads this for thousands of records a batch)."""
        if not case_ids:
            return {}
        with self.session() as s:
            return dict(s.execute(select(Photo.id, Photo.case_id).where(
                Photo.case_id.in_(case_ids), Photo.status == "ready").order_by(Photo.id)).all())

    def photo_ids(self) -> set[int]:
        """Ids of every photo row, whatever its status."""
        with self.session() as s:
            return set(s.scalars(select(Photo.id)))

    def delete_photo_rows(self, photo_ids: list[int]) -> None:
        """Remove photo rows (used when a photo's file is gone and it cannot be repaired)."""
        if photo_ids:
            with self.session() as s:
                s.execute(delete(Photo).where(Photo.id.in_(photo_ids)))

    # ------------------------------------------------------------------ probes and leads

    def add_probe(self, source: str, source_ref: str | None, faces: int,
                  camera: str | None = None) -> int:
        """Record that something was searched (with the camera for video); returns its id."""
        with self.session() as s:
            probe = Probe(source=source, source_ref=source_ref, faces=faces, camera=camera)
            s.add(probe)
            s.flush()
            return probe.id

    def add_lead(self, probe_id: int | None, case_id: int, photo_id: int | None,
                 face_box: list, fused_score: float, scores: dict, decision: str,
                 crop_path: str | None = None, actor: str = "system",
                 session: Session | None = None, margin: float | None = None,
                 stranger_rate: float | None = None, quality: dict | None = None,
                 fingerprint: str | None = None, found_id: int | None = None,
                 found_photo_id: int | None = None, age_gap_years: float | None = None
                 ) -> int:
        """Record a lead (status ``new``, audited); returns its id (never one an erased lead
        had). With ``session`` the row is written in the caller's transaction (see
        :func:`findme.cases.leads.create_lead`, the one way leads are made). ``fingerprint``
        names the searched image: the database refuses a second open lead of one case with the
        same fingerprint (``IntegrityError``)."""
        if decision not in DECISIONS:
            raise RecordError(f"decision must be one of {', '.join(DECISIONS)}")
        with nullcontext(session) if session is not None else self.session() as s:
            lead = Lead(probe_id=probe_id, case_id=case_id, photo_id=photo_id,
                        face_box=face_box, fused_score=fused_score, scores=scores,
                        decision=decision, crop_path=crop_path, margin=margin,
                        stranger_rate=stranger_rate, quality=quality,
                        probe_fingerprint=fingerprint, found_id=found_id,
                        found_photo_id=found_photo_id, age_gap_years=age_gap_years)
            s.add(lead)
            s.flush()
            add_audit(s, actor=actor, action="lead.create", target=f"lead:{lead.id}",
                      detail=f"case:{case_id}"
                      + (f" found:{found_id}" if found_id is not None else "")
                      + f" {decision} {fused_score:.3f}")
            return lead.id

    def leads(self, case_id: int | None = None, status: str | None = None) -> list[LeadRecord]:
        """Leads, best score first."""
        with self.session() as s:
            q = select(Lead).order_by(Lead.fused_score.desc(), Lead.id)
            if case_id is not None:
                q = q.where(Lead.case_id == case_id)
            if status is not None:
                q = q.where(Lead.status == status)
            return [_values(r, LeadRecord) for r in s.scalars(q)]

    # ------------------------------------------------------------------ audit

    def audit(self, actor: str, action: str, target: str | None = None,
              detail: str | None = None) -> None:
        """Append one audit entry."""
        with self.session() as s:
            add_audit(s, actor=actor, action=action, target=target, detail=detail)

    def audit_log(self, limit: int = 1000, actor: str | None = None,
                  action: str | None = None, target: str | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None
                  ) -> list[dict[str, Any]]:
        """Newest audit entries as dictionaries, optionally filtered by actor, action prefix
        (``case`` matches ``case.view``, ``case.edit``...), target and time range."""
        with self.session() as s:
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if actor:
                q = q.where(AuditEntry.actor == actor)
            if action:
                q = q.where(AuditEntry.action.startswith(action))
            if target:
                q = q.where(AuditEntry.target == target)
            if since:
                q = q.where(AuditEntry.at >= since)
            if until:
                q = q.where(AuditEntry.at < until)
            rows = s.scalars(q)
            return [{"id": r.id, "at": r.at, "actor": r.actor, "action": r.action,
                     "target": r.target, "detail": r.detail} for r in rows]

    def cases_by_status(self) -> dict[str, int]:
        """``{status: number of cases}``."""
        with self.session() as s:
            return dict(s.execute(select(Case.status, func.count()).group_by(Case.status)).all())

    def ready_photos_per_case(self) -> dict[int, int]:
        """``{case id: number of ready photos}`` (cases without one are left out)."""
        with self.session() as s:
            return dict(s.execute(select(Photo.case_id, func.count()).where(
                Photo.status == "ready").group_by(Photo.case_id)).all())

    def ready_faces(self, kind: str) -> int:
        """How many ready photos (faces in the store) the records of ``kind`` hold: the
        gallery a search of that side faces (its open-set thresholds follow it).

        Asked once per search (every webcam and CCTV frame too), so it is counted through the
        side with fewer records, a walk of that side's cases and their photos, and the other
        side as all ready photos (an index-only count) minus it. At 100k faces (10% of records
        found) a join of every photo with its case took 33-38 ms, this 11-13 ms (SQLite, best
        of seven, on a loaded 2-core machine)."""
        with self.session() as s:
            per_kind = dict(s.execute(select(Case.kind, func.count()).group_by(Case.kind)).all())
            if not per_kind.get(kind):
                return 0
            other = "found" if kind == "missing" else "missing"
            smaller = kind if per_kind[kind] <= per_kind.get(other, 0) else other
            walked = s.scalar(select(func.coalesce(func.sum(
                select(func.count()).where(Photo.case_id == Case.id, Photo.status == "ready")
                .correlate(Case).scalar_subquery()), 0)).where(Case.kind == smaller)) or 0
            if smaller == kind:
                return int(walked)
            if set(per_kind) - {kind, other}:  # a kind unknown here: the rest is not one side
                return self._ready_of(s, kind)
            total = s.scalar(select(func.count()).select_from(Photo).where(
                Photo.status == "ready")) or 0
            return int(total) - int(walked)

    @staticmethod
    def _ready_of(s: Session, kind: str) -> int:
        """Ready photos of ``kind``'s records by a join (kinds other than the two known)."""
        return s.scalar(select(func.count()).select_from(Photo).join(
            Case, Photo.case_id == Case.id).where(Photo.status == "ready",
                                                   Case.kind == kind)) or 0

    def counts(self) -> dict[str, int]:
        """Row counts per table (for status pages and tests)."""
        with self.session() as s:
            return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                    for t in (Case, Photo, Probe, Lead, LeadReview, AuditEntry)}


def open_records(settings: Settings) -> Records:
    """Connect to the case database, creating or upgrading its schema to the newest version.

    Children's records and password hashes are for this system's user only: the data folder is
    made (or tightened to) 0700 and the SQLite files 0600, whatever the umask."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)
    engine = _engine(settings.db_url)
    migrate(engine)
    if not settings.database_url:
        for suffix in ("", "-wal", "-shm", ".migrate-lock"):
            path = settings.data_dir / f"findme.db{suffix}"
            if path.exists():
                path.chmod(0o600)
    return Records(engine, settings)
