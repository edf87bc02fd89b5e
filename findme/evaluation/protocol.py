"""Evaluation on labeled photos: verification, identification and open-set metrics, per model and
fused, with bootstrap confidence intervals, robustness slices and threshold advice.

Protocol (:func:`split_dataset`): a folder per person. If the dataset has ``train/`` and ``val/``
folders, up to ``enroll`` ``train`` photos per person are enrolled and ``val`` probed; otherwise
each person's first ``enroll`` photos (in natural order) are enrolled and the rest probed.
Never-enrolled people come from a ``distractors`` folder when given; in any case every mated
probe is also searched as if its own person were not registered (leave-one-person-out), so
open-set rates exist for every dataset.

A person's score for a probe is the best over that person's enrolled photos (as in search); the
fused score uses the calibration's logistic fusion per photo, then the best photo. A photo with no
detectable face is counted (``no_face``): an enrolled photo is simply missing, a probe without a
face can never be found (it counts as a miss in recall and FNIR, never silently dropped).

(Over 400 lines as one cohesive thing: the evaluation protocol from split to advice; the metric
math is in :mod:`findme.evaluation.metrics`, the gallery-size projection in
:mod:`findme.evaluation.gallery_size`.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from findme.config import Settings
from findme.evaluation import metrics
from findme.faces.detect import Face
from findme.faces.embed import embed_largest_faces
from findme.search import calibration as calib

FARS = (0.01, 0.001)
CONDITIONS = ("original", "small_24px", "small_48px", "blur", "jpeg_q20", "low_light",
              "grayscale", "rotate_20deg")
Progress = Callable[[str, int, int], None]


# ----------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class Split:
    """Which photos are enrolled, which are probes of enrolled people, which are strangers."""

    gallery: list[tuple[Path, str]]
    probes: list[tuple[Path, str]]
    distractors: list[tuple[Path, str]] = field(default_factory=list)


def _natural(path: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def _people(folder: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in calib.IMAGE_SUFFIXES:
            out.setdefault(path.parent.name, []).append(path)
    return {k: sorted(v, key=_natural) for k, v in out.items()}


def check_folder(settings: Settings, folder: str | Path, any_folder: bool) -> Path:
    """The folder an evaluation may read: anything for a role with ``evaluation.folders``,
    else only the public sets under ``data/eval`` (a viewer must not learn what other folders
    of the server hold, or read ``data/photos``). Raises FileNotFoundError / PermissionError
    with a sentence."""
    path = Path(folder).expanduser().resolve()
    if not any_folder and settings.eval_dir.resolve() not in (path, *path.parents):
        raise PermissionError("your role may evaluate only the public sets in "
                              f"{settings.eval_dir}")
    if not path.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return path


def split_dataset(dataset: Path, enroll: int = 3, distractors: Path | None = None) -> Split:
    """The stated protocol for a dataset folder (see the module docstring)."""
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise FileNotFoundError(f"{dataset} is not a folder")
    if enroll < 1:
        raise ValueError("enroll must be at least 1 photo per person")
    if (dataset / "train").is_dir() and (dataset / "val").is_dir():
        gallery = [(p, k) for k, ps in _people(dataset / "train").items() for p in ps[:enroll]]
        probes = [(p, k) for k, ps in _people(dataset / "val").items() for p in ps]
    else:
        people = _people(dataset)
        gallery = [(p, k) for k, ps in people.items() for p in ps[:enroll]]
        probes = [(p, k) for k, ps in people.items() for p in ps[enroll:]]
    if not gallery or not probes:
        raise FileNotFoundError(f"{dataset}: needs one folder of photos per person, with more "
                                f"than {enroll} photos for at least one person")
    strangers = []
    if distractors:
        enrolled = {k for _, k in gallery}
        strangers = [(p, "distractor:" + k) for k, ps in _people(Path(distractors)).items()
                     for p in ps if k not in enrolled]
    return Split(gallery, probes, strangers)


# ----------------------------------------------------------------------------- degradations


MIN_PEOPLE = 10  # fewer people searched for: rates rest on too few to read without intervals


def split_warnings(split: Split) -> list[str]:
    """Whether a split can answer the question: :class:`ValueError` with a sentence when it
    cannot (fewer than two people with a photo to enroll and another to search), else the
    warnings a person should read beside the results (few people, no never-enrolled people,
    people with nothing left to search with)."""
    enrolled = {k for _, k in split.gallery}
    probed = {k for _, k in split.probes}
    both = enrolled & probed
    if len(both) < 2:
        raise ValueError(f"only {len(both)} person(s) have a photo to enroll and another to "
                         "search with: an evaluation needs at least 2 (each person needs more "
                         "photos than the number enrolled)")
    out = []
    if len(both) < MIN_PEOPLE:
        out.append(f"only {len(both)} people are searched for: every rate rests on few people, "
                   "so read it with its interval, not as a promise")
    if not split.distractors:
        out.append("no never-enrolled people: false alerts (FPIR) are estimated only by searching "
                   "each person as if unregistered; a folder of never-enrolled people measures "
                   "them on real strangers")
    if enrolled - probed:
        out.append(f"{len(enrolled - probed)} person(s) have no photo left to search with "
                   "(all their photos were enrolled)")
    return out


def degrade(image: np.ndarray, face: Face | None, condition: str) -> np.ndarray:
    """A copy of an RGB image made worse on purpose (robustness slices)."""
    img = image.copy()
    if condition == "original":
        return img
    if condition.startswith("small_"):
        target = int(condition.split("_")[1].rstrip("px"))
        side = face.size if face else min(img.shape[:2])
        scale = min(1.0, target / max(side, 1))
        h, w = img.shape[:2]
        return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    if condition == "blur":
        sigma = 0.02 * (face.size if face else min(img.shape[:2]))
        return cv2.GaussianBlur(img, (0, 0), max(sigma, 1.0))
    if condition == "jpeg_q20":
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 20])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy() if ok else img
    if condition == "low_light":
        return (255.0 * (img / 255.0) ** 2.2 * 0.5).astype(np.uint8)
    if condition == "grayscale":
        return np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    if condition == "rotate_20deg":
        h, w = img.shape[:2]
        return cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h),
                              borderMode=cv2.BORDER_REPLICATE)
    raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")


# ----------------------------------------------------------------------------- embedding


@dataclass
class Embedded:
    """Vectors of a list of photos (rows with no face are all-zero and flagged)."""

    labels: list[str]
    vectors: dict[str, np.ndarray]
    has_face: np.ndarray

    @property
    def no_face(self) -> int:
        """How many photos had no detectable face."""
        return int((~self.has_face).sum())


def embed_photos(items: Sequence[tuple[Path, str]], models: Sequence[str], settings: Settings,
                 condition: str = "original", progress: Callable[[int], None] | None = None
                 ) -> Embedded:
    """Largest face of each photo, per model, optionally degraded first."""
    transform = None if condition == "original" else (
        lambda image, faces: degrade(image, faces[0] if faces else None, condition))
    vecs, has = embed_largest_faces([p for p, _ in items], models, settings,
                                             transform, progress)
    return Embedded([label for _, label in items], vecs, has)


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Scores:
    """Person-level scores of every probe: ``matrix[probe, person]`` (best enrolled photo)."""

    people: list[str]
    matrix: np.ndarray


def person_scores(photo_scores: np.ndarray, gallery_labels: Sequence[str]) -> Scores:
    """Reduce ``(probes, gallery photos)`` scores to ``(probes, people)`` by the best photo."""
    lab = np.asarray(gallery_labels)
    people = sorted(set(gallery_labels))
    if photo_scores.shape[0] == 0:
        return Scores(people, np.zeros((0, len(people))))
    return Scores(people, np.stack([photo_scores[:, lab == p].max(axis=1) for p in people],
                                   axis=1))


def metrics_from_scores(mated: Scores, mated_labels: Sequence[str], nonmated: Scores,
                        thresholds: dict[str, float], mated_valid: np.ndarray | None = None
                        ) -> dict:
    """All metrics for one scorer (a model or the fusion).

    ``mated`` are probes of enrolled people (``mated_labels``), ``nonmated`` probes of strangers.
    Mated probes whose person was not enrolled, or that had no face (``mated_valid`` False) can
    never be found and count as misses. Leave-one-person-out strangers are added: each valid mated
    probe's best score over the *other* people is a never-enrolled probe's top score.
    """
    people = {p: i for i, p in enumerate(mated.people)}
    n = len(mated_labels)
    valid = np.ones(n, bool) if mated_valid is None else mated_valid.astype(bool)
    own = np.array([people.get(lbl, -1) for lbl in mated_labels])
    m = mated.matrix
    genuine = np.array([m[k, own[k]] if own[k] >= 0 and valid[k] else -np.inf
                        for k in range(n)])
    others = m.copy()
    for k in range(n):
        if own[k] >= 0:
            others[k, own[k]] = -np.inf
    impostor_all = others[valid][np.isfinite(others[valid])]
    g_valid = genuine[np.isfinite(genuine)]
    far, tar, _ = metrics.roc_curve(g_valid, impostor_all)
    order = np.argsort(-m, axis=1)
    ranks = np.array([int(np.nonzero(order[k] == own[k])[0][0]) + 1
                      if own[k] >= 0 and valid[k] else 0 for k in range(n)])
    top = np.where(valid, m.max(axis=1), -np.inf)
    top_correct = (ranks == 1)
    loo_top = others[valid].max(axis=1) if others.shape[1] > 1 else np.zeros(0)
    strangers = np.concatenate([nonmated.matrix.max(axis=1) if nonmated.matrix.size else
                                np.zeros(0), loo_top])
    fpir, fnir, det_t = metrics.det_curve(top_correct, top, strangers)
    curve_cmc = metrics.cmc(ranks)
    out = {
        "auc": metrics.auc(far, tar), "eer": metrics.eer(far, tar),
        "tar_at_far": {str(f): metrics.tar_at_far(far, tar, f) for f in FARS},
        "rank1": float(curve_cmc[0]), "rank5": float(curve_cmc[min(4, len(curve_cmc) - 1)]),
        "rank1_ci": metrics.bootstrap_ci(ranks, lambda r: float((r == 1).mean())),
        "n_genuine": int(len(g_valid)), "n_impostor": int(len(impostor_all)),
        "n_mated": n, "n_nonmated": int(len(strangers)),
        "curves": {"roc": {"far": far.tolist(), "tar": tar.tolist()},
                   "cmc": curve_cmc.tolist(),
                   "det": {"fpir": fpir.tolist(), "fnir": fnir.tolist(),
                           "threshold": det_t.tolist()},
                   "genuine": g_valid.tolist(), "impostor": _sample(impostor_all)},
    }
    for name, t in thresholds.items():
        c = metrics.confusion(top_correct, top, strangers, t)
        pairs = np.concatenate([np.c_[top_correct, top >= t], np.c_[np.zeros(len(strangers)),
                                                                    strangers >= t]])
        c["precision_ci"] = metrics.bootstrap_ci(pairs, _precision)
        c["recall_ci"] = metrics.bootstrap_ci(np.c_[top_correct, top >= t], _recall)
        c["fpir"] = float((strangers >= t).mean()) if len(strangers) else 0.0
        c["fnir"] = 1.0 - c["recall"]
        out[name] = c
    main = out.get("possible") or next(iter(out[k] for k in thresholds))
    out.update({k: main[k] for k in ("precision", "recall", "f1", "accuracy", "fpir", "fnir")})
    out["pr_curve"] = _pr_curve(top_correct, top, strangers)
    return out


def _precision(rows: np.ndarray) -> float:
    alerts = rows[:, 1] > 0
    return float((rows[alerts, 0] > 0).mean()) if alerts.any() else 1.0


def _recall(rows: np.ndarray) -> float:
    return float(((rows[:, 0] > 0) & (rows[:, 1] > 0)).mean()) if len(rows) else 0.0


def _sample(values: np.ndarray, limit: int = 20000) -> list[float]:
    if len(values) <= limit:
        return values.tolist()
    return np.random.default_rng(0).choice(values, limit, replace=False).tolist()


def _pr_curve(top_correct: np.ndarray, top: np.ndarray, strangers: np.ndarray) -> dict:
    ts = np.unique(np.concatenate([top[np.isfinite(top)], strangers]))[::-1][::max(
        1, len(top) // 200)]
    pr = [metrics.confusion(top_correct, top, strangers, t) for t in ts]
    return {"precision": [p["precision"] for p in pr], "recall": [p["recall"] for p in pr],
            "threshold": ts.tolist()}


# ----------------------------------------------------------------------------- running


@dataclass
class Evaluation:
    """Results of one run: metrics per scorer (models and ``fused``), per condition."""

    dataset: str
    protocol: str
    models: list[str]
    counts: dict[str, int]
    results: dict[str, dict]
    conditions: dict[str, dict[str, dict]] = field(default_factory=dict)
    advice: dict[str, dict] = field(default_factory=dict)
    by_size: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the data cannot answer well

    def summary(self) -> dict:
        """The headline numbers per scorer (what ``findme evaluate --json`` prints)."""
        keys = ("auc", "eer", "tar_at_far", "rank1", "rank5", "precision", "recall", "f1",
                "accuracy", "fpir", "fnir", "rank1_ci")
        out = {s: {k: r[k] for k in keys} for s, r in self.results.items()}
        for s, r in self.results.items():
            out[s]["at_thresholds"] = {k: {x: r[k][x] for x in ("threshold", "tp", "fp", "fn",
                                                                "tn", "precision", "recall",
                                                                "f1", "accuracy")}
                                       for k in ("match", "possible") if k in r}
        return out


def _scorers(emb_g: Embedded, emb_p: Embedded, models: Sequence[str],
             fusion: calib.Fusion | None) -> dict[str, np.ndarray]:
    """Photo-level score matrices ``(probes, gallery)`` per model and fused."""
    out = {m: emb_p.vectors[m] @ emb_g.vectors[m].T for m in models}
    for name in out:
        out[name][~emb_p.has_face] = -np.inf
        out[name][:, ~emb_g.has_face] = -np.inf
    if fusion is not None:
        stacked = np.stack([out[m] for m in fusion.models], axis=-1)
        finite = np.isfinite(stacked).all(axis=-1)
        fused = np.full(stacked.shape[:2], -np.inf)
        fused[finite] = fusion.scores(stacked[finite])
        out["fused"] = fused
    return out


def evaluate(dataset: Path, models: Sequence[str] | None = None, enroll: int = 3,
             distractors: Path | None = None, conditions: Sequence[str] = ("original",), *,
             settings: Settings, calibration: calib.Calibration | None = None,
             progress: Progress | None = None, gallery_sizes: Sequence[int] = (),
             synthetic_from: Path | None = None) -> Evaluation:
    """Run the protocol on a dataset folder; see the module docstring.

    ``conditions`` beyond ``original`` re-embed the probes degraded (robustness slices).
    ``gallery_sizes`` (with ``distractors``, for a fused model set) adds FPIR and genuine
    recall at ``match`` / ``possible`` as the gallery grows to each size with synthetic people
    (:mod:`findme.evaluation.gallery_size`), learned from ``synthetic_from`` (a folder of other
    never-registered people, one photo each) or else from half of the distractors.
    ``progress(stage, done, total)`` is called as photos are embedded and after each
    condition is scored (a worker's stop request and its progress bar act there).
    """
    models = list(models or settings.models)
    calibration = calibration or calib.load(settings)
    fusion = calibration.fusion(models) if len(models) > 1 else None
    split = split_dataset(Path(dataset), enroll, distractors)
    warnings = split_warnings(split)  # refuses before any photo is embedded

    def tick(stage: str, total: int) -> Callable[[int], None] | None:
        return (lambda done: progress(stage, done, total)) if progress else None

    emb_g = embed_photos(split.gallery, models, settings,
                         progress=tick("enrolled photos", len(split.gallery)))
    glabels = [lbl for _, lbl in split.gallery]
    thresholds = {m: calibration.model_thresholds[m] for m in models
                  if m in calibration.model_thresholds}
    per_condition: dict[str, dict[str, dict]] = {}
    counts = {}
    probes_original: Embedded | None = None
    emb_d = embed_photos(split.distractors, models, settings,
                         progress=tick("never-enrolled photos", len(split.distractors)))
    for scored, condition in enumerate(conditions):
        emb_p = embed_photos(split.probes, models, settings, condition,
                             progress=tick(f"probes ({condition})", len(split.probes)))
        if condition == "original":
            probes_original = emb_p
        mated = _scorers(emb_g, emb_p, models, fusion)
        strangers = _scorers(emb_g, emb_d, models, fusion)
        results = {}
        for name, photo_scores in mated.items():
            t = fusion.thresholds_for(len(split.gallery)) if name == "fused" and fusion \
                else thresholds.get(name)
            th = {"match": t.match, "possible": t.possible} if t else {}
            results[name] = metrics_from_scores(
                person_scores(photo_scores, glabels), [lbl for _, lbl in split.probes],
                person_scores(strangers[name], glabels), th, emb_p.has_face)
        per_condition[condition] = results
        counts[f"probe_no_face_{condition}"] = emb_p.no_face
        if progress:
            progress("scored conditions", scored + 1, len(conditions))
    counts.update({"people": len(set(glabels)), "enrolled_photos": len(split.gallery),
                   "probes": len(split.probes), "distractors": len(split.distractors),
                   "enrolled_no_face": emb_g.no_face, "distractor_no_face": emb_d.no_face})
    protocol = (f"up to {enroll} train photos per person enrolled, val probed"
                if (Path(dataset) / "train").is_dir()
                else f"first {enroll} photos per person enrolled, the rest probed")
    base = per_condition.get("original") or next(iter(per_condition.values()))
    by_size = []
    if gallery_sizes:
        if fusion is None or not split.distractors or probes_original is None:
            raise ValueError("results by gallery size need several models (a fusion), the "
                             "'original' condition and never-registered photos (distractors)")
        emb_s = None
        if synthetic_from is not None:
            from findme.evaluation.datasets import strangers as stranger_photos

            teach = [(p, "synthetic-source") for p in stranger_photos(Path(synthetic_from))]
            emb_s = embed_photos(teach, models, settings,
                                 progress=tick("people the synthetic ones learn from",
                                               len(teach)))
        by_size = _by_size(fusion, emb_g, glabels, probes_original,
                           [lbl for _, lbl in split.probes], emb_d, gallery_sizes, emb_s)
    return Evaluation(Path(dataset).name, protocol, models, counts, base,
                      {c: r for c, r in per_condition.items() if c != "original"},
                      advise(base, targets=(0.01, 0.05, 0.10)), by_size, warnings)


def _by_size(fusion: calib.Fusion, emb_g: Embedded, glabels: Sequence[str], emb_p: Embedded,
             plabels: Sequence[str], emb_d: Embedded, sizes: Sequence[int],
             emb_s: Embedded | None = None) -> list[dict]:
    """:func:`~findme.evaluation.gallery_size.by_gallery_size` on embedded photos (photos
    without a face left out). The never-registered photos are split in two: one half teaches
    the synthetic people, the other half searches as strangers (a synthetic filler learned from
    the strangers themselves would copy them and overstate how alike people look)."""
    from findme.evaluation.gallery_size import by_gallery_size

    def rows(e: Embedded) -> dict[str, np.ndarray]:
        return {m: e.vectors[m][e.has_face] for m in fusion.models}

    unknown = rows(emb_d)
    n = len(next(iter(unknown.values())))
    if emb_s is not None:
        teach, search = rows(emb_s), unknown
        if len(next(iter(teach.values()))) < 100 or n < 20:
            raise ValueError("results by gallery size need at least 100 people to learn "
                             "synthetic ones from and 20 never-registered probes")
    else:
        if n < 100:
            raise ValueError("results by gallery size need at least 100 never-registered "
                             "photos (half teach the synthetic people, half search as "
                             "strangers)")
        teach = {m: v[0::2] for m, v in unknown.items()}
        search = {m: v[1::2] for m, v in unknown.items()}
    out = by_gallery_size(fusion, rows(emb_g), np.asarray(glabels)[emb_g.has_face],
                          rows(emb_p), np.asarray(plabels)[emb_p.has_face], search, sizes,
                          synthetic_from=teach)
    return [r.as_dict() for r in out]


def advise(results: dict[str, dict], targets: Sequence[float]) -> dict[str, dict]:
    """For each target false-positive identification rate: the lowest threshold per scorer that
    keeps FPIR at or under it, and the recall left there (from the DET curve)."""
    out: dict[str, dict] = {}
    for name, r in results.items():
        det = r["curves"]["det"]
        fpir, fnir, ts = (np.array(det[k]) for k in ("fpir", "fnir", "threshold"))
        out[name] = {}
        for target in targets:
            ok = np.nonzero(fpir <= target)[0]
            if len(ok) == 0:
                continue
            k = ok[-1]  # thresholds descend: the last one still under target is the lowest
            out[name][str(target)] = {"threshold": float(ts[k]), "fpir": float(fpir[k]),
                                      "recall": float(1 - fnir[k])}
    return out


def applicable_scorers(result: Evaluation, calibration: calib.Calibration) -> list[str]:
    """Scorers of an evaluation whose thresholds may be applied to the live configuration:
    the fusion, and each model the calibration already knows."""
    return [s for s in result.advice if s == "fused" or s in calibration.model_thresholds]


def evaluate_own_cases(records: object, store: object, settings: Settings,
                       calibration: calib.Calibration | None = None,
                       progress: Progress | None = None) -> Evaluation:
    """Leave-one-photo-out over the registered cases with two or more ready photos.

    Each such photo is searched against every other stored photo (its own removed), with the
    stored vectors, so a deployment measures itself on its own children without external data.
    ``progress(stage, done, total)`` is called after the vectors are read and after each scorer
    (a model or the fusion). Raises ValueError when no case has two ready photos.
    """
    models = list(settings.models)
    calibration = calibration or calib.load(settings)
    fusion = calibration.fusion(models) if len(models) > 1 else None
    photos = records.photos(status="ready")  # type: ignore[attr-defined]
    vecs = {m: store.vectors(m, [p.id for p in photos]) for m in models}  # type: ignore
    if progress:
        progress("stored vectors read", 1, 1)
    photos = [p for p in photos if all(p.id in vecs[m] for m in models)]
    per_case: dict[int, int] = {}
    for p in photos:
        per_case[p.case_id] = per_case.get(p.case_id, 0) + 1
    probes = [k for k, p in enumerate(photos) if per_case[p.case_id] >= 2]
    if not probes:
        raise ValueError("no registered case has two or more photos yet")
    labels = [str(p.case_id) for p in photos]
    matrices = {m: np.stack([vecs[m][p.id] for p in photos]) for m in models}
    emb = Embedded(labels, matrices, np.ones(len(photos), bool))
    scores = _scorers(emb, emb, models, fusion)
    results = {}
    for done, (name, full) in enumerate(scores.items()):
        if progress:
            progress("scoring", done, len(scores))
        full = full[probes].copy()
        full[np.arange(len(probes)), probes] = -np.inf  # a photo never finds itself
        t = fusion.thresholds if name == "fused" else calibration.model_thresholds.get(name)
        th = {"match": t.match, "possible": t.possible} if t else {}
        results[name] = metrics_from_scores(person_scores(full, labels),
                                            [labels[k] for k in probes],
                                            Scores(sorted(set(labels)), np.zeros((0, 0))), th)
    if progress:
        progress("scoring", len(scores), len(scores))
    counts = {"people": len(per_case), "enrolled_photos": len(photos), "probes": len(probes),
              "distractors": 0}
    return Evaluation("own cases", "leave one photo out", models, counts, results, {},
                      advise(results, targets=(0.01, 0.05, 0.10)))
