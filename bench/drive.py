"""A cross-matching drive at scale: 10,000 found faces against 100,000 missing faces.

Faces are synthetic, drawn per model to look like the real embeddings of the public labeled
photos (``FaceLike`` from ``bench/search.py``, one generator per model, the same identity index
across models): missing cases hold 4 faces each, found records 2; a share of the found records
(``--overlap``) are missing children (fresh faces of a missing case's identity), the rest
strangers. Cases, photos and vectors go into a real workspace (SQLite + embedded Chroma with the
configured HNSW settings), as registration leaves them. Measured in the same run:

* **the drive**: :func:`findme.cases.crossleads.crossmatch` (``stored_faces`` + ``search_side``
  in batches through the vector store, then the leads), in a fresh process so its peak memory
  (``VmHWM``, as ``tests/memory.py`` reads it) is the drive's own; its search time ends at the
  last progress call, the rest is making leads;
* **exact numpy all-pairs** (baseline for recall): every found face against every missing face,
  per-model cosines fused with the deployment's calibration; the record pairs at ``possible`` or
  better (thresholds for the missing side's face count) and each found record's exact top-1.
  Pair recall = share of those the drive reported;
* **today's path, one record at a time** (baseline for speed): per found record, one matcher
  search of its stored vectors (``Matcher.match_faces``, the photo-search path) and one
  ``search_side`` of that record alone (the save-time path), timed on a sample of records and
  **extrapolated** to all of them;
* **DeepFace.find** per found photo on a small real sample (celeb5 val against a folder of real
  photos: celeb5 train + the never-registered portraits), **extrapolated** to every found face
  (a lower bound: its cost per photo grows with the folder).

Targets (issue 21): pair recall >= 0.999 at ``possible``, the drive >= 5x faster than one matcher
search per found record, peak memory < 4 GB.

Usage: .venv/bin/python bench/drive.py [--found 10000] [--missing 100000] [--overlap 0.1]
       [--sample 200] [--keep DIR] [--seed 0] [--skip-find]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from findme.cases.records import open_records
from findme.cases.tables import Case, Photo
from findme.config import Settings, get_settings
from findme.faces.embed import embed_largest_faces
from findme.search import calibration
from findme.search.matcher import Matcher
from findme.search.store import open_store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.search import FaceLike  # noqa: E402  (bench/search.py: faces like real ones)
from tests.memory import peak_grown, peak_reset  # noqa: E402  (VmHWM, reset at start)

MISSING_PER_CASE = 4
FOUND_PER_RECORD = 2
GB = 1024 ** 3


@dataclass(frozen=True)
class Population:
    """Synthetic registries: ``{model: (n, dim)}`` faces of each side, each face's record index
    on its side, and for each found record the missing case index it is (-1: a stranger)."""

    missing: dict[str, np.ndarray]
    missing_owner: np.ndarray
    found: dict[str, np.ndarray]
    found_owner: np.ndarray
    found_is: np.ndarray


def real_embeddings(models: tuple[str, ...], settings: Settings, keep: Path | None = None
                    ) -> tuple[dict[str, np.ndarray], list[str]]:
    """``({model: vectors}, labels)`` of every public labeled photo with a face (largest);
    kept under ``keep`` (when given) and read from there in later runs."""
    cache = keep / f"real-{'+'.join(models)}.npz" if keep else None
    if cache is not None and cache.exists():
        got = np.load(cache)
        return {m: got[m] for m in models}, [str(x) for x in got["labels"]]
    items = calibration.labeled_photos([settings.eval_dir / "orl", settings.eval_dir / "celeb5"])
    vectors, has_face = embed_largest_faces([p for p, _ in items], list(models), settings)
    labels = [lbl for (_, lbl), ok in zip(items, has_face, strict=True) if ok]
    real = {m: v[has_face] for m, v in vectors.items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, labels=np.array(labels), **real)
    return real, labels


def draw(real: dict[str, np.ndarray], labels: list[str], n_missing: int, n_found: int,
         overlap: float, seed: int) -> Population:
    """Draw ``n_missing`` missing faces (4 a case) and ``n_found`` found faces (2 a record),
    ``overlap`` of the found records being missing children; one generator per model."""
    n_cases, n_records = n_missing // MISSING_PER_CASE, n_found // FOUND_PER_RECORD
    rng = np.random.default_rng(seed)
    n_same = int(round(overlap * n_records))
    found_is = np.full(n_records, -1)
    found_is[rng.choice(n_records, n_same, replace=False)] = rng.choice(n_cases, n_same,
                                                                       replace=False)
    missing, found = {}, {}
    for k, (model, vectors) in enumerate(sorted(real.items())):
        gen = FaceLike(vectors, labels, seed=seed * 100 + k)
        centres = gen.identities(n_cases)
        strangers = gen.identities(n_records)
        missing[model] = np.concatenate([gen.faces(centres) for _ in range(MISSING_PER_CASE)])
        who = np.where(found_is[:, None] >= 0, centres[np.maximum(found_is, 0)], strangers)
        found[model] = np.concatenate([gen.faces(who) for _ in range(FOUND_PER_RECORD)])
    return Population(missing, np.tile(np.arange(n_cases), MISSING_PER_CASE), found,
                      np.tile(np.arange(n_records), FOUND_PER_RECORD), found_is)


def case_ids(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """Record ids in the database: missing cases 1..C, found records C+1..C+F."""
    n_cases = len(pop.missing_owner) // MISSING_PER_CASE
    n_records = len(pop.found_is)
    return np.arange(1, n_cases + 1), np.arange(n_cases + 1, n_cases + n_records + 1)


def build(settings: Settings, pop: Population) -> float:
    """Write the registries into the workspace of ``settings`` (rows in bulk, vectors through
    :meth:`VectorStore.add` as registration does); returns the build time in s."""
    t = time.perf_counter()
    missing_ids, found_ids = case_ids(pop)
    n_m = len(pop.missing_owner)
    records = open_records(settings)
    cases = [{"id": int(c), "kind": "missing", "name": f"missing {c}", "consent_recorded": True,
              "status": "open"} for c in missing_ids]
    cases += [{"id": int(c), "kind": "found", "name": f"found {c}", "status": "in_care",
               "lawful_basis": "duty of care (bench)", "age_min": 8, "age_max": 10}
              for c in found_ids]
    owners = np.concatenate([missing_ids[pop.missing_owner], found_ids[pop.found_owner]])
    photos = [{"id": k + 1, "case_id": int(c), "file_path": f"bench/{k + 1}.jpg",
               "sha256": "0" * 64, "status": "ready"} for k, c in enumerate(owners)]
    with records.session() as s:
        s.execute(insert(Case), cases)
        s.execute(insert(Photo), photos)
    records.engine.dispose()
    kinds = ["missing"] * n_m + ["found"] * len(pop.found_owner)
    with open_store(settings) as store:
        for model in settings.models:
            vectors = np.concatenate([pop.missing[model], pop.found[model]])
            store.add(model, list(range(1, len(owners) + 1)), owners.tolist(), vectors, kinds)
    return time.perf_counter() - t


def run_drive(data_dir: Path, out: Path) -> None:
    """(In a fresh process) the product's drive on the workspace in ``data_dir``: its search
    time, total time, peak memory and pairs go to ``out`` as JSON."""
    base = peak_reset()
    home = get_settings()
    settings = replace(home, data_dir=data_dir, weights_root=home.weights_dir)
    from findme.cases.crossleads import crossmatch

    records = open_records(settings)
    marks: list[float] = []
    with open_store(settings) as store:
        start = time.perf_counter()
        result = crossmatch(records, store, settings,
                            progress=lambda done, total: marks.append(time.perf_counter()))
        total = time.perf_counter() - start
    out.write_text(json.dumps({
        "search_s": (marks[-1] if marks else time.perf_counter()) - start, "total_s": total,
        "peak_bytes": base + peak_grown(base), "new_leads": result.new_leads,
        "pairs": [[p.found_id, p.case_id, p.score] for p in result.pairs]}))


def exact_pairs(pop: Population, matcher: Matcher, possible: float
                ) -> tuple[dict[tuple[int, int], float], dict[int, tuple[int, float]], float]:
    """Exact all-pairs numpy baseline: ``{(found id, case id): best fused score}`` of every pair
    at ``possible`` or better, each found record's top-1 ``{found id: (case id, score)}``, and
    the time it took in s."""
    t = time.perf_counter()
    missing_ids, found_ids = case_ids(pop)
    m_case = missing_ids[pop.missing_owner]
    f_case = found_ids[pop.found_owner]
    fusion = matcher.fusion
    pairs: dict[tuple[int, int], float] = {}
    top1: dict[int, tuple[int, float]] = {}
    step = 64
    for start in range(0, len(f_case), step):
        stop = min(start + step, len(f_case))
        cos = np.stack([pop.found[m][start:stop] @ pop.missing[m].T for m in fusion.models],
                       axis=-1)
        fused = fusion.scores(cos.reshape(-1, len(fusion.models))).reshape(cos.shape[:2])
        best = fused.argmax(axis=1)
        for row, col in enumerate(best):
            fid, score = int(f_case[start + row]), float(fused[row, col])
            if fid not in top1 or top1[fid][1] < score:
                top1[fid] = (int(m_case[col]), score)
        for row, col in zip(*np.nonzero(fused >= possible), strict=True):
            key = (int(f_case[start + row]), int(m_case[col]))
            pairs[key] = max(pairs.get(key, 0.0), float(fused[row, col]))
    return pairs, top1, time.perf_counter() - t


def one_at_a_time(settings: Settings, pop: Population, sample: int, seed: int
                  ) -> dict[str, float]:
    """Today's path on ``sample`` found records (seconds per record): one matcher search of the
    record's stored vectors (``match_faces``) and one ``search_side`` of the record alone."""
    from findme.faces.detect import Face
    from findme.faces.embed import FaceEmbedding
    from findme.faces.quality import Quality
    from findme.search.crossmatch import search_side, stored_faces

    _, found_ids = case_ids(pop)
    pick = np.random.default_rng(seed + 1).choice(found_ids, sample, replace=False)
    records = open_records(settings)
    missing_open = set(records.open_ids("missing"))
    quality = Quality(112, 100.0, 120.0, 0.0, 0.0, 1.0, True, ())
    times: dict[str, list[float]] = {"matcher": [], "search_side": []}
    with open_store(settings) as store:
        matcher = Matcher(records, store, settings)
        for fid in pick[:5]:  # warm up
            search_side(matcher, stored_faces(matcher, [int(fid)]), "missing", missing_open)
        for fid in pick:
            s = time.perf_counter()
            faces = stored_faces(matcher, [int(fid)])
            items = [FaceEmbedding(Face((0, 0, 112, 112), ((0.0, 0.0),) * 5, 1.0), quality,
                                   f.vectors)
                     for f in faces]
            matcher.match_faces(items)
            times["matcher"].append(time.perf_counter() - s)
            s = time.perf_counter()
            search_side(matcher, stored_faces(matcher, [int(fid)]), "missing", missing_open)
            times["search_side"].append(time.perf_counter() - s)
    records.engine.dispose()
    return {k: statistics.fmean(v) for k, v in times.items()}


def deepface_find(settings: Settings, photos: int = 10) -> tuple[float, int]:
    """Seconds per ``DeepFace.find`` of a real photo (celeb5 val) against a folder of real
    photos (celeb5 train + the never-registered portraits); returns (s per photo, photos in the
    folder)."""
    from findme.faces.loading import native_stderr_silenced

    tmp = Path(tempfile.mkdtemp(prefix="findme-drive-find-"))
    db = tmp / "db"
    shutil.copytree(settings.eval_dir / "celeb5" / "train", db / "celeb5")
    (db / "distractors").mkdir()
    for k, f in enumerate(sorted((settings.eval_dir / "distractors").glob("*.jpg"))):
        shutil.copyfile(f, db / "distractors" / f"{k}.jpg")  # DeepFace skips non-ASCII names
    val = sorted((settings.eval_dir / "celeb5" / "val").rglob("*.jpg"))[:photos]
    with native_stderr_silenced():
        from deepface import DeepFace
    kw = {"db_path": str(db), "model_name": "Facenet", "detector_backend": "centerface",
          "enforce_detection": False, "silent": True, "normalization": "Facenet"}
    with native_stderr_silenced():
        DeepFace.find(img_path=str(val[0]), **kw)  # builds its representation file
    times = []
    for p in val:
        s = time.perf_counter()
        with native_stderr_silenced():
            DeepFace.find(img_path=str(p), **kw)
        times.append(time.perf_counter() - s)
    n_db = sum(1 for f in db.rglob("*") if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    shutil.rmtree(tmp, ignore_errors=True)
    return statistics.median(times), n_db


def workspace(args: argparse.Namespace, settings: Settings, pop: Population, tmp: Path
              ) -> tuple[Settings, float | None]:
    """A fresh copy of the built workspace to run on (built now, or kept under ``--keep``);
    returns its settings and the build time (None when reused)."""
    run = replace(settings, data_dir=tmp / "run", weights_root=settings.weights_dir)
    key = (f"{args.found}x{args.missing}-o{args.overlap}-s{args.seed}-"
           f"{'+'.join(settings.models)}-m{settings.hnsw_max_neighbors}"
           f"-efc{settings.hnsw_ef_construction}-ef{settings.hnsw_ef_search}")
    kept = args.keep / key if args.keep else tmp / "built"
    build_s = None
    if not (kept / "done").exists():
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        build_s = build(replace(settings, data_dir=kept, weights_root=settings.weights_dir), pop)
        (kept / "done").write_text(str(build_s))
    shutil.copytree(kept, run.data_dir, ignore=shutil.ignore_patterns("done", ".findme.lock"))
    return run, build_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--found", type=int, default=10_000, help="found faces (2 a record)")
    ap.add_argument("--missing", type=int, default=100_000, help="missing faces (4 a case)")
    ap.add_argument("--overlap", type=float, default=0.1,
                    help="share of found records that are missing children")
    ap.add_argument("--sample", type=int, default=200,
                    help="found records timed one at a time (then extrapolated)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the built workspace here and reuse it in later runs")
    ap.add_argument("--skip-find", action="store_true")
    ap.add_argument("--run-drive", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_drive:
        run_drive(*args.run_drive)
        return
    settings = get_settings()
    models = tuple(settings.models)
    real, labels = real_embeddings(models, settings, args.keep)
    pop = draw(real, labels, args.missing, args.found, args.overlap, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="findme-drive-"))
    try:
        run, build_s = workspace(args, settings, pop, tmp)
        n_found, n_cases = len(pop.found_is), len(pop.missing_owner) // MISSING_PER_CASE
        print(f"{len(pop.found_owner):,} found faces ({n_found:,} records, "
              f"{int((pop.found_is >= 0).sum()):,} of them missing children) x "
              f"{len(pop.missing_owner):,} missing faces ({n_cases:,} cases); models "
              f"{', '.join(models)}; M {settings.hnsw_max_neighbors}, ef_search "
              f"{settings.hnsw_ef_search}; build "
              f"{'kept from an earlier run' if build_s is None else f'{build_s:.0f} s'}")
        out = tmp / "drive.json"
        subprocess.run([sys.executable, __file__, "--run-drive", str(run.data_dir), str(out)],
                       check=True, env={**os.environ, "FINDME_DATA_DIR": str(settings.data_dir)})
        drive = json.loads(out.read_text())
        per = one_at_a_time(run, pop, args.sample, args.seed)
        records = open_records(run)
        with open_store(run) as store:
            matcher = Matcher(records, store, run)
            thresholds = matcher.fusion.thresholds_for(records.ready_faces("missing"))
            exact, top1, exact_s = exact_pairs(pop, matcher, thresholds.possible)
        got = {(f, c): s for f, c, s in drive["pairs"]}
        top1_pairs = {(f, c) for f, (c, s) in top1.items() if s >= thresholds.possible}
        recall = sum(k in got for k in exact) / max(1, len(exact))
        recall_top1 = sum(k in got for k in top1_pairs) / max(1, len(top1_pairs))
        extra = sum(k not in exact for k in got)
        score_gap = max((abs(got[k] - exact[k]) for k in exact if k in got), default=0.0)
        missing_ids, found_ids = case_ids(pop)
        truth = {(int(found_ids[r]), int(missing_ids[c])) for r, c in enumerate(pop.found_is)
                 if c >= 0}
        reunions = sum(k in got for k in truth) / max(1, len(truth))
        one_matcher = per["matcher"] * n_found
        one_side = per["search_side"] * n_found
        print(f"{'path':58s} {'seconds':>9s} {'vs drive':>9s}")
        rows = [("drive: crossmatch search (stored_faces + search_side)", drive["search_s"]),
                ("drive: whole crossmatch, leads included", drive["total_s"]),
                (f"one matcher search per found record (extrapolated from {args.sample})",
                 one_matcher),
                (f"one search_side per found record (extrapolated from {args.sample})", one_side),
                ("exact numpy all-pairs (recall baseline)", exact_s)]
        find_s, n_db = (None, 0) if args.skip_find else deepface_find(settings)
        if find_s is not None:
            rows.append((f"DeepFace.find per found photo ({n_db}-photo folder; extrapolated)",
                         find_s * len(pop.found_owner)))
        for name, secs in rows:
            print(f"{name:58s} {secs:9.1f} {secs / drive['search_s']:8.1f}x")
        print(f"pairs at possible: exact {len(exact):,}, drive {len(got):,}; pair recall "
              f"{recall:.4f} (exact top-1 pairs {recall_top1:.4f}); drive pairs not exact "
              f"{extra}; largest score difference {score_gap:.2g}; planted reunions found "
              f"{reunions:.4f}; drive peak memory {drive['peak_bytes'] / GB:.2f} GB; "
              f"new leads {drive['new_leads']:,}")
        summary = {
            "found_faces": len(pop.found_owner), "missing_faces": len(pop.missing_owner),
            "models": list(models), "hnsw_m": settings.hnsw_max_neighbors,
            "ef_search": settings.hnsw_ef_search, "possible": round(thresholds.possible, 4),
            "exact_pairs": len(exact), "drive_pairs": len(got), "pair_recall": round(recall, 4),
            "top1_pair_recall": round(recall_top1, 4), "pairs_not_exact": extra,
            "reunions_found": round(reunions, 4), "drive_search_s": round(drive["search_s"], 1),
            "drive_total_s": round(drive["total_s"], 1),
            "one_matcher_search_per_record_s_extrapolated": round(one_matcher, 1),
            "one_search_side_per_record_s_extrapolated": round(one_side, 1),
            "speedup_vs_matcher": round(one_matcher / drive["search_s"], 1),
            "speedup_vs_search_side": round(one_side / drive["search_s"], 1),
            "exact_numpy_s": round(exact_s, 1),
            "deepface_find_s_extrapolated": None if find_s is None
            else round(find_s * len(pop.found_owner)),
            "drive_peak_gb": round(drive["peak_bytes"] / GB, 2),
            "new_leads": drive["new_leads"], "build_s": None if build_s is None
            else round(build_s)}
        print(json.dumps(summary))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
