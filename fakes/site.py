"""``FakeSite``: a local HTTP server on 127.0.0.1 playing a deployed static site, for the live
checks' tests and ``benchmarks/bench_live.py``.

Each path answers what the test set last (``page``, ``image``, ``status``, ``redirect``,
``drip``); unknown paths answer 404 as a site before its deploy does.  A 200 carries an ETag and
Last-Modified, and a matching ``If-None-Match`` gets a 304, as a CDN would.  Every request is
logged with its time, status and conditional headers, so a test can judge by what the site saw
(``requests``) and when a page turned 200 (``live_since``).
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeSite", "Route", "SiteRequest"]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    location: str = ""
    drip_seconds: float = 0.0  # one byte of the body every this many seconds
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class SiteRequest:
    at: float
    path: str
    status: int
    if_none_match: str
    if_modified_since: str


@dataclass
class _Book:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[SiteRequest] = field(default_factory=list)
    live_since: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def page_html(title: str, *, og_title: str | None = None, body: str = "") -> bytes:
    og = f'<meta property="og:title" content="{html.escape(og_title)}">' if og_title else ""
    return (f"<!doctype html><html><head><title>{html.escape(title)} | Fake News</title>{og}"
            f"</head><body>{body or 'Article'}</body></html>").encode()


class FakeSite:
    def __init__(self) -> None:
        self.book = _Book()
        book = self.book

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with book.lock:
                    route = book.routes.get(path)
                inm = self.headers.get("If-None-Match", "")
                ims = self.headers.get("If-Modified-Since", "")
                if route is None:
                    route = Route(status=404, body=b"<html><head><title>Not found</title>"
                                                   b"</head></html>")
                status = route.status
                if status == 200 and route.etag and inm == route.etag:
                    status = 304
                with book.lock:
                    book.requests.append(SiteRequest(time.time(), path, status, inm, ims))
                self.send_response(status)
                if route.location:
                    self.send_header("Location", route.location)
                if status in (200, 304) and route.etag:
                    self.send_header("ETag", route.etag)
                    self.send_header("Last-Modified", route.last_modified)
                body = b"" if status == 304 else route.body
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if route.drip_seconds > 0:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(route.drip_seconds)
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

            do_HEAD = do_GET

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a checker that stops reading after </head> resets the connection

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-site")

    # ------------------------------------------------------------------ life
    def __enter__(self) -> FakeSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ driving
    def set(self, path: str, route: Route) -> None:
        with self.book.lock:
            self.book.routes[path] = route
            if route.status == 200:
                self.book.live_since.setdefault(path, time.time())
            else:
                self.book.live_since.pop(path, None)

    def page(self, path: str, title: str, *, og_title: str | None = None,
             drip_seconds: float = 0.0) -> None:
        body = page_html(title, og_title=og_title)
        tag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        self.set(path, Route(200, body, etag=tag, last_modified=formatdate(usegmt=True),
                             drip_seconds=drip_seconds))

    def image(self, path: str, data: bytes = b"\xff\xd8\xff\xe0fakejpeg") -> None:
        self.set(path, Route(200, data, content_type="image/jpeg"))

    def status(self, path: str, code: int) -> None:
        self.set(path, Route(code, f"<html><head><title>{code}</title></head></html>".encode()))

    def redirect(self, path: str, to: str, code: int = 301) -> None:
        self.set(path, Route(code, b"", location=to))

    def requests(self, path: str | None = None) -> list[SiteRequest]:
        with self.book.lock:
            return [r for r in self.book.requests if path is None or r.path == path]

    def live_since(self, path: str) -> float | None:
        with self.book.lock:
            return self.book.live_since.get(path)
