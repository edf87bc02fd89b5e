"""What a deployment's own size means: FPIR and genuine recall as the gallery grows.

Protocol: the enrolled photos of a labeled set are registered as cases; the gallery is filled up
to each size N with one-photo cases (real never-registered photos while they last, then
synthetic people from :class:`~findme.evaluation.synthetic.SyntheticFaces`); then

* every genuine probe (a photo of an enrolled person, not itself enrolled) is searched: recall
  at ``match`` / ``possible`` = share whose top case is their own and reaches the decision;
* every stranger probe (a never-registered person, never used as filler) is searched: FPIR at
  ``match`` / ``possible`` = share whose top case reaches the decision, whoever it is.

Decisions use the fusion's thresholds for N registered faces, exactly as a live search does.
Vectors come in already embedded (``{model: (n, dim)}``), so sizes up to 100,000 run in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from findme.evaluation.synthetic import SyntheticFaces
from findme.search.calibration import Fusion

Vectors = dict[str, np.ndarray]


@dataclass(frozen=True)
class SizeRow:
    """Outcome at one gallery size (rates in [0, 1]; thresholds in fused-score space)."""

    size: int
    synthetic: int
    fpir_match: float
    fpir_possible: float
    recall_match: float
    recall_possible: float
    threshold_match: float
    threshold_possible: float

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items()}


def _logits(fusion: Fusion, probes: Vectors, gallery: Vectors) -> np.ndarray:
    z = np.full((len(next(iter(probes.values()))), len(next(iter(gallery.values())))),
                fusion.bias, dtype=np.float64)
    for w, m in zip(fusion.weights, fusion.models, strict=True):
        z += w * (probes[m].astype(np.float64) @ gallery[m].astype(np.float64).T)
    return z


def _top(fusion: Fusion, probes: Vectors, gallery: Vectors, owners: np.ndarray,
         chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Each probe's best case (owner label) and its fused score, over gallery chunks."""
    n = len(next(iter(probes.values())))
    best = np.full(n, -np.inf)
    who = np.full(n, "", dtype=object)
    total = len(owners)
    for start in range(0, total, chunk):
        part = {m: v[start:start + chunk] for m, v in gallery.items()}
        z = _logits(fusion, probes, part)
        k = z.argmax(axis=1)
        top = z[np.arange(n), k]
        better = top > best
        best[better] = top[better]
        who[better] = owners[start:start + chunk][k[better]]
    return who, 1.0 / (1.0 + np.exp(-np.clip(best, -60, 60)))


def by_gallery_size(fusion: Fusion, enrolled: Vectors, enrolled_labels: Sequence[str],
                    probes: Vectors, probe_labels: Sequence[str], strangers: Vectors,
                    sizes: Sequence[int], filler: Vectors | None = None,
                    synthetic_from: Vectors | None = None, seed: int = 0) -> list[SizeRow]:
    """Rates at each gallery size (see the module docstring).

    ``filler`` are real never-registered photos used first to fill the gallery (never the same
    people as ``strangers``); ``synthetic_from`` are real people a synthetic filler is learned
    from (default: ``filler``, else ``strangers``). Sizes below the number of enrolled photos
    are raised to it.
    """
    models = fusion.models
    labels = np.asarray(enrolled_labels, dtype=object)
    probe_labels = np.asarray(probe_labels, dtype=object)
    source = synthetic_from or filler or strangers
    gen = SyntheticFaces({m: source[m] for m in models}, seed,
                         score=lambda a, b: _logits(fusion, a, b))
    n_real = len(next(iter(filler.values()))) if filler else 0
    biggest = max(max(sizes) - len(labels) - n_real, 0)
    synth = gen.faces(biggest) if biggest else {m: np.zeros((0, enrolled[m].shape[1]),
                                                             np.float32) for m in models}
    rows = []
    for size in sorted(set(max(int(s), len(labels)) for s in sizes)):
        extra = size - len(labels)
        use_real = min(extra, n_real)
        use_synth = extra - use_real
        gallery = {m: np.concatenate([enrolled[m],
                                      filler[m][:use_real] if filler else enrolled[m][:0],
                                      synth[m][:use_synth]]) for m in models}
        owners = np.concatenate([labels, np.array([f"filler:{k}" for k in range(extra)],
                                                  dtype=object)])
        th = fusion.thresholds_for(size)
        who, score = _top(fusion, probes, gallery, owners)
        right = who == probe_labels
        _, s_score = _top(fusion, strangers, gallery, owners)
        rows.append(SizeRow(size, use_synth, float((s_score >= th.match).mean()),
                            float((s_score >= th.possible).mean()),
                            float((right & (score >= th.match)).mean()),
                            float((right & (score >= th.possible)).mean()),
                            th.match, th.possible))
    return rows
