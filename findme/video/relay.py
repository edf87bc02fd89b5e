"""A loopback relay between FFmpeg and one checked camera address.

FFmpeg, left alone, resolves a camera's host name again (a name that passed the check can then
point at 127.0.0.1: DNS rebinding), follows HTTP and RTSP redirects and fetches whatever
segment URL an HLS playlist names. So FFmpeg never talks to the camera: it is given
``http://127.0.0.1:PORT/...`` (or ``rtsp://``) of a relay in this process that connects only to
the address :func:`findme.video.frames.check_camera_url` checked, and

- refuses every redirect (HTTP 3xx, RTSP 3xx, an RTSP ``REDIRECT`` request): FFmpeg gets an
  error instead of a new address;
- reads every HTTP answer that is an HLS playlist (``#EXTM3U``, or an ``mpegurl`` type) and
  refuses it if any URI in it (segments, keys, maps, variant playlists) leaves the camera
  (another host, port or scheme); URIs on the camera are rewritten to come through the relay;
- speaks TLS to ``https``/``rtsps`` cameras itself (server name sent, certificate not verified,
  as FFmpeg does by default: cameras carry self-signed certificates), so it sees what it relays.

What was refused is kept in :attr:`CameraRelay.refused`, for the error message.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

#: the most an HTTP or RTSP header block, and an HLS playlist, may take
MAX_HEAD = 64 * 1024
MAX_PLAYLIST = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322}
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "upgrade", "trailer", "location", "content-location", "content-length"}
_URI_ATTR = re.compile(r'URI="([^"]*)"', re.IGNORECASE)


class Refused(Exception):
    """The camera's answer would send the client elsewhere; the message says where and why."""


def _read_head(sock: socket.socket | ssl.SSLSocket, buf: bytearray) -> bytes | None:
    """Bytes up to and including the first blank line (``\\r\\n\\r\\n``) read from ``sock``
    into ``buf`` (what follows stays in ``buf``); None at end of stream."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end + 4])
            del buf[:end + 4]
            return head
        if len(buf) > MAX_HEAD:
            raise Refused("a header block larger than 64 KB")
        data = sock.recv(65536)
        if not data:
            return None
        buf += data


def _read_exact(sock: socket.socket | ssl.SSLSocket, buf: bytearray, n: int) -> bytes:
    """``n`` bytes (from ``buf`` first, then ``sock``); fewer only at end of stream."""
    while len(buf) < n:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    out = bytes(buf[:n])
    del buf[:n]
    return out


def _headers(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The first line and the ``(name, value)`` headers of a header block."""
    lines = head.decode("latin-1").split("\r\n")
    pairs = []
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            pairs.append((name.strip(), value.strip()))
    return lines[0], pairs


def _get(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


class CameraRelay:
    """A relay on 127.0.0.1 for one camera URL, pinned to its checked addresses.

    ``url`` is the camera URL (``http``, ``https``, ``rtsp`` or ``rtsps``, credentials
    allowed), ``addresses`` the IP literals that passed the rules (tried in order), ``port`` the
    camera's port. :attr:`url` is what FFmpeg opens instead (same path, query and credentials);
    :meth:`close` stops it. Use as a context manager or close it when the capture is released.
    """

    def __init__(self, url: str, addresses: tuple[str, ...], port: int | None = None,
                 timeout: float = 20.0) -> None:
        self.camera: SplitResult = urlsplit(url)
        self.scheme = self.camera.scheme.lower()
        if self.scheme not in _DEFAULT_PORTS or not addresses:
            raise ValueError(f"the relay cannot carry {self.scheme!r} or has no address")
        self.addresses = addresses
        self.port = port or self.camera.port or _DEFAULT_PORTS[self.scheme]
        self.timeout = timeout
        self.refused: list[str] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        local = self.scheme.removesuffix("s")  # FFmpeg speaks plain http / rtsp to the relay
        user = self.camera.netloc.rpartition("@")[0]
        netloc = f"{user + '@' if user else ''}127.0.0.1:{self._listener.getsockname()[1]}"
        self.url = urlunsplit((local, netloc, self.camera.path or "/", self.camera.query, ""))
        threading.Thread(target=self._accept, daemon=True, name="camera-relay").start()

    # -- life cycle ------------------------------------------------------------------------
    def __enter__(self) -> CameraRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and cut every open connection (both sides)."""
        with self._lock:
            self._closed = True
            sockets = [self._listener, *self._open]
            self._open.clear()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _track(self, s: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                s.close()
                return False
            self._open.add(s)
            return True

    def _forget(self, *sockets: socket.socket | None) -> None:
        for s in sockets:
            if s is None:
                continue
            with self._lock:
                self._open.discard(s)
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._track(client):
                handler = self._http if self.scheme.startswith("http") else self._rtsp
                threading.Thread(target=self._serve, args=(handler, client), daemon=True,
                                 name="camera-relay-conn").start()

    def _serve(self, handler: Callable[[socket.socket, socket.socket], None],
               client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            upstream = self._connect()
            handler(client, upstream)
        except Refused as exc:
            self.refused.append(str(exc))
            if self.scheme.startswith("http"):
                try:
                    client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
                except OSError:
                    pass
        except (OSError, ValueError):
            pass  # the camera or FFmpeg went away: FFmpeg sees the connection end
        finally:
            self._forget(client, upstream)

    def _connect(self) -> socket.socket:
        """A connection to the first checked address that answers (TLS for https/rtsps)."""
        error: OSError | None = None
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), timeout=self.timeout)
            except OSError as exc:
                error = exc
                continue
            if self.scheme in ("https", "rtsps"):
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                host = self.camera.hostname or ""
                try:
                    ipaddress.ip_address(host)
                    sni = None  # no server name for an address
                except ValueError:
                    sni = host
                sock = context.wrap_socket(sock, server_hostname=sni)
            if not self._track(sock):
                raise OSError("the relay is closed")
            return sock
        raise error or OSError("no address")

    # -- HTTP ------------------------------------------------------------------------------
    def _host_header(self) -> str:
        host = self.camera.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def _http(self, client: socket.socket, upstream: socket.socket) -> None:
        """One request from FFmpeg, one answer from the camera (``Connection: close``)."""
        cbuf = bytearray()
        head = _read_head(client, cbuf)
        if head is None:
            return
        line, headers = _headers(head)
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        if method not in ("GET", "HEAD") or not target.startswith("/"):
            raise Refused(f"an HTTP request the relay does not carry ({method})")
        keep = [(k, v) for k, v in headers
                if k.lower() not in _HOP_BY_HOP | {"host", "proxy-authorization"}]
        request = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header()}",
                   *(f"{k}: {v}" for k, v in keep), "Connection: close", "", ""]
        upstream.sendall("\r\n".join(request).encode("latin-1"))

        ubuf = bytearray()
        head = _read_head(upstream, ubuf)
        if head is None:
            return
        status_line, headers = _headers(head)
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if 300 <= status < 400:
            where = _get(headers, "location") or "another address"
            raise Refused(f"the camera answered with a redirect (HTTP {status}) to {where}: "
                          "redirects are not followed")
        chunked = "chunked" in _get(headers, "transfer-encoding").lower()
        length_text = _get(headers, "content-length")
        length = int(length_text) if length_text.isdigit() and not chunked else None
        body = self._body(upstream, ubuf, chunked, length) if method == "GET" else iter(())
        first = next(body, b"")
        while len(first) < 16 and (more := next(body, b"")):
            first += more
        mime = _get(headers, "content-type").lower()
        start = first.lstrip(b"\xef\xbb\xbf \t\r\n")
        kept = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        if start.startswith(b"#EXTM3U") or "mpegurl" in mime:
            playlist = bytearray(first)
            for chunk in body:
                playlist += chunk
                if len(playlist) > MAX_PLAYLIST:
                    raise Refused("an HLS playlist larger than 1 MB")
            here = urlunsplit((self.scheme, self.camera.netloc.rpartition("@")[2],
                               target.split("?")[0], target.partition("?")[2], ""))
            out = self.rewrite_playlist(bytes(playlist), here)
            client.sendall(self._answer(status_line, kept, len(out)) + out)
            return
        client.sendall(self._answer(status_line, kept, length) + first)
        for chunk in body:
            client.sendall(chunk)

    @staticmethod
    def _answer(status_line: str, headers: list[tuple[str, str]], length: int | None) -> bytes:
        lines = [status_line.replace("HTTP/1.1", "HTTP/1.0", 1),
                 *(f"{k}: {v}" for k, v in headers), "Connection: close"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _body(self, sock: socket.socket, buf: bytearray, chunked: bool,
              length: int | None) -> Iterator[bytes]:
        """The response body, de-chunked, as it arrives."""
        if chunked:
            while True:
                while b"\r\n" not in buf:
                    if len(buf) > MAX_HEAD or not (data := sock.recv(65536)):
                        return
                    buf += data
                size_line, _, _ = bytes(buf).partition(b"\r\n")
                del buf[:len(size_line) + 2]
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = _read_exact(sock, buf, size + 2)
                if len(data) < size + 2:
                    yield data[:size]
                    return
                yield data[:size]
        left = length
        if buf:
            piece = bytes(buf if left is None else buf[:left])
            buf.clear()
            if left is not None:
                left -= len(piece)
            yield piece
        while left is None or left > 0:
            data = sock.recv(65536 if left is None else min(65536, left))
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield data

    def rewrite_playlist(self, text: bytes, here: str) -> bytes:
        """An HLS playlist whose every URI (lines and ``URI="..."`` attributes), resolved
        against ``here`` (the playlist's URL on the camera), is on the camera: rewritten as a
        path FFmpeg resolves against the relay. :class:`Refused` if any URI leaves the camera."""
        home = (self.scheme, (self.camera.hostname or "").lower(), self.port)

        def local(uri: str) -> str:
            target = urlsplit(urljoin(here, uri.strip()))
            scheme = target.scheme.lower()
            try:
                port = target.port or _DEFAULT_PORTS.get(scheme)
            except ValueError:
                port = None
            if (scheme, (target.hostname or "").lower(), port) != home:
                raise Refused(f"the HLS playlist points at {redact_uri(uri)}, not at the "
                              "camera itself: refused")
            return urlunsplit(("", "", target.path or "/", target.query, ""))

        out = []
        for line in text.decode("utf-8", "replace").splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                line = _URI_ATTR.sub(lambda m: f'URI="{local(m.group(1))}"', line)
            elif stripped:
                line = local(stripped)
            out.append(line)
        return ("\n".join(out) + "\n").encode()

    # -- RTSP ------------------------------------------------------------------------------
    def _rtsp(self, client: socket.socket, upstream: socket.socket) -> None:
        """Requests pass as they are; each message from the camera is read whole (text
        messages by their ``Content-Length``, interleaved ``$`` frames by their length) and a
        redirect ends the connection instead of reaching FFmpeg. One thread, both directions
        (a TLS connection must not be read and written from two threads at once)."""
        buf = bytearray()
        while True:
            pending = isinstance(upstream, ssl.SSLSocket) and upstream.pending()
            ready = [upstream] if pending else select.select([client, upstream], [], [])[0]
            if client in ready:
                data = client.recv(65536)
                if not data:
                    return
                upstream.sendall(data)
            if upstream in ready:
                data = upstream.recv(65536)
                if not data:
                    return
                buf += data
                while (message := self._rtsp_message(buf)) is not None:
                    client.sendall(message)

    @staticmethod
    def _rtsp_message(buf: bytearray) -> bytes | None:
        """The first whole message in ``buf`` (taken out of it), None until one is complete;
        :class:`Refused` for a redirect."""
        if buf[:1] == b"$":
            if len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[2:4], "big"):
                return None
            end = 4 + int.from_bytes(buf[2:4], "big")
        else:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                if len(buf) > MAX_HEAD:
                    raise Refused("an RTSP header block larger than 64 KB")
                return None
            first, headers = _headers(bytes(buf[:head_end + 4]))
            words = first.split(" ")
            if (words[0].upper().startswith("RTSP/") and len(words) > 1
                    and words[1].startswith("3")) or words[0].upper() == "REDIRECT":
                where = _get(headers, "location") or "another address"
                raise Refused(f"the camera answered with a redirect (RTSP {words[1]}) to "
                              f"{redact_uri(where)}: redirects are not followed")
            length_text = _get(headers, "content-length")
            end = head_end + 4 + (int(length_text) if length_text.isdigit() else 0)
            if len(buf) < end:
                return None
        message = bytes(buf[:end])
        del buf[:end]
        return message


def redact_uri(uri: str) -> str:
    """``uri`` without any ``user:password@`` (it is quoted in error messages)."""
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", r"\1***@", uri)
