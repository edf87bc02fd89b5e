"""Open-set decisions by gallery size, and what test-time flipping costs.

1. The 5-celebrity people (3 train photos each) are registered; the gallery is filled to each
   size with synthetic people learned from ``eval/strangers``; the 25 val photos search as
   genuine probes and the 305 ``eval/distractors`` portraits as people in no case. Printed:
   strangers reaching ``possible`` / ``match`` (FPIR; promised at most 10% / 0.1%) and genuine
   recall, mean of three synthetic draws, for the configured models.
2. A warm photo search (detect + embed + search, 30 registered faces), with and without the
   mirrored copy (``FINDME_FLIP``), timed interleaved in the same run: the ratio is the cost.

Usage: .venv/bin/python bench/open_set.py [--sizes 100,1000,10000,100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from findme.cases.records import CaseDetails
from findme.cases.registry import EnrollmentRejected, PhotoInput, enroll_case
from findme.config import get_settings
from findme.evaluation.datasets import identities, strangers
from findme.evaluation.gallery_size import by_gallery_size
from findme.faces.embed import embed_largest_faces
from findme.faces.image import load_image
from findme.search import calibration
from findme.workspace import open_workspace


def rates(sizes: list[int]) -> None:
    """Part 1: the table by gallery size."""
    settings = get_settings()
    fusion = calibration.load(settings).fusion(settings.models)
    models = list(fusion.models)
    ev = settings.eval_dir

    def embed(paths: list[Path]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        v, ok = embed_largest_faces(paths, models, settings)
        return {m: v[m][ok] for m in models}, ok

    enrolled_items = [(p, n) for n, ps in identities(ev / "celeb5" / "train").items()
                      for p in ps[:3]]
    probe_items = [(p, n) for n, ps in identities(ev / "celeb5" / "val").items() for p in ps]
    enrolled, ok_e = embed([p for p, _ in enrolled_items])
    probes, ok_p = embed([p for p, _ in probe_items])
    unknown, _ = embed(strangers(ev / "distractors"))
    teach, _ = embed(strangers(ev / "strangers"))
    runs = [by_gallery_size(fusion, enrolled, np.array([n for _, n in enrolled_items])[ok_e],
                            probes, np.array([n for _, n in probe_items])[ok_p], unknown, sizes,
                            synthetic_from=teach, seed=seed) for seed in (1, 2, 3)]
    print(f"models {'+'.join(models)}; {len(next(iter(unknown.values())))} people in no case\n")
    print(f"{'faces':>8} {'strangers possible':>19} {'strangers match':>16} "
          f"{'genuine possible':>17} {'genuine match':>14}")
    for k, size in enumerate(runs[0]):
        mean = {key: float(np.mean([getattr(r[k], key) for r in runs]))
                for key in ("fpir_possible", "fpir_match", "recall_possible", "recall_match")}
        print(f"{size.size:>8,} {mean['fpir_possible']:>19.1%} {mean['fpir_match']:>16.2%} "
              f"{mean['recall_possible']:>17.0%} {mean['recall_match']:>14.0%}")


def flip_cost(repeats: int = 15) -> None:
    """Part 2: a warm search with and without the mirrored copy, interleaved."""
    base = get_settings()
    spaces = {}
    for flip in (False, True):
        tmp = Path(tempfile.mkdtemp(prefix="findme-bench-"))
        (tmp / "weights").symlink_to(base.weights_dir)
        s = replace(base, data_dir=tmp, flip=flip)
        ws = open_workspace(s)
        for p in strangers(base.eval_dir / "distractors")[:30]:
            try:
                enroll_case(CaseDetails(p.stem, consent_recorded=True),
                            [PhotoInput(p.name, p.read_bytes())], ws.records, ws.store, s)
            except EnrollmentRejected:
                pass
        spaces[flip] = ws
    image = load_image(identities(base.eval_dir / "celeb5" / "val")["madonna"][0], base)
    times: dict[bool, list[float]] = {False: [], True: []}
    for ws in spaces.values():
        ws.matcher.search_image(image)  # warm
    for _ in range(repeats):
        for flip, ws in spaces.items():
            t = time.perf_counter()
            ws.matcher.search_image(image)
            times[flip].append(time.perf_counter() - t)
    plain, flipped = (statistics.median(times[f]) * 1000 for f in (False, True))
    print(f"\nwarm photo search: {plain:.0f} ms plain, {flipped:.0f} ms with the mirrored copy "
          f"(median of {repeats}; cost {flipped / plain:.2f}x)")
    for ws in spaces.values():
        ws.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    args = ap.parse_args()
    rates([int(s) for s in args.sizes.split(",")])
    flip_cost()


if __name__ == "__main__":
    main()
