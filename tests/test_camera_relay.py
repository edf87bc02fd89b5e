"""A camera URL that passed the rules cannot send FFmpeg anywhere else.

Real servers in a network namespace this test makes (``ip netns add``): the "camera" listens
on 10.77.0.2 (an address of its loopback interface, the one network allowed for cameras) and a
recording server on the namespace's own 127.0.0.1, which the rules refuse. The client
(``open_capture``) runs inside the namespace too (``ip netns exec``), so nothing here touches the
host's network:

- the camera answers HTTP 302 to the recorder;
- the camera serves an HLS playlist whose segment is on the recorder;
- the camera answers an RTSP request with 302 to the recorder;
- the camera's name resolves to the camera once and to 127.0.0.1 afterwards (DNS rebinding,
  through a DNS server on the namespace's 127.0.0.1:53 named in its own ``resolv.conf``).

Each time the recorder must see no connection at all, while the camera saw the request (so the
client did try). Positive controls: an AVI and an HLS playlist (relative and same-origin absolute
segments) served by the camera are read through the relay.
"""

from __future__ import annotations

import ctypes
import http.server
import io
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pytest

CAMERA = "10.77.0.2"
NETS = "10.77.0.0/24"
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and iproute2 for a network namespace")


def _in_netns(ns: str, make: Callable[[], T]) -> T:
    """``make()`` run on a thread that entered namespace ``ns``: sockets it creates live there
    (and stay there); the calling thread's namespace is untouched."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, object] = {}

    def run() -> None:
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                raise OSError(ctypes.get_errno(), "setns")
            box["value"] = make()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            os.close(fd)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _listen(ns: str, host: str, port: int = 0, kind: int = socket.SOCK_STREAM) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        if kind == socket.SOCK_STREAM:
            s.listen(16)
        return s
    return _in_netns(ns, make)


@dataclass
class Recorder:
    """A TCP server that only records that someone connected."""

    sock: socket.socket
    contacts: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.contacts.append(str(peer))
            conn.close()


def _ts_segment(n: int = 10) -> bytes:
    """A real MPEG-TS segment: ``n`` grey frames at 5 fps."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        stream = out.add_stream("mpeg2video", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(n):
            img = np.full((48, 64, 3), 40 + 10 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _avi(tmp: Path) -> bytes:
    path = tmp / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    return path.read_bytes()


class DNS(socketserver.BaseRequestHandler):
    """Answers ``A`` for :attr:`name`: the camera the first time, 127.0.0.1 every later time
    (a rebinding attacker's server, TTL 0); no ``AAAA``; other names do not exist."""

    name = b""
    answers: list[str] = []

    def handle(self) -> None:
        data, sock = self.request
        qid, rest = data[:2], data[12:]
        end = rest.index(b"\0") + 1
        labels, i = [], 0
        while rest[i]:
            labels.append(rest[i + 1:i + 1 + rest[i]])
            i += rest[i] + 1
        qtype = int.from_bytes(rest[end:end + 2], "big")
        question = rest[:end + 4]
        if b".".join(labels).lower() != self.name:
            sock.sendto(qid + b"\x81\x83\0\x01\0\0\0\0\0\0" + question, self.client_address)
            return
        if qtype != 1:
            sock.sendto(qid + b"\x81\x80\0\x01\0\0\0\0\0\0" + question, self.client_address)
            return
        addr = CAMERA if not self.answers else "127.0.0.1"
        self.answers.append(addr)
        answer = (b"\xc0\x0c\0\x01\0\x01\0\0\0\0\0\x04" + socket.inet_aton(addr))
        sock.sendto(qid + b"\x81\x80\0\x01\0\x01\0\0\0\0" + question + answer,
                    self.client_address)


@dataclass
class Lab:
    """The namespace, its camera (HTTP and RTSP), recorder and DNS, and what each saw."""

    ns: str
    http_port: int
    rtsp_port: int
    recorder: Recorder
    http_seen: list[str]
    rtsp_seen: list[str]

    def open(self, url: str, nets: str = NETS, client: str = "") -> dict:
        """Run ``open_capture(check_camera_url(url))`` (or ``client``) inside the namespace;
        frames read and the error."""
        proc = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c",
                               client or CLIENT, url, nets], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])


CLIENT = """
import json, sys
from findme.video.frames import VideoError, check_camera_url, open_capture
out = {"frames": 0, "error": None}
try:
    cap = open_capture(check_camera_url(sys.argv[1], tuple(sys.argv[2].split(","))))
    try:
        while cap.grab():
            out["frames"] += 1
    finally:
        cap.release()
except VideoError as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""

#: FFmpeg on its own, given the camera's URL directly (no relay): with the project's options
#: (argv[2] == "options") or OpenCV's defaults
DIRECT = """
import json, sys
import cv2
from findme.video.frames import _FFMPEG_OPTIONS, _open_ffmpeg
if sys.argv[2] == "options":
    cap = _open_ffmpeg(sys.argv[1], _FFMPEG_OPTIONS["http"])
else:
    cap = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
n = 0
while cap.isOpened() and cap.grab():
    n += 1
print(json.dumps({"frames": n, "error": None if cap.isOpened() else "not opened"}))
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ns = f"findme-cam-{os.getpid()}"
    etc = Path("/etc/netns") / ns
    servers: list[socketserver.BaseServer] = []
    try:
        for cmd in (f"ip netns add {ns}", f"ip -n {ns} link set lo up",
                    f"ip -n {ns} addr add {CAMERA}/32 dev lo"):
            subprocess.run(cmd.split(), check=True, capture_output=True)
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")
        tmp = tmp_path_factory.mktemp("camera")
        avi, ts = _avi(tmp), _ts_segment()
        http_sock = _listen(ns, CAMERA)
        port = http_sock.getsockname()[1]
        # the recorder takes the camera's port on 127.0.0.1, so a rebound name reaches it
        recorder = Recorder(_listen(ns, "127.0.0.1", port))
        threading.Thread(target=recorder.serve, daemon=True).start()
        rec = f"127.0.0.1:{recorder.port}"
        http_seen: list[str] = []
        pages = {
            "/evil.m3u8": ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                           f"#EXTINF:2.0,\nhttp://{rec}/seg0.ts\n#EXT-X-ENDLIST\n").encode(),
            "/key.m3u8": ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                          f'#EXT-X-KEY:METHOD=AES-128,URI="http://{rec}/key"\n'
                          "#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n").encode(),
            "/good.m3u8": ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                           f"#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nhttp://{CAMERA}:{port}/seg1.ts"
                           "\n#EXT-X-ENDLIST\n").encode(),
            "/seg0.ts": ts, "/seg1.ts": ts, "/clip.avi": avi}

        class Camera(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                http_seen.append(self.path)
                path = self.path.split("?")[0]
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://{rec}/clip.avi")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = pages.get(path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer((CAMERA, port), Camera,
                                                bind_and_activate=False)
        httpd.socket.close()
        httpd.socket = http_sock
        servers.append(httpd)

        rtsp_seen: list[str] = []

        class Rtsp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while line := self.rfile.readline():
                    if not line.strip():
                        continue
                    rtsp_seen.append(line.decode().strip())
                    cseq = "1"
                    while (header := self.rfile.readline()).strip():
                        if header.lower().startswith(b"cseq:"):
                            cseq = header.split(b":", 1)[1].strip().decode()
                    self.wfile.write(f"RTSP/1.0 302 Moved Temporarily\r\nCSeq: {cseq}\r\n"
                                     f"Location: rtsp://{rec}/live\r\n\r\n".encode())

        rtsp = socketserver.ThreadingTCPServer((CAMERA, 0), Rtsp, bind_and_activate=False)
        rtsp.socket.close()
        rtsp.socket = _listen(ns, CAMERA)
        servers.append(rtsp)

        DNS.name = b"cam.test"
        dns = socketserver.ThreadingUDPServer(("127.0.0.1", 53), DNS, bind_and_activate=False)
        dns.socket.close()
        dns.socket = _listen(ns, "127.0.0.1", 53, socket.SOCK_DGRAM)
        servers.append(dns)
        for server in servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        yield Lab(ns, port, rtsp.socket.getsockname()[1], recorder, http_seen, rtsp_seen)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


def test_a_camera_video_is_read_through_the_relay(lab: Lab) -> None:
    """Positive control: what the camera serves itself is read, over HTTP and HLS."""
    got = lab.open(f"http://{CAMERA}:{lab.http_port}/clip.avi")
    assert got["error"] is None and got["frames"] == 6, got
    got = lab.open(f"http://{CAMERA}:{lab.http_port}/good.m3u8")
    assert got["error"] is None and got["frames"] == 20, got  # both segments, 10 frames each
    assert {"/good.m3u8", "/seg0.ts", "/seg1.ts"} <= set(lab.http_seen)
    assert lab.recorder.contacts == []


def test_an_http_redirect_to_a_refused_address_is_not_followed(lab: Lab) -> None:
    lab.recorder.contacts.clear()
    before = len(lab.http_seen)
    got = lab.open(f"http://{CAMERA}:{lab.http_port}/redirect")
    assert "/redirect" in lab.http_seen[before:]  # the camera was asked
    assert lab.recorder.contacts == []  # the address it pointed at was not
    assert got["error"] and "redirect" in got["error"], got


@pytest.mark.parametrize("playlist", ["evil.m3u8", "key.m3u8"])
def test_an_hls_playlist_pointing_elsewhere_is_refused(lab: Lab, playlist: str) -> None:
    lab.recorder.contacts.clear()
    before = len(lab.http_seen)
    got = lab.open(f"http://{CAMERA}:{lab.http_port}/{playlist}")
    assert f"/{playlist}" in lab.http_seen[before:]
    assert lab.recorder.contacts == []
    assert got["error"] and "playlist" in got["error"], got


def test_an_rtsp_redirect_is_not_followed(lab: Lab) -> None:
    lab.recorder.contacts.clear()
    before = len(lab.rtsp_seen)
    got = lab.open(f"rtsp://user:pw@{CAMERA}:{lab.rtsp_port}/live")
    assert lab.rtsp_seen[before:], "the camera saw no RTSP request"
    assert lab.recorder.contacts == []
    assert got["error"] and "redirect" in got["error"], got


def test_the_checked_address_is_the_one_connected_to(lab: Lab) -> None:
    """DNS rebinding: ``cam.test`` is the camera when checked, 127.0.0.1 when asked again. The
    connection goes to the address that was checked; the name is not resolved a second time."""
    DNS.answers.clear()
    lab.recorder.contacts.clear()
    before = len(lab.http_seen)
    got = lab.open(f"http://cam.test:{lab.http_port}/clip.avi")
    assert DNS.answers[:1] == [CAMERA]  # the check saw the camera
    assert lab.recorder.contacts == []
    assert "/clip.avi" in lab.http_seen[before:]
    assert got["error"] is None and got["frames"] == 6, got
    assert DNS.answers == [CAMERA]  # asked once: nothing resolved it again


def test_ffmpeg_options_forbid_redirects_even_without_the_relay(lab: Lab) -> None:
    """The FFmpeg options (``OPENCV_FFMPEG_CAPTURE_OPTIONS``, read by OpenCV at each open) are
    a second wall: FFmpeg given the redirecting URL itself, with them, does not follow; with
    OpenCV's defaults it does (which shows the options are what stops it)."""
    url = f"http://{CAMERA}:{lab.http_port}/redirect"
    lab.recorder.contacts.clear()
    got = lab.open(url, "options", DIRECT)
    assert got["error"] and lab.recorder.contacts == [], got
    assert lab.http_seen[-1] == "/redirect"
    lab.open(url, "defaults", DIRECT)
    assert lab.recorder.contacts  # FFmpeg alone follows the redirect
