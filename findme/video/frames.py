"""Reading video: files and streams, sampled every N seconds, defensively.

Unreadable frames are skipped with a warning, and a file that ends early (cut off) is read up to
the damage with a warning, never a crash. FFmpeg's own log lines are silenced at process start
(``Settings.apply_environment``); damage is reported in :class:`FrameReport` instead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from findme.video.relay import CameraRelay

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts")


class VideoError(ValueError):
    """The video cannot be opened at all (missing, not a video, unreachable stream)."""


@dataclass
class FrameReport:
    """What reading a video met: frames decoded, its length, and warnings in plain words."""

    fps: float = 0.0
    duration_s: float | None = None
    decoded: int = 0
    warnings: list[str] = field(default_factory=list)


#: the only network schemes a camera URL may use (RTSP cameras, MJPEG / HLS over HTTP)
CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https")
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
#: addresses never reachable as a camera: link-local (cloud metadata lives there), multicast,
#: unspecified and reserved ranges
_NEVER = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::/32", "0.0.0.0/8", "224.0.0.0/4",
          "240.0.0.0/4", "::/128", "ff00::/8", "100.100.100.200/32")


class CameraURL(str):
    """A camera URL that passed :func:`check_camera_url` (the stripped URL itself, so it is
    stored and compared as a plain string), with the addresses its host resolved to when it
    was checked: :func:`open_capture` connects to those and resolves nothing again."""

    addresses: tuple[str, ...]
    port: int

    def __new__(cls, url: str, addresses: tuple[str, ...], port: int) -> CameraURL:
        self = super().__new__(cls, url)
        self.addresses, self.port = addresses, port
        return self


def check_camera_url(url: str, allowed_networks: tuple[str, ...] = ()) -> CameraURL:
    """The URL (a :class:`CameraURL` carrying the checked addresses) if it may be opened as a
    camera stream, else :class:`VideoError` saying why.

    Only ``rtsp``, ``rtsps``, ``http`` and ``https``; no FFmpeg option that makes it listen;
    never a link-local, metadata, multicast or reserved address; loopback and private
    addresses only inside ``allowed_networks`` (``FINDME_CAMERA_NETWORKS``: real cameras live
    on private networks, and a deployment says which). Host names are resolved once and every
    address they give is checked; :func:`open_capture` then connects only to those addresses
    (through :mod:`findme.video.relay`, which also refuses redirects and HLS playlists that
    point anywhere but the camera). Credentials in the URL are allowed (cameras need them).
    """
    import ipaddress
    import socket
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in CAMERA_SCHEMES:
        schemes = ", ".join(s + "://" for s in CAMERA_SCHEMES)
        raise VideoError(f"camera URLs must start with {schemes} (not {scheme or 'no scheme'})")
    query = {k.lower() for k in parse_qs(parts.query, keep_blank_values=True)}
    if query & {"listen", "listen_timeout"}:
        raise VideoError("camera URLs may not ask the server to listen")
    host = parts.hostname
    if not host:
        raise VideoError("the camera URL names no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (ValueError, OSError) as exc:
        raise VideoError(f"the camera host {host!r} cannot be resolved ({exc})") from exc
    allowed = [ipaddress.ip_network(n) for n in allowed_networks]
    never = [ipaddress.ip_network(n) for n in _NEVER]
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if any(addr in n for n in never):
            raise VideoError(f"{host} is a link-local, metadata or reserved address: never a "
                             "camera")
        private = addr.is_loopback or addr.is_private
        if private and not any(addr in n for n in allowed):
            raise VideoError(f"{host} ({addr}) is on a local network not allowed for cameras: "
                             "an admin lists camera networks in FINDME_CAMERA_NETWORKS")
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    return CameraURL(url.strip(), addresses, port)


def redact(text: str, source: str | None = None) -> str:
    """``text`` with the password (and user name) of any ``scheme://user:pass@host`` URL in it
    replaced by ``***``: stored scans, lead sources and error messages never keep camera
    credentials. With ``source``, that exact URL is replaced wherever it appears (an error
    message quoting it)."""
    import re

    if source and "@" in source:
        text = text.replace(source, redact(source))
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", r"\1***@", text)


def is_stream(source: str) -> bool:
    """Whether ``source`` is a network stream URL rather than a file."""
    return source.lower().startswith(STREAM_PREFIXES)


class Capture:
    """A ``cv2.VideoCapture`` (every method passes through) that also owns the relay a
    stream is read through: :meth:`release` stops both."""

    def __init__(self, cap: cv2.VideoCapture, relay: CameraRelay | None = None) -> None:
        self._cap, self._relay = cap, relay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cap, name)

    def release(self) -> None:
        """Release the capture, then close its relay."""
        self._cap.release()
        if self._relay is not None:
            self._relay.close()


#: FFmpeg options for a stream read through the relay (``OPENCV_FFMPEG_CAPTURE_OPTIONS``):
#: only the protocols the relay speaks (no file, udp, rtp, https... even if a reply asks),
#: no redirects, RTSP over TCP (interleaved: no second connection, no UDP to any address)
_FFMPEG_OPTIONS = {"http": "protocol_whitelist;http,tcp,crypto|max_redirects;0",
                   "rtsp": "protocol_whitelist;rtsp,tcp|rtsp_transport;tcp"}
_OPTIONS_LOCK = threading.Lock()


def _open_ffmpeg(url: str, options: str) -> cv2.VideoCapture:
    """``cv2.VideoCapture(url)`` over FFmpeg with ``options`` (OpenCV reads them from the
    environment when it opens, so the variable is set for that moment only, under a lock)."""
    name = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
    with _OPTIONS_LOCK:
        before = os.environ.get(name)
        os.environ[name] = options
        try:
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        finally:
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


def open_capture(source: str | Path, max_pixels: int | None = None) -> Capture:
    """An opened capture (a ``cv2.VideoCapture``'s methods, see :class:`Capture`), or
    :class:`VideoError` saying why not (including frames larger than ``max_pixels``, refused
    before any frame is decoded when the container says its size).

    A stream is a :class:`CameraURL` from :func:`check_camera_url` (checked against the
    deployment's camera networks); any other stream URL is checked here with no network
    allowed. FFmpeg reads it through a :class:`~findme.video.relay.CameraRelay` pinned to the
    checked addresses, which refuses redirects and playlists that lead elsewhere."""
    text = str(source)
    relay: CameraRelay | None = None
    if not is_stream(text):
        path = Path(text)
        if not path.is_file():
            raise VideoError(f"{text}: no such file")
        if path.stat().st_size == 0:
            raise VideoError(f"{text}: the file is empty")
        cap = cv2.VideoCapture(text)
    else:
        target = source if isinstance(source, CameraURL) else check_camera_url(text)
        relay = CameraRelay(target, target.addresses, target.port)
        cap = _open_ffmpeg(relay.url, _FFMPEG_OPTIONS[urlsplit(relay.url).scheme])
    if not cap.isOpened():
        cap.release()
        if relay is not None:
            relay.close()
            why = f": {relay.refused[0]}" if relay.refused else ""
            raise VideoError(f"{redact(text)}: the stream cannot be opened{why}")
        raise VideoError(f"{text}: cannot be opened as a video: not a video file (mp4, avi, "
                         "mkv, mov) or damaged, e.g. an MP4 cut off before its index was written")
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    if max_pixels and width * height > max_pixels:
        cap.release()
        if relay is not None:
            relay.close()
        raise VideoError(frame_too_large(redact(text), width, height, max_pixels))
    return Capture(cap, relay)


def frame_too_large(source: str, width: int, height: int, max_pixels: int) -> str:
    """The sentence for a video whose frames are over the pixel budget."""
    return (f"{source}: its frames are {width}x{height} ({width * height / 1e6:.1f} MP), over "
            f"the {max_pixels / 1e6:.1f} MP limit per video frame (FINDME_MAX_FRAME_PIXELS)")


def frames(source: str | Path, every_s: float, report: FrameReport,
           max_bad: int = 50, stop: Callable[[], bool] | None = None,
           max_pixels: int | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(seconds, RGB frame)`` every ``every_s`` seconds of video.

    Frames over ``max_pixels`` end the scan with :class:`VideoError` (checked from the
    container's header before decoding, and on each decoded frame for streams that change
    size).

    Files are timed by frame number / fps; streams by the wall clock. Unreadable frames are
    skipped with a warning; after ``max_bad`` in a row the video is taken to end there (cut off
    or damaged), also with a warning in ``report.warnings``.
    """
    cap = open_capture(source, max_pixels)
    stream = is_stream(str(source))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if not 1 <= fps <= 240:
            report.warnings.append(f"the video gives no usable frame rate ({fps:g}); "
                                   "assuming 25 fps")
            fps = 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        report.fps = fps
        report.duration_s = count / fps if count > 0 and not stream else None
        step = max(1, round(fps * every_s))
        start = time.monotonic()
        next_t = 0.0
        index = -1
        bad_from: float | None = None  # time of the first frame of a run of unreadable ones
        bad_run = 0
        while stop is None or not stop():
            ok = cap.grab()
            index += 1
            t = time.monotonic() - start if stream else index / fps
            if not ok:
                if stream:
                    report.warnings.append(f"the stream stopped after {index} frames")
                    break
                if count and index >= count - 1:
                    break  # the normal end
                if bad_run == 0:
                    bad_from = t
                bad_run += 1
                if bad_run >= max_bad:
                    if count:
                        report.warnings.append(
                            f"the video could not be read past {bad_from:.1f} s (frame "
                            f"{index - bad_run + 1} of {count}): it may be cut off or damaged; "
                            "processed up to there")
                    break
                continue
            if bad_run:
                report.warnings.append(f"unreadable frames from {bad_from:.1f} s to {t:.1f} s "
                                       "were skipped")
                bad_run = 0
            if (stream and t < next_t) or (not stream and index % step):
                continue
            next_t = t + every_s
            ok, frame = cap.retrieve()
            if not ok or frame is None or frame.ndim != 3 or frame.size == 0:
                report.warnings.append(f"the frame at {t:.1f} s could not be decoded: skipped")
                continue
            if max_pixels and frame.shape[0] * frame.shape[1] > max_pixels:
                raise VideoError(frame_too_large(redact(str(source)), frame.shape[1],
                                                 frame.shape[0], max_pixels))
            report.decoded += 1
            yield t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
