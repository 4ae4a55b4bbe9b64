"""Fixtures for the image tests: a real HTTP server on 127.0.0.1 and small generated images."""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from PIL import Image

from bot.images import ImageResolver


def jpeg_bytes(
    size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclass
class Server:
    port: int
    sent: dict[str, int] = field(default_factory=dict)
    #: (path, client port) of every request, to tell a reused connection from a new one.
    requests: list[tuple[str, int]] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


JPEG = jpeg_bytes()


def gzip_zeros(megabytes: int) -> bytes:
    """gzip of `megabytes` MiB of zeros, made a MiB at a time (the test never holds it whole)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
    zeros = bytes(1 << 20)
    return b"".join(comp.compress(zeros) for _ in range(megabytes)) + comp.flush()


@functools.cache
def gzip_gzip_bomb() -> bytes:
    """About 1 KB on the wire, 400 MB once both gzip layers are undone."""
    return gzip.compress(gzip_zeros(400), compresslevel=9)


@functools.cache
def gzip_bomb() -> bytes:
    """One honest-looking gzip layer (about 100 KB) that inflates to 100 MB."""
    return gzip_zeros(100)


def _make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, ctype: str, body: bytes, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            server.requests.append((path, self.client_address[1]))
            # ?delay=S sets the pause of the slow routes below (seconds).
            delay = float(parse_qs(query).get("delay", ["0.5"])[0])
            if path in ("/photo.jpg", "/assets/img/remote-only.jpg"):
                self._send(200, "image/jpeg", JPEG)
            elif path == "/page.html":
                self._send(200, "text/html; charset=utf-8", b"<html>hello</html>")
            elif path == "/html-as-jpeg.jpg":
                self._send(200, "image/jpeg", b"<html>not really</html>")
            elif path == "/missing.jpg":
                self._send(404, "text/plain", b"nope")
            elif path == "/slow.jpg":
                time.sleep(2.0)
                self._send(200, "image/jpeg", JPEG)
            elif path == "/drip.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                try:
                    for _ in range(200):
                        self.wfile.write(b"\xff")
                        self.wfile.flush()
                        time.sleep(0.05)
                except OSError:
                    pass
            elif path == "/endless.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\xff\xd8" + b"\x00" * 65534
                total = 0
                try:
                    while total < 2_000_000_000:
                        self.wfile.write(chunk)
                        total += len(chunk)
                except OSError:
                    pass
                server.sent["endless"] = total
            elif path == "/huge-declared.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(JPEG)
            elif path in ENCODED:
                encodings, body = ENCODED[path]()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                for encoding in encodings:
                    self.send_header("Content-Encoding", encoding)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)
            elif path == "/drip-headers.jpg":
                # Status line, then the headers one byte at a time: never a read timeout.
                with contextlib.suppress(OSError):
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n")
                    self.wfile.flush()
                    for byte in b"X-Drip: " + b"a" * 100:
                        time.sleep(delay)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                self.close_connection = True
            elif path == "/drip-body.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(JPEG)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    for i in range(len(JPEG)):
                        self.wfile.write(JPEG[i : i + 1])
                        self.wfile.flush()
                        time.sleep(delay)
                self.close_connection = True
            elif path.startswith("/slow-hop/"):
                # Each hop pauses `delay` before answering; the fifth serves the photo.
                n = int(path.rsplit("/", 1)[1])
                time.sleep(delay)
                if n >= 5:
                    self._send(200, "image/jpeg", JPEG)
                else:
                    target = f"/slow-hop/{n + 1}?{query}"
                    self._send(302, "text/plain", b"", Location=target)
            elif path.startswith("/redirect/"):
                target = {
                    "/redirect/ok": "/photo.jpg",
                    "/redirect/localhost": server.url("/photo.jpg", host="localhost"),
                    "/redirect/metadata": "http://169.254.169.254/latest/meta-data/",
                    "/redirect/private": "http://10.1.2.3/x.jpg",
                    "/redirect/mapped": f"http://[::ffff:127.0.0.1]:{server.port}/photo.jpg",
                    "/redirect/file": "file:///etc/passwd",
                    "/redirect/ftp": "ftp://example.com/x.jpg",
                    "/redirect/data": "data:image/png;base64,iVBORw0KGgo=",
                    "/redirect/fec0": f"http://[fec0::1]:{server.port}/photo.jpg",
                    "/redirect/decimal": f"http://2130706433:{server.port}/photo.jpg",
                    "/redirect/loop": "/redirect/loop",
                }[path]
                self._send(302, "text/plain", b"", Location=target)
            else:
                self._send(404, "text/plain", b"unknown")

    return Handler


def _deflate(data: bytes, *, raw: bool = False) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


#: path -> (Content-Encoding header lines, body on the wire); made when first requested.
ENCODED: dict[str, Callable[[], tuple[list[str], bytes]]] = {
    "/gzip.jpg": lambda: (["gzip"], gzip.compress(JPEG)),
    "/gzip-members.jpg": lambda: (
        ["gzip"],
        gzip.compress(JPEG[:100]) + gzip.compress(JPEG[100:]) + b"\0\0",
    ),
    "/deflate.jpg": lambda: (["deflate"], _deflate(JPEG)),
    "/raw-deflate.jpg": lambda: (["deflate"], _deflate(JPEG, raw=True)),
    "/identity.jpg": lambda: (["identity"], JPEG),
    "/gzip-truncated.jpg": lambda: (["gzip"], gzip.compress(JPEG)[:-20]),
    "/gzip-corrupt.jpg": lambda: (["gzip"], b"\x1f\x8b\x07" + gzip.compress(JPEG)[3:]),
    "/brotli.jpg": lambda: (["br"], b"\x1b\x00\x00"),
    "/gzip-gzip.jpg": lambda: (["gzip, gzip"], gzip.compress(gzip.compress(JPEG))),
    "/gzip-gzip-lines.jpg": lambda: (["gzip", "gzip"], gzip.compress(gzip.compress(JPEG))),
    "/gzip-gzip-bomb.jpg": lambda: (["gzip, gzip"], gzip_gzip_bomb()),
    "/gzip-bomb.jpg": lambda: (["gzip"], gzip_bomb()),
    "/gzip-1mb.jpg": lambda: (["gzip"], gzip_zeros(1)),
}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose (caps, timeouts)


@pytest.fixture(scope="session")
def http_server() -> Iterator[Server]:
    server = Server(port=0)
    httpd = _QuietServer(("127.0.0.1", 0), _make_handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "assets" / "img").mkdir(parents=True)
    (root / "assets" / "img" / "photo.jpg").write_bytes(JPEG)
    (root / "assets" / "img" / "my photo.jpg").write_bytes(JPEG)
    return root


@pytest.fixture()
def new_resolver(site: Path, tmp_path: Path) -> Iterator[Callable[..., ImageResolver]]:
    """Factory: ImageResolver over the `site` folder; site_url defaults to an unused port."""
    made: list[ImageResolver] = []

    def make(**kw: Any) -> ImageResolver:
        kw.setdefault("site_url", "http://127.0.0.1:9/")
        kw.setdefault("cache_dir", tmp_path / "cache")
        kw.setdefault("site_dir", site)
        r = ImageResolver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture()
def resolver(new_resolver: Callable[..., ImageResolver]) -> ImageResolver:
    return new_resolver()


@pytest.fixture()
def jpeg() -> bytes:
    return JPEG
