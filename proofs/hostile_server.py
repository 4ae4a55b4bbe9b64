"""The hostile image hosts of the hostile corpus: one HTTP server on 127.0.0.1 (and ::1), two ports.

``port`` plays a legitimate-looking but hostile image host: compression bombs, header and body
drips, decompression-bomb and truncated images, text named ``.jpg``, redirects to addresses that
must never be fetched.  ``canary`` is where only refused URLs lead (redirects to loopback in its
every spelling, decimal and IPv6-mapped addresses, ``0.0.0.0``): a request arriving there is an
unsafe fetch, counted on the server's side whatever newsbot says about it.  While the default
settings refuse private hosts, a request on either port is an unsafe fetch.

Every request is journaled (port, path, client address); slow routes stop when the server stops.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import hostile_media as media

__all__ = ["Hit", "HostileServer"]

#: Where the redirects of ``/redirect/<name>`` lead; ``{c}`` is the canary port.
REDIRECTS: dict[str, str] = {
    "loopback": "http://127.0.0.1:{c}/canary.png",
    "localhost": "http://localhost:{c}/canary.png",
    "short-dotted": "http://127.1:{c}/canary.png",
    "decimal": "http://2130706433:{c}/canary.png",
    "hex": "http://0x7f000001:{c}/canary.png",
    "octal": "http://0177.0.0.1:{c}/canary.png",
    "zero": "http://0.0.0.0:{c}/canary.png",
    "v6-loopback": "http://[::1]:{c}/canary.png",
    "v6-mapped": "http://[::ffff:127.0.0.1]:{c}/canary.png",
    "v6-mapped-hex": "http://[::ffff:7f00:1]:{c}/canary.png",
    "v6-unspecified": "http://[::]:{c}/canary.png",
    "nat64": "http://[64:ff9b::7f00:1]:{c}/canary.png",
    "sixtofour": "http://[2002:7f00:1::]:{c}/canary.png",
    "site-local": "http://[fec0::1]:{c}/canary.png",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "private": "http://10.0.0.1/x.jpg",
    "cgnat": "http://100.64.0.1/x.jpg",
    "protocol-relative": "//127.0.0.1:{c}/canary.png",
    "userinfo": "http://user:pw@127.0.0.1:{c}/canary.png",
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.1:{c}/x.jpg",
    "data": "data:image/png;base64,iVBORw0KGgo=",
    "gopher": "gopher://127.0.0.1:{c}/_x",
    "loop": "/redirect/loop",
    "empty": "",
}


@dataclass(frozen=True, slots=True)
class Hit:
    at: float
    port: int
    path: str
    client: str
    host: str


@dataclass
class HostileServer:
    """Both ports on 127.0.0.1, and on ::1 when this machine has IPv6 loopback."""

    drip_seconds: float = 0.5
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    canary: int = 0
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HostileServer:
        self.port = self._listen(socket.AF_INET, "127.0.0.1", 0, canary=False)
        self.canary = self._listen(socket.AF_INET, "127.0.0.1", 0, canary=True)
        for port, canary in ((self.port, False), (self.canary, True)):
            with contextlib.suppress(OSError):  # no IPv6 loopback: [::1] URLs simply fail
                self._listen(socket.AF_INET6, "::1", port, canary=canary)
        return self

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def hits_on(self, port: int, since: float = 0.0) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.port == port and h.at >= since]

    def _listen(self, family: int, host: str, port: int, *, canary: bool) -> int:
        owner = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            address_family = family

            def handle_error(self, request: Any, client_address: Any) -> None:
                """Clients hanging up on a drip or a bomb are the point, not an error."""

        class Handler(_Handler):
            server_owner = owner
            is_canary = canary

        server = Server((host, port), Handler)
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=f"hostile-{server.server_address[1]}", daemon=True).start()
        return int(server.server_address[1])

    def _record(self, port: int, path: str, client: str, host: str) -> None:
        with self._lock:
            self.hits.append(Hit(time.time(), port, path, client, host))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: HostileServer
    is_canary: bool

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the journal is the record."""

    def do_GET(self) -> None:
        owner = self.server_owner
        owner._record(int(self.server.server_address[1]), self.path,
                      str(self.client_address[0]), str(self.headers.get("Host", "")))
        if self.is_canary:
            self._send(200, "image/png", media.canary_png())
            return
        path = self.path.split("?", 1)[0]
        route = _ROUTES.get(path)
        if route is not None:
            route(self)
        elif path.startswith("/redirect/") and path[len("/redirect/"):] in REDIRECTS:
            target = REDIRECTS[path[len("/redirect/"):]].format(c=owner.canary)
            self._send(302, "text/plain", b"", Location=target)
        elif path.startswith("/hops/"):
            n = int(path.rsplit("/", 1)[1] or 0)
            self._send(302, "text/plain", b"", Location=f"/hops/{n + 1}")
        else:
            self._send(404, "text/plain", b"not here")

    do_HEAD = do_GET

    # -- helpers ---------------------------------------------------------------------------
    def _send(self, status: int, ctype: str, body: bytes, **headers: str) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

    def _raw(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(data)
            self.wfile.flush()
        self.close_connection = True

    def _drip(self, data: bytes, *, forever: bytes | None = None) -> None:
        """``data`` a byte at a time, then ``forever`` a byte at a time, until the client leaves."""
        stop = self.server_owner._stop
        pause = self.server_owner.drip_seconds
        with contextlib.suppress(OSError):
            for i in range(len(data)):
                if stop.wait(pause):
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
            while forever and not stop.wait(pause):
                self.wfile.write(forever)
                self.wfile.flush()
        self.close_connection = True

    def _stall(self) -> None:
        """Accept the request and say nothing until the client gives up (or we stop)."""
        self.server_owner._stop.wait(3600)
        self.close_connection = True

    def _encoded(self, encodings: list[str], body: bytes) -> None:
        with contextlib.suppress(OSError):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            for encoding in encodings:
                self.send_header("Content-Encoding", encoding)
            self.end_headers()
            self.wfile.write(body)

    def _endless(self) -> None:
        with contextlib.suppress(OSError):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"\xff\xd8" + bytes(65534)
            for _ in range(16_384):  # at most 1 GiB; the client hangs up long before
                if self.server_owner._stop.is_set():
                    break
                self.wfile.write(chunk)
        self.close_connection = True


def _image(ctype: str, make: Callable[[], bytes]) -> Callable[[_Handler], None]:
    return lambda h: h._send(200, ctype, make())


_ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/ok.jpg": _image("image/jpeg", lambda: media.jpeg(800, 420)),
    "/text.jpg": _image("image/jpeg", lambda: b"<html><body>not a picture</body></html>\n"),
    "/page.jpg": lambda h: h._send(200, "text/html; charset=utf-8", b"<html>hello</html>"),
    "/no-type.jpg": lambda h: h._send(200, "", media.jpeg(64, 48)),
    "/truncated.jpg": _image("image/jpeg", lambda: media.truncated(media.jpeg(800, 420))),
    "/truncated.png": _image("image/png", lambda: media.truncated(media.png_flat(640, 480, 2))),
    "/bomb-400mp.png": _image("image/png", lambda: media.png_flat(20_000, 20_000, 0)),
    "/bomb-under-cap.png": _image("image/png", lambda: media.png_flat(9400, 9400, 6, 255)),
    "/claims-huge.png": _image("image/png", lambda: media.png_claiming(65_535, 65_535)),
    "/claims-under-cap.png": _image("image/png", lambda: media.png_claiming(9400, 9400)),
    "/claims-huge.jpg": _image("image/jpeg", lambda: media.jpeg_claiming(65_500, 65_500)),
    "/claims-under-cap.jpg": _image("image/jpeg", lambda: media.jpeg_claiming(9400, 9400)),
    "/frames.gif": _image("image/gif", lambda: media.gif_frames(5000)),
    "/gzip-gzip.jpg": lambda h: h._encoded(["gzip", "gzip"], media.gzip_gzip_bomb()),
    "/gzip-comma.jpg": lambda h: h._encoded(["gzip, gzip"], media.gzip_gzip_bomb()),
    "/gzip-bomb.jpg": lambda h: h._encoded(["gzip"], media.gzip_zeros(100)),
    "/deflate-bomb.jpg": lambda h: h._encoded(["deflate"], media.gzip_zeros(100)[10:-8]),
    "/br.jpg": lambda h: h._encoded(["br"], b"\x1b\x00\x00"),
    "/gzip-corrupt.jpg": lambda h: h._encoded(["gzip"], b"\x1f\x8b\x08\x00garbage" * 50),
    "/drip-status.jpg": lambda h: h._drip(b"HTTP/1.1 200 OK\r\n", forever=b"X"),
    "/drip-headers.jpg": lambda h: h._drip(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n", forever=b"a"),
    "/drip-body.jpg": lambda h: h._drip(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n",
        forever=b"\xff"),
    "/slow-start.jpg": lambda h: h._stall(),
    "/endless.jpg": lambda h: h._endless(),
    "/huge-length.jpg": lambda h: h._raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000000000\r\n\r\n"
        + media.jpeg(64, 48)),
    "/header-flood.jpg": lambda h: h._raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
        + b"".join(b"X-Flood-%d: %s\r\n" % (i, b"v" * 100) for i in range(2000)) + b"\r\n"),
    "/long-header.jpg": lambda h: h._raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Long: " + b"a" * 2_000_000
        + b"\r\n\r\n"),
    "/bad-status.jpg": lambda h: h._raw(b"HTTP/1.1 999 WAT\r\nContent-Length: 0\r\n\r\n"),
    "/garbage.jpg": lambda h: h._raw(b"\x00\x01\x02 this is not HTTP at all\r\n\r\n"),
    "/chunk-lie.jpg": lambda h: h._raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"ffffffffffffffff\r\n" + bytes(4096)),
    "/svg.jpg": _image("image/svg+xml", lambda: (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&x;</svg>')),
    "/missing.jpg": lambda h: h._send(404, "text/plain", b"gone"),
    "/error.jpg": lambda h: h._send(500, "text/plain", b"boom"),
}
