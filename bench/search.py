"""Search latency and genuine recall of the vector store, against exact search, at 10k-1M faces.

Gallery: synthetic identities drawn to look like real FaceNet embeddings (identity centres and
within-person spread estimated from the real ORL + 5-celebrity embeddings), 4 faces each, plus the
real photos' embeddings. Probes: fresh faces of enrolled identities. Reported per gallery size:

* the store (``findme.store.VectorStore`` on embedded Chroma, our HNSW settings), at several
  ``ef_search`` values: single-probe p50 / p95 latency, genuine recall@10 (a face of the probe's
  own identity in the top 10), and the real photos' rank-1;
* exact numpy brute force (float32 matmul + argpartition) in the same run, as the baseline;
* each engine is timed in its own block over the same probes, with only its own index loaded,
  as the app runs: interleaving them (each probe to every engine in turn) made three 1 GB
  indexes and the exact scan's 512 MB stream thrash each other's caches, which no real search
  sees (at 1M, M 48, ef_search 150: p50 5.14 ms interleaved, 2.95 ms alone);
* latency over ``--passes`` passes of the probes (each in its own order): p50 / p95 over all
  timings, the median (and range) of the passes' p95, and the p95 of each probe's fastest pass
  (its own cost, with the machine's passing stalls removed). This virtual machine's speed moves
  between minutes (neighbours' memory traffic: the same exact scan took 21 ms p50 in one run, 51
  in another), and a 1M HNSW search is bound by memory latency; one pass's p95 moved 4-7.6 ms
  between re-measurements of the same store;
* ``--keep DIR`` keeps the built store (the gallery is drawn from a fixed seed, so it is the
  same gallery every run) and reuses it: a 1M build takes ~30 min here, a re-measurement seconds;
* once, on a small real gallery: ``DeepFace.find`` per probe photo against our whole search
  (detect + embed + search) for the same photos.

Targets (issue 3): p95 <= 5 ms at 100k with genuine recall >= 0.999.

Usage: .venv/bin/python bench/search.py [--sizes 10000,100000] [--probes 300] [--ef 100,200]
       [--model facenet] [--keep DIR] [--seed N[,N...]] [--passes 3] [--skip-find]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from findme.config import Settings, get_settings
from findme.faces.embed import embed_largest_faces
from findme.faces.image import load_image
from findme.faces.loading import native_stderr_silenced
from findme.search import calibration
from findme.search.store import VectorStore, open_store


def real_embeddings(model: str) -> tuple[np.ndarray, list[str], list[Path]]:
    """Embeddings of every public labeled photo (largest face), their labels and paths."""
    settings = get_settings()
    items = calibration.labeled_photos([settings.eval_dir / "orl", settings.eval_dir / "celeb5"])
    vectors, has_face = embed_largest_faces([p for p, _ in items], [model], settings)
    kept = [it for it, ok in zip(items, has_face, strict=True) if ok]
    return vectors[model][has_face], [lbl for _, lbl in kept], [p for p, _ in kept]


class FaceLike:
    """Draws identities and faces whose statistics follow the real embeddings."""

    def __init__(self, real: np.ndarray, labels: list[str], seed: int = 0) -> None:
        lab = np.array(labels)
        people = sorted(set(labels))
        means = np.array([real[lab == p].mean(axis=0) for p in people])
        resid = np.concatenate([real[lab == p] - real[lab == p].mean(axis=0) for p in people])
        d = real.shape[1]
        self.mu = means.mean(axis=0)
        between = np.cov(means.T) + 1e-3 * np.eye(d)  # few people: regularise
        within = np.cov(resid.T) + 1e-4 * np.eye(d)
        self.a = np.linalg.cholesky(between)
        self.b = np.linalg.cholesky(within)
        self.rng = np.random.default_rng(seed)
        # widen the within-person spread until two faces of one synthetic person are as alike
        # as two real photos of one person (few photos per person underestimate the spread)
        same = (lab[:, None] == lab[None, :]) & ~np.eye(len(lab), dtype=bool)
        target = float((real @ real.T)[same].mean())
        lo, hi = 0.5, 4.0
        for _ in range(20):
            mid = (lo + hi) / 2
            self.spread = mid
            c = self.identities(2000)
            got = float(np.einsum("nd,nd->n", self.faces(c), self.faces(c)).mean())
            lo, hi = (mid, hi) if got > target else (lo, mid)
        self.spread = (lo + hi) / 2

    def identities(self, n: int) -> np.ndarray:
        """``n`` identity centres."""
        return self.mu + self.rng.standard_normal((n, len(self.mu))) @ self.a.T

    def faces(self, centres: np.ndarray) -> np.ndarray:
        """One unit-length face per centre."""
        f = centres + self.spread * (self.rng.standard_normal(centres.shape) @ self.b.T)
        return (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Timed:
    """One engine's measurement: seconds per probe for each pass (probe order kept), genuine
    hits in the first pass, the real photos' rank-1."""

    times: list[list[float]]
    found: int
    rank1: float

    @property
    def pooled(self) -> list[float]:
        """Every timing of every pass."""
        return [t for lap in self.times for t in lap]

    @property
    def best(self) -> list[float]:
        """Each probe's fastest pass: its own cost with the machine's passing stalls removed."""
        return [min(ts) for ts in zip(*self.times, strict=True)]


def percentile_ms(times: list[float], q: float) -> float:
    """The q-th percentile of durations in seconds, in milliseconds."""
    return 1000 * float(np.percentile(times, q))


def build_store(settings: Settings, model: str, gallery: np.ndarray, owners: np.ndarray,
                keep: Path | None, seed: int = 0) -> tuple[Path, float, bool]:
    """Build the store of ``gallery`` (or reuse the one kept under ``keep`` for the same gallery
    size, seed and graph settings); return its Chroma folder, its build time in s and whether
    reused."""
    key = (f"{len(gallery)}-{model}-m{settings.hnsw_max_neighbors}"
           f"-efc{settings.hnsw_ef_construction}{f'-seed{seed}' if seed else ''}")
    if keep is not None:
        folder = keep / key
        meta = folder / "build.json"
        if meta.exists():
            return (replace(settings, data_dir=folder).chroma_dir,
                    json.loads(meta.read_text())["build_s"], True)
        shutil.rmtree(folder, ignore_errors=True)
        settings = replace(settings, data_dir=folder)
    t = time.perf_counter()
    with open_store(settings) as store:
        store.add(model, list(range(1, len(gallery) + 1)), owners.tolist(), gallery)
    build = time.perf_counter() - t
    if keep is not None:
        (keep / key / "build.json").write_text(json.dumps({"build_s": build}))
    return settings.chroma_dir, build, False


def bench_size(n_faces: int, gen: FaceLike, real: np.ndarray, real_labels: list[str],
               model: str, probes: int, ef_values: list[int], keep: Path | None = None,
               seed: int = 0, passes: int = 3) -> None:
    """Build a gallery of ``n_faces`` synthetic faces + the real ones, and measure each engine
    over the probes ``passes`` times."""
    n_ids = n_faces // 4
    centres = gen.identities(n_ids)
    gallery = np.concatenate([gen.faces(centres) for _ in range(4)])
    owners = np.tile(np.arange(n_ids), 4)
    # real photos: celeb5 'train' and ORL photos 1-3 enrolled, the rest are real probes
    lab = np.array(real_labels)
    real_ids = {p: n_ids + k for k, p in enumerate(sorted(set(real_labels)))}
    enrolled = np.array([i % 10 < 3 for i in range(len(lab))])
    gallery = np.concatenate([gallery, real[enrolled]])
    owners = np.concatenate([owners, [real_ids[x] for x in lab[enrolled]]])
    pick = gen.rng.choice(n_ids, probes, replace=False)
    probe_vecs = gen.faces(centres[pick])

    tmp = Path(tempfile.mkdtemp(prefix="findme-bench-"))
    settings = replace(get_settings(), data_dir=tmp / "build")
    built, build, reused = build_store(settings, model, gallery, owners, keep, seed)
    size_mb = sum(f.stat().st_size for f in built.rglob("*") if f.is_file()) / 1e6
    print(f"\n== {len(gallery):,} faces ({n_ids:,} synthetic people x 4 + "
          f"{enrolled.sum()} real photos), {gallery.shape[1]}-d, M {settings.hnsw_max_neighbors}, "
          f"ef_construction {settings.hnsw_ef_construction}; store build {build:.0f} s "
          f"({len(gallery) / build:,.0f} faces/s){' (kept from an earlier run)' if reused else ''}"
          f", {size_mb:,.0f} MB on disk")

    matrix = np.ascontiguousarray(gallery)

    def exact(q: np.ndarray) -> list[int]:
        sims = matrix @ q
        top = np.argpartition(-sims, 10)[:10]
        return owners[top[np.argsort(-sims[top])]].tolist()

    def measure(search: Callable[[np.ndarray], list[int]], passes: int = passes) -> Timed:
        """Latencies (``passes`` x probes, each pass in its own order) and genuine hits over the
        probes (first pass), and the real photos' rank-1."""
        times: list[list[float]] = []
        found = 0
        order = np.random.default_rng(seed + 1)
        gc.disable()
        try:
            for n in range(passes):
                lap = [0.0] * len(probe_vecs)
                for k in (order.permutation(len(probe_vecs)) if n else range(len(probe_vecs))):
                    s = time.perf_counter()
                    top = search(probe_vecs[k])
                    lap[k] = time.perf_counter() - s
                    if n == 0:
                        found += pick[k] in top
                times.append(lap)
        finally:
            gc.enable()
        hits = [search(v)[:1] for v in real[~enrolled]]
        rank1 = float(np.mean([len(h) and h[0] == real_ids[x]
                               for h, x in zip(hits, lab[~enrolled], strict=True)]))
        return Timed(times, found, rank1)

    # each engine in its own block, with only its index loaded, as the app runs: three 1 GB
    # indexes queried in turn thrash each other's caches (measured at 1M, M 48, ef_search 150:
    # p50 5.14 ms interleaved with two other copies, 2.95 ms alone)
    # the exact scan is the baseline of recall and of speed ratios, one pass (30-50 ms a probe
    # at 1M: its spread is not what the passes are for)
    results = {"numpy exact (baseline)": measure(exact, 1)}
    for ef in ef_values:  # a copy per ef_search: Chroma fixes it when the index is loaded
        ef_settings = replace(settings, data_dir=tmp / f"ef{ef}", hnsw_ef_search=ef)
        shutil.copytree(built, ef_settings.chroma_dir)
        with open_store(ef_settings) as store:
            store.collection(model).modify(configuration={"hnsw": {"ef_search": ef}})
        with open_store(ef_settings) as store:
            for q in gen.faces(gen.identities(200)):  # warm the index before timing
                store.query(model, q, 10)

            def chroma(q: np.ndarray, store: VectorStore = store) -> list[int]:
                return [int(owners[h.photo_id - 1]) for h in store.query(model, q, 10)[0]]

            results[f"store ef_search={ef}"] = measure(chroma)
        shutil.rmtree(ef_settings.data_dir, ignore_errors=True)
    print(f"{'engine':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'recall@10':>10s} "
          f"{'real rank-1':>12s}   p95 per pass (median [min-max]), p95 of each probe's best")
    for name, t in results.items():
        laps = [percentile_ms(lap, 95) for lap in t.times]
        print(f"{name:28s} {percentile_ms(t.pooled, 50):8.2f} {percentile_ms(t.pooled, 95):8.2f} "
              f"{t.found / len(probe_vecs):10.4f} {t.rank1:12.3f}   {statistics.median(laps):.2f} "
              f"[{min(laps):.2f}-{max(laps):.2f}], {percentile_ms(t.best, 95):.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


def bench_deepface_find(model: str) -> None:
    """DeepFace.find vs our whole search on a small real gallery (celeb5 train)."""
    from findme.cases.records import CaseDetails
    from findme.cases.registry import PhotoInput, enroll_case
    from findme.workspace import open_workspace

    settings = get_settings()
    train = settings.eval_dir / "celeb5" / "train"
    val = sorted((settings.eval_dir / "celeb5" / "val").rglob("*.jpg"))[:10]
    tmp = Path(tempfile.mkdtemp(prefix="findme-find-"))
    db = tmp / "db"
    shutil.copytree(train, db)
    ws_settings = replace(settings, data_dir=tmp / "data")
    ws_settings.data_dir.mkdir()
    (ws_settings.data_dir / "weights").symlink_to(settings.weights_dir)
    with native_stderr_silenced():
        from deepface import DeepFace
    name = {"facenet": "Facenet", "facenet512": "Facenet512"}[model]
    kw = {"db_path": str(db), "model_name": name, "detector_backend": "centerface",
          "enforce_detection": False, "silent": True, "normalization": "Facenet"}
    with native_stderr_silenced():
        DeepFace.find(img_path=str(val[0]), **kw)  # builds its representation file
    theirs = []
    for p in val:
        s = time.perf_counter()
        DeepFace.find(img_path=str(p), **kw)
        theirs.append(time.perf_counter() - s)
    ours = []
    with open_workspace(replace(ws_settings, models=(model,))) as ws:
        for person in sorted(train.iterdir()):
            photos = [PhotoInput(f.name, f.read_bytes(), 0) for f in sorted(person.iterdir())]
            try:
                enroll_case(CaseDetails(name=person.name, consent_recorded=True), photos,
                            ws.records, ws.store,
                            ws.settings)
            except ValueError:
                pass
        ws.matcher.search_image(load_image(val[0], settings))
        for p in val:
            s = time.perf_counter()
            ws.matcher.search_image(load_image(p, settings))
            ours.append(time.perf_counter() - s)
    shutil.rmtree(tmp, ignore_errors=True)
    a, b = statistics.median(theirs) * 1000, statistics.median(ours) * 1000
    print(f"\nsmall real gallery (5-celebrity train, {model}): DeepFace.find {a:.0f} ms per "
          f"photo, findme search (detect + embed + search + fuse) {b:.0f} ms -> {a / b:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--ef", default="100,200,400")
    ap.add_argument("--model", default="facenet")
    ap.add_argument("--skip-find", action="store_true")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep built stores here and reuse them in later runs")
    ap.add_argument("--seed", default="0",
                    help="draw another gallery and probes (another build to compare); 0: the "
                         "fixed gallery of earlier runs; several (0,1,2): each in turn")
    ap.add_argument("--passes", type=int, default=3,
                    help="time every probe this many times per engine, each pass in another "
                         "order (recall from the first)")
    args = ap.parse_args()
    real, labels, _ = real_embeddings(args.model)
    lab = np.array(labels)
    sims = real @ real.T
    same = (lab[:, None] == lab[None, :]) & ~np.eye(len(lab), dtype=bool)
    diff = lab[:, None] != lab[None, :]
    for seed in (int(x) for x in args.seed.split(",")):
        gen = FaceLike(real, labels, seed=seed)
        centres = gen.identities(1000)  # drawn first in every run: a seed's gallery stays its own
        a, b = gen.faces(centres), gen.faces(centres)
        print(f"{args.model}, seed {seed}: same-person cosine real {sims[same].mean():.3f} vs "
              f"synthetic {np.einsum('nd,nd->n', a, b).mean():.3f}; strangers real "
              f"{sims[diff].mean():.3f} (sd {sims[diff].std():.3f}) vs synthetic "
              f"{(a[:500] @ a[500:].T).mean():.3f} (sd {(a[:500] @ a[500:].T).std():.3f})")
        for n in (int(s) for s in args.sizes.split(",")):
            bench_size(n, gen, real, labels, args.model, args.probes,
                       [int(e) for e in args.ef.split(",")], args.keep, seed, args.passes)
    if not args.skip_find:
        bench_deepface_find(args.model)


if __name__ == "__main__":
    main()
