"""Searching one registry with the faces of another: missing reports against found children,
found children against missing reports, and either against its own side (duplicates).

The query is a set of stored faces (a record's photos, or a whole registry in batches), each
with its record and one vector per model. Per model, the vector store returns the nearest faces
of the searched side only (``where={"kind": side}``, or, when that side is most of the store, a
wider query without the filter, kept to that side here); their open records are the candidates;
every ready photo of a face's candidates is then scored exactly against that face (photos and
vectors read once per drive), the models fused with the matcher's calibration, and a pair of
records scores as its best pair of photos. The open-set thresholds
count the faces of the searched side only (a stranger's chance grows with *that* gallery).
Ranks and decides; writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from findme.search.decision import Decision
from findme.search.matcher import Matcher

BATCH = 256  # query faces per store call in a drive
CHUNK = 10_000  # records or photos per database read (SQLite caps the values in one query)
VECTOR_CHUNK = 5_000  # photos per vector read from the store (Chroma's SQLite caps them too)
UNFILTERED_SHARE = 0.5  # side's share of the store from which a wider unfiltered query is used
WIDEN = 1.5  # how much wider than search_candidates / share that query asks
CACHE_PHOTOS = 200_000  # candidate photos whose vectors a drive keeps across batches (~0.5 GB)


@dataclass(frozen=True)
class QueryFace:
    """A stored face searched with: its record, its photo and ``{model: vector}``."""

    case_id: int
    photo_id: int
    vectors: dict[str, np.ndarray]


@dataclass(frozen=True)
class PairScore:
    """The best pair of photos of two records: the query record and photo, the other side's
    record and photo, the fused score, per-model cosines and the decision."""

    case_id: int
    photo_id: int
    other_id: int
    other_photo_id: int
    score: float
    scores: dict[str, float]
    decision: Decision


def stored_faces(matcher: Matcher, case_ids: Sequence[int]) -> list[QueryFace]:
    """The ready photos of these records as query faces (vectors read from the store; a photo
    lacking a model's vector is left out)."""
    photos = [p for start in range(0, len(case_ids), CHUNK) for p in matcher.records.photos(
        case_ids=list(case_ids[start:start + CHUNK]), status="ready")]
    ids = [p.id for p in photos]
    stored = {m: _vectors(matcher, m, ids) for m in matcher.models}
    return [QueryFace(p.case_id, p.id, {m: stored[m][p.id] for m in matcher.models})
            for p in photos if all(p.id in stored[m] for m in matcher.models)]


def search_side(matcher: Matcher, faces: Sequence[QueryFace], side: str,
                open_ids: set[int] | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[PairScore]:
    """Every (query record, record of ``side``) pair that any query face reaches, scored as its
    best pair of photos and decided against the open-set thresholds of ``side``'s face count.

    ``open_ids`` are the searchable records of ``side`` (default: its open ones); a query
    record is never paired with itself. Faces go to the store in batches of :data:`BATCH`;
    ``progress(done, total)`` is called after each. Returns pairs best first (decision
    ``none`` included: the caller keeps what it needs)."""
    records = matcher.records
    if open_ids is None:
        open_ids = set(records.open_ids(side))
    if not faces or not open_ids:
        return []
    thresholds = matcher.fusion.thresholds_for(max(1, records.ready_faces(side)))
    gallery = _Gallery(matcher)
    share = records.ready_faces(side) / max(1, matcher.store.count(matcher.models[0]))
    best: dict[tuple[int, int], _Best] = {}
    for start in range(0, len(faces), BATCH):
        batch = faces[start:start + BATCH]
        candidates = _candidates(matcher, batch, side, open_ids, share)
        gallery.load(set().union(*candidates))
        for face, cand in zip(batch, candidates, strict=True):
            _score_face(matcher, face, cand - {face.case_id}, gallery, best)
        if progress is not None:
            progress(min(start + BATCH, len(faces)), len(faces))
    pairs = [PairScore(query, b.photo_id, other, b.other_photo_id, b.score,
                       dict(zip(matcher.models, b.cosines, strict=True)),
                       Decision(thresholds.decide(b.score)))
             for (query, other), b in best.items()]
    return sorted(pairs, key=lambda p: (-p.score, p.case_id, p.other_id))


@dataclass(frozen=True)
class _Best:
    """The best photo pair of a record pair so far: fused score, photos, per-model cosines."""

    score: float
    photo_id: int
    other_photo_id: int
    cosines: tuple[float, ...]


def _candidates(matcher: Matcher, batch: Sequence[QueryFace], side: str, open_ids: set[int],
                share: float) -> list[set[int]]:
    """For each query face, the searchable records of ``side`` owning one of its nearest faces
    of that side in the store (``search_candidates`` per model).

    ``share`` is ``side``'s part of the store's faces. From :data:`UNFILTERED_SHARE` on, the
    store is asked without a filter for ``WIDEN / share`` times as many faces (a Chroma
    ``where`` filter costs more than the wider search, measured in ``bench/drive.py``) and a
    face whose answer holds fewer than ``search_candidates`` faces of ``side`` is asked again
    with the filter, so every face gets at least its nearest faces of that side."""
    k = matcher.settings.search_candidates
    records = matcher.records
    nearest: list[set[int]] = [set() for _ in batch]
    for model in matcher.models:
        queries = np.stack([f.vectors[model] for f in batch])
        if share < UNFILTERED_SHARE:
            for found, hits in zip(nearest, matcher.store.query(model, queries, k, side),
                                   strict=True):
                found.update(h.photo_id for h in hits)
            continue
        wide = matcher.store.query(model, queries, int(np.ceil(k * WIDEN / share)))
        case_of = _chunked(records.photo_cases, {h.photo_id for hits in wide for h in hits})
        kinds = _chunked(records.kinds, set(case_of.values()))
        again = []
        for row, (found, hits) in enumerate(zip(nearest, wide, strict=True)):
            mine = [h.photo_id for h in hits
                    if kinds.get(case_of.get(h.photo_id, -1)) == side][:k]
            found.update(mine)
            if len(mine) < k:
                again.append(row)
        if again:
            for row, hits in zip(again, matcher.store.query(model, queries[again], k, side),
                                 strict=True):
                nearest[row].update(h.photo_id for h in hits)
    case_of_photo = _chunked(records.photo_cases, set().union(*nearest))
    return [{case_of_photo[p] for p in found if p in case_of_photo} & open_ids
            for found in nearest]


def _vectors(matcher: Matcher, model: str, photo_ids: list[int]) -> dict[int, np.ndarray]:
    """``{photo id: vector}`` of a model for the stored ones of ``photo_ids``, read in parts of
    :data:`VECTOR_CHUNK` (Chroma's own SQLite refuses a larger list of ids)."""
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(photo_ids), VECTOR_CHUNK):
        out.update(matcher.store.vectors(model, photo_ids[start:start + VECTOR_CHUNK]))
    return out


def _chunked(read: Callable[[list[int]], dict[int, Any]], ids: set[int]) -> dict[int, Any]:
    """``read(ids)`` (a records look-up by ids) in parts of :data:`CHUNK` ids, merged."""
    out: dict[int, Any] = {}
    order = sorted(ids)
    for start in range(0, len(order), CHUNK):
        out.update(read(order[start:start + CHUNK]))
    return out


class _Gallery:
    """Candidate records of the searched side with their ready photos and vectors, read from
    the records and the store once per drive and kept across batches (at most
    :data:`CACHE_PHOTOS` photos: beyond that, records the current batch does not need are
    dropped). ``entry[case id]`` is ``(photo ids, {model: (n, dim) vectors})``."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.entry: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self.photos = 0

    def load(self, case_ids: set[int]) -> None:
        """Make sure every record of ``case_ids`` is in :attr:`entry`."""
        todo = sorted(c for c in case_ids if c not in self.entry)
        if not todo:
            return
        if self.photos > CACHE_PHOTOS:
            self.entry = {c: e for c, e in self.entry.items() if c in case_ids}
            self.photos = sum(len(e[0]) for e in self.entry.values())
        models = self.matcher.models
        for part in range(0, len(todo), CHUNK):
            ids = todo[part:part + CHUNK]
            owner = self.matcher.records.ready_photo_cases(ids)
            photo_ids = list(owner)
            stored = {m: _vectors(self.matcher, m, photo_ids) for m in models}
            usable = [p for p in photo_ids if all(p in stored[m] for m in models)]
            by_case: dict[int, list[int]] = {c: [] for c in ids}
            for p in usable:
                by_case[owner[p]].append(p)
            for case_id, mine in by_case.items():
                self.entry[case_id] = (np.array(mine, dtype=np.int64), {
                    m: (np.stack([stored[m][p] for p in mine]) if mine
                        else np.zeros((0, 0), np.float32)) for m in models})
                self.photos += len(mine)


def _score_face(matcher: Matcher, face: QueryFace, cand: set[int], gallery: _Gallery,
                best: dict[tuple[int, int], _Best]) -> None:
    """Score one query face exactly against every ready photo of its candidate records and
    keep the best photo pair per record pair in ``best``."""
    entries = [(c, gallery.entry[c]) for c in sorted(cand) if len(gallery.entry[c][0])]
    if not entries:
        return
    models = matcher.models
    cos = np.stack([np.concatenate([e[1][m] for _, e in entries]) @ face.vectors[m]
                    for m in models], axis=1)
    fused = matcher.fusion.scores(cos[:, [models.index(m) for m in matcher.fusion.models]])
    start = 0
    for other, (photo_ids, _) in entries:
        stop = start + len(photo_ids)
        top = start + int(np.argmax(fused[start:stop]))
        score = float(fused[top])
        key = (face.case_id, other)
        if key not in best or best[key].score < score:
            best[key] = _Best(score, face.photo_id, int(photo_ids[top - start]),
                              tuple(float(x) for x in cos[top]))
        start = stop
