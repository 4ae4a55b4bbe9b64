"""Turn a post's `image` value into bytes without letting it reach what it should not.

A post author controls `image`, so it is untrusted input: it must not read files outside the
site folder, talk to internal services (SSRF), or make a worker hold unbounded data or wait
forever. Local site files are preferred over the network because they are what the site will
publish and need no round trip.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import httpx
from PIL import Image, UnidentifiedImageError

from bot.images.deadline import within
from bot.images.inflate import ACCEPT_ENCODING, decoder_for
from bot.images.model import ImageError
from bot.images.netguard import GuardedTransport, HostPolicy

MAX_REDIRECTS = 5
#: A timeout this close to the deadline is the deadline's doing (socket timers round).
_SLACK = 0.05
#: Pillow decoders we are willing to run on untrusted bytes; fewer decoders, less attack surface.
#: (Camera MPO files open through the JPEG decoder and report format "MPO".)
INPUT_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def redact(url: str) -> str:
    """The URL as safe to show in a reason: no userinfo, no query, no fragment.

    Signed CDN links carry their secret in the query, and `user:pass@` is a secret by itself.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if _safe_port(parts) else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _safe_port(parts: object) -> int | None:
    try:
        return parts.port  # type: ignore[attr-defined,no-any-return]
    except ValueError:
        return None


def sniff(data: bytes) -> str:
    """Pillow format name of `data` from its header, or ImageError; does not decode pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=INPUT_FORMATS) as im:
                return str(im.format)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"refused as a possible decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"not a readable image: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.replace("cannot identify image file <_io.BytesIO object", "unrecognised format")
    return re.sub(r" at 0x[0-9a-f]+>", "", text)[:200]


class Fetcher:
    def __init__(
        self,
        *,
        site_dir: Path,
        site_url: str,
        policy: HostPolicy,
        timeout: float,
        max_bytes: int,
        deadline: float | None = None,
    ) -> None:
        self.site_root = Path(site_dir).resolve()
        self.site_url = site_url.rstrip("/") + "/"
        self.policy = policy
        self.timeout = timeout
        #: Seconds one download may take in all: every hop's connect, headers and body.
        self.deadline = 3 * timeout if deadline is None else deadline
        self.max_bytes = max_bytes
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- entry point -------------------------------------------------------------------------

    def fetch(self, src: str) -> tuple[bytes, str]:
        src = src.strip()
        if not src:
            raise ImageError("image is empty")
        if "\x00" in src or any(ch in src for ch in "\r\n\t"):
            raise ImageError("image path contains control characters")
        if src.startswith("//"):
            src = urlsplit(self.site_url).scheme + ":" + src
        if _DRIVE.match(src) or "\\" in src or src.startswith("~"):
            raise ImageError(
                f"{src[:80]!r} looks like a filesystem path; use a site path such as "
                "/assets/img/photo.jpg or an https:// URL"
            )
        try:
            scheme = urlsplit(src).scheme.lower()
        except ValueError:
            raise ImageError("malformed image URL") from None
        if scheme in ("http", "https"):
            data = self._download(src)
            return data, redact(src)
        if scheme:
            raise ImageError(f"{scheme}: images are not allowed; use a site path or an http(s) URL")
        return self._site(src)

    # -- site paths --------------------------------------------------------------------------

    def _site(self, src: str) -> tuple[bytes, str]:
        parts = urlsplit(src)
        decoded = unquote(parts.path)
        if "\x00" in decoded or "\\" in decoded:
            raise ImageError("image path contains forbidden characters")
        if decoded.startswith(str(self.site_root) + "/"):
            raise ImageError(
                f"{decoded[:80]!r} is a filesystem path; write it relative to the site root"
            )
        rel = posixpath.normpath("/" + decoded).lstrip("/")
        if ".." in decoded.split("/") and _escapes(decoded):
            raise ImageError(f"image path {decoded[:80]!r} escapes the site folder")
        if not rel or rel == ".":
            raise ImageError("image path names the site root, not a file")
        candidate = self.site_root / rel
        if os.path.lexists(candidate):
            return self._read_local(candidate, rel), rel
        if decoded.startswith("/") and os.path.exists(decoded):
            # Present on this machine's filesystem but not in the site: someone pasted a path.
            raise ImageError(
                f"{decoded[:80]!r} looks like an absolute filesystem path, not a site path"
            )
        if urlsplit(self.site_url).scheme.lower() not in ("http", "https"):
            raise ImageError(f"{rel} is not in the site folder and no site URL is configured")
        url = urljoin(self.site_url, quote(rel, safe="/~@!$&'()*+,;=:"))
        if parts.query:
            url += "?" + parts.query
        try:
            return self._download(url), redact(url)
        except ImageError as exc:
            raise ImageError(f"{rel} is not in the site folder, and online: {exc.reason}") from None

    def _read_local(self, candidate: Path, rel: str) -> bytes:
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.site_root):
            raise ImageError(f"site file {rel} is a symlink pointing outside the site folder")
        if not resolved.exists():
            raise ImageError(f"site file {rel} is a broken symlink")
        if not resolved.is_file():
            raise ImageError(f"site path {rel} is not a regular file")
        with open(resolved, "rb") as fh:
            data = fh.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise ImageError(f"site file {rel} is larger than {_mb(self.max_bytes)}")
        sniff(data)
        return data

    # -- network -----------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> httpx.Client:
        t = self.timeout
        return httpx.Client(
            transport=GuardedTransport(self.policy),
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
            follow_redirects=False,
            trust_env=False,
            headers={
                "User-Agent": "newsbot-images/1",
                "Accept": "image/*",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _download(self, url: str) -> bytes:
        """GET `url`, following redirects by hand so every hop is re-checked.

        One deadline bounds the whole download, redirects included: httpx's timeouts restart
        with every byte, so a server dripping headers or body would otherwise hold a worker
        for days. Each socket step is given only the time left (see `deadline`).
        """
        deadline = time.monotonic() + self.deadline
        with within(deadline):
            current = url
            for hop in range(MAX_REDIRECTS + 1):
                _check_url(current, redirected=hop > 0)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._overdue(url, hop)
                try:
                    with self._http().stream(
                        "GET", current, timeout=min(self.timeout, remaining)
                    ) as resp:
                        if resp.is_redirect:
                            location = resp.headers.get("location", "")
                            if not location:
                                raise ImageError(
                                    f"redirect without Location from {redact(current)}"
                                )
                            current = urljoin(current, location)
                            continue
                        if resp.status_code != 200:
                            raise ImageError(f"HTTP {resp.status_code} from {redact(current)}")
                        return self._body(resp, current, deadline)
                except httpx.InvalidURL:
                    # httpx also parses a redirect's Location before handing us the response.
                    raise ImageError(
                        f"malformed image URL, or a redirect to one, at {redact(current)}"
                    ) from None
                except (ValueError, UnicodeError):
                    raise ImageError(f"malformed image URL {redact(current)}") from None
                except httpx.TimeoutException:
                    if time.monotonic() >= deadline - _SLACK:
                        raise self._overdue(url, hop) from None
                    raise ImageError(
                        f"timed out after {self.timeout:g}s fetching {redact(current)}"
                    ) from None
                except httpx.HTTPError as exc:
                    raise ImageError(
                        f"download failed from {redact(current)}: {type(exc).__name__}"
                    ) from None
        raise ImageError(f"more than {MAX_REDIRECTS} redirects from {redact(url)}")

    def _overdue(self, url: str, hops: int) -> ImageError:
        after = f" after {hops} redirect{'s' if hops != 1 else ''}" if hops else ""
        return ImageError(
            f"timed out: {redact(url)} took longer than {self.deadline:g}s in total{after}"
        )

    def _body(self, resp: httpx.Response, url: str, deadline: float) -> bytes:
        """The decoded body, refused once it passes the cap, on the wire or while inflating.

        The raw stream is decoded here, a bounded piece at a time, rather than by httpx, which
        inflates a whole network chunk at once (a gzip bomb becomes hundreds of MB in one call).
        """
        ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not ctype.startswith("image/"):
            shown = ctype or "none"
            raise ImageError(f"{redact(url)} is not an image (content type {shown})")
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageError(
                f"{redact(url)} is {_mb(int(declared))}, over the {_mb(self.max_bytes)} cap"
            )
        decoder = decoder_for(
            resp.headers.get_list("content-encoding", split_commas=True), redact(url)
        )
        buf = bytearray()
        received = 0
        for chunk in resp.iter_raw():
            received += len(chunk)
            if received > self.max_bytes:
                raise ImageError(
                    f"{redact(url)} sent more than the {_mb(self.max_bytes)} cap; stopped"
                )
            for piece in decoder.decode(chunk):
                buf += piece
                if len(buf) > self.max_bytes:
                    raise ImageError(
                        f"{redact(url)} inflates to more than the {_mb(self.max_bytes)} cap; "
                        "stopped"
                    )
            if time.monotonic() > deadline:
                raise ImageError(
                    f"timed out: {redact(url)} took longer than {self.deadline:g}s in total"
                )
        decoder.finish()
        data = bytes(buf)
        sniff(data)
        return data


def _escapes(decoded: str) -> bool:
    depth = 0
    for seg in decoded.split("/"):
        if seg == "..":
            depth -= 1
            if depth < 0:
                return True
        elif seg not in ("", "."):
            depth += 1
    return False


def _check_url(url: str, *, redirected: bool) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ImageError(f"malformed image URL {redact(url)}") from None
    if parts.scheme.lower() not in ("http", "https"):
        what = f"a {parts.scheme}: URL" if parts.scheme else "a URL without scheme"
        if redirected:
            raise ImageError(f"redirect to {what} refused")
        raise ImageError(f"{what} cannot be fetched; only http(s)")
    if not parts.hostname:
        raise ImageError(f"image URL has no host: {redact(url)}")
    if parts.username or parts.password:
        raise ImageError(f"image URL {redact(url)} carries credentials; refused")


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n < 10_000_000 else f"{n / 1_000_000:.0f} MB"
