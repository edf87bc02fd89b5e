"""Searching one registry with the faces of another: missing reports against found children,
found children against missing reports, and either against its own side (duplicates).

The query is a set of stored faces (a record's photos, or a whole registry in batches), each
with its record and one vector per model. Per model, the vector store returns the nearest faces
of the searched side only (``where={"kind": side}``); their open records are the candidates;
every ready photo of a candidate is then scored exactly, the models fused with the matcher's
calibration, and a pair of records scores as its best pair of photos. The open-set thresholds
count the faces of the searched side only (a stranger's chance grows with *that* gallery).
Ranks and decides; writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from findme.search.calibration import Thresholds
from findme.search.decision import Decision
from findme.search.matcher import Matcher

BATCH = 256  # query faces per store call in a drive


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
    photos = matcher.records.photos(case_ids=list(case_ids), status="ready")
    ids = [p.id for p in photos]
    stored = {m: matcher.store.vectors(m, ids) for m in matcher.models}
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
    records, store = matcher.records, matcher.store
    if open_ids is None:
        open_ids = set(records.open_ids(side))
    if not faces or not open_ids:
        return []
    thresholds = matcher.fusion.thresholds_for(max(1, records.ready_faces(side)))
    k = matcher.settings.search_candidates
    best: dict[tuple[int, int], PairScore] = {}
    for start in range(0, len(faces), BATCH):
        batch = faces[start:start + BATCH]
        nearest: list[set[int]] = [set() for _ in batch]
        for model in matcher.models:
            queries = np.stack([f.vectors[model] for f in batch])
            for found, hits in zip(nearest, store.query(model, queries, k, side), strict=True):
                found.update(h.photo_id for h in hits)
        case_of_photo = records.photo_cases(sorted(set().union(*nearest)))
        candidates = [{case_of_photo[p] for p in found if p in case_of_photo} & open_ids
                      for found in nearest]
        wanted = sorted(set().union(*candidates))
        if wanted:
            _score_batch(matcher, batch, candidates, wanted, thresholds, best)
        if progress is not None:
            progress(min(start + BATCH, len(faces)), len(faces))
    return sorted(best.values(), key=lambda p: (-p.score, p.case_id, p.other_id))


def _score_batch(matcher: Matcher, batch: Sequence[QueryFace], candidates: list[set[int]],
                 wanted: list[int], thresholds: Thresholds,
                 best: dict[tuple[int, int], PairScore]) -> None:
    """Score each query face exactly against every ready photo of its candidate records and
    keep the best photo pair per record pair in ``best``."""
    photos = matcher.records.photos(case_ids=wanted, status="ready")
    ids = [p.id for p in photos]
    stored = {m: matcher.store.vectors(m, ids) for m in matcher.models}
    usable = [p for p in photos if all(p.id in stored[m] for m in matcher.models)]
    if not usable:
        return
    matrices = {m: np.stack([stored[m][p.id] for p in usable]) for m in matcher.models}
    case_of = np.array([p.case_id for p in usable])
    order = [matcher.models.index(m) for m in matcher.fusion.models]
    for face, cand in zip(batch, candidates, strict=True):
        cand = cand - {face.case_id}
        if not cand:
            continue
        cos = np.stack([matrices[m] @ face.vectors[m] for m in matcher.models], axis=1)
        fused = matcher.fusion.scores(cos[:, order])
        for other in cand:
            rows = np.nonzero(case_of == other)[0]
            if len(rows) == 0:
                continue
            top = rows[int(np.argmax(fused[rows]))]
            score = float(fused[top])
            key = (face.case_id, other)
            if key in best and best[key].score >= score:
                continue
            best[key] = PairScore(face.case_id, face.photo_id, other, usable[top].id, score,
                                  {m: float(cos[top, i]) for i, m in enumerate(matcher.models)},
                                  Decision(thresholds.decide(score)))
