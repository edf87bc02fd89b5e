"""Score calibration and decision thresholds, learned from labeled photos.

Raw cosines of different models live on different scales (a FaceNet 0.6 is not an ArcFace 0.6), so
they are not averaged. Instead a logistic regression on the per-model cosines of labeled
same-person / different-people pairs (classes weighted equally) maps them to one fused score in
[0, 1].

Two thresholds, for two jobs:

* ``possible`` (a lead a person should look at; recall first): the fused score that only 1% of
  single comparisons of two different people reach (per-comparison false-accept rate 1%).
* ``match`` (strong enough to alert on): set where the system works, searching one face against
  many registered people. Every labeled photo is searched, open-set, against the photos of every
  *other* person (as if its own person were never registered); its top score is a
  never-registered probe's best false match. ``match`` is the score at most 0.1% of those probes
  reach (false-positive identification rate 0.1%; with the default's 518 probes: none of them).

The ``match`` rate holds for a gallery about the size of the calibration set (the shipped default:
~500 photos of 45 people); a larger gallery gives strangers more chances, so recalibrate on the
deployment's own cases as it grows. Per-model cosine thresholds are found the same way. The
shipped default (``findme/calibration_default.json``) was made by ``findme calibrate`` on the
public ORL and 5-celebrity photos; a deployment recalibrates on its own labeled photos with the
same command, which writes ``$FINDME_DATA_DIR/calibration.json`` (that file then takes
precedence).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from findme.config import Settings
from findme.search.decision import Decision
from findme.search.open_set import MATCH_FPIR, POSSIBLE_FPIR, StrangerTail, fit_tail

DEFAULT_FILE = Path(__file__).parent / "calibration_default.json"
POSSIBLE_FAR = 0.01
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"}


class CalibrationMissing(RuntimeError):
    """No calibration covers the configured models; the message says how to make one."""


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds for ``match`` and ``possible`` (scores at or above decide)."""

    match: float
    possible: float

    def decide(self, score: float) -> Decision:
        """:class:`Decision` ``match``, ``possible`` or ``none`` for a score."""
        if score >= self.match:
            return Decision.MATCH
        if score >= self.possible:
            return Decision.POSSIBLE
        return Decision.NONE


@dataclass(frozen=True)
class Fusion:
    """Logistic fusion of several models' cosines: ``sigmoid(bias + sum(w_m * cos_m))``.

    ``thresholds`` are fixed ones (set by hand, or fitted on the calibration photos). With a
    ``tail`` (learned from never-registered people) the decisions follow the gallery size
    instead: :meth:`thresholds_for` keeps ``match`` at 1 in 1,000 and ``possible`` at 1 in 10
    searches of a stranger (:mod:`findme.search.open_set`).
    """

    models: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    thresholds: Thresholds
    tail: StrangerTail | None = None

    def thresholds_for(self, n_faces: int) -> Thresholds:
        """The thresholds (fused-score space) for a gallery of ``n_faces`` registered faces:
        open-set ones when the fusion has a stranger tail, else the fixed ones."""
        if self.tail is None:
            return self.thresholds
        return Thresholds(match=_sigmoid(self.tail.threshold(n_faces, MATCH_FPIR)),
                          possible=_sigmoid(self.tail.threshold(n_faces, POSSIBLE_FPIR)))

    def stranger_rate(self, score: float, n_faces: int) -> float | None:
        """How often a person in no case would reach ``score`` searching ``n_faces`` faces
        (None without a stranger tail)."""
        if self.tail is None:
            return None
        s = min(max(score, 1e-15), 1 - 1e-15)
        return self.tail.fpir(math.log(s / (1 - s)), n_faces)

    def score(self, cosines: dict[str, float]) -> float:
        """Fused score in [0, 1] from ``{model: cosine}`` (every model of the fusion needed)."""
        z = self.bias + sum(w * cosines[m] for m, w in zip(self.models, self.weights,
                                                           strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def scores(self, cosines: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`score`: ``cosines`` has one column per model, in fusion order."""
        z = self.bias + np.asarray(cosines, dtype=np.float64) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


@dataclass(frozen=True)
class Calibration:
    """Per-model cosine thresholds and the fusions available, with where they came from."""

    model_thresholds: dict[str, Thresholds]
    fusions: dict[str, Fusion]
    source: str
    made: str
    rates: dict[str, float] = field(default_factory=lambda: {"match_fpir": MATCH_FPIR,
                                                              "possible_far": POSSIBLE_FAR})
    recall: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the numbers the scores were learned from: ``f32``, or ``bf16`` when ``arcface-mbf`` ran
    #: in bfloat16 (``FINDME_INFERENCE=bf16`` on a CPU that computes it natively)
    precision: str = "f32"

    def check_precision(self, settings: Settings) -> None:
        """Refuse (:class:`CalibrationMissing`) to decide with thresholds learned from other
        numbers than the models give here: ``arcface-mbf`` in bfloat16 moves scores (cosine to
        float32 about 0.9997), enough to move a decision at the edge of a threshold. Float32
        (the default) needs a float32 calibration; ``FINDME_INFERENCE=bf16`` on a CPU with
        native bfloat16 needs one made that way. Loads ``arcface-mbf`` only for ``bf16``."""
        if "arcface-mbf" not in settings.models:
            return
        running = precision_of(settings)
        if running != self.precision:
            raise CalibrationMissing(
                f"arcface-mbf runs in {running} here but the calibration ({self.source}) was "
                f"learned in {self.precision}: run `FINDME_INFERENCE={settings.inference} "
                "findme calibrate DATASET_DIR... --strangers DIR` to learn one for these numbers, "
                "or set FINDME_INFERENCE=f32 with a float32 calibration (the shipped default)")

    def fusion(self, models: Sequence[str]) -> Fusion:
        """The fusion for exactly these models (order-insensitive)."""
        key = fusion_key(models)
        if key not in self.fusions:
            raise CalibrationMissing(
                f"no calibration for the model set {key}: run `findme calibrate DATASET_DIR...` "
                "with labeled photos (one folder per person) to make one")
        return self.fusions[key]

    def to_json(self) -> dict:
        """JSON-friendly form (what :func:`save` writes)."""
        return {"source": self.source, "made": self.made, "precision": self.precision,
                "rates": self.rates, "recall": self.recall,
                "models": {m: {"match": t.match, "possible": t.possible}
                           for m, t in self.model_thresholds.items()},
                "fusions": {k: {"models": list(f.models), "weights": list(f.weights),
                                "bias": f.bias, "match": f.thresholds.match,
                                "possible": f.thresholds.possible,
                                **({"tail": f.tail.to_json()} if f.tail else {})}
                            for k, f in self.fusions.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        """Inverse of :meth:`to_json`."""
        return cls(
            model_thresholds={m: Thresholds(v["match"], v["possible"])
                              for m, v in data["models"].items()},
            fusions={k: Fusion(tuple(v["models"]), tuple(v["weights"]), v["bias"],
                               Thresholds(v["match"], v["possible"]),
                               StrangerTail.from_json(v["tail"]) if v.get("tail") else None)
                     for k, v in data["fusions"].items()},
            source=data.get("source", ""), made=data.get("made", ""),
            rates=data.get("rates", {"match_fpir": MATCH_FPIR, "possible_far": POSSIBLE_FAR}),
            recall=data.get("recall", {}), precision=data.get("precision", "f32"))


def precision_of(settings: Settings) -> str:
    """``bf16`` when ``arcface-mbf`` computes in bfloat16 in this process (asked for with
    ``FINDME_INFERENCE=bf16`` and native to the CPU), else ``f32``."""
    if "arcface-mbf" not in settings.models or settings.inference != "bf16":
        return "f32"
    from findme.faces.models import inference_engine

    return "bf16" if inference_engine("arcface-mbf", settings).endswith("bf16") else "f32"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def fusion_key(models: Sequence[str]) -> str:
    """Canonical name of a model set, e.g. ``arcface-mbf+facenet``."""
    return "+".join(sorted(models))


def load(settings: Settings) -> Calibration:
    """The deployment's calibration if present, else the shipped default."""
    path = settings.calibration_path if settings.calibration_path.is_file() else DEFAULT_FILE
    return Calibration.from_json(json.loads(path.read_text()))


def thresholds_of(calibration: Calibration, scorer: str, models: Sequence[str]
                  ) -> tuple[str, Thresholds | None]:
    """``(key, thresholds in force)`` of a scorer: ``fused`` (the fusion of ``models``) or one
    model id; None when the calibration has none for it."""
    if scorer == "fused":
        key = fusion_key(models)
        return key, calibration.fusions[key].thresholds if key in calibration.fusions else None
    return scorer, calibration.model_thresholds.get(scorer)


def save(calibration: Calibration, path: Path) -> None:
    """Write a calibration atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(calibration.to_json(), indent=1))
    tmp.replace(path)


# ----------------------------------------------------------------------------- fitting


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """Smallest threshold at which at most ``far`` of impostor scores are >= it.

    With ``n`` impostor scores, the threshold sits just above the ``floor(far * n)``-th highest
    score, so exactly that many impostors are accepted.
    """
    s = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    allowed = int(math.floor(far * len(s)))
    if allowed >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[allowed], np.inf))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3,
                 iterations: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with the two classes weighted equally.

    ``x`` is ``(n, d)`` features, ``y`` 0/1 labels; returns ``(weights, bias)``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("calibration needs both same-person and different-people pairs")
    sample_w = np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg)
    xb = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -60, 60)))
        grad = xb.T @ (sample_w * (p - y)) + reg * theta
        hess = (xb * (sample_w * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def pairs_of(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays ``(i, j, same)`` of all unordered pairs."""
    i, j = np.triu_indices(len(labels), 1)
    lab = np.asarray(labels)
    return i, j, lab[i] == lab[j]


def open_set_scores(scores: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """From an all-pairs score matrix: each photo's best score against other people's photos
    (a never-registered probe's top false match) and against its own person's other photos
    (``-inf`` when it has none)."""
    lab = np.asarray(labels)
    same = lab[:, None] == lab[None, :]
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    impostor = np.where(other, scores, -np.inf).max(axis=1)
    genuine = np.where(same, scores, -np.inf).max(axis=1)
    return impostor, genuine


def _thresholds(scores: np.ndarray, labels: Sequence[str]) -> tuple[Thresholds, dict]:
    """``possible`` at a per-comparison FAR, ``match`` at an open-set FPIR, plus the genuine
    recall at each (share of photos whose best own-person score reaches it)."""
    i, j, same = pairs_of(labels)
    impostor_top, genuine = open_set_scores(scores, labels)
    t = Thresholds(match=threshold_at_far(impostor_top, MATCH_FPIR),
                   possible=min(threshold_at_far(scores[i, j][~same], POSSIBLE_FAR),
                                threshold_at_far(impostor_top, MATCH_FPIR)))
    has = np.isfinite(genuine)
    recall = {"match": float((genuine[has] >= t.match).mean()),
              "possible": float((genuine[has] >= t.possible).mean()),
              "stranger_possible": float((impostor_top >= t.possible).mean())}
    return t, recall


def stranger_logits(fusion: Fusion, strangers: dict[str, np.ndarray]) -> np.ndarray:
    """The fused logit of every pair of never-registered photos (one person per photo)."""
    i, j = np.triu_indices(len(next(iter(strangers.values()))), 1)
    cos = np.stack([np.einsum("nd,nd->n", strangers[m][i], strangers[m][j])
                    for m in fusion.models], axis=1)
    return fusion.bias + cos @ np.asarray(fusion.weights)


def calibrate_vectors(vectors: dict[str, np.ndarray], labels: Sequence[str],
                      source: str, fusion_sets: Sequence[Sequence[str]],
                      strangers: dict[str, np.ndarray] | None = None) -> Calibration:
    """Fit fusions on all labeled pairs and thresholds (see the module docstring).

    ``vectors`` maps model id to an ``(n, dim)`` array of unit vectors, rows aligned with
    ``labels``. ``fusion_sets`` lists the model combinations to fit (each single model is always
    fitted too). With ``strangers`` (unit vectors of never-registered people, one photo each,
    at least 50) every fusion also learns its stranger tail, so its decisions follow the
    gallery size (:mod:`findme.search.open_set`). The calibration records the genuine recall at
    each fixed threshold (share of photos whose best score against their own person's other
    photos reaches it).
    """
    i, j, same = pairs_of(labels)
    full = {m: v @ v.T for m, v in vectors.items()}
    model_thresholds, recall = {}, {}
    for m, sims in full.items():
        model_thresholds[m], recall[m] = _thresholds(sims, labels)
    sets = {fusion_key(s): tuple(sorted(s)) for s in fusion_sets}
    sets.update({m: (m,) for m in vectors})
    fusions = {}
    for key, models in sets.items():
        w, b = fit_logistic(np.stack([full[m][i, j] for m in models], axis=1),
                            same.astype(float))
        fusion = Fusion(models, tuple(float(v) for v in w), b, Thresholds(1.0, 1.0))
        n = len(labels)
        fused = fusion.scores(np.stack([full[m].ravel() for m in models], axis=1)).reshape(n, n)
        thresholds, recall["fused:" + key] = _thresholds(fused, labels)
        tail = fit_tail(stranger_logits(fusion, strangers)) if strangers else None
        fusions[key] = Fusion(models, fusion.weights, b, thresholds, tail)
    return Calibration(model_thresholds, fusions, source,
                       dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), recall=recall)


def labeled_photos(roots: Sequence[Path]) -> list[tuple[Path, str]]:
    """``(photo, person label)`` for every image under each root.

    A person is a folder that holds images; its label is ``<root name>:<folder name>``, so the
    same person split across ``train/`` and ``val/`` folders of one root is one identity.
    """
    out = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root} is not a folder")
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                out.append((path, f"{root.name}:{path.parent.name}"))
    if not out:
        raise FileNotFoundError("no photos found under " + ", ".join(map(str, roots)))
    return out


def calibrate_folders(roots: Sequence[Path], models: Sequence[str],
                      fusion_sets: Sequence[Sequence[str]] | None = None, *,
                      settings: Settings, strangers: Sequence[Path] = (),
                      progress: Callable[[int, int], None] | None = None
                      ) -> tuple[Calibration, dict[str, int]]:
    """Embed the largest face of every labeled photo and fit a calibration for ``models``
    (each alone, and fused as ``fusion_sets``, by default all of ``models`` together).

    ``strangers`` are folders of never-registered people, one photo per person (flat, like
    ``eval/strangers``): with them the fusions learn open-set, gallery-size-aware thresholds.
    Photos without a detectable face are skipped and counted. Returns the calibration and
    counts (``photos``, ``no_face``, ``people``, ``strangers``).
    """
    from findme.evaluation.datasets import strangers as stranger_photos
    from findme.faces.embed import embed_largest_faces

    items = labeled_photos(roots)
    extra = [p for folder in strangers for p in stranger_photos(Path(folder))]
    if strangers and len(extra) < 50:
        raise FileNotFoundError("the never-registered folders hold fewer than 50 photos: "
                                "the stranger tail needs more")
    paths = [p for p, _ in items] + extra
    vectors, has_face = embed_largest_faces(
        paths, models, settings,
        progress=(lambda done: progress(done, len(paths))) if progress else None)
    n = len(items)
    labels = [label for (_, label), ok in zip(items, has_face[:n], strict=True) if ok]
    arrays = {m: v[:n][has_face[:n]] for m, v in vectors.items()}
    unknown = {m: v[n:][has_face[n:]] for m, v in vectors.items()} if extra else None
    no_face = int((~has_face).sum())
    source = ", ".join(Path(r).name for r in roots) + f" ({len(labels)} photos)"
    if extra:
        source += " + never-registered " + ", ".join(Path(s).name for s in strangers) + \
            f" ({int(has_face[n:].sum())} photos)"
    calibration = calibrate_vectors(arrays, labels, source, fusion_sets or [tuple(models)],
                                    unknown)
    calibration = replace(calibration,
                          precision=precision_of(replace(settings, models=tuple(models))))
    return calibration, {"photos": len(items), "no_face": no_face, "people": len(set(labels)),
                         "strangers": int(has_face[n:].sum())}


def apply_thresholds(settings: Settings, scorer: str, match: float, possible: float,
                     actor: str, records: object | None = None) -> Calibration:
    """Set the thresholds of a fusion (``scorer`` = fusion key or ``fused``) or a single model in
    the deployment's calibration file, and audit who did it. Returns the new calibration."""
    if not -1.0 <= possible <= match <= 1.0:
        raise ValueError("thresholds must satisfy -1 <= possible <= match <= 1")
    current = load(settings)
    fusions = dict(current.fusions)
    models = dict(current.model_thresholds)
    key = fusion_key(settings.models) if scorer == "fused" else scorer
    new = Thresholds(match=float(match), possible=float(possible))
    if scorer == "fused":
        if key not in fusions:
            raise CalibrationMissing(f"no fusion {key} to change")
        f = fusions[key]
        fusions[key] = Fusion(f.models, f.weights, f.bias, new)
    elif scorer in models:
        models[scorer] = new
    else:
        raise ValueError(f"unknown scorer {scorer!r}")
    updated = Calibration(models, fusions, current.source + f"; thresholds of {key} set by "
                          f"{actor}", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          current.rates, current.recall, current.precision)
    save(updated, settings.calibration_path)
    if records is not None:
        records.audit(actor, "thresholds.apply", key,  # type: ignore[attr-defined]
                      f"match {match:.4f} possible {possible:.4f}")
    return updated
