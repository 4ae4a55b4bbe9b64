"""The one object callers use: source string in, platform-ready file (or a reason) out."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from bot.images.cache import CacheEntry, VariantCache, cache_key
from bot.images.fetch import Fetcher, redact
from bot.images.model import PLATFORM_LIMITS, ImageError, ImageFailure, ImageVariant
from bot.images.netguard import HostPolicy
from bot.images.process import render

log = logging.getLogger(__name__)


class ImageResolver:
    """Resolves a post's `image` and builds per-platform variants, caching by content.

    `trusted_hosts` (beyond the fixed API) names hosts, as "host" or "host:port", that may
    resolve to private addresses even when `allow_private_hosts` is False: an intranet image
    server can be allowed without opening every internal address.

    `timeout` bounds each network step; `deadline` (default three times `timeout`) bounds a
    whole download, redirects included, so `decide` returns within about `deadline` plus the
    local processing time, whatever the image server does.
    """

    def __init__(
        self,
        *,
        site_dir: Path,
        site_url: str,
        cache_dir: Path,
        allow_private_hosts: bool = False,
        timeout: float = 10.0,
        max_download_bytes: int = 20 * 1024 * 1024,
        trusted_hosts: Iterable[str] = (),
        deadline: float | None = None,
    ) -> None:
        policy = HostPolicy(allow_private=allow_private_hosts, trusted_hosts=trusted_hosts)
        self._fetcher = Fetcher(
            site_dir=site_dir,
            site_url=site_url,
            policy=policy,
            timeout=timeout,
            max_bytes=max_download_bytes,
            deadline=deadline,
        )
        self._cache = VariantCache(cache_dir)

    def close(self) -> None:
        self._fetcher.close()

    def __enter__(self) -> ImageResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, src: str) -> tuple[bytes, str]:
        """Raw bytes of `src` and what was resolved (site-relative path or redacted URL)."""
        return self._fetcher.fetch(src)

    def variant(self, src: str, platform: str) -> ImageVariant:
        """The upload for `platform`; ValueError for an unknown platform, ImageError otherwise."""
        limits = PLATFORM_LIMITS.get(platform)
        if limits is None:
            raise ValueError(f"unknown platform {platform!r}; known: {sorted(PLATFORM_LIMITS)}")
        data, source = self.fetch(src)
        key = cache_key(hashlib.sha256(data).hexdigest(), platform)
        hit = self._cache.get(key)
        if hit is not None:
            return _as_variant(hit, platform, source, (*hit.notes, "cached"))
        enc = render(data, limits)
        entry = self._cache.put(
            key,
            enc.data,
            ext=enc.ext,
            mime=enc.mime,
            width=enc.width,
            height=enc.height,
            notes=enc.notes,
        )
        return _as_variant(entry, platform, source, entry.notes)

    def decide(self, src: str | None, platform: str) -> ImageVariant | ImageFailure | None:
        """None when the post has no image; otherwise a variant or the reason there is none.

        Never raises for a bad image, so a broken picture degrades a post to text instead of
        blocking it, and never waits much longer than the download deadline, so it can run
        before a send lease is taken. (An unknown platform is a caller bug and still raises
        ValueError.)
        """
        if src is None or (isinstance(src, str) and not src.strip()):
            return None
        if platform not in PLATFORM_LIMITS:
            raise ValueError(f"unknown platform {platform!r}; known: {sorted(PLATFORM_LIMITS)}")
        if not isinstance(src, str):  # front matter is hostile too: `image: [1, 2]`
            return ImageFailure(
                platform=platform, source=repr(src)[:80], reason="image is not a path or URL"
            )
        shown = _shown_source(src)
        try:
            return self.variant(src, platform)
        except ImageError as exc:
            return ImageFailure(platform=platform, source=shown, reason=exc.reason)
        except MemoryError:
            return ImageFailure(
                platform=platform, source=shown, reason="image too large to process"
            )
        except Exception as exc:  # a Pillow/codec bug must not block the post either
            log.exception("unexpected error preparing image for %s", platform)
            return ImageFailure(
                platform=platform,
                source=shown,
                reason=f"unexpected error preparing image: {type(exc).__name__}",
            )


def _shown_source(src: str) -> str:
    """`src` for reports: URLs lose userinfo and query (they may hold secrets), paths stay."""
    src = src.strip()
    if _scheme(src) in ("http", "https"):
        return redact(src)
    return src


def _scheme(src: str) -> str:
    try:
        return urlsplit(src).scheme.lower()
    except ValueError:
        return ""


def _as_variant(
    entry: CacheEntry, platform: str, source: str, notes: tuple[str, ...]
) -> ImageVariant:
    """A cache entry (fresh or hit) as the variant callers upload."""
    return ImageVariant(
        platform=platform,
        path=entry.path,
        mime=entry.mime,
        width=entry.width,
        height=entry.height,
        size=entry.size,
        source=source,
        sha256=entry.sha256,
        notes=notes,
    )
