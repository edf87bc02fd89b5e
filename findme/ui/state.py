"""Process-wide open workspaces for the dashboard (no Streamlit import: testable alone).

An embedded vector store belongs to one process and is opened once: every browser session of the
dashboard shares the workspace of a data folder, and their searches run side by side. Nothing is
serialised process-wide; each lock covers only what is not thread-safe:

* a model's predict call (one lock per model runner, :mod:`findme.faces.models`; the detector
  likewise, :mod:`findme.faces.detect`): TensorFlow, OpenVINO's infer request, OpenCV's net and
  dlib keep state per call;
* the vector store (:class:`GuardedStore`, one :class:`ReadWriteLock` per workspace): reads
  (k-NN queries, vector reads, counts) share it; writes and the erasure rebuild, which drops and
  renames a collection under every reader (measured: a query during it fails with "Collection
  does not exist"), hold it alone, for the Chroma call only (milliseconds; a rebuild, the copy of
  one collection).

Long work runs beside the searches: CCTV scans in their own threads (:mod:`findme.video.scans`),
an evaluation of own cases in a worker with stored progress (:mod:`findme.evaluation.jobs`).
Each open workspace also runs the alert outbox worker in a background thread
(``FINDME_ALERT_WORKER``, on by default), so alerts go out within seconds while the dashboard
runs; ``findme alerts run`` does the same as its own process.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from findme.alerts import outbox
from findme.config import Settings
from findme.evaluation import jobs as evaluation_jobs
from findme.faces.detect import detect
from findme.faces.embed import embed
from findme.faces.models import MODELS
from findme.search.store import Hit, VectorStore
from findme.video import scans
from findme.workspace import Workspace, open_workspace


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes first (readers arriving after it wait,
    so a stream of searches cannot starve an erasure). The writer may also read (re-entrant
    for the thread holding it); a reader must not ask to write."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # thread id holding the write side
        self._depth = 0  # the writer's re-entries
        self._waiting = 0  # writers waiting

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the read side for the block (runs beside other readers)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # the writer reading its own store
                self._depth += 1
            else:
                while self._writer is not None or self._waiting:
                    self._cond.wait()
                self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                if self._writer == me:
                    self._depth -= 1
                else:
                    self._readers -= 1
                    if not self._readers:
                        self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write side for the block (no reader, no other writer)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._waiting += 1
                while self._writer is not None or self._readers:
                    self._cond.wait()
                self._waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


class GuardedStore:
    """A :class:`VectorStore` safe to share between threads: reads share a
    :class:`ReadWriteLock`, writes (``add``, ``delete``) and the erasure rebuild (``compact``)
    hold it alone, each for the one store call. Everything else is the wrapped store's."""

    def __init__(self, store: VectorStore, lock: ReadWriteLock | None = None) -> None:
        self.inner = store
        self.lock = lock or ReadWriteLock()

    def __getattr__(self, name: str) -> Any:  # settings, embedded, client...
        return getattr(self.inner, name)

    # ------------------------------------------------------------------ reads: shared
    def query(self, model: str, vectors: np.ndarray, k: int, kind: str | None = None
              ) -> list[list[Hit]]:
        """:meth:`VectorStore.query` beside other readers."""
        with self.lock.shared():
            return self.inner.query(model, vectors, k, kind)

    def metadata(self, model: str) -> dict[int, dict]:
        """:meth:`VectorStore.metadata` beside other readers."""
        with self.lock.shared():
            return self.inner.metadata(model)

    def vectors(self, model: str, photo_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """:meth:`VectorStore.vectors` beside other readers."""
        with self.lock.shared():
            return self.inner.vectors(model, photo_ids)

    def count(self, model: str) -> int:
        """:meth:`VectorStore.count` beside other readers."""
        with self.lock.shared():
            return self.inner.count(model)

    def ids(self, model: str) -> set[int]:
        """:meth:`VectorStore.ids` beside other readers."""
        with self.lock.shared():
            return self.inner.ids(model)

    def models(self) -> list[str]:
        """:meth:`VectorStore.models` beside other readers."""
        with self.lock.shared():
            return self.inner.models()

    def collection(self, model: str, create: bool = True) -> Any:
        """:meth:`VectorStore.collection` (creating one is a write)."""
        with self.lock.exclusive() if create else self.lock.shared():
            return self.inner.collection(model, create)

    # ------------------------------------------------------------------ writes: alone
    def add(self, model: str, photo_ids: Sequence[int], case_ids: Sequence[int],
            vectors: np.ndarray, kind: str | Sequence[str] = "missing") -> None:
        """:meth:`VectorStore.add`, alone."""
        with self.lock.exclusive():
            self.inner.add(model, photo_ids, case_ids, vectors, kind)

    def set_owner(self, model: str, photo_ids: Sequence[int], case_ids: Sequence[int],
                  kinds: Sequence[str]) -> None:
        """:meth:`VectorStore.set_owner`, alone."""
        with self.lock.exclusive():
            self.inner.set_owner(model, photo_ids, case_ids, kinds)

    def delete(self, photo_ids: Sequence[int]) -> None:
        """:meth:`VectorStore.delete`, alone."""
        with self.lock.exclusive():
            self.inner.delete(photo_ids)

    def compact(self, model: str) -> int:
        """:meth:`VectorStore.compact` (the erasure rebuild), alone; returns vectors kept."""
        with self.lock.exclusive():
            return self.inner.compact(model)

    def close(self) -> None:
        """:meth:`VectorStore.close`, once no call is in flight."""
        with self.lock.exclusive():
            self.inner.close()

    def __enter__(self) -> GuardedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_open_lock = threading.Lock()  # the table of open workspaces
_open: dict[str, Workspace] = {}
_workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
models_ready = threading.Event()  # set once the background warm-up has loaded the models


_warming: list[threading.Thread] = []  # warm-up threads, joined by close_all


def workspace(settings: Settings) -> Workspace:
    """The open workspace of ``settings.data_dir`` (opened, migrated and reconciled on first
    use in this process)."""
    key = str(settings.data_dir)
    with _open_lock:
        ws = _open.get(key)
        if ws is None:
            ws = open_workspace(settings)
            ws.store = GuardedStore(ws.store)  # type: ignore[assignment]  # threads share it
            _open[key] = ws
            scans.mark_interrupted(ws.records)  # scans of a dashboard that stopped mid-way
            warm = threading.Thread(target=warm_up, args=(settings,), daemon=True,
                                    name="findme-warm-up")
            warm.start()
            _warming.append(warm)
            if settings.alert_worker:
                stop = threading.Event()
                worker = threading.Thread(target=outbox.run_forever,
                                          args=(ws.records, settings, stop), daemon=True,
                                          name="findme-outbox")
                worker.start()
                _workers[key] = (worker, stop)
        return ws


def warm_up(settings: Settings) -> None:
    """Load the detector and every configured model once (about 15 s on a laptop CPU), in the
    background, so the first registration or search a person makes is not the slow one."""
    try:
        detect(np.zeros((64, 64, 3), np.uint8), settings)
        for model in settings.models:
            size = MODELS[model].size
            embed([np.zeros((size, size, 3), np.uint8)], model, settings)
    except Exception:  # noqa: BLE001 - a model problem is reported where it is used
        pass
    finally:
        models_ready.set()


def close_all() -> None:
    """Close every open workspace (tests, shutdown). First the work running in this process's
    threads ends: scans, evaluations and imports are asked to stop at their next frame, photo
    or row and waited for, as is the model warm-up (a process must not end inside a model
    call: it aborts)."""
    from findme.cases import drive_jobs, import_jobs

    scans.stop_all()
    evaluation_jobs.stop_all()
    import_jobs.stop_local()
    drive_jobs.stop_local()
    for warm in _warming:  # a process must not end inside a model call (it aborts)
        warm.join(timeout=600)
    _warming.clear()
    with _open_lock:
        for worker, stop in _workers.values():
            stop.set()
            worker.join(timeout=30)
        _workers.clear()
        for ws in _open.values():
            ws.close()
        _open.clear()
