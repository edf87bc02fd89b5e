"""The Chroma server ``findme serve`` runs (``findme chroma-server``): a real server process on
127.0.0.1 that answers only clients carrying its token, and erasure through it leaves no byte of
an erased vector in its folder (SQLite free pages, journal, HNSW files).

An unauthenticated client (httpx, and Chroma's own client without the token) is refused listing,
reading and deleting collections; the project's store, with the token, enrolls, searches and
erases. The erased vectors are looked for in the raw files of the server's folder at every byte
alignment, while the server still runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from findme.config import Settings
from findme.search.store import StoreRefused, VectorStore, open_store
from tests.live_app import ARTIFACTS, free_port
from tests.test_erasure import find_vector

TOKEN = "test-token-" + "x7Q2" * 8
API = "/api/v2/tenants/default_tenant/databases/default_database"


@dataclass(frozen=True)
class GuardedChroma:
    """A running ``findme chroma-server``: its URL, its folder and its token."""

    url: str
    folder: Path
    token: str


@pytest.fixture
def guarded_chroma(tmp_path: Path) -> Iterator[GuardedChroma]:
    """``findme chroma-server`` on a free loopback port over ``tmp_path/server``."""
    port = free_port()
    folder = tmp_path / "server"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"chroma-server-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "findme.cli", "chroma-server", "--path",
                             str(folder), "--port", str(port)],
                            env=dict(os.environ, FINDME_CHROMA_TOKEN=TOKEN), stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("findme chroma-server did not start (see its log in the artifacts)")
        time.sleep(0.3)
    try:
        yield GuardedChroma(url, folder, TOKEN)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def test_the_server_refuses_clients_without_the_token(ws_settings: Settings,
                                                      guarded_chroma: GuardedChroma) -> None:
    settings = replace(ws_settings, chroma_url=guarded_chroma.url, chroma_token=TOKEN)
    with open_store(settings) as store:
        store.add("facenet", [1, 2], [7, 7], _unit(np.random.default_rng(1), 2))
        col_id = store.collection("facenet").id
    url = guarded_chroma.url
    for token in (None, "wrong-token"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answers = {
            "list": httpx.get(f"{url}{API}/collections", headers=headers),
            "get": httpx.post(f"{url}{API}/collections/{col_id}/get", headers=headers,
                              json={"include": ["embeddings", "metadatas"]}),
            "query": httpx.post(f"{url}{API}/collections/{col_id}/query", headers=headers,
                                json={"query_embeddings": [[0.1] * 8], "n_results": 1}),
            "delete": httpx.delete(f"{url}{API}/collections/faces-facenet", headers=headers),
            "v1 list": httpx.get(f"{url}/api/v1/collections", headers=headers),
            "purge": httpx.post(f"{url}/findme/v1/purge", headers=headers),
            "x-chroma-token": httpx.get(f"{url}{API}/collections",
                                        headers={"X-Chroma-Token": token or ""}),
        }
        refused = {k: a.status_code for k, a in answers.items()}
        assert all(code in (401, 403) for code in refused.values()), (token, str(refused))
        assert all(b"case_id" not in a.content for a in answers.values())
    with pytest.raises(StoreRefused):
        open_store(replace(settings, chroma_token=""))
    with pytest.raises(StoreRefused):
        open_store(replace(settings, chroma_token="wrong-token"))
    with open_store(settings) as store:  # the collection is still there, whole
        assert store.ids("facenet") == {1, 2}


def test_the_token_findme_serve_keeps_is_found_in_the_data_folder(
        ws_settings: Settings, guarded_chroma: GuardedChroma) -> None:
    """A command run beside ``findme serve`` (no FINDME_CHROMA_TOKEN) uses run/chroma.token."""
    from findme.cli.serve import CHROMA_TOKEN_FILE, _write_private

    _write_private(ws_settings.data_dir / "run" / CHROMA_TOKEN_FILE, TOKEN + "\n")
    with open_store(replace(ws_settings, chroma_url=guarded_chroma.url)) as store:
        store.add("facenet", [5], [9], _unit(np.random.default_rng(2), 1))
        assert store.ids("facenet") == {5}


def test_erasure_through_the_server_leaves_no_vector_bytes(
        ws_settings: Settings, guarded_chroma: GuardedChroma) -> None:
    """Vectors deleted and compacted through the server are in no file of its folder, while
    the server runs; the kept vectors are still found by a search."""
    rng = np.random.default_rng(20)
    settings = replace(ws_settings, chroma_url=guarded_chroma.url, chroma_token=TOKEN)
    kept, erased = _unit(rng, 40), _unit(rng, 3)
    with open_store(settings) as store:
        for model in ("facenet", "arcface"):
            store.add(model, list(range(1, 41)), [1] * 40, kept)
            store.add(model, [101, 102, 103], [2] * 3, erased)
        _settle(store, guarded_chroma.folder, erased[0])
        assert find_vector(guarded_chroma.folder, erased[0]), "stored before erasure"

        store.delete([101, 102, 103])
        for model in store.models():
            store.compact(model)
        for k, vec in enumerate(erased):
            assert find_vector(guarded_chroma.folder, vec) == [], f"erased vector {k}"
        assert store.ids("facenet") == set(range(1, 41))
        hits = store.query("arcface", kept[7], 1)[0]
        assert hits and hits[0].photo_id == 8


def _unit(rng: np.random.Generator, n: int, dim: int = 512) -> np.ndarray:
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _settle(store: VectorStore, folder: Path, vec: np.ndarray) -> None:
    """Wait until the server has written ``vec`` to its files (its log is flushed lazily)."""
    deadline = time.monotonic() + 60
    while not find_vector(folder, vec) and time.monotonic() < deadline:
        store.count("facenet")
        time.sleep(0.5)
