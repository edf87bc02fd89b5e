"""Video speed: processing as a multiple of real time, against naive baselines in the same run.

A 720p, 25 fps scene made from real photos (5-celebrity ``val``) with 1 to 4 faces in every frame
(people arrive and leave; two of them are enrolled from their ``train`` photos) is scanned at
sampling 2, 5 and 10 fps:

* **findme**: :func:`findme.video.scan` (detect every sampled frame, track, embed a track's best
  faces only, search, fuse);
* **naive, ours without tracking**: detect + embed + search every face of every sampled frame
  (``Matcher.search_image`` per frame);
* **naive, DeepFace.find**: ``DeepFace.find`` per sampled frame (Facenet, CenterFace detector)
  against a folder of the enrolled photos; timed on the first frames only (it is slow), its
  per-frame cost does not depend on the sampling rate.

Speed = seconds of video / seconds of wall time (>= 1 keeps up with a live camera). Targets
(issue 5): >= 1x real time at 5 fps sampling on 2 cores, >= 5x faster than the naive baseline.
Models are loaded before any timing. Run: ``make bench`` or ``.venv/bin/python bench/video.py``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, enroll_case
from findme.config import get_settings
from findme.evaluation.datasets import identities
from findme.faces.loading import native_stderr_silenced
from findme.video import processor as video
from findme.video import samples as sv
from findme.video.frames import FrameReport
from findme.video.frames import frames as read_frames
from findme.workspace import open_workspace

ENROLLED = ("ben_afflek", "madonna")


def scene(val: dict[str, list[Path]], duration: float) -> list[sv.Appearance]:
    """1-4 people at any time: two stay, two come and go (times chosen for that)."""
    people = sorted(val)
    return [
        sv.Appearance(val[people[0]][0], 0.0, duration, 0.03, 0.25, 260, 8),
        sv.Appearance(val[people[1]][0], 0.3 * duration, 0.8 * duration, 0.27, 0.1, 240, 10),
        sv.Appearance(val[people[2]][0], 0.1 * duration, 0.55 * duration, 0.52, 0.35, 220, 6),
        sv.Appearance(val[people[3]][0], 0.5 * duration, duration, 0.74, 0.15, 250, -8),
    ]


def faces_per_frame(apps: list[sv.Appearance], duration: float) -> tuple[int, int]:
    counts = [sum(a.start_s <= t / 10 < a.end_s for a in apps) for t in range(int(duration * 10))]
    return min(counts), max(counts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the test video")
    ap.add_argument("--deepface-frames", type=int, default=12,
                    help="sampled frames DeepFace.find is timed on")
    args = ap.parse_args()
    settings = get_settings()
    celeb = settings.eval_dir / "celeb5"
    train, val = identities(celeb / "train"), identities(celeb / "val")
    tmp = Path(tempfile.mkdtemp(prefix="findme-bench-video-"))
    try:
        apps = scene(val, args.seconds)
        clip = sv.write(tmp / "scene.mp4", apps, args.seconds, 25, (1280, 720))
        lo, hi = faces_per_frame(apps, args.seconds)
        data = tmp / "data"
        data.mkdir()
        (data / "weights").symlink_to(settings.weights_dir)
        ws_settings = replace(settings, data_dir=data)
        db = tmp / "db"
        with open_workspace(ws_settings) as ws:
            for person in ENROLLED:
                enroll_case(CaseDetails(person, consent_recorded=True),
                            [PhotoInput(p.name, p.read_bytes()) for p in train[person][1:4]],
                            ws.records, ws.store, ws_settings)
                shutil.copytree(train[person][0].parent, db / person)
            first = next(read_frames(clip, 1.0, FrameReport()))[1]
            ws.matcher.search_image(first)  # load every model before timing
            print(f"720p 25 fps, {args.seconds:g} s, {lo}-{hi} faces per frame, "
                  f"{len(ENROLLED)} of them enrolled; models {', '.join(settings.models)}; "
                  f"{cv2.getNumThreads()} OpenCV threads\n")
            print(f"{'sampling':>9s} {'findme':>10s} {'naive':>10s} {'findme/naive':>13s} "
                  f"{'DeepFace.find':>14s} {'findme/DF':>10s}  (x real time)")
            df_speed = deepface_speed(clip, db, args.deepface_frames)
            for fps in (2, 5, 10):
                every = 1 / fps
                start = time.perf_counter()
                result = video.scan(clip, ws.matcher, ws_settings, every)
                ours = args.seconds / (time.perf_counter() - start)
                found = sorted({s.name for s in result.sightings})
                start = time.perf_counter()
                for _, frame in read_frames(clip, every, FrameReport()):
                    ws.matcher.search_image(frame)
                naive = args.seconds / (time.perf_counter() - start)
                df = df_speed / fps
                print(f"{fps:>6d}fps {ours:>9.2f}x {naive:>9.2f}x {ours / naive:>12.1f}x "
                      f"{df:>13.3f}x {ours / df:>9.1f}x   found {found}, "
                      f"{result.faces_embedded} of {result.faces_seen} faces embedded; "
                      f"detector on frames: {result.detection}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def deepface_speed(clip: Path, db: Path, n: int) -> float:
    """Sampled frames DeepFace.find handles per second of wall time (one call per frame)."""
    with native_stderr_silenced():
        from deepface import DeepFace
    kw = {"db_path": str(db), "model_name": "Facenet", "detector_backend": "centerface",
          "enforce_detection": False, "silent": True, "normalization": "Facenet"}
    frames = [f[..., ::-1].copy() for _, (_, f) in zip(range(n + 1), read_frames(
        clip, 0.5, FrameReport()), strict=False)]
    with native_stderr_silenced():
        DeepFace.find(img_path=frames[0], **kw)  # builds its representation file
        start = time.perf_counter()
        for f in frames[1:]:
            DeepFace.find(img_path=f, **kw)
    return (len(frames) - 1) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
