"""The vector store on a real embedded Chroma: settings, queries, one-process lock, purge."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from findme.config import Settings
from findme.search.store import REBUILD_SUFFIX, StoreBusy, collection_name, open_store


def _unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_collection_uses_cosine_and_configured_hnsw(ws_settings: Settings) -> None:
    with open_store(ws_settings) as store:
        col = store.collection("facenet")
        hnsw = col.configuration_json["hnsw"]
        assert hnsw["space"] == "cosine"
        assert hnsw["ef_search"] == ws_settings.hnsw_ef_search
        assert hnsw["max_neighbors"] == ws_settings.hnsw_max_neighbors
        assert col.name == collection_name("facenet")


def test_add_query_vectors_delete(ws_settings: Settings) -> None:
    v = _unit(300, 128)
    with open_store(ws_settings) as store:
        store.add("facenet", list(range(1, 301)), [i // 3 for i in range(300)], v)
        assert store.count("facenet") == 300 and store.ids("facenet") == set(range(1, 301))
        hits = store.query("facenet", v[[10, 20]], 5)
        assert [h[0].photo_id for h in hits] == [11, 21]
        assert hits[0][0].similarity == pytest.approx(1, 1e-5)
        assert all(a.similarity >= b.similarity for a, b in zip(hits[0], hits[0][1:],
                                                                strict=False))
        got = store.vectors("facenet", [5, 6, 999])
        assert set(got) == {5, 6} and np.allclose(got[5], v[4], atol=1e-6)
        store.delete([11])
        assert store.query("facenet", v[10], 1)[0][0].photo_id != 11
        assert store.query("arcface-mbf", v[:1, :64], 3) == [[]]


@pytest.mark.heavy
def test_second_process_gets_a_clear_busy_error(ws_settings: Settings) -> None:
    code = ("from dataclasses import replace; from findme.config import get_settings;"
            "from findme.search.store import open_store, StoreBusy; import pathlib, sys\n"
            f"s = replace(get_settings(), data_dir=pathlib.Path({str(ws_settings.data_dir)!r}),"
            " store_wait_seconds=0.5)\n"
            "try:\n    open_store(s)\nexcept StoreBusy as e:\n    print(e); sys.exit(3)\n")
    with open_store(ws_settings):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 3
    assert "in use by another process" in proc.stdout and "FINDME_CHROMA_URL" in proc.stdout
    with open_store(replace(ws_settings, store_wait_seconds=0)):
        pass  # released on close: opening again works


def test_compact_keeps_live_vectors_and_drops_deleted_bytes(ws_settings: Settings) -> None:
    from .test_erasure import find_vector

    v = _unit(1200, 128, seed=3)
    with open_store(ws_settings) as store:
        store.add("facenet", list(range(1, 1201)), [1] * 1200, v)
    with open_store(ws_settings) as store:  # reopen: the index is on disk now
        store.delete([7])
        assert find_vector(ws_settings.chroma_dir, v[6]), "a deleted vector lingers until compact"
        kept = store.compact("facenet")
        assert kept == 1199
        assert not find_vector(ws_settings.chroma_dir, v[6])
        assert store.query("facenet", v[100], 1)[0][0].photo_id == 101
    with open_store(ws_settings) as store:
        assert store.count("facenet") == 1199


def test_interrupted_rebuild_is_finished_on_open(ws_settings: Settings) -> None:
    v = _unit(20, 128, seed=4)
    with open_store(ws_settings) as store:
        store.add("facenet", list(range(1, 21)), [1] * 20, v)
        # crash after dropping the old collection but before the rename
        new = store.client.create_collection(collection_name("facenet") + REBUILD_SUFFIX,
                                             embedding_function=None,
                                             configuration=store._configuration())
        got = store.collection("facenet").get(include=["embeddings", "metadatas"])
        new.add(ids=got["ids"], embeddings=np.asarray(got["embeddings"]),
                metadatas=got["metadatas"])
        store.client.delete_collection(collection_name("facenet"))
    with open_store(ws_settings) as store:
        assert store.models() == ["facenet"] and store.count("facenet") == 20


def test_busy_error_type_is_runtime_error() -> None:
    assert issubclass(StoreBusy, RuntimeError)
