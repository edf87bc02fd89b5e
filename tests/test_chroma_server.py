"""Past one machine: the same code through a real Chroma server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.faces.image import load_image
from findme.workspace import open_workspace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real ``chroma run`` on loopback, stopped afterwards."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.heavy
def test_two_workspaces_share_a_chroma_server(ws_settings: Settings, chroma_server: str,
                                              orl: Path) -> None:
    settings = replace(ws_settings, chroma_url=chroma_server)
    with open_workspace(settings) as a, open_workspace(settings) as b:  # no lock with a server
        assert not a.store.embedded
        result = enroll_case(CaseDetails(name="Server Child", consent_recorded=True), [
            PhotoInput(f"{i}.pgm", (orl / "s21" / f"{i}.pgm").read_bytes()) for i in (1, 2, 3)],
            a.records, a.store, settings)
        probe = load_image(orl / "s21" / "8.pgm", settings)
        best = b.matcher.search_image(probe).faces[0].best
        assert best is not None and best.case_id == result.case_id
        delete_case(result.case_id, b.records, b.store, settings)
        assert all(a.store.count(m) == 0 for m in settings.models)
    assert not settings.chroma_dir.exists()  # nothing embedded was created
