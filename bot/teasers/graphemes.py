"""Grapheme clusters (what a reader sees as one character) and where text may be cut.

Cutting between code points can split a Hangul jamo sequence, an emoji ZWJ family, a skin tone
or a flag into garbage; `regex`'s `\\X` follows UAX #29 extended grapheme clusters, so every cut
made here falls between clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

_CLUSTER = regex.compile(r"\X", regex.DOTALL)
_SENTENCE_END = frozenset(".!?。！？…‼⁇⁈⁉")
_CLOSERS = frozenset("\"'”’»)]}」』】〉》")
# Trailing characters that look wrong right before the ellipsis mark.
_DANGLING = frozenset(" \t\n,;:·-–—(/[{«“‘")


def clusters(text: str) -> list[str]:
    return _CLUSTER.findall(text)


def _is_space(cluster: str) -> bool:
    return cluster.isspace()


@dataclass(frozen=True, slots=True)
class Cuts:
    """A text split into clusters plus the cluster indices where a cut reads well."""

    parts: tuple[str, ...]
    sentence_ends: tuple[int, ...]
    """Prefix lengths (in clusters) ending right after a sentence terminator."""
    word_ends: tuple[int, ...]
    """Prefix lengths ending at a word end (before whitespace), dangling punctuation dropped."""


@lru_cache(maxsize=1024)
def cuts(text: str) -> Cuts:
    parts = clusters(text)
    n = len(parts)
    sentence: list[int] = []
    words: list[int] = []
    for i in range(1, n):
        if not _is_space(parts[i]) or _is_space(parts[i - 1]):
            continue
        j = i
        while j > 0 and parts[j - 1] in _DANGLING:
            j -= 1
        if j > 0 and (not words or words[-1] != j):
            words.append(j)
        k = i
        while k > 1 and parts[k - 1] in _CLOSERS:
            k -= 1
        if parts[k - 1] and parts[k - 1][-1] in _SENTENCE_END:
            sentence.append(i)
    return Cuts(tuple(parts), tuple(sentence), tuple(words))
