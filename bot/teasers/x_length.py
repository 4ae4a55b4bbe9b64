"""Tweet length as X counts it: twitter-text v3 weighted length (platform contracts B6, C).

`parse_tweet` (twitter-text-parser) is the reference but costs 1-2 ms per call, mostly in its
emoji regex, so the fitter never calls it inside a search. Instead it adds up per-grapheme weights
computed with the same rules (v3 ranges, NFC, line endings, emoji = 2, URL = 23) and cached per
grapheme, then confirms the final text with one real `parse_tweet`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.config import config as _TT_CONFIG
from twitter_text.parse_tweet import ParsedResult
from twitter_text.regexp.emoji import emoji as _EMOJI_RE
from twitter_text.regexp.emoji import emoji_list as _EMOJI_LIST

from bot.teasers.graphemes import clusters

X_LIMIT = 280
URL_WEIGHT = 23
ELLIPSIS_WEIGHT = 2
_V3 = _TT_CONFIG["version3"]
_LIGHT_RANGES = tuple((r["start"], r["end"]) for r in _V3["ranges"])
_SCALE = _V3["scale"]
assert all(r["weight"] == _SCALE for r in _V3["ranges"]) and _V3["default_weight"] == 2 * _SCALE
# Characters that make a tweet invalid whatever its length (twitter-text `invalid_chars`).
INVALID_CHARS = frozenset("\ufffe\ufeff\uffff")
_EMOJI_FIRST = frozenset(e.emoji[0] for e in _EMOJI_LIST if e.emoji) | frozenset(
    chr(int(e.codepoint.split()[0], 16)) for e in _EMOJI_LIST
)
_LINE_ENDINGS = re.compile(r"\r\n|\r")
# URLs need a dot followed by a TLD letter; text without one cannot contain a URL.
_MAYBE_URL = re.compile(r"\.[^\W\d_]")


def x_parse(text: str, options: dict[str, object] | None = None) -> ParsedResult:
    """The full twitter-text-parser result (v3 config unless `options` says otherwise)."""
    return parse_tweet(text) if options is None else parse_tweet(text, options)


def x_weighted_length(text: str) -> int:
    """Weighted length by the reference implementation (slow: for confirming, not searching)."""
    return parse_tweet(text).weightedLength


def _code_point_weight(ch: str) -> int:
    cp = ord(ch)
    for start, end in _LIGHT_RANGES:
        if start <= cp <= end:
            return 1
    return 2


@lru_cache(maxsize=65536)
def x_cluster_weight(cluster: str) -> int:
    """Weight of one grapheme cluster, outside any URL, by the v3 rules.

    Emoji are matched with twitter-text's own (Emoji 12) pattern, so newer sequences that it
    counts per code point (phoenix = 5) are counted the same way here.
    """
    text = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", cluster))
    weight = 0
    i = 0
    while i < len(text):
        if text[i] in _EMOJI_FIRST:
            match = _EMOJI_RE.match(text, i)
            if match and match.end() > i:
                weight += 2
                i = match.end()
                continue
        weight += _code_point_weight(text[i])
        i += 1
    return weight


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code point spans of what twitter-text sees as URLs (each weighs 23 whatever its length)."""
    if not _MAYBE_URL.search(text):
        return []
    return [tuple(u["indices"]) for u in extract_urls_with_indices(text)]  # type: ignore[misc]


def cluster_weights(parts: list[str], text: str) -> list[int]:
    """Per-cluster weights of `text` (split into `parts`); a URL weighs 23 on its first cluster."""
    weights = [x_cluster_weight(c) for c in parts]
    spans = url_spans(text)
    if spans:
        pos = 0
        starts = []
        for c in parts:
            starts.append(pos)
            pos += len(c)
        for start, end in spans:
            first = True
            for k, s in enumerate(starts):
                e = s + len(parts[k])
                if e <= start or s >= end:
                    continue
                # A URL may begin or end inside a cluster (after a combining mark): the cluster's
                # parts outside the URL keep their own weight.
                w = URL_WEIGHT if first else 0
                if s < start:
                    w += x_cluster_weight(parts[k][: start - s])
                if e > end:
                    w += x_cluster_weight(parts[k][end - s :])
                weights[k] = w
                first = False
    return weights


def x_estimate(text: str) -> int:
    """Fast weighted length (no `parse_tweet`); equal to it except in contrived cases."""
    return sum(cluster_weights(clusters(text), text))


def x_sanitize(text: str) -> str:
    """Drop the code points that make any tweet invalid (BOM, non-characters)."""
    if any(c in INVALID_CHARS for c in text):
        return "".join(c for c in text if c not in INVALID_CHARS)
    return text
