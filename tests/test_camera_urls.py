"""Camera URLs cannot make the server fetch, or listen, where an attacker points it.

Every connection here goes to 127.0.0.1; the link-local and metadata addresses are refused
before any packet leaves (checked by a local server that must see no request).
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading

import pytest

from findme.config import Settings
from findme.video.frames import VideoError, check_camera_url

FINDME = [sys.executable, "-m", "findme.cli"]


@pytest.mark.parametrize("url, why", [
    ("tcp://127.0.0.1:9?listen=1", "must start with"),
    ("udp://127.0.0.1:9", "must start with"),
    ("file:///etc/passwd", "must start with"),
    ("rtmp://127.0.0.1/live", "must start with"),
    ("concat:a.mp4|b.mp4", "must start with"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/cam", "link-local"),
    ("rtsp://0.0.0.0/cam", "link-local"),
    ("http://127.0.0.1:8080/cam.mjpg", "FINDME_CAMERA_NETWORKS"),
    ("rtsp://10.1.2.3/stream", "FINDME_CAMERA_NETWORKS"),
    ("rtsp://127.0.0.1/x?listen=1", "listen"),
])
def test_refused_camera_urls(url: str, why: str) -> None:
    with pytest.raises(VideoError, match=why):
        check_camera_url(url)


def test_cameras_on_listed_networks_are_allowed() -> None:
    assert check_camera_url("rtsp://user:pw@127.0.0.1:8554/cam", ("127.0.0.0/8",))
    assert check_camera_url("https://10.1.2.3/hls.m3u8", ("10.0.0.0/8",))
    with pytest.raises(VideoError, match="link-local"):  # never, whatever is listed
        check_camera_url("http://169.254.169.254/", ("0.0.0.0/0",))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.heavy
def test_scan_neither_listens_nor_fetches_where_it_may_not(ws_settings: Settings) -> None:
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    env.pop("FINDME_CAMERA_NETWORKS", None)
    port = _free_port()
    proc = subprocess.Popen(FINDME + ["scan", f"tcp://127.0.0.1:{port}?listen=1", "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listening = False
    while proc.poll() is None:  # while it runs, nothing may accept on that port
        with socket.socket() as s:
            s.settimeout(0.2)
            listening |= s.connect_ex(("127.0.0.1", port)) == 0
    assert proc.returncode != 0 and "must start with" in proc.stderr.read()
    assert not listening

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
    try:
        refused = subprocess.run(FINDME + ["scan", url, "--quiet"], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0 and "FINDME_CAMERA_NETWORKS" in refused.stderr
        assert seen == []  # not one request
        allowed = subprocess.run(FINDME + ["scan", url, "--quiet"], capture_output=True,
                                 env=dict(env, FINDME_CAMERA_NETWORKS="127.0.0.0/8"),
                                 text=True, timeout=300)
        assert seen, allowed.stderr  # the positive control: a listed network is reached
    finally:
        server.shutdown()


def test_camera_credentials_are_never_stored(ws_settings: Settings) -> None:
    """A stream URL with ``user:password@`` is used as given, but the scan job, its error and
    any lead source keep it with ``***`` instead."""
    from dataclasses import replace

    from findme.video import scans
    from findme.video.frames import redact
    from findme.workspace import open_workspace

    port = _free_port()  # nothing listens there: the scan fails to open the stream
    url = f"rtsp://admin:s3cret@127.0.0.1:{port}/live"
    settings = replace(ws_settings, camera_networks=("127.0.0.0/8",))
    with open_workspace(settings) as ws:
        scan_id, result = scans.run_scan(ws, url, redact(url), 0.5)
        assert result is None
        job = scans.get(ws.records, scan_id)
        assert job.status == "failed" and job.error
        kept = " ".join(str(v) for v in vars(job).values())
        assert "s3cret" not in kept and "admin" not in kept and "***@127.0.0.1" in kept
    for f in ws_settings.data_dir.glob("findme.db*"):  # the database and its write-ahead log
        assert b"s3cret" not in f.read_bytes(), f


def test_open_capture_checks_a_stream_it_was_not_handed_checked() -> None:
    """``open_capture`` given a plain stream URL checks it itself, with no network allowed
    (nothing is reached); given :func:`check_camera_url`'s result it connects to the address
    that was checked."""
    from findme.video.frames import CameraURL, open_capture

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
    try:
        with pytest.raises(VideoError, match="FINDME_CAMERA_NETWORKS"):
            open_capture(url)
        assert seen == []
        checked = check_camera_url(url, ("127.0.0.1/32",))
        assert isinstance(checked, CameraURL) and checked.addresses == ("127.0.0.1",)
        with pytest.raises(VideoError, match="cannot be opened"):
            open_capture(checked)
        assert seen and seen[0] == "/cam.mjpg"  # reached, through the relay
    finally:
        server.shutdown()
        server.server_close()
