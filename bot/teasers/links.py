"""The link a teaser carries: whether X gets it at all (X_LINK_MODE) and its UTM tags.

Why here, beside the renderer: both decisions change the text that is fitted and sent, and both
must leave the post's identity alone. The canonical URL (``Post.url``) stays the key of the
records, the receipts and the seen index; only the text handed to the platform carries tags.

- **Link mode.** Since 2026-04-20 an X post containing a URL costs $0.20 against $0.015 without
  one (platform-contracts B5). ``X_LINK_MODE=none`` posts no link on X, ``categories:a,b`` only
  for posts in those categories (compared case-insensitively, as an editor reads them). The
  template is told (``link_mode``, ``link``) so it can say "link in bio" or name the site.
- **UTM tags.** ``UTM_TEMPLATE`` (checked at start by ``bot.config.check_utm_template``) is
  appended to the link's query: an existing query and fragment are kept (the tags go before
  the fragment), a link that already carries ``utm_source`` is left as it is, and the values
  filled in (a Korean slug) are percent-encoded as UTF-8. On X every URL counts 23 whatever its
  length, so tags never cost a teaser's text a character there.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from bot.config import parse_x_link_mode
from bot.posts import Post

__all__ = ["LinkMode", "UtmTagger", "strip_utm"]

_UNRESERVED = "-._~"


@dataclass(frozen=True, slots=True)
class LinkMode:
    """Parsed ``X_LINK_MODE``: ``kind`` is url, none or categories."""

    kind: str = "url"
    categories: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> LinkMode:
        kind, categories = parse_x_link_mode(value or "url")
        return cls(kind, categories)

    def includes(self, post: Post) -> bool:
        """Whether this post's X teaser carries its link."""
        if self.kind == "url":
            return True
        if self.kind == "none":
            return False
        wanted = {c.casefold() for c in self.categories}
        return any(str(c).strip().casefold() in wanted for c in post.categories)


class UtmTagger:
    """Adds ``UTM_TEMPLATE``'s tags to a URL for one platform; ``None`` template: unchanged."""

    def __init__(self, template: str | None) -> None:
        self._parts: list[tuple[str, str | None]] = []
        if template:
            for literal, name, _spec, _conv in string.Formatter().parse(template.strip("&")):
                self._parts.append((literal, name))

    @property
    def active(self) -> bool:
        return bool(self._parts)

    def values(self, post: Post, platform: str) -> dict[str, str]:
        return {
            "platform": platform,
            "slug": post.slug,
            "category": str(post.categories[0]) if post.categories else "",
            "date": post.date.strftime("%Y-%m-%d"),
        }

    def tag(self, url: str, post: Post, platform: str) -> str:
        return self.tag_with(url, self.values(post, platform))

    def tag_with(self, url: str, values: Mapping[str, str]) -> str:
        """``url`` with the tags appended to its query, before its fragment; unchanged when
        there is no template, or the link already has a ``utm_source`` (someone tagged it)."""
        if not self._parts:
            return url
        # Split by hand, not with urlsplit: it drops tabs and line breaks (WHATWG), and a link
        # must go out exactly as the post has it, tags aside.
        head, hash_, fragment = url.partition("#")
        path, _, query = head.partition("?")
        if any(k == "utm_source" for k, _ in parse_qsl(query, keep_blank_values=True)):
            return url
        tags = "".join(
            literal + (quote(values.get(name, ""), safe=_UNRESERVED) if name else "")
            for literal, name in self._parts
        )
        tags = "&".join(p for p in tags.split("&") if p)
        if not tags:
            return url
        query = f"{query}&{tags}" if query and not query.endswith("&") else query + tags
        return f"{path}?{query}{hash_}{fragment}"


def strip_utm(url: str) -> str:
    """``url`` without its ``utm_*`` query parameters and fragment: how a link found on a
    platform is compared with a post's canonical URL (whatever tags it went out with)."""
    head = url.partition("#")[0]
    path, _, query = head.partition("?")
    kept = [p for p in query.split("&") if p and not p.split("=", 1)[0].startswith("utm_")]
    return f"{path}?{'&'.join(kept)}" if kept else path
