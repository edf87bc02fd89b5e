"""Heavy work does not block other people: searches beside an evaluation, and five at once.

On the dashboard's own shared workspace (``findme.ui.state.workspace``: the guarded vector store,
the real models, real photos), in one run:

(a) one person's search while another person's evaluation of own cases runs in its worker
    thread (started again as soon as it ends, so one is always running): p95 latency against
    the same searches alone. Target (issue 20): ratio <= 2.5x. For comparison, the same with one
    process-wide lock held around each evaluation and each search, as the pages did before.
(b) five people searching at once (five threads in this one process, like the dashboard's
    sessions): searches per second against the same searches run back to back in one thread.
    Target: >= 80% (no core idles behind a lock).

Gallery: every 5-celebrity training photo, every photo of the 40 ORL people and the 305
never-registered portraits as one-photo cases (about 800 faces: an evaluation of own cases then
takes seconds, as in a pilot, not a fraction of one); probes: the 5-celebrity validation photos
(searched, nothing recorded). Wall-clock figures are printed,
never asserted. ``--intra N`` sets TensorFlow's intra-op threads (default: TensorFlow's, one per
core) to compare oversubscription.

Usage: .venv/bin/python bench/concurrency.py [--rounds 3] [--intra N] [--inter N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]


def main() -> None:
    """Build the gallery, run (a) and (b), print the figures and their ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="passes over the probes per figure")
    ap.add_argument("--intra", type=int, default=0, help="TensorFlow intra-op threads (0: TF's)")
    ap.add_argument("--inter", type=int, default=0, help="TensorFlow inter-op threads (0: TF's)")
    ap.add_argument("--portraits", type=int, default=305, help="one-photo cases added")
    args = ap.parse_args()
    if args.intra or args.inter:
        import tensorflow as tf

        if args.intra:
            tf.config.threading.set_intra_op_parallelism_threads(args.intra)
        if args.inter:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter)

    from findme.cases.records import CaseDetails
    from findme.cases.registry import EnrollmentRejected, PhotoInput, enroll_case
    from findme.config import get_settings
    from findme.evaluation import jobs
    from findme.evaluation.datasets import identities, strangers
    from findme.faces.image import load_image
    from findme.ui import state

    base = get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="findme-concurrency-"))
    (tmp / "weights").symlink_to(base.weights_dir)
    settings = replace(base, data_dir=tmp, alert_worker=False)
    ws = state.workspace(settings)
    state.models_ready.wait()
    celeb = base.eval_dir / "celeb5"
    gallery = {k: v for k, v in identities(celeb / "train").items()}
    gallery.update({f"orl {k}": v for k, v in identities(base.eval_dir / "orl").items()})
    gallery.update({f"portrait {p.stem}": [p]
                    for p in strangers(base.eval_dir / "distractors")[:args.portraits]})
    t0 = time.perf_counter()
    for name, paths in sorted(gallery.items()):
        try:
            enroll_case(CaseDetails(name=name, consent_recorded=True),
                        [PhotoInput(p.name, p.read_bytes()) for p in paths], ws.records,
                        ws.store, ws.settings)
        except EnrollmentRejected:  # no usable face in any of its photos
            pass
    probes = [load_image(p, settings) for ps in identities(celeb / "val").values() for p in ps]
    print(f"gallery: {len(gallery)} cases, {ws.store.count(settings.models[0])} faces "
          f"(enrolled in {time.perf_counter() - t0:.0f} s); probes: {len(probes)} photos; "
          f"models {', '.join(settings.models)}; TensorFlow intra-op threads: "
          f"{args.intra or 'default'}, inter-op: {args.inter or 'default'}")
    for image in probes[:3]:  # warm
        ws.search(image)

    def searches(guard: AbstractContextManager, rounds: int) -> list[float]:
        out = []
        for _ in range(rounds):
            for image in probes:
                start = time.perf_counter()
                with guard:
                    ws.search(image)
                out.append(time.perf_counter() - start)
        return out

    # ------------------------------------------------------------------ (a)
    one = jobs.start_own_cases(ws, "bench:timing")
    one.finished.wait()
    started = time.perf_counter()
    jobs.start_own_cases(ws, "bench:timing").finished.wait()
    eval_s = time.perf_counter() - started

    def evaluations(stop: threading.Event, guard: AbstractContextManager, count: list) -> None:
        while not stop.is_set():
            with guard:
                job = jobs.start_own_cases(ws, "bench:other person")
                job.finished.wait()
            assert job.error is None, job.error
            count[0] += 1
            time.sleep(0.01)  # a waiting search gets the old lock (Python's lock is not fair)

    def during(guard: AbstractContextManager) -> tuple[list[float], int]:
        stop, count = threading.Event(), [0]
        worker = threading.Thread(target=evaluations, args=(stop, guard, count))
        worker.start()
        time.sleep(0.2)
        got = searches(guard, 1)
        stop.set()
        worker.join()
        return got, count[0]

    # the three conditions take turns, one pass over the probes each, so a change in the
    # machine's other load falls on all three alike
    alone: list[float] = []
    beside: list[float] = []
    before: list[float] = []
    n_eval = n_before = 0
    old_lock = threading.RLock()
    for _ in range(args.rounds):
        alone += searches(nullcontext(), 1)
        got, k = during(nullcontext())
        beside, n_eval = beside + got, n_eval + k
        got, k = during(old_lock)
        before, n_before = before + got, n_before + k
    print(f"\n(a) a search while an evaluation of own cases runs (one evaluation: {eval_s:.2f} s "
          f"over {one.result.counts['enrolled_photos']} photos, run again and again)")
    print(f"    alone:                           p50 {statistics.median(alone) * 1e3:7.0f} ms  "
          f"p95 {p95(alone) * 1e3:7.0f} ms  ({len(alone)} searches)")
    print(f"    beside the evaluation worker:    p50 {statistics.median(beside) * 1e3:7.0f} ms  "
          f"p95 {p95(beside) * 1e3:7.0f} ms  ({n_eval} evaluations meanwhile)")
    print(f"    one global lock (as before):     p50 {statistics.median(before) * 1e3:7.0f} ms  "
          f"p95 {p95(before) * 1e3:7.0f} ms  ({n_before} evaluations meanwhile)")
    print(f"    p95 ratio beside / alone: {p95(beside) / p95(alone):.2f}x (target <= 2.5x); "
          f"with one global lock: {p95(before) / p95(alone):.2f}x")

    # ------------------------------------------------------------------ (b)
    people = 5
    serial_s = parallel_s = 0.0
    for _ in range(args.rounds):  # taking turns, as in (a)
        start = time.perf_counter()
        for _ in range(people):
            searches(nullcontext(), 1)
        serial_s += time.perf_counter() - start
        threads = [threading.Thread(target=searches, args=(nullcontext(), 1))
                   for _ in range(people)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel_s += time.perf_counter() - start
    n = people * args.rounds * len(probes)
    print(f"\n(b) {people} people searching at once ({n} searches each way)")
    print(f"    back to back (one thread):  {n / serial_s:6.2f} searches/s ({serial_s:.1f} s)")
    print(f"    {people} threads at once:         {n / parallel_s:6.2f} searches/s "
          f"({parallel_s:.1f} s)")
    print(f"    throughput at once / back to back: {serial_s / parallel_s:.0%} (target >= 80%)")
    state.close_all()


if __name__ == "__main__":
    main()
