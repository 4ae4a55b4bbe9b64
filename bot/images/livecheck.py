"""Is a post's page live?  One bounded, guarded look at its canonical URL (and feature image).

Why here, beside the image fetcher: the page is as untrusted a place to connect to as an image
host (a post's URL is built from the site's settings, its image from front matter), and the
same promises hold: no private address unless allowed (``netguard.GuardedTransport``), one
deadline for the whole look including every redirect hop (``deadline.within``: a server that
drips a byte every few seconds is cut at the deadline), a bounded body, redirects followed by
hand and a loop reported as a reason, never a hang.

"Live" means: the page answers 200, carries the post's title (``<title>`` or ``og:title``,
HTML-unescaped, whitespace-normalized, case-folded; a stale CDN copy of an older page is not
live), and the feature image, if any, answers 200.  Checks are conditional (``If-None-Match``,
``If-Modified-Since`` from the last 200 seen): a 304 means the page is what it was, so the
verdict of that copy stands without a body being sent.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from bot.images.deadline import within
from bot.images.fetch import MAX_REDIRECTS, redact
from bot.images.model import ImageError
from bot.images.netguard import GuardedTransport, HostPolicy

__all__ = ["LiveProbe", "LiveResult", "Validators", "normalize_title", "page_titles"]

#: Enough of a page to find its <head>; the rest is never read.
MAX_PAGE_BYTES = 512 * 1024
_SPACE = re.compile(r"\s+")


def normalize_title(text: str) -> str:
    """Unescaped, whitespace-collapsed, case-folded: how two titles are compared."""
    return _SPACE.sub(" ", html.unescape(text or "")).strip().casefold()


class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.og_title: str | None = None
        self._in_title = False
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            values = {k.lower(): (v or "") for k, v in attrs}
            key = (values.get("property") or values.get("name") or "").lower()
            if key == "og:title" and self.og_title is None:
                self.og_title = values.get("content", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._buf)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._buf.append(data)


def page_titles(body: str) -> tuple[str | None, str | None]:
    """(``<title>``, ``og:title``) of an HTML page, either None when absent."""
    parser = _Head()
    try:
        parser.feed(body)
        parser.close()
    except Exception:  # a broken page has no title we can trust
        pass
    return parser.title, parser.og_title


def carries_title(body: str, title: str) -> bool:
    want = normalize_title(title)
    if not want:
        return True
    return any(want in normalize_title(found) for found in page_titles(body) if found)


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last 200 of a page said, for a conditional request, and that copy's verdict."""
    etag: str = ""
    last_modified: str = ""
    had_title: bool = False


@dataclass(frozen=True, slots=True)
class LiveResult:
    live: bool
    status: str  # "live", or what was seen: "HTTP 404", "stale page (title ...)", ...
    validators: Validators | None = None  # set when a 200 was read (or a 304 confirmed one)


class _Failed(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class LiveProbe:
    """``check(url, title, image)``: one look, finished within ``deadline`` seconds."""

    def __init__(self, *, site_url: str, policy: HostPolicy, timeout: float = 5.0,
                 deadline: float = 10.0, max_bytes: int = MAX_PAGE_BYTES) -> None:
        self.site_url = site_url.rstrip("/") + "/"
        self.policy = policy
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                t = self.timeout
                self._client = httpx.Client(
                    transport=GuardedTransport(self.policy),
                    timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
                    follow_redirects=False, trust_env=False,
                    headers={"User-Agent": "newsbot-live/1", "Accept": "text/html",
                             "Accept-Encoding": "identity"})
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def image_url(self, image: str | None) -> str | None:
        """The feature image as the public fetches it: absolute, or a site path on the site."""
        src = (image or "").strip()
        if not src:
            return None
        if src.startswith("//"):
            return urlsplit(self.site_url).scheme + ":" + src
        if urlsplit(src).scheme.lower() in ("http", "https"):
            return src
        return urljoin(self.site_url, src.lstrip("/"))

    def check(self, url: str, title: str, image: str | None = None,
              validators: Validators | None = None) -> LiveResult:
        end = time.monotonic() + self.deadline
        try:
            with within(end):
                seen = self._page(url, title, validators, end)
                if not seen.live:
                    return seen
                img = self.image_url(image)
                if img is not None:
                    status = self._status_only(img, end)
                    if status != 200:
                        return LiveResult(False, f"image HTTP {status} at {redact(img)}",
                                          seen.validators)
                return seen
        except _Failed as exc:
            return LiveResult(False, exc.status)

    # ------------------------------------------------------------------ steps
    def _follow(self, url: str, end: float, headers: dict[str, str]) -> httpx.Response:
        """The first non-redirect answer, streamed (the caller closes it)."""
        current, seen = url, set()
        for _hop in range(MAX_REDIRECTS + 1):
            if urlsplit(current).scheme.lower() not in ("http", "https"):
                raise _Failed(f"redirect to a non-http URL from {redact(url)}")
            if current in seen:
                raise _Failed(f"redirect loop at {redact(current)}")
            seen.add(current)
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise _Failed(f"timed out after {self.deadline:g}s at {redact(current)}")
            try:
                request = self._http().build_request(
                    "GET", current, headers=headers, timeout=min(self.timeout, remaining))
                resp = self._http().send(request, stream=True)
            except httpx.TimeoutException:
                raise _Failed(f"timed out at {redact(current)}") from None
            except ImageError as exc:  # the guard refused the address
                raise _Failed(f"refused: {exc.reason}") from None
            except httpx.HTTPError as exc:
                raise _Failed(f"{type(exc).__name__} at {redact(current)}: "
                              f"{str(exc)[:120]}") from None
            except (ValueError, UnicodeError):
                raise _Failed(f"malformed URL {redact(current)}") from None
            if resp.status_code == 304 or not resp.is_redirect:
                return resp
            location = resp.headers.get("location", "")
            resp.close()
            if not location:
                raise _Failed(f"redirect without Location at {redact(current)}")
            current = urljoin(current, location)
        raise _Failed(f"more than {MAX_REDIRECTS} redirects from {redact(url)}")

    def _page(self, url: str, title: str, validators: Validators | None,
              end: float) -> LiveResult:
        headers: dict[str, str] = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        resp = self._follow(url, end, headers)
        try:
            if resp.status_code == 304 and validators is not None:
                if validators.had_title:
                    return LiveResult(True, "live", validators)
                return LiveResult(False, "stale page (unchanged, 304)", validators)
            if resp.status_code != 200:
                return LiveResult(False, f"HTTP {resp.status_code}")
            body = self._body(resp, url, end)
        finally:
            resp.close()
        found = carries_title(body, title)
        fresh = Validators(resp.headers.get("etag", ""), resp.headers.get("last-modified", ""),
                           found)
        if not found:
            shown = next((t for t in page_titles(body) if t), None)
            what = f"title {_short(shown)!r}" if shown is not None else "no title"
            return LiveResult(False, f"stale page ({what})", fresh)
        return LiveResult(True, "live", fresh)

    def _body(self, resp: httpx.Response, url: str, end: float) -> str:
        buf = bytearray()
        try:
            for chunk in resp.iter_raw():
                buf += chunk
                if len(buf) >= self.max_bytes or b"</head>" in buf[-len(chunk) - 7:]:
                    break
                if time.monotonic() > end:
                    raise _Failed(f"timed out after {self.deadline:g}s reading {redact(url)}")
        except httpx.TimeoutException:
            raise _Failed(f"timed out reading {redact(url)}") from None
        except httpx.HTTPError as exc:
            raise _Failed(f"{type(exc).__name__} reading {redact(url)}") from None
        return bytes(buf[: self.max_bytes]).decode(resp.encoding or "utf-8", errors="replace")

    def _status_only(self, url: str, end: float) -> int:
        resp = self._follow(url, end, {})
        try:
            return resp.status_code
        finally:
            resp.close()


def _short(text: str | None) -> str:
    value = _SPACE.sub(" ", html.unescape(text or "")).strip()
    return value if len(value) <= 80 else value[:79] + "…"
