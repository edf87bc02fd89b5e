"""Heavy work does not block other people: no process-wide lock, only the narrow ones.

Models lock per predict call, the vector store per call (reads share, writes and the erasure
rebuild alone), an evaluation of own cases runs in a worker thread. Proven with events, never
with timing: a search finishes while an evaluation is provably still running, several searches
in parallel threads on the real models give exactly the results they give one by one, and an
erasure rebuild in the middle of searches fails none of them.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.evaluation import jobs
from findme.evaluation.datasets import identities
from findme.faces.image import load_image
from findme.ui import state
from findme.ui.state import GuardedStore, ReadWriteLock
from findme.workspace import Workspace

WAIT = 300.0  # generous: only ever reached when something is wrong (a loaded 2-core machine)


@pytest.fixture
def shared(ws_settings: Settings):
    """The dashboard's shared workspace of a fresh data folder (as every session gets it)."""
    ws = state.workspace(ws_settings)
    yield ws
    state.close_all()


def _enroll(ws: Workspace, name: str, paths: list[Path]) -> int:
    return enroll_case(CaseDetails(name=name, consent_recorded=True),
                       [PhotoInput(p.name, p.read_bytes()) for p in paths],
                       ws.records, ws.store, ws.settings).case_id


def _outcome(ws: Workspace, image: np.ndarray) -> list:
    """What a search decides, to the last bit of every score."""
    return [[(m.case_id, m.photo_id, m.score, tuple(sorted(m.scores.items())), m.decision)
             for m in f.matches] for f in ws.search(image, top_k=5).faces]


# ----------------------------------------------------------------------------- the lock itself


def test_readers_share_and_a_writer_waits_for_them_then_goes_first() -> None:
    rw = ReadWriteLock()
    first_in, second_in = threading.Event(), threading.Event()
    writer_in, reader_after_writer_in = threading.Event(), threading.Event()
    release = threading.Event()

    def reader(entered: threading.Event) -> None:
        with rw.shared():
            entered.set()
            release.wait(WAIT)

    def writer() -> None:
        with rw.exclusive():
            writer_in.set()

    def late_reader() -> None:
        with rw.shared():
            reader_after_writer_in.set()

    a = threading.Thread(target=reader, args=(first_in,))
    b = threading.Thread(target=reader, args=(second_in,))
    a.start()
    b.start()
    assert first_in.wait(WAIT) and second_in.wait(WAIT)  # two readers inside at once
    w = threading.Thread(target=writer)
    w.start()
    while not rw._waiting:  # the writer is queued behind the readers
        threading.Event().wait(0.01)
    late = threading.Thread(target=late_reader)
    late.start()
    assert not writer_in.is_set() and not reader_after_writer_in.is_set()
    release.set()
    for t in (a, b, w, late):
        t.join(WAIT)
    assert writer_in.is_set() and reader_after_writer_in.is_set()
    with rw.exclusive(), rw.shared(), rw.exclusive():  # the writer may re-enter and read
        pass


# ----------------------------------------------------------------------------- the store


def test_an_erasure_rebuild_in_the_middle_of_searches_fails_none(shared: Workspace) -> None:
    """The rebuild drops and renames a collection (a bare store's query fails with "Collection
    does not exist" meanwhile); behind the guard every query of every thread succeeds, before,
    during and after it."""
    store = shared.store
    assert isinstance(store, GuardedStore)
    rng = np.random.default_rng(0)
    n = 3000
    store.add("facenet", list(range(1, n + 1)), [k % 50 + 1 for k in range(n)],
              rng.standard_normal((n, 128)).astype(np.float32))
    queries = rng.standard_normal((4, 128)).astype(np.float32)
    errors: list[str] = []
    done = threading.Event()
    counts = [0, 0, 0]

    def search(i: int) -> None:
        while not done.is_set() or counts[i] < 3:
            try:
                hits = store.query("facenet", queries, 10)
                store.vectors("facenet", [h.photo_id for h in hits[0]])
                counts[i] += 1
            except Exception as exc:  # noqa: BLE001 - collected, asserted below
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=search, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    store.delete(list(range(1, 101)))
    kept = store.compact("facenet")
    done.set()
    for t in threads:
        t.join(WAIT)
    assert errors == [] and kept == n - 100 and min(counts) >= 3
    assert store.count("facenet") == n - 100


# ----------------------------------------------------------------------------- real models


@pytest.mark.heavy
def test_parallel_searches_on_the_real_models_equal_serial_ones(shared: Workspace,
                                                                celeb5: Path) -> None:
    """Five threads (five people on the dashboard) search the same real photos in different
    orders at once: every result equals the one-by-one result exactly (same cases, photos,
    decisions and scores to the last bit)."""
    ws = shared
    train, val = identities(celeb5 / "train"), identities(celeb5 / "val")
    for person, paths in sorted(train.items()):
        _enroll(ws, person, paths[:2])
    probes = [load_image(p, ws.settings) for _, ps in sorted(val.items()) for p in ps[:2]]
    serial = [_outcome(ws, image) for image in probes]
    assert any(f and f[0][4].makes_lead for r in serial for f in r)  # real matches in there

    def person(seed: int) -> dict[int, list]:
        order = list(range(len(probes)))
        random.Random(seed).shuffle(order)
        return {k: _outcome(ws, probes[k]) for k in order}

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(person, range(5)))
    for got in results:
        assert [got[k] for k in range(len(probes))] == serial


@pytest.mark.heavy
def test_an_evaluation_of_own_cases_runs_in_a_worker_and_blocks_no_search(
        shared: Workspace, orl: Path, face_rgb: np.ndarray) -> None:
    """Started as the Evaluation page starts it, the evaluation returns at once and runs in its
    worker; while it is provably mid-way (its progress callback waits on an event), another
    person's search and an erasure complete; then it finishes with the same result as run
    directly."""
    from findme.evaluation.protocol import evaluate_own_cases

    ws = shared
    for person in ("s16", "s17", "s18"):
        _enroll(ws, person, [orl / person / f"{i}.pgm" for i in (1, 2, 3)])
    other = _enroll(ws, "to erase", [orl / "s19" / "1.pgm"])
    direct = evaluate_own_cases(ws.records, ws.store, ws.settings)
    delete_case(other, ws.records, ws.store, ws.settings, "test")  # so both see the same cases
    other = _enroll(ws, "to erase", [orl / "s19" / "1.pgm"])
    reached, gate = threading.Event(), threading.Event()

    def hook(stage: str, done: int, total: int) -> None:
        if stage == "scoring" and done == 1:
            reached.set()
            gate.wait(WAIT)

    job = jobs.start_own_cases(ws, f"{ws.settings.data_dir}:ana", hook)
    try:
        assert reached.wait(WAIT), job.error
        assert job.running and job.text == "scoring: 1/3" and 0 < job.fraction < 1
        assert jobs.start_own_cases(ws, f"{ws.settings.data_dir}:ana") is job  # one at a time
        found = ws.search(face_rgb, top_k=3)  # another person's search: nothing to wait for
        delete_case(other, ws.records, ws.store, ws.settings, "test")  # an erasure rebuild too
        assert found.faces and job.running
    finally:
        gate.set()
    assert job.finished.wait(WAIT) and job.error is None
    assert job.result.counts == direct.counts
    assert job.result.results["fused"]["rank1"] == direct.results["fused"]["rank1"]
    jobs.forget(job)
    assert jobs.latest(f"{ws.settings.data_dir}:ana") is None


@pytest.mark.heavy
def test_the_evaluation_page_runs_own_cases_in_the_background(app_data: Settings,
                                                              orl: Path) -> None:
    """The page starts the worker and returns; its progress fragment then shows the result."""
    from tests.pages_helpers import make_user, open_page, texts

    ws = state.workspace(app_data)
    for person in ("s16", "s17"):
        _enroll(ws, person, [orl / person / f"{i}.pgm" for i in (1, 2)])
    make_user(app_data, "ana", "admin")
    at = open_page("evaluation", "ana")
    at.radio(key="dataset").set_value("Our own cases").run()
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    job = jobs.latest(f"{app_data.data_dir}:ana")
    assert job is not None and job.finished.wait(WAIT) and job.error is None
    at.run()
    assert not at.exception, at.exception
    assert "own cases: leave one photo out" in texts(at)
    assert jobs.latest(f"{app_data.data_dir}:ana") is None  # the page took the result
