"""Hashtags from categories and tags: `#기술`, `#OpenSource`.

A hashtag ends at the first space or punctuation mark on both platforms, so those are removed
rather than replaced; letters, digits and combining marks of every script stay (a Devanagari or
Hangul-jamo tag without its marks would be misspelled). Duplicates differing only in case collapse.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_HASHTAG_CHARS = 50
"""Longer tags are dropped: nobody types them, and they would crowd out the teaser text."""


def _clean(value: str) -> str:
    kept = [
        ch for ch in unicodedata.normalize("NFC", value) if unicodedata.category(ch)[0] in "LNM"
    ]
    # A leading combining mark would attach to the '#' itself.
    while kept and unicodedata.category(kept[0])[0] == "M":
        kept.pop(0)
    return "".join(kept)


def hashtags(values: Iterable[str], limit: int, *, max_chars: int = MAX_HASHTAG_CHARS) -> list[str]:
    """Up to `limit` distinct hashtags, in input order.

    A tag made only of digits (or marks) is skipped because X does not treat `#2024` as a hashtag.
    """
    result: list[str] = []
    seen: set[str] = set()
    if limit <= 0:
        return result
    for value in values:
        body = _clean(str(value))
        if not body or len(body) > max_chars:
            continue
        if not any(unicodedata.category(ch)[0] == "L" for ch in body):
            continue
        key = body.casefold()
        if key in seen:
            continue
        seen.add(key)
        result.append("#" + body)
        if len(result) >= limit:
            break
    return result
