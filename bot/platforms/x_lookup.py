"""Finding one of our own posts among the account's recent ones, as X shows them.

Why: a send whose answer was lost, or whose worker died past the fence, may or may not have
created the post. Reading the account's own recent posts (an owned read, $0.001) tells which,
and gives the post's id for the receipt. X does not show a post as it was sent: every link is a
23-character ``https://t.co/...`` (the original in ``entities.urls[].expanded_url``), an
attached photo adds one more, and ``&``, ``<``, ``>`` come back HTML-escaped. So a post is
recognised by its link (compared without UTM tags and fragment: ``strip_utm``), or, for a
teaser without a link (``X_LINK_MODE``), by its whole text once the links are put back.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from twitter_text import extract_urls

from bot.teasers.links import strip_utm

__all__ = ["carries_link", "find_own_post", "shown_text"]


def shown_text(item: Mapping[str, Any]) -> str:
    """The post's text with X's t.co links expanded again and its escaping undone; the
    trailing link of an attached photo is dropped (it was never part of the text)."""
    text = str(item.get("text") or "")
    for url in _urls(item):
        short = url.get("url")
        if not isinstance(short, str) or not short:
            continue
        if url.get("media_key"):
            text = text.replace(" " + short, "").replace(short, "")
            continue
        expanded = url.get("expanded_url")
        if isinstance(expanded, str) and expanded:
            text = text.replace(short, expanded, 1)
    return html.unescape(text)


def find_own_post(items: Iterable[Mapping[str, Any]], *, url: str | None,
                  text: str) -> Mapping[str, Any] | None:
    """The first (newest) post that carries ``url`` or reads exactly ``text``, else None."""
    want_url = _same_link(url) if url else None
    want_text = _normal(text)
    for item in items:
        if want_url is not None and any(
            _same_link(str(u.get("expanded_url") or "")) == want_url
            for u in _urls(item) if not u.get("media_key")
        ):
            return item
        if want_text and _normal(shown_text(item)) == want_text:
            return item
    return None


def carries_link(text: str, url: str) -> bool:
    """Whether X sees ``url`` as a link in ``text`` (twitter-text: only with a known top-level
    domain), i.e. whether a post of this text can be found by its link whatever else changed."""
    want = _same_link(url)
    return any(_same_link(found) == want for found in extract_urls(text))


def _urls(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entities = item.get("entities")
    urls = entities.get("urls") if isinstance(entities, Mapping) else None
    return [u for u in urls or [] if isinstance(u, Mapping)]


def _same_link(url: str) -> str:
    """http and https, and UTM tags, make no difference to which story a link is."""
    bare = strip_utm(url.strip())
    for scheme in ("https://", "http://"):
        if bare.lower().startswith(scheme):
            return bare[len(scheme):]
    return bare


def _normal(text: str) -> str:
    """Whitespace and Unicode composition aside, and without URL schemes: X expands a link
    written without one (``example.com``) to ``http://example.com``."""
    text = unicodedata.normalize("NFC", text).replace("https://", "").replace("http://", "")
    return " ".join(text.split())
