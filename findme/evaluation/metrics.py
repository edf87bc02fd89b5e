"""Score metrics, in one place: ROC / DET / CMC curves, AUC, EER, confusion counts, bootstrap
intervals and the small exact helpers used by tests and benchmarks.

Scores are similarities: higher means "more likely the same person".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CMC_RANKS = 10
BOOTSTRAP = 200


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


def roc_curve(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """``(far, tar, thresholds)`` for every distinct score, thresholds descending (score >= t
    accepts). Starts at (0, 0) and ends at (1, 1)."""
    g = np.sort(np.asarray(genuine, np.float64))
    i = np.sort(np.asarray(impostor, np.float64))
    t = np.unique(np.concatenate([g, i]))[::-1]
    tar = 1.0 - np.searchsorted(g, t, side="left") / max(len(g), 1)
    far = 1.0 - np.searchsorted(i, t, side="left") / max(len(i), 1)
    return (np.r_[0.0, far, 1.0], np.r_[0.0, tar, 1.0], np.r_[np.inf, t, -np.inf])


def auc(far: np.ndarray, tar: np.ndarray) -> float:
    """Area under a ROC curve by the trapezoid rule."""
    return float(np.trapezoid(tar, far))


def eer(far: np.ndarray, tar: np.ndarray) -> float:
    """Equal error rate: where false accepts equal false rejects (interpolated)."""
    frr = 1.0 - tar
    diff = far - frr
    k = int(np.nonzero(diff >= 0)[0][0])
    if k == 0 or diff[k] == 0:
        return float(far[k])
    a, b = diff[k - 1], diff[k]
    w = a / (a - b)
    return float(far[k - 1] + w * (far[k] - far[k - 1]))


def tar_at_far(far: np.ndarray, tar: np.ndarray, target: float) -> float:
    """Best true-accept rate with a false-accept rate at most ``target``."""
    ok = far <= target
    return float(tar[ok].max()) if ok.any() else 0.0


def cmc(ranks: np.ndarray, max_rank: int = CMC_RANKS) -> np.ndarray:
    """Cumulative match characteristic: share of probes whose mate is within rank r (1-based;
    rank 0 means never found), for r = 1..max_rank."""
    ranks = np.asarray(ranks)
    return np.array([float(((ranks >= 1) & (ranks <= r)).mean()) for r in range(1, max_rank + 1)])


def det_curve(mated_top_correct: np.ndarray, mated_scores: np.ndarray,
              nonmated_top: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open-set ``(fpir, fnir, thresholds)``.

    FNIR(t): share of mated probes whose own person is not the top answer with score >= t.
    FPIR(t): share of never-enrolled probes whose top score >= t.
    """
    t = np.unique(np.concatenate([mated_scores, nonmated_top]))[::-1]
    hit = mated_top_correct.astype(bool)
    fnir = np.array([1.0 - float((hit & (mated_scores >= x)).mean()) for x in t])
    fpir = np.array([float((nonmated_top >= x).mean()) for x in t])
    return fpir, fnir, t


def confusion(mated_top_correct: np.ndarray, mated_top: np.ndarray, nonmated_top: np.ndarray,
              threshold: float) -> dict[str, float]:
    """Counts and rates when a search alerts if its top score >= threshold.

    TP: a registered person's probe whose top answer is that person, alerted. FP: an alert on a
    stranger, or on the wrong person. FN: a registered person's probe not correctly alerted.
    TN: a stranger not alerted.
    """
    alert_m = mated_top >= threshold
    tp = int((alert_m & mated_top_correct).sum())
    fp = int((alert_m & ~mated_top_correct).sum() + (nonmated_top >= threshold).sum())
    fn = int(len(mated_top) - tp)
    tn = int((nonmated_top < threshold).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = tp + fp + fn + tn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
            "f1": f1, "accuracy": (tp + tn) / total if total else 0.0, "threshold": threshold}


def bootstrap_ci(values: np.ndarray, stat: Callable[[np.ndarray], float],
                 reps: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of ``stat`` over resampled rows of ``values``."""
    values = np.asarray(values)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = [stat(values[rng.integers(0, len(values), len(values))]) for _ in range(reps)]
    return (float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5)))


def _binomial_pmf(n: int, rate: float) -> list[float]:
    from math import comb

    return [comb(n, k) * rate ** k * (1.0 - rate) ** (n - k) for k in range(n + 1)]


def most_consistent_with(n: int, rate: float, alpha: float = 1e-3) -> int:
    """The largest count of ``n`` independent trials that a true ``rate`` makes likely: the
    smallest ``k`` with P(count > k) <= ``alpha`` (binomial). A promise "at most ``rate``" is
    broken, at that confidence, only by a count above it; e.g. a 10% stranger rate on 105
    searches: 21 (at ``alpha`` 0.001), while the point estimate is 10.5."""
    if n < 0 or not 0.0 <= rate <= 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError("need n >= 0, 0 <= rate <= 1 and 0 < alpha < 1")
    pmf = _binomial_pmf(n, rate)
    tail = 0.0
    for k in range(n, -1, -1):  # tail = P(count > k - 1) as k falls
        if tail + pmf[k] > alpha:
            return k
        tail += pmf[k]
    return 0


def fewest_consistent_with(n: int, rate: float, alpha: float = 1e-3) -> int:
    """The smallest count of ``n`` trials that a true ``rate`` makes likely: the largest ``k``
    with P(count < k) <= ``alpha``. A promise "at least ``rate``" is broken only by fewer."""
    if n < 0 or not 0.0 <= rate <= 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError("need n >= 0, 0 <= rate <= 1 and 0 < alpha < 1")
    return n - most_consistent_with(n, 1.0 - rate, alpha)
