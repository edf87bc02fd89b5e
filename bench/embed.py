"""Embedding throughput and photo latency, against DeepFace.represent measured in the same run.

Prints, per model: faces/second of ``findme.embed`` at batch 1, 8 and 32, and of
``DeepFace.represent`` (detector ``skip``, one face per call, the usual way it is called) on the
same aligned faces, with the ratio, and what ran each model (``arcface-mbf`` runs on OpenVINO
unless ``FINDME_INFERENCE=tensorflow``; its DeepFace baseline is the same graph on TensorFlow,
registered as a DeepFace model the way the offline-weights recipe does). Then the warm latency
of one photo (detect + assess + align + embed with both default models) against
DeepFace.represent doing detect + embed for the same models. Targets (issue 2): batched >= 3x
DeepFace.represent, warm photo < 400 ms on 2 cores.

Usage: .venv/bin/python bench/embed.py [--faces 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from findme.config import get_settings
from findme.evaluation.datasets import identities
from findme.faces.align import align
from findme.faces.detect import detect
from findme.faces.embed import embed, represent
from findme.faces.image import load_image
from findme.faces.loading import native_stderr_silenced
from findme.faces.models import MODELS, embedder, inference_engine

DEEPFACE_NAME = {"facenet": "Facenet", "facenet512": "Facenet512", "arcface-mbf": "FindMeMBF",
                 "dlib": "Dlib"}
DEEPFACE_NORM = {"facenet": "Facenet", "facenet512": "Facenet2018"}


def _register_mobilefacenet_in_deepface() -> None:
    """Make the provisioned MobileFaceNet callable through DeepFace.represent (baseline only)."""
    import sys

    from deepface.models.FacialRecognition import FacialRecognition
    from deepface.modules import modeling

    class FindMeMBFClient(FacialRecognition):
        def __init__(self) -> None:
            settings = replace(get_settings(), inference="tensorflow")
            self.inner = embedder("arcface-mbf", settings)
            self.model_name, self.input_shape, self.output_shape = "FindMeMBF", (112, 112), 192

        def forward(self, img: np.ndarray) -> list:
            x = (img[..., ::-1] * 255.0).astype(np.float32)  # DeepFace gives BGR in [0, 1]
            out = self.inner(x if x.ndim == 4 else x[None])
            return out[0].tolist() if out.shape[0] == 1 else out.tolist()

    sys.modules[__name__].FindMeMBFClient = FindMeMBFClient  # importable by DeepFace's registry
    modeling.AVAILABLE_MODELS["facial_recognition"]["FindMeMBF"] = {
        modeling.ANY: f"{__name__}.FindMeMBFClient"}


def _represent_each(deepface: object, faces: list[np.ndarray], kw: dict) -> None:
    """The baseline: one DeepFace.represent call per face."""
    for face in faces:
        deepface.represent(face, **kw)  # type: ignore[attr-defined]


def _best(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    settings = get_settings()
    with native_stderr_silenced():
        from deepface import DeepFace
    _register_mobilefacenet_in_deepface()

    photos = [p for ps in identities(settings.eval_dir / "celeb5" / "train").values() for p in ps]
    images, faces = [], []
    for p in photos:
        img = load_image(p, settings)
        found = detect(img, settings)
        if found:
            images.append(img)
            faces.append(found[0])
        if len(faces) == args.faces:
            break
    models = [m for m in ("facenet", "arcface-mbf", "facenet512", "dlib")
              if (settings.model_dir / MODELS[m].weight_file).is_file()]
    print(f"{len(faces)} real faces from the 5-celebrity set, best of {args.repeats} runs\n")
    print(f"{'model':12s} {'b=1':>8s} {'b=8':>8s} {'b=32':>8s} {'DeepFace':>9s} "
          f"{'b=32 / DeepFace':>16s}  engine   (faces/s)")
    for model in models:
        chips = [align(i, f, model) for i, f in zip(images, faces, strict=True)]
        embed(chips[:8], model, settings)  # warm: load weights, trace
        rates = {}
        for bs in (1, 8, 32):
            embed(chips[:bs], model, settings, batch_size=bs)
            rates[bs] = len(chips) / _best(
                functools.partial(embed, chips, model, settings, batch_size=bs), args.repeats)
        bgr = [c[..., ::-1].copy() for c in chips]
        kw = {"model_name": DEEPFACE_NAME[model], "detector_backend": "skip",
              "enforce_detection": False, "normalization": DEEPFACE_NORM.get(model, "base")}
        with native_stderr_silenced():
            DeepFace.represent(bgr[0], **kw)
        base = len(bgr) / _best(functools.partial(_represent_each, DeepFace, bgr, kw),
                                args.repeats)
        print(f"{model:12s} {rates[1]:8.1f} {rates[8]:8.1f} {rates[32]:8.1f} {base:9.1f} "
              f"{rates[32] / base:15.1f}x  {inference_engine(model, settings)}")

    photo = images[1]
    defaults = list(settings.models)
    represent(photo, defaults, settings)
    ours = []
    for _ in range(10):
        t = time.perf_counter()
        represent(photo, defaults, settings)
        ours.append(time.perf_counter() - t)
    bgr_photo = photo[..., ::-1].copy()

    def deepface_photo() -> None:
        for m in defaults:
            DeepFace.represent(bgr_photo, model_name=DEEPFACE_NAME[m],
                               detector_backend="centerface", enforce_detection=False,
                               normalization=DEEPFACE_NORM.get(m, "base"), align=True)

    with native_stderr_silenced():
        deepface_photo()
    theirs = []
    for _ in range(5):
        t = time.perf_counter()
        deepface_photo()
        theirs.append(time.perf_counter() - t)
    ms, base_ms = 1000 * statistics.median(ours), 1000 * statistics.median(theirs)
    h, w = photo.shape[:2]
    print(f"\nwarm photo {w}x{h}, one face, detect + {' + '.join(defaults)}: "
          f"{ms:.0f} ms median (target < 400 ms); DeepFace.represent same models "
          f"(centerface): {base_ms:.0f} ms -> {base_ms / ms:.1f}x faster")


if __name__ == "__main__":
    main()
