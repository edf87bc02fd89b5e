"""Search: every face of a probe photo against every registered child, ranked and decided.

Per face and model, the store returns the nearest registered faces (k-NN, no filters). Their
cases are the candidates; every ready photo of a candidate case is then scored exactly for every
model, the models are fused with the learned calibration (:mod:`findme.search.calibration`), a case
scores as its best photo, and the fused score is decided ``match`` / ``possible`` / ``none``.
Only open cases are searched. A probe face whose best match is ``possible`` or better becomes a
lead; nothing is kept about faces that match nobody.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from findme.alerts import rules as alerts
from findme.cases.records import Records
from findme.config import Settings
from findme.faces.detect import Face
from findme.faces.embed import FaceEmbedding, represent
from findme.faces.image import crop_face
from findme.faces.quality import Quality
from findme.search import calibration as calib
from findme.search.store import VectorStore

LEAD_DECISIONS = ("match", "possible")


def save_lead_crop(settings: Settings, crop: np.ndarray, stem: str) -> str:
    """Keep a probe face crop for a lead: JPEG ``leads/<stem>.jpg`` in the data folder;
    returns its path relative to the data folder."""
    from PIL import Image

    rel = Path("leads") / f"{stem}.jpg"
    settings.leads_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop)).save(buf, "JPEG", quality=90)
    (settings.data_dir / rel).write_bytes(buf.getvalue())
    return rel.as_posix()


@dataclass(frozen=True)
class Match:
    """One registered child a probe face may show."""

    case_id: int
    name: str
    score: float
    scores: dict[str, float]
    photo_id: int
    decision: str
    box: tuple[int, int, int, int]

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {"case_id": self.case_id, "name": self.name, "score": round(self.score, 4),
                "decision": self.decision, "photo_id": self.photo_id,
                "scores": {m: round(s, 4) for m, s in self.scores.items()}}


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
        self.models = tuple(settings.models)
        self.fusion = self.calibration.fusion(self.models)

    def match_faces(self, items: list[FaceEmbedding], top_k: int = 5
                    ) -> list[list[Match]]:
        """Ranked matches (at most ``top_k``, decision ``none`` included) for each face."""
        if not items:
            return []
        k = self.settings.search_candidates
        nearest: list[set[int]] = [set() for _ in items]
        for model in self.models:
            queries = np.stack([it.vectors[model] for it in items])
            for found, hits in zip(nearest, self.store.query(model, queries, k), strict=True):
                found.update(h.photo_id for h in hits)
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
                                     usable[best].id, self.fusion.thresholds.decide(score),
                                     it.face.box))
            matches.sort(key=lambda m: -m.score)
            out.append(matches[:top_k])
        return out

    def search_image(self, image: np.ndarray, top_k: int = 5, source: str | None = None,
                     source_ref: str | None = None, alert_source: str | None = None
                     ) -> SearchResult:
        """Search every face of an RGB image.

        With ``source`` (``photo``, ``webcam``, ``cctv``, ``cli``...) the search is recorded as a
        probe, and each face whose best match is ``possible`` or better becomes a lead with a
        crop of the probe face, and the alert rules run for it (:func:`findme.alerts.on_lead`;
        ``alert_source`` names the source for the alert cooldown, by default
        ``source:source_ref``, e.g. one camera). Without ``source`` nothing is written.
        """
        items = represent(image, self.models, self.settings)
        faces = [FaceResult(it.face, it.quality, m)
                 for it, m in zip(items, self.match_faces(items, top_k), strict=True)]
        if source is None:
            return SearchResult(faces)
        probe_id = self.records.add_probe(source, source_ref, len(faces))
        lead_ids = []
        for index, fr in enumerate(faces):
            best = fr.best
            if best is None or best.decision not in LEAD_DECISIONS:
                continue
            crop = save_lead_crop(self.settings, crop_face(image, fr.face.box),
                                  f"{probe_id}-{index}")
            lead_id = self.records.add_lead(
                probe_id, best.case_id, best.photo_id, list(fr.face.box), best.score,
                best.scores, best.decision, crop)
            lead_ids.append(lead_id)
            alerts.on_lead(self.records, self.settings, lead_id, best.case_id, best.decision,
                           best.score, source, alert_source or f"{source}:{source_ref or ''}")
        return SearchResult(faces, probe_id, lead_ids)

    def record_lead(self, image: np.ndarray, face: Face, match: Match,
                    probe_id: int | None, actor: str, index: int = 0) -> int:
        """Make a lead by hand from a shown match (a person thinks it is worth a review even
        though the search did not make one); keeps the probe face crop. Returns the lead id
        (the existing one when this probe face already has a lead for this case)."""
        if probe_id is not None:
            for lead in self.records.leads(case_id=match.case_id):
                if lead.probe_id == probe_id and lead.face_box == list(face.box):
                    return lead.id
        crop = save_lead_crop(self.settings, crop_face(image, face.box),
                              f"{probe_id or 'manual'}-{index}-{match.case_id}")
        lead_id = self.records.add_lead(probe_id, match.case_id, match.photo_id, list(face.box),
                                        match.score, match.scores, match.decision, crop, actor)
        alerts.on_lead(self.records, self.settings, lead_id, match.case_id, match.decision,
                       match.score, "photo", f"manual:{probe_id}")
        return lead_id
