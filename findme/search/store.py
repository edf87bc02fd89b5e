"""Face vectors in ChromaDB: one collection per model id, cosine space, keyed by photo id.

Embedded ``PersistentClient`` under ``$FINDME_DATA_DIR/chroma`` by default; a Chroma server when
``FINDME_CHROMA_URL`` is set (``http://host:port``). An embedded folder belongs to one process at
a time (a second process reads a stale index, measured), so opening it takes an exclusive lock; a
second opener waits up to ``FINDME_STORE_WAIT`` seconds (default 30) for it, then gets
:class:`StoreBusy` saying what to do instead.

HNSW settings (``FINDME_HNSW_*``) are fixed when a collection is created; search asks for more
candidates than it returns (``Settings.search_candidates``). M 48 and ``ef_search`` 150 were
chosen with ``bench/search.py``: genuine recall@10 1.000 at 100k faces (p95 2.75 ms) and at 1M
(p95 3.13 ms, 1,000 probes); M 32 missed 1 in 300 at 1M (README, *Speed*).
No metadata filter is used on the photo-search path (Chroma's ``where`` costs 50-115 ms at 100k
rows); saving a record and cross-matching search one side with ``where={"kind": ...}`` (each
vector's metadata holds its record's ``case_id`` and ``kind``: ``missing`` or ``found``).

A Chroma server is reached with ``FINDME_CHROMA_TOKEN`` (sent as ``Authorization: Bearer``); when
it is unset, the token ``findme serve`` keeps in the data folder (``run/chroma.token``) is used.
Erasure under a server asks it to purge its files (``POST /findme/v1/purge``, served by
``findme chroma-server``) so no erased vector stays in SQLite free pages or HNSW files.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from findme.config import Settings

PREFIX = "faces-"
REBUILD_SUFFIX = ".rebuild"
LOCK_FILE = ".findme.lock"
TOKEN_FILE = ("run", "chroma.token")  # under the data folder, written by `findme serve`
PURGE_PATH = "/findme/v1/purge"
log = logging.getLogger(__name__)


class StoreBusy(RuntimeError):
    """The embedded vector store is open in another process."""


class StoreRefused(RuntimeError):
    """The Chroma server (or the gate in front of it) refused our credentials."""


@dataclass(frozen=True)
class Hit:
    """One nearest registered face: its photo and the cosine similarity."""

    photo_id: int
    similarity: float


def collection_name(model: str) -> str:
    """Chroma collection name of a model id (``faces-facenet``)."""
    return PREFIX + model


class VectorStore:
    """The face-vector store. Build with :func:`open_store`; call :meth:`close` when done."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self._lock_fd: int | None = None
        self._headers: dict[str, str] = {}
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            token = server_token(settings)
            self._headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                self.client = chromadb.HttpClient(host=url.hostname or "127.0.0.1",
                                                  port=url.port or 8000,
                                                  ssl=url.scheme == "https",
                                                  headers=self._headers or None,
                                                  settings=chroma_settings)
            except Exception as exc:
                text = f"{type(exc).__name__} {exc}"
                if any(k in text for k in ("401", "403", "nauthori", "Forbidden", "AuthError")):
                    raise StoreRefused(
                        f"the Chroma server at {settings.chroma_url} refused the connection "
                        "(401/403): set FINDME_CHROMA_TOKEN to the token its gate expects"
                    ) from None
                raise
            self.embedded = False
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
            self.client = chromadb.PersistentClient(path=str(settings.chroma_dir),
                                                    settings=chroma_settings)
            self.embedded = True
        self._collections: dict[str, Any] = {}
        self._finish_interrupted_rebuilds()

    # ------------------------------------------------------------------ process lock

    def _acquire_lock(self) -> None:
        path = self.settings.chroma_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, self.settings.store_wait_seconds)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreBusy(
                f"the vector store in {self.settings.chroma_dir} is in use by another process "
                f"(pid {holder}); retry when it has finished, or run a Chroma server "
                "(`chroma run --path DIR`) and set FINDME_CHROMA_URL so several processes can "
                "share it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the embedded folder (the lock) for other processes."""
        self._collections.clear()
        if self.embedded:
            with contextlib.suppress(Exception):
                self.client.clear_system_cache()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ collections

    def _configuration(self) -> dict[str, Any]:
        s = self.settings
        return {"hnsw": {"space": "cosine", "ef_construction": s.hnsw_ef_construction,
                         "max_neighbors": s.hnsw_max_neighbors, "ef_search": s.hnsw_ef_search}}

    def collection(self, model: str, create: bool = True) -> Any:
        """The model's collection (created with the configured HNSW settings if absent), or
        None when it does not exist and ``create`` is False.

        Embedded, the handle is looked up once per process (every writer is this process). With
        a server it is looked up on every call: another process may have rebuilt the collection
        (erasure), which gives it a new id and leaves old handles pointing at nothing.
        """
        if not self.embedded:
            self._collections.pop(model, None)
        col = self._collections.get(model)
        if col is None and (create or model not in self._collections):
            name = collection_name(model)
            if create:
                col = self.client.get_or_create_collection(
                    name, embedding_function=None, configuration=self._configuration())
            else:
                try:
                    col = self.client.get_collection(name, embedding_function=None)
                except Exception:
                    col = None
            if col is not None or self.embedded:  # a server may gain it from another process
                self._collections[model] = col
        return col

    def models(self) -> list[str]:
        """Model ids that have a collection."""
        names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        return sorted(n[len(PREFIX):] for n in names
                      if n.startswith(PREFIX) and not n.endswith(REBUILD_SUFFIX))

    # ------------------------------------------------------------------ writes

    def add(self, model: str, photo_ids: Sequence[int], case_ids: Sequence[int],
            vectors: np.ndarray, kind: str | Sequence[str] = "missing") -> None:
        """Store one vector per photo for a model (an existing photo id is overwritten), with
        its case id and its record's ``kind`` (one for all, or one per photo) as metadata."""
        if len(photo_ids) == 0:
            return
        col = self.collection(model)
        step = self.client.get_max_batch_size()
        vectors = np.asarray(vectors, dtype=np.float32)
        kinds = [kind] * len(photo_ids) if isinstance(kind, str) else list(kind)
        for i in range(0, len(photo_ids), step):
            col.upsert(ids=[str(p) for p in photo_ids[i:i + step]],
                       embeddings=vectors[i:i + step],
                       metadatas=[{"case_id": int(c), "kind": k} for c, k in
                                  zip(case_ids[i:i + step], kinds[i:i + step], strict=True)])

    def metadata(self, model: str) -> dict[int, dict]:
        """``{photo id: metadata}`` of every vector of a model (``case_id``, ``kind``)."""
        col = self.collection(model, create=False)
        if col is None:
            return {}
        out: dict[int, dict] = {}
        total, step = col.count(), 10_000
        for offset in range(0, total, step):
            got = col.get(include=["metadatas"], limit=step, offset=offset)
            out.update((int(i), dict(m or {})) for i, m in
                       zip(got["ids"], got["metadatas"], strict=True))
        return out

    def set_owner(self, model: str, photo_ids: Sequence[int], case_ids: Sequence[int],
                  kinds: Sequence[str]) -> None:
        """Rewrite the metadata (case id, kind) of stored vectors, keeping the vectors (a
        reconcile adding ``kind`` to vectors from before found records, a merge)."""
        col = self.collection(model, create=False)
        if col is None or len(photo_ids) == 0:
            return
        step = self.client.get_max_batch_size()
        for i in range(0, len(photo_ids), step):
            col.update(ids=[str(p) for p in photo_ids[i:i + step]],
                       metadatas=[{"case_id": int(c), "kind": k} for c, k in
                                  zip(case_ids[i:i + step], kinds[i:i + step], strict=True)])

    def delete(self, photo_ids: Sequence[int]) -> None:
        """Remove these photos' vectors from every model's collection."""
        if len(photo_ids) == 0:
            return
        for model in self.models():
            self.collection(model).delete(ids=[str(p) for p in photo_ids])

    # ------------------------------------------------------------------ reads

    def count(self, model: str) -> int:
        """Number of vectors stored for a model (0 when it has no collection)."""
        col = self.collection(model, create=False)
        return 0 if col is None else col.count()

    def ids(self, model: str) -> set[int]:
        """Photo ids that have a vector for this model."""
        col = self.collection(model, create=False)
        if col is None:
            return set()
        out: set[int] = set()
        total, step = col.count(), 10_000
        for offset in range(0, total, step):
            out.update(int(i) for i in col.get(include=[], limit=step, offset=offset)["ids"])
        return out

    def vectors(self, model: str, photo_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """``{photo id: vector}`` for the ids that are stored."""
        col = self.collection(model, create=False)
        if col is None or len(photo_ids) == 0:
            return {}
        got = col.get(ids=[str(p) for p in photo_ids], include=["embeddings"])
        return {int(i): np.asarray(e, dtype=np.float32)
                for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def query(self, model: str, vectors: np.ndarray, k: int, kind: str | None = None
              ) -> list[list[Hit]]:
        """The ``k`` most similar stored faces for each query vector, most similar first; with
        ``kind`` only faces of records of that kind (``missing`` / ``found``)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        col = self.collection(model, create=False)
        if col is None or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        # No count() and no metadata here: both cost Chroma SQLite work that grows with the
        # collection (count ~4 ms at 30k rows, measured); Chroma returns fewer than k by itself.
        extra = {"where": {"kind": kind}} if kind is not None else {}
        res = col.query(query_embeddings=vectors, n_results=k, include=["distances"], **extra)
        return [[Hit(int(i), 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]
                for ids, dists in zip(res["ids"], res["distances"], strict=True)]

    # ------------------------------------------------------------------ physical purge

    def compact(self, model: str) -> int:
        """Rebuild a model's collection from its live vectors so deleted ones leave no bytes.

        Chroma's HNSW files keep deleted vectors on disk (measured), so erasure rebuilds the
        collection: copy live rows into a new collection, drop the old one, rename, then (when
        embedded) remove orphaned segment folders and VACUUM Chroma's SQLite file. A crash midway
        is finished by the next open. Returns the number of vectors kept.
        """
        old = self.collection(model, create=False)
        if old is None:
            return 0
        got = old.get(include=["embeddings", "metadatas"])
        name = collection_name(model)
        with contextlib.suppress(Exception):
            self.client.delete_collection(name + REBUILD_SUFFIX)
        new = self.client.create_collection(name + REBUILD_SUFFIX, embedding_function=None,
                                            configuration=self._configuration())
        step = self.client.get_max_batch_size()
        ids, embs, metas = got["ids"], got["embeddings"], got["metadatas"]
        for i in range(0, len(ids), step):
            new.add(ids=ids[i:i + step], embeddings=np.asarray(embs[i:i + step]),
                    metadatas=metas[i:i + step])
        self.client.delete_collection(name)
        new.modify(name=name)
        self._collections.pop(model, None)
        self._purge_files()
        return len(ids)

    def _finish_interrupted_rebuilds(self) -> None:
        names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        for n in names:
            if not n.endswith(REBUILD_SUFFIX):
                continue
            final = n[: -len(REBUILD_SUFFIX)]
            if final in names:  # the old one still exists: the copy may be partial, drop it
                self.client.delete_collection(n)
            else:  # the old one was dropped: the copy is complete
                self.client.get_collection(n, embedding_function=None).modify(name=final)

    def _purge_files(self) -> bool:
        """Leave no deleted vector in the store's files: embedded, purge the folder here
        (:func:`purge_folder`); with a server, ask it to (``findme chroma-server`` does). Returns
        False, with a warning in the log, when the server cannot (a plain ``chroma run``)."""
        if self.embedded:
            purge_folder(self.settings.chroma_dir)
            return True
        import httpx

        url = self.settings.chroma_url.rstrip("/") + PURGE_PATH
        answer = httpx.post(url, headers=self._headers, timeout=3600)
        if answer.status_code in (401, 403):
            raise StoreRefused(f"the Chroma server at {self.settings.chroma_url} refused to "
                               "purge erased vectors (401/403): check FINDME_CHROMA_TOKEN")
        if answer.status_code == 404:
            log.warning("the Chroma server at %s cannot purge its files (not `findme "
                        "chroma-server`): erased vectors may stay in its SQLite free pages "
                        "until it is vacuumed", self.settings.chroma_url)
            return False
        answer.raise_for_status()
        return True


def server_token(settings: Settings) -> str:
    """The token for the Chroma server: ``FINDME_CHROMA_TOKEN``, else the one ``findme serve``
    keeps in the data folder (``run/chroma.token``), else empty."""
    if settings.chroma_token:
        return settings.chroma_token
    path = settings.data_dir.joinpath(*TOKEN_FILE)
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8").strip()
    return ""


def purge_folder(chroma_dir: Path | str) -> None:
    """Delete the segment folders of a Chroma folder that no collection uses (dropped
    collections' HNSW files) and VACUUM its SQLite file, so deleted rows leave no bytes in free
    pages, then truncate any write-ahead log. Run it where no other copy of SQLite in the same
    process writes the file (the server runs it in a child process)."""
    folder = Path(chroma_dir)
    con = sqlite3.connect(folder / "chroma.sqlite3", timeout=60)
    try:
        con.execute("PRAGMA busy_timeout = 60000")
        live = {row[0] for row in con.execute("SELECT id FROM segments")}

        def remove_orphans() -> None:
            for entry in folder.iterdir():
                if entry.is_dir() and entry.name not in live and len(entry.name) == 36:
                    shutil.rmtree(entry, ignore_errors=True)

        remove_orphans()
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        remove_orphans()  # a dropped segment's files may be flushed again after the first pass
    finally:
        con.close()


def open_store(settings: Settings) -> VectorStore:
    """Open the configured vector store (raises :class:`StoreBusy` if another process has it)."""
    return VectorStore(settings)
