"""Small, exact score metrics used by tests, benchmarks and evaluation.

Scores are similarities: higher means "more likely the same person".
"""

from __future__ import annotations

import numpy as np


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Area under the ROC curve: P(genuine score > impostor score), ties counted half.

    Computed exactly from ranks (Mann-Whitney U). Both inputs must be non-empty 1-d arrays.
    """
    g = np.asarray(genuine, dtype=np.float64).ravel()
    i = np.asarray(impostor, dtype=np.float64).ravel()
    if g.size == 0 or i.size == 0:
        raise ValueError("roc_auc needs at least one genuine and one impostor score")
    values = np.concatenate([g, i])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    # average rank of each distinct value (1-based)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u = ranks[: g.size].sum() - g.size * (g.size + 1) / 2.0
    return float(u / (g.size * i.size))


def pair_scores(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of all unordered pairs, split into (same person, different people).

    ``vectors`` are L2-normalised rows; ``labels`` name each row's person.
    """
    sims = vectors @ vectors.T
    iu = np.triu_indices(len(labels), 1)
    lab = np.asarray(labels)
    same = (lab[:, None] == lab[None, :])[iu]
    scores = sims[iu]
    return scores[same], scores[~same]


def rank1(gallery: np.ndarray, gallery_labels: list[str], probes: np.ndarray,
          probe_labels: list[str]) -> float:
    """Share of probes whose most similar gallery face belongs to the same person."""
    if len(probe_labels) == 0:
        raise ValueError("rank1 needs at least one probe")
    best = (probes @ gallery.T).argmax(axis=1)
    hits = [gallery_labels[j] == probe_labels[k] for k, j in enumerate(best)]
    return float(np.mean(hits))
