"""Synthetic people for large galleries: embeddings that look, to every model, like real faces.

Public photo sets hold hundreds of people; a deployment may register 100,000 faces. To see what
a gallery of that size does to strangers' searches, :class:`SyntheticFaces` draws identities from
a Gaussian fitted to real embeddings of different people, all models at once (the models'
vectors are concatenated, so a synthetic person who looks like someone to FaceNet also tends to
look like them to the ArcFace model, as real lookalikes do). The Gaussian is learned on half of
the real people and its spread tuned against the other half, so that synthetic people's scores
to real people reach as high as real people's scores to each other (their 99.9th percentile):
lookalikes are what a large gallery adds, so the tail is what must match. The same idea backs
``bench/search.py`` (one model, for speed and recall).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

TAIL_Q = 0.999


Score = Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], np.ndarray]


def mean_cosine(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> np.ndarray:
    """Pairwise score of two sets of faces: the models' cosines averaged."""
    return np.mean([a[m] @ b[m].T for m in a], axis=0)


class SyntheticFaces:
    """Draws synthetic one-photo identities, per model unit vectors, like ``real``'s people.

    ``real`` maps model id to ``(n, dim)`` unit vectors of ``n`` different people (one photo
    each, e.g. the never-registered portraits); at least 50. ``score`` compares two sets of
    faces (default: the models' mean cosine; a fusion's score makes the synthetic people look
    alike to real ones exactly where decisions are taken).
    """

    def __init__(self, real: dict[str, np.ndarray], seed: int = 0,
                 score: Score = mean_cosine) -> None:
        self.models: Sequence[str] = tuple(real)
        n = len(next(iter(real.values())))
        if n < 50:
            raise ValueError("synthetic faces need at least 50 real people to learn from")
        self.dims = [real[m].shape[1] for m in self.models]
        self.rng = np.random.default_rng(seed)
        # learn the Gaussian on one half of the people and tune it against the other half: a
        # Gaussian of a few hundred people otherwise draws faces that resemble exactly those
        # people, and looks too little like anyone new
        order = self.rng.permutation(n)
        learn, check = order[: n // 2], order[n // 2:]
        x = np.concatenate([real[m][learn] for m in self.models], axis=1).astype(np.float64)
        self.mu = x.mean(axis=0)
        cov = np.cov(x.T)
        self.chol = np.linalg.cholesky(cov + 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov)))
        self.real = {m: real[m][check] for m in self.models}
        self.score = score
        # scores synthetic people should reach with real ones: as high as real people reach
        # with each other, in the upper tail that decides who looks like whom
        self.target = float(np.quantile(score({m: real[m][learn] for m in self.models},
                                              self.real), TAIL_Q))
        probe = self.rng.standard_normal((max(400, 400_000 // len(check)), len(self.mu)))
        lo, hi = 0.2, 3.0
        for _ in range(18):  # the tail of the scores falls as the spread grows
            self.spread = (lo + hi) / 2
            got = float(np.quantile(score(self._draw(probe), self.real), TAIL_Q))
            lo, hi = (self.spread, hi) if got > self.target else (lo, self.spread)
        self.spread = (lo + hi) / 2

    def faces(self, n: int) -> dict[str, np.ndarray]:
        """``n`` synthetic people, one unit vector per model each (float32)."""
        return self._draw(self.rng.standard_normal((n, len(self.mu))))

    def _draw(self, z: np.ndarray) -> dict[str, np.ndarray]:
        x = self.mu + self.spread * (z @ self.chol.T)
        out, start = {}, 0
        for m, d in zip(self.models, self.dims, strict=True):
            v = x[:, start:start + d]
            out[m] = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
            start += d
        return out
