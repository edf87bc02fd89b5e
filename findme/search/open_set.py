"""Open-set decisions: thresholds that keep their promise as the gallery grows.

A search compares a probe face with *every* registered face, so a person in no case gets N
chances to look like someone: if one comparison reaches a score with probability ``q``, the best
of N comparisons does with probability ``1 - (1 - q)^N``. ``match`` and ``possible`` are
therefore promises about searches, not comparisons (``FPIR``, the false-positive identification
rate): at ``match`` at most 1 in 1,000 searches for a stranger is answered with any case, at
``possible`` at most 1 in 10, whatever the number of registered faces.

:class:`StrangerTail` models how one stranger-vs-face fused score (the fusion's logit) is
distributed, learned from never-registered people compared with each other: the empirical body
of the distribution, and beyond its top 1% a generalized Pareto tail (extreme-value theory,
peaks over threshold, fitted by probability-weighted moments) so that per-comparison rates far
below what the calibration photos can show (1e-8 at 100,000 faces) are extrapolated, not
guessed. For a gallery of N faces the threshold is the score a single comparison reaches with
probability ``1 - (1 - FPIR)^(1/N)``. N counts registered faces, not cases: a case with several
photos gives a stranger several chances, so counting faces errs on the safe side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: FPIR promised at each decision
MATCH_FPIR = 0.001
POSSIBLE_FPIR = 0.1
#: the tail model starts at this upper quantile of the stranger scores
TAIL_FROM = 0.99


@dataclass(frozen=True)
class StrangerTail:
    """The distribution of one stranger-vs-face score ``z`` (higher = more alike).

    ``body`` holds ``(q, z)`` pairs: the score that a share ``q`` of stranger comparisons reach,
    for ``q`` from 0.5 down to ``p_u``; beyond ``u`` (reached by ``p_u``) a generalized Pareto
    tail with ``shape`` (``k`` in Hosking's sign: negative = heavy tail, positive = bounded) and
    ``scale``. ``pairs`` is how many comparisons it was learned from.
    """

    body: tuple[tuple[float, float], ...]
    u: float
    p_u: float
    shape: float
    scale: float
    pairs: int

    def exceed(self, z: float) -> float:
        """P(one stranger comparison scores >= z)."""
        if z >= self.u:
            y = z - self.u
            k, s = self.shape, self.scale
            if abs(k) < 1e-9:
                return self.p_u * math.exp(-y / s)
            base = 1.0 - k * y / s
            return 0.0 if base <= 0 else self.p_u * base ** (1.0 / k)
        qs = np.array([q for q, _ in self.body])
        zs = np.array([v for _, v in self.body])
        if z <= zs[0]:
            return float(qs[0])
        return float(np.interp(z, zs, qs))  # zs ascend as q descends

    def quantile(self, q: float) -> float:
        """The score one stranger comparison reaches with probability ``q``."""
        if q < self.p_u:
            r = q / self.p_u
            k, s = self.shape, self.scale
            return self.u + (s / k * (1.0 - r ** k) if abs(k) > 1e-9 else -s * math.log(r))
        qs = np.array([p for p, _ in self.body])[::-1]
        zs = np.array([v for _, v in self.body])[::-1]
        return float(np.interp(q, qs, zs))

    def threshold(self, n_faces: int, fpir: float) -> float:
        """The score at which at most ``fpir`` of strangers' searches against ``n_faces``
        registered faces reach any of them."""
        n = max(1, int(n_faces))
        q = -math.expm1(math.log1p(-fpir) / n)  # 1 - (1 - fpir)^(1/n), exact for tiny rates
        return self.quantile(q)

    def fpir(self, z: float, n_faces: int) -> float:
        """How often a stranger's best of ``n_faces`` comparisons reaches ``z`` (the "stranger
        chance" shown beside a lead)."""
        q = min(1.0, max(0.0, self.exceed(z)))
        return float(-math.expm1(max(1, int(n_faces)) * math.log1p(-min(q, 1 - 1e-16))))

    def to_json(self) -> dict:
        """JSON-friendly form."""
        return {"body": [[round(q, 6), round(z, 6)] for q, z in self.body], "u": self.u,
                "p_u": self.p_u, "shape": self.shape, "scale": self.scale, "pairs": self.pairs}

    @classmethod
    def from_json(cls, data: dict) -> StrangerTail:
        """Inverse of :meth:`to_json`."""
        return cls(tuple((float(q), float(z)) for q, z in data["body"]), float(data["u"]),
                   float(data["p_u"]), float(data["shape"]), float(data["scale"]),
                   int(data["pairs"]))


def fit_tail(scores: np.ndarray, tail_from: float = TAIL_FROM) -> StrangerTail:
    """Learn a :class:`StrangerTail` from stranger-vs-face scores (one per comparison of two
    different people; at least 1,000 needed, 10,000+ recommended).

    The body is the empirical distribution down to ``1 - tail_from``; the exceedances above that
    quantile get a generalized Pareto fit by probability-weighted moments (Hosking & Wallis
    1987), which is stable on a few hundred points.
    """
    z = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if len(z) < 1000:
        raise ValueError(f"the stranger tail needs at least 1,000 comparisons, got {len(z)}")
    p_u = 1.0 - tail_from
    u = float(np.quantile(z, tail_from))
    y = np.sort(z[z > u] - u)
    n = len(y)
    p = (np.arange(1, n + 1) - 0.35) / n
    a0 = float(y.mean())
    a1 = float(np.mean((1.0 - p) * y))
    k = a0 / (a0 - 2.0 * a1) - 2.0
    scale = 2.0 * a0 * a1 / (a0 - 2.0 * a1)
    qs = np.geomspace(0.5, p_u, 40)
    body = tuple((float(q), float(np.quantile(z, 1.0 - q))) for q in qs)
    return StrangerTail(body, u, p_u, float(k), float(scale), int(len(z)))
