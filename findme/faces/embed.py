"""Embedding faces: batched, L2-normalised vectors per model, and the whole chain at once.

Plain verbs::

    image = load_image(path_or_bytes, settings)          # findme.faces.image
    faces = detect(image, settings)                      # findme.faces.detect
    report = assess(image, faces[0], settings)           # findme.faces.quality
    chip = align(image, faces[0], "facenet")             # findme.faces.align
    vectors = embed([chip], "facenet", settings)         # here: (n, dim), L2-normalised
    items = represent(image, ["facenet"], settings)      # all of it, every face
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from findme.config import Settings
from findme.faces.align import align
from findme.faces.detect import Face, detect
from findme.faces.image import load_image
from findme.faces.models import embedder, spec
from findme.faces.quality import Quality, assess


def embed(chips: Sequence[np.ndarray], model: str, settings: Settings,
          batch_size: int = 32) -> np.ndarray:
    """Embed aligned crops from :func:`align` for one model, in batches.

    With ``Settings.flip`` (``FINDME_FLIP``, on by default) each crop and its mirror image are
    embedded and their vectors averaged (test-time augmentation: measured to lift degraded
    genuine photos and lower strangers, at twice the model time; the calibration is learned the
    same way). Returns an ``(n, dim)`` float32 array of L2-normalised vectors (``(0, dim)`` for
    no input). Raises :class:`ModelUnavailable` when the model's weights are not provisioned.
    """
    cfg = settings
    s = spec(model)
    if len(chips) == 0:
        return np.zeros((0, s.dim), dtype=np.float32)
    run = embedder(model, cfg)
    batch = np.stack([np.asarray(c, dtype=np.uint8) for c in chips])
    if batch.shape[1:] != (s.size, s.size, 3):
        raise ValueError(f"{model} expects aligned {s.size}x{s.size} RGB crops from align(), "
                         f"got {batch.shape[1:]}")
    if cfg.flip:  # one batch of originals and mirrors: the mirror's vector joins its original's
        batch = np.concatenate([batch, batch[:, :, ::-1]])
    parts = [run(batch[i:i + batch_size]) for i in range(0, len(batch), batch_size)]
    vectors = np.concatenate(parts).astype(np.float32)
    if cfg.flip:
        n = len(vectors) // 2
        vectors = vectors[:n] / np.maximum(np.linalg.norm(vectors[:n], axis=1, keepdims=True),
                                           1e-12) + vectors[n:] / np.maximum(
            np.linalg.norm(vectors[n:], axis=1, keepdims=True), 1e-12)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# ----------------------------------------------------------------------------- all at once


@dataclass(frozen=True)
class FaceEmbedding:
    """One face of a photo with its quality report and one vector per model."""

    face: Face
    quality: Quality
    vectors: dict[str, np.ndarray]


def represent(image: np.ndarray, models: Sequence[str] | None,
              settings: Settings) -> list[FaceEmbedding]:
    """Detect, assess, align and embed every face of an RGB image, largest face first.

    ``models`` defaults to ``Settings.models``. Faces of every quality are returned (each with
    its :class:`Quality`); callers decide what to keep. Each model runs once, batched over faces.
    """
    cfg = settings
    models = list(models or cfg.models)
    faces = detect(image, cfg)
    per_model = {m: embed([align(image, f, m) for f in faces], m, cfg) for m in models}
    return [FaceEmbedding(f, assess(image, f, cfg), {m: per_model[m][i] for m in models})
            for i, f in enumerate(faces)]


def embed_largest_faces(paths: Sequence[str | Path], models: Sequence[str],
                        settings: Settings,
                        transform: Callable[[np.ndarray, list[Face]], np.ndarray] | None = None,
                        progress: Callable[[int], None] | None = None
                        ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The largest face of each photo file, embedded with each model.

    Returns ``({model: (n, dim) vectors}, has_face)``; a photo without a detectable face keeps
    a zero row and ``has_face[i] = False`` so callers count it rather than lose it.
    ``transform(image, faces)`` may alter each image first (e.g. degrade it on purpose);
    ``progress(done)`` is called after each photo.
    """
    cfg = settings
    vectors = {m: np.zeros((len(paths), spec(m).dim), np.float32) for m in models}
    has_face = np.zeros(len(paths), bool)
    for k, path in enumerate(paths):
        image = load_image(path, cfg)
        if transform is not None:
            image = transform(image, detect(image, cfg))
        found = represent(image, models, cfg)
        if found:
            has_face[k] = True
            for m in models:
                vectors[m][k] = found[0].vectors[m]
        if progress:
            progress(k + 1)
    return vectors, has_face
