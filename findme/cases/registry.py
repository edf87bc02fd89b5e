"""Registering children: enroll a case with photos, add photos, erase a case, reconcile stores.

Two stores hold the truth: case records (SQL) and face vectors (Chroma), keyed by photo id.
Writes go records first, vectors second, and a photo is ``ready`` only once every configured
model's vector is in. :func:`reconcile` repairs whatever a crash left between the two: vectors
without a record are deleted, records without vectors are re-embedded from the stored photo,
files no record points to are removed. Erasure removes rows, then vectors (and rebuilds the
collections so no deleted vector stays on disk), then files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from findme.cases.records import CaseDetails, RecordError, Records, fault_point
from findme.config import Settings
from findme.faces.align import align
from findme.faces.detect import Face, detect
from findme.faces.embed import FaceEmbedding, embed
from findme.faces.image import ImageError, load_image
from findme.faces.quality import Quality, assess
from findme.search.store import VectorStore


class EnrollmentRejected(ValueError):
    """No photo was usable, so nothing was stored; ``outcomes`` says why for each photo."""

    def __init__(self, outcomes: list[PhotoOutcome]) -> None:
        self.outcomes = outcomes
        why = "; ".join(f"{o.name}: {', '.join(o.reasons)}" for o in outcomes)
        super().__init__(f"no usable photo, nothing was saved ({why})")


@dataclass(frozen=True)
class PhotoInput:
    """A photo offered for registration. ``face_index`` picks a face when there are several
    (0 = the largest); without it a photo with several faces is rejected."""

    name: str
    data: bytes
    face_index: int | None = None
    taken_date: dt.date | None = None  # when the photo was taken, if known
    age_at_photo: float | None = None  # the child's age on it in years, if known


@dataclass(frozen=True)
class PhotoOutcome:
    """What happened to one offered photo."""

    name: str
    accepted: bool
    reasons: tuple[str, ...] = ()
    photo_id: int | None = None
    face_box: tuple[int, int, int, int] | None = None


class DuplicateSuspected(RecordError):
    """The new record's faces look like a record already registered on the same side: nothing
    was saved. ``duplicates`` (best first) say which; the caller shows them and enrolls again
    with ``allow_duplicate=True`` (register anyway) or ``duplicate_of=<id>`` (add the photos to
    that record)."""

    def __init__(self, duplicates: list) -> None:
        self.duplicates = duplicates
        super().__init__("; ".join(d.sentence() for d in duplicates[:3])
                         + ": nothing was saved (open it, add these photos to it, or register "
                           "anyway)")


@dataclass(frozen=True)
class EnrollResult:
    """A registered case, the outcome of each offered photo, and the cross-match pairs its
    saving made (:class:`findme.cases.crossleads.CrossPair`, with their leads)."""

    case_id: int
    photos: list[PhotoOutcome]
    cross_pairs: list = field(default_factory=list)


@dataclass(frozen=True)
class Prepared:
    """A checked photo with its face embedded by every configured model, ready to store."""

    name: str
    image: np.ndarray
    item: FaceEmbedding
    sha256: str
    data: bytes = b""
    taken_date: dt.date | None = None
    age_at_photo: float | None = None


@dataclass(frozen=True)
class ReconcileReport:
    """What :func:`reconcile` repaired."""

    orphan_vectors_deleted: int = 0
    photos_reembedded: int = 0
    photos_marked_ready: int = 0
    photos_missing_file: int = 0
    files_removed: int = 0

    @property
    def changed(self) -> bool:
        """True when anything was repaired."""
        return any(vars(self).values())


# ----------------------------------------------------------------------------- checking photos


@dataclass(frozen=True)
class PhotoPreview:
    """What the register form shows before saving: the decoded image (None when it cannot be
    read), every face with its quality verdict, and an error or problem in plain words."""

    name: str
    image: np.ndarray | None
    faces: tuple[Face, ...] = ()
    qualities: tuple[Quality, ...] = ()
    error: str | None = None

    @property
    def usable_faces(self) -> list[int]:
        """Indexes of the faces good enough to register."""
        return [k for k, q in enumerate(self.qualities) if q.usable]


def inspect_photo(name: str, data: bytes, settings: Settings) -> PhotoPreview:
    """Load and detect (no embedding: quick) so a person sees each face and its verdict."""
    try:
        image = load_image(data, settings)
    except ImageError as exc:
        return PhotoPreview(name, None, error=str(exc).replace("the upload: ", ""))
    faces = tuple(detect(image, settings))
    if not faces:
        return PhotoPreview(name, image, error="no face found")
    return PhotoPreview(name, image, faces,
                        tuple(assess(image, f, settings) for f in faces))



@dataclass(frozen=True)
class Candidate:
    """A photo whose chosen face passed the checks, not yet embedded."""

    name: str
    image: np.ndarray
    face: Face
    quality: Quality
    sha256: str
    data: bytes
    taken_date: dt.date | None = None
    age_at_photo: float | None = None


def inspect_for_enrollment(photo: PhotoInput, settings: Settings) -> Candidate | PhotoOutcome:
    """Load, detect and assess one offered photo (no embedding).

    Returns the chosen usable face, or a rejected :class:`PhotoOutcome` with plain reasons (not
    an image, no face, several faces and none chosen, unusable face).
    """
    try:
        image = load_image(photo.data, settings)
    except ImageError as exc:
        return PhotoOutcome(photo.name, False, (exc.detail,))
    faces = detect(image, settings)
    if not faces:
        return PhotoOutcome(photo.name, False, ("no face found",))
    if photo.face_index is None and len(faces) > 1:
        return PhotoOutcome(photo.name, False, (
            f"{len(faces)} faces found: choose which one shows the child",))
    index = photo.face_index or 0
    if not 0 <= index < len(faces):
        return PhotoOutcome(photo.name, False, (
            f"face {index + 1} was chosen but the photo has {len(faces)} face(s)",))
    face = faces[index]
    quality = assess(image, face, settings)
    if not quality.usable:
        return PhotoOutcome(photo.name, False, quality.reasons, face_box=face.box)
    return Candidate(photo.name, image, face, quality, hashlib.sha256(photo.data).hexdigest(),
                     photo.data, photo.taken_date, photo.age_at_photo)


def embed_candidates(candidates: list[Candidate], settings: Settings) -> list[Prepared]:
    """Embed the chosen faces of many photos with every configured model, one batch per model
    (a bulk import loads each model once and feeds it many faces at a time)."""
    if not candidates:
        return []
    vectors = {m: embed([align(c.image, c.face, m) for c in candidates], m, settings)
               for m in settings.models}
    return [Prepared(c.name, c.image, FaceEmbedding(c.face, c.quality,
                                                     {m: vectors[m][k] for m in vectors}),
                      c.sha256, c.data, c.taken_date, c.age_at_photo)
            for k, c in enumerate(candidates)]


def check_photo(photo: PhotoInput, settings: Settings) -> Prepared | PhotoOutcome:
    """Load, detect, assess and embed one offered photo: the prepared face, or a rejected
    :class:`PhotoOutcome` with plain reasons (see :func:`inspect_for_enrollment`)."""
    found = inspect_for_enrollment(photo, settings)
    return embed_candidates([found], settings)[0] if isinstance(found, Candidate) else found


def encode_jpeg(image: np.ndarray) -> bytes:
    """An RGB image as JPEG bytes: keeps the pixels, drops every metadata field (GPS, camera,
    ...)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=92)
    return buf.getvalue()


#: JPEG markers that carry pixels or how to decode them (everything else, APP1-APP15 and
#: comments, can carry metadata: EXIF, GPS, XMP, ICC...)
_PIXEL_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                  0xCF, 0xDB, 0xDD}


def bare_jpeg(data: bytes) -> bool:
    """Whether ``data`` is a baseline/progressive JPEG with no metadata at all (only a JFIF
    header, tables and frames before the scan, nothing after its end marker): such a file is
    stored as it is (e.g. one exported by :mod:`findme.cases.transfer`), so re-importing it
    keeps the very same bytes instead of re-compressing them."""
    if len(data) < 4 or data[:2] != b"\xff\xd8" or not data.endswith(b"\xff\xd9"):
        return False
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:  # start of scan: the header is over
            return True
        if marker == 0xE0:
            if data[pos + 4:pos + 9] != b"JFIF\0":
                return False
        elif marker not in _PIXEL_MARKERS:
            return False
        pos += 2 + length
    return False


# ----------------------------------------------------------------------------- writing


def store_prepared(case_id: int, prepared: list[Prepared], records: Records,
                    store: VectorStore, settings: Settings) -> list[int]:
    """Files, then records (pending), then vectors, then ``ready``. Returns the photo ids."""
    folder = settings.photos_dir / str(case_id)
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for p in prepared:
        rel = Path("photos") / str(case_id) / f"{uuid.uuid4().hex}.jpg"
        (settings.data_dir / rel).write_bytes(p.data if bare_jpeg(p.data)
                                              else encode_jpeg(p.image))
        ids.append(records.add_photo(case_id, rel.as_posix(), p.sha256, list(p.item.face.box),
                                     [list(pt) for pt in p.item.face.landmarks],
                                     p.item.quality.as_dict(), p.taken_date, p.age_at_photo))
    fault_point("after-records")
    kind = records.kinds([case_id]).get(case_id, "missing")
    for model in settings.models:
        store.add(model, ids, [case_id] * len(ids),
                  np.stack([p.item.vectors[model] for p in prepared]), kind)
    fault_point("after-vectors")
    records.set_photo_status(ids, "ready")
    return ids


def _split(photos: list[PhotoInput], settings: Settings, known_hashes: set[str]
           ) -> tuple[list[Prepared], list[PhotoOutcome | None]]:
    """Check every photo, then embed the usable ones in one batch per model; returns the
    prepared faces and, per photo, None (prepared) or its rejection."""
    candidates: list[Candidate] = []
    outcomes: list[PhotoOutcome | None] = []
    for photo in photos:
        result = inspect_for_enrollment(photo, settings)
        if isinstance(result, Candidate) and result.sha256 in known_hashes:
            result = PhotoOutcome(photo.name, False, ("this photo is already registered",))
        if isinstance(result, Candidate):
            known_hashes.add(result.sha256)
            candidates.append(result)
            outcomes.append(None)
        else:
            outcomes.append(result)
    return embed_candidates(candidates, settings), outcomes


def _merge(outcomes: list[PhotoOutcome | None], prepared: list[Prepared],
           ids: list[int]) -> list[PhotoOutcome]:
    accepted = iter(zip(prepared, ids, strict=True))
    merged = []
    for o in outcomes:
        if o is None:
            p, pid = next(accepted)
            merged.append(PhotoOutcome(p.name, True, (), pid, p.item.face.box))
        else:
            merged.append(o)
    return merged


NO_LAWFUL_BASIS = ("record the guardian's consent, or state another lawful basis for storing "
                   "the photos (e.g. a court order or a police request), first")


def require_lawful_basis(details: CaseDetails) -> None:
    """The consent rule, the same for the page, the CLI and any import: a child's photos are
    stored only with the guardian's consent or another lawful basis recorded in the case
    (:class:`RecordError` otherwise)."""
    if not details.has_lawful_basis:
        raise RecordError(NO_LAWFUL_BASIS)


def update_case(records: Records, case_id: int, details: CaseDetails, actor: str) -> list[str]:
    """Edit a case's details; the consent rule holds for edits too (a case with photos cannot
    lose its lawful basis). Returns the names of the fields that changed."""
    require_lawful_basis(details)
    return records.update_case(case_id, details, actor)


def enroll_case(details: CaseDetails, photos: list[PhotoInput], records: Records,
                store: VectorStore, settings: Settings, actor: str = "system",
                allow_duplicate: bool | None = None, duplicate_of: int | None = None
                ) -> EnrollResult:
    """Register a child (a missing case, or a found record: ``details.kind``) with photos.

    Without the guardian's consent or another lawful basis (:func:`require_lawful_basis`; a
    found record needs its stated basis), or with bad details,
    :class:`~findme.cases.records.RecordError` is raised before any work. Every photo is
    checked first; if none is usable, :class:`EnrollmentRejected` is raised and nothing is
    stored.

    Duplicates at the door (the faces searched against the same side before anything is
    saved): ``allow_duplicate=False`` raises :class:`DuplicateSuspected` when a record already
    registered may show the child; ``True`` registers anyway (audited with the suspected
    records); ``duplicate_of=<id>`` adds the photos to that record instead (audited; the result
    names it). None (internal callers, bulk imports) does not check.

    Otherwise the record is created and the usable photos stored, then its faces are searched
    against every open record of the other side (:func:`findme.cases.crossleads.match_record`:
    pairs at ``possible`` or better become cross-match leads). The result lists each photo's
    outcome (rejected ones with their reasons) and those pairs.
    """
    details.validate()
    require_lawful_basis(details)
    if not photos:
        raise RecordError("at least one photo is required")
    if duplicate_of is not None:
        target = records.get_case(duplicate_of)
        if target.kind != details.kind:
            raise RecordError(f"{target.label} is not a {details.kind} record")
        outcomes_added = add_photos(duplicate_of, photos, records, store, settings, actor)
        records.audit(actor, "case.duplicate.added", f"case:{duplicate_of}",
                      f"{sum(o.accepted for o in outcomes_added)} photo(s) of a new "
                      "registration added instead")
        return EnrollResult(duplicate_of, outcomes_added)
    prepared, outcomes = _split(photos, settings, set())
    if not prepared:
        raise EnrollmentRejected([o for o in outcomes if o is not None])
    suspected = []
    if allow_duplicate is not None:
        from findme.cases.duplicates import find_duplicates

        suspected = find_duplicates(records, store, settings, details.kind,
                                    [p.item.vectors for p in prepared])
        if suspected and not allow_duplicate:
            raise DuplicateSuspected(suspected)
    case_id = records.create_case(details, actor)
    if suspected:
        records.audit(actor, "case.duplicate.allowed", f"case:{case_id}",
                      "registered anyway beside " + ", ".join(
                          f"case:{d.case_id} {d.decision} {d.score:.3f}" for d in suspected))
    ids = store_prepared(case_id, prepared, records, store, settings)
    return EnrollResult(case_id, _merge(outcomes, prepared, ids),
                        _cross(records, store, settings, case_id, actor))


def _cross(records: Records, store: VectorStore, settings: Settings, case_id: int,
           actor: str) -> list:
    """Search a saved record against the other side (cross-match leads); see
    :func:`findme.cases.crossleads.match_record`."""
    from findme.cases.crossleads import match_record

    return match_record(records, store, settings, case_id, actor=actor)


def add_photos(case_id: int, photos: list[PhotoInput], records: Records, store: VectorStore,
               settings: Settings, actor: str = "system") -> list[PhotoOutcome]:
    """Add photos to an existing record; unusable ones are rejected with reasons. The record
    is then searched against the other side again (cross-match leads, once per pair)."""
    records.get_case(case_id)
    known = {p.sha256 for p in records.photos(case_id) if p.status != "rejected"}
    prepared, outcomes = _split(photos, settings, known)
    ids = store_prepared(case_id, prepared, records, store, settings) if prepared else []
    if ids:
        records.audit(actor, "case.photos.add", f"case:{case_id}", f"{len(ids)} photo(s)")
        _cross(records, store, settings, case_id, actor)
    return _merge(outcomes, prepared, ids)


def delete_case(case_id: int, records: Records, store: VectorStore, settings: Settings,
                actor: str = "system") -> None:
    """Erase a case: rows, then vectors (collections rebuilt so no bytes remain), then files."""
    photos, crops = records.delete_case_rows(case_id, actor)
    ids = [p.id for p in photos]
    store.delete(ids)
    for model in store.models():
        store.compact(model)
    folders = set()
    for rel in [p.file_path for p in photos] + crops:
        (settings.data_dir / rel).unlink(missing_ok=True)
        folders.add((settings.data_dir / rel).parent)
    shutil.rmtree(settings.photos_dir / str(case_id), ignore_errors=True)
    for folder in folders:  # a merged record's photos stay in the old record's folder
        if folder.parent == settings.photos_dir and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    # CCTV sightings' frame strips (findme.video.strips keeps them per case)
    shutil.rmtree(settings.data_dir / "sightings" / str(case_id), ignore_errors=True)


# ----------------------------------------------------------------------------- repair


def reconcile(records: Records, store: VectorStore, settings: Settings) -> ReconcileReport:
    """Make the two stores agree again after a crash (run at start).

    * vectors whose photo has no record (or a rejected one) are deleted;
    * pending/ready photos missing a configured model's vector are re-embedded from their stored
      file with their recorded landmarks (photos whose file is gone are marked rejected);
    * pending photos with every vector are marked ready;
    * vectors whose metadata lacks (or has a stale) ``case_id`` / ``kind`` get it rewritten
      (vectors stored before found records existed carry no ``kind``);
    * photo and lead-crop files no record points to are removed.
    """
    photos = {p.id: p for p in records.photos()}
    live = {pid for pid, p in photos.items() if p.status != "rejected"}
    orphans: set[int] = set()
    for model in set(store.models()) | set(settings.models):
        orphans |= store.ids(model) - live
    store.delete(sorted(orphans))

    reembedded = ready = missing = 0
    kinds = records.kinds()
    metas = {m: store.metadata(m) for m in settings.models}
    have = {m: set(metas[m]) for m in settings.models}
    for m in settings.models:
        stale = [pid for pid, meta in metas[m].items() if pid in live and (
            meta.get("kind") != kinds.get(photos[pid].case_id, "missing")
            or meta.get("case_id") != photos[pid].case_id)]
        if stale:
            store.set_owner(m, stale, [photos[p].case_id for p in stale],
                            [kinds.get(photos[p].case_id, "missing") for p in stale])
    for pid in sorted(live):
        p = photos[pid]
        lacking = [m for m in settings.models if pid not in have[m]]
        if lacking:
            path = settings.data_dir / p.file_path
            if not path.is_file() or not p.face_box or not p.landmarks:
                records.set_photo_status([pid], "rejected", ["photo file missing; add it again"])
                missing += 1
                continue
            image = load_image(path, settings)
            face = Face(tuple(p.face_box), tuple(tuple(pt) for pt in p.landmarks),
                                 float((p.quality or {}).get("score", 1.0)))
            for m in lacking:
                vec = embed([align(image, face, m)], m, settings)
                store.add(m, [pid], [p.case_id], vec, kinds.get(p.case_id, "missing"))
            reembedded += 1
        if p.status != "ready":
            records.set_photo_status([pid], "ready")
            ready += 1

    referenced = {photos[pid].file_path for pid in photos}
    referenced |= {lead.crop_path for lead in records.leads() if lead.crop_path}
    removed = 0
    for folder in (settings.photos_dir, settings.leads_dir):
        if not folder.is_dir():
            continue
        for f in folder.rglob("*"):
            if f.is_file() and f.relative_to(settings.data_dir).as_posix() not in referenced:
                f.unlink()
                removed += 1
        for d in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
            if not any(d.iterdir()):
                d.rmdir()
    if orphans:
        for model in store.models():
            store.compact(model)
    return ReconcileReport(len(orphans), reembedded, ready, missing, removed)
