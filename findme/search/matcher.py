"""Search: every face of a probe photo against every registered child, ranked and decided.

Per face and model, the store returns the nearest registered faces (k-NN, no filters). Their
cases are the candidates; every ready photo of a candidate case is then scored exactly for every
model, the models are fused with the learned calibration (:mod:`findme.search.calibration`), a case
scores as its best photo, and the fused score is decided ``match`` / ``possible`` / ``none``.
Only open cases are searched. The matcher ranks and decides; it writes nothing (leads are made by
:func:`findme.cases.leads.create_lead`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from findme.cases.records import Records
from findme.config import Settings
from findme.faces.detect import Face
from findme.faces.embed import FaceEmbedding, represent
from findme.faces.quality import Quality
from findme.search import calibration as calib
from findme.search.decision import Decision
from findme.search.store import VectorStore


@dataclass(frozen=True)
class Match:
    """One registered child a probe face may show."""

    case_id: int
    name: str
    score: float
    scores: dict[str, float]
    photo_id: int
    decision: Decision
    box: tuple[int, int, int, int]
    margin: float | None = None
    stranger_rate: float | None = None

    def as_dict(self) -> dict:
        """JSON-friendly form. ``margin``: how far the score is above the next case's (None
        when no other case came close); ``stranger_rate``: how often a person in no case would
        score this high against this gallery (None without an open-set calibration)."""
        return {"case_id": self.case_id, "name": self.name, "score": round(self.score, 4),
                "decision": self.decision, "photo_id": self.photo_id,
                "scores": {m: round(s, 4) for m, s in self.scores.items()},
                "margin": None if self.margin is None else round(self.margin, 4),
                "stranger_rate": None if self.stranger_rate is None
                else float(f"{self.stranger_rate:.3g}")}


@dataclass(frozen=True)
class FaceResult:
    """A probe face with its quality and its ranked matches (best first)."""

    face: Face
    quality: Quality
    matches: list[Match]

    @property
    def best(self) -> Match | None:
        """The top match, if any."""
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class SearchResult:
    """Everything found in one probe image, and the leads it recorded."""

    faces: list[FaceResult]
    probe_id: int | None = None
    lead_ids: list[int] = field(default_factory=list)


class Matcher:
    """Searches probe faces against the registry with one calibration."""

    def __init__(self, records: Records, store: VectorStore, settings: Settings,
                 calibration: calib.Calibration | None = None) -> None:
        self.records = records
        self.store = store
        self.settings = settings
        self.calibration = calibration or calib.load(settings)
        self.calibration.check_precision(settings)
        self.models = tuple(settings.models)
        self.fusion = self.calibration.fusion(self.models)

    def match_faces(self, items: list[FaceEmbedding], top_k: int = 5
                    ) -> list[list[Match]]:
        """Ranked matches (at most ``top_k``, decision ``none`` included) for each face, among
        the open missing cases only: a photo from the public, a spot check or CCTV asks *is this
        a missing child?* The found registry is searched by cross-matching
        (:mod:`findme.search.crossmatch`); its faces take no candidate place here
        (:meth:`_nearest_missing`) and do not count in the open-set thresholds."""
        if not items:
            return []
        nearest = self._nearest_missing(items)
        case_of_photo = self.records.photo_cases(sorted(set().union(*nearest)))
        candidates = [{case_of_photo[p] for p in found if p in case_of_photo}
                      for found in nearest]
        names = self.records.open_case_names(sorted(set().union(*candidates)))
        photos = self.records.photos(case_ids=sorted(names), status="ready")
        photo_ids = [p.id for p in photos]
        stored = {m: self.store.vectors(m, photo_ids) for m in self.models}
        usable = [p for p in photos if all(p.id in stored[m] for m in self.models)]
        if not usable:
            return [[] for _ in items]
        n_faces = self.gallery_faces()
        thresholds = self.fusion.thresholds_for(n_faces)
        matrices = {m: np.stack([stored[m][p.id] for p in usable]) for m in self.models}
        case_of = np.array([p.case_id for p in usable])
        out = []
        for it, cand in zip(items, candidates, strict=True):
            cos = np.stack([matrices[m] @ it.vectors[m] for m in self.models], axis=1)
            fused = self.fusion.scores(cos[:, [self.models.index(m)
                                              for m in self.fusion.models]])
            matches = []
            for case_id in cand & set(names):
                rows = np.nonzero(case_of == case_id)[0]
                if len(rows) == 0:
                    continue
                best = rows[int(np.argmax(fused[rows]))]
                score = float(fused[best])
                per_model = {m: float(cos[rows, i].max()) for i, m in enumerate(self.models)}
                matches.append(Match(case_id, names[case_id], score, per_model,
                                     usable[best].id, thresholds.decide(score), it.face.box,
                                     stranger_rate=self.fusion.stranger_rate(score, n_faces)))
            matches.sort(key=lambda m: -m.score)
            out.append([replace(m, margin=m.score - matches[k + 1].score
                                if k + 1 < len(matches) else None)
                        for k, m in enumerate(matches[:top_k])])
        return out

    def _nearest_missing(self, items: list[FaceEmbedding]) -> list[set[int]]:
        """Per face, the photo ids of its nearest stored faces (``search_candidates`` per
        model), children reported missing only.

        The store is asked without a filter first (a Chroma ``where`` filter costs seconds per
        call at 100k faces, measured by ``bench/drive.py``; an unfiltered query milliseconds);
        a face one of whose nearest faces belongs to a found record (so found faces may crowd
        missing ones out) is asked again with the ``missing`` filter."""
        k = self.settings.search_candidates
        nearest: list[set[int]] = [set() for _ in items]
        for model in self.models:
            queries = np.stack([it.vectors[model] for it in items])
            hits = self.store.query(model, queries, k)
            ids = sorted({h.photo_id for row in hits for h in row})
            case_of = self.records.photo_cases(ids)
            kinds = self.records.kinds(sorted(set(case_of.values()))) if case_of else {}
            found_photos = {p for p, c in case_of.items() if kinds.get(c) == "found"}
            crowded = [i for i, row in enumerate(hits)
                       if any(h.photo_id in found_photos for h in row)]
            for i, row in enumerate(hits):
                nearest[i].update(h.photo_id for h in row if h.photo_id not in found_photos)
            if crowded:
                again = self.store.query(model, queries[crowded], k, "missing")
                for i, row in zip(crowded, again, strict=True):
                    nearest[i].update(h.photo_id for h in row)
        return nearest

    def gallery_faces(self) -> int:
        """How many faces of missing children are registered (each is a chance for a stranger
        to look alike; the open-set thresholds follow it)."""
        return max(1, self.records.ready_faces("missing"))

    def search_image(self, image: np.ndarray, top_k: int = 5) -> SearchResult:
        """Search every face of an RGB image: each face with its quality and ranked matches.

        Writes nothing: recording the search and its leads is
        :func:`findme.cases.leads.record_search`'s job.
        """
        items = represent(image, self.models, self.settings)
        faces = [FaceResult(it.face, it.quality, m)
                 for it, m in zip(items, self.match_faces(items, top_k), strict=True)]
        return SearchResult(faces)
