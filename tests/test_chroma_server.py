"""Past one machine: the same code through a real Chroma server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from findme.cases.records import CaseDetails
from findme.cases.registry import PhotoInput, delete_case, enroll_case
from findme.config import Settings
from findme.faces.image import load_image
from findme.workspace import open_workspace
from tests.live_app import free_port, wait_for_port


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real ``chroma run`` on loopback, stopped afterwards."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc, "chroma server")
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


@pytest.fixture
def token_gate(chroma_server: str) -> Iterator[str]:
    """A reverse proxy on 127.0.0.1 in front of the Chroma server that lets through only
    requests carrying ``Authorization: Bearer gate-token-123`` (what a deployment puts in front
    of a Chroma server reached over a network: Chroma 1.x's ``chroma run`` checks no token;
    ``findme chroma-server`` does, tests/test_chroma_guarded.py)."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlparse

    upstream = urlparse(chroma_server)
    seen: list[str] = []

    class Gate(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != "Bearer gate-token-123":
                body = b'{"error":"Unauthorized"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "authorization", "connection")}
            conn.request(self.command, self.path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        assert seen, "the store went through the gate"


@pytest.mark.heavy
def test_a_chroma_server_behind_a_token_gate(ws_settings: Settings, token_gate: str,
                                              orl: Path) -> None:
    """Without FINDME_CHROMA_TOKEN the gate refuses the store with a clear message; with it,
    enrolling and searching work through the gate."""
    from findme.search.store import StoreRefused, open_store

    with pytest.raises(StoreRefused, match="FINDME_CHROMA_TOKEN"):
        open_store(replace(ws_settings, chroma_url=token_gate))
    with pytest.raises(StoreRefused):
        open_store(replace(ws_settings, chroma_url=token_gate, chroma_token="wrong"))
    settings = replace(ws_settings, chroma_url=token_gate, chroma_token="gate-token-123")
    with open_workspace(settings) as ws:
        result = enroll_case(CaseDetails(name="Gated Child", consent_recorded=True), [
            PhotoInput(f"{i}.pgm", (orl / "s22" / f"{i}.pgm").read_bytes()) for i in (1, 2, 3)],
            ws.records, ws.store, settings)
        best = ws.matcher.search_image(load_image(orl / "s22" / "9.pgm", settings)).faces[0].best
        assert best is not None and best.case_id == result.case_id
