"""Choosing how much of each text field to keep, by arithmetic over per-grapheme weights.

The fitter treats a rendered teaser as `static + sum(count_v * weight(v))`: the template's own
text (markup, hashtags, link) plus each fitted variable as many times as the template prints it.
Per-grapheme weights make every candidate cut an O(1) prefix-sum lookup, so the search never
re-renders or re-measures; the caller confirms the final text once with the exact counter.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from bot.teasers.graphemes import Cuts, cuts

WORD_MARK = "…"
SENTENCE_MARK = " …"
_SENTENCE_KEEP = 0.6  # a sentence cut must keep this share of what a grapheme cut could keep
_WORD_KEEP = 0.5
DEGENERATE_CLUSTER = 16
"""A grapheme of more code points than this (a pile of combining marks) may be dropped whole even
where one grapheme must stay: it is not readable text, and it alone can outweigh any limit."""


class NoFit(Exception):
    """Even the minimal values exceed the budget."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    text: str
    min_clusters: int
    """0: may be dropped entirely; 1: keeps at least one grapheme (the title)."""


WeightFn = Callable[[Sequence[str], str], list[int]]


@dataclass(frozen=True, slots=True)
class Measured:
    field: Field
    cuts: Cuts
    prefix: list[int]
    """prefix[k] = weight of the first k clusters."""

    @property
    def full(self) -> int:
        return self.prefix[-1]


def measure(field: Field, weights: WeightFn) -> Measured:
    c = cuts(field.text)
    prefix = [0, *accumulate(weights(c.parts, field.text))]
    return Measured(field, c, prefix)


def _largest_fitting(prefix: list[int], budget: int) -> int:
    """Largest k with prefix[k] <= budget (prefix is non-decreasing); -1 if none."""
    return bisect_right(prefix, budget) - 1


def _best_of(candidates: Sequence[int], limit_k: int) -> int:
    i = bisect_right(candidates, limit_k)
    return candidates[i - 1] if i else 0


def choose(m: Measured, avail: int, count: int, mark_weight: Callable[[str], int]) -> str | None:
    """The longest readable version of the field whose `count` copies weigh at most `avail`.

    Prefers a sentence end, then a word end, then any grapheme boundary, as long as the nicer cut
    does not throw away most of what would fit. None when not even the minimum fits.
    """
    parts = m.cuts.parts
    if count * m.full <= avail:
        return m.field.text
    per_copy = avail // count if count else avail
    wm, sm = mark_weight(WORD_MARK), mark_weight(SENTENCE_MARK)
    k_max = min(_largest_fitting(m.prefix, per_copy - wm), len(parts) - 1)
    s_max = min(_largest_fitting(m.prefix, per_copy - sm), len(parts) - 1)
    best_k = m.prefix[k_max] if k_max > 0 else 0
    sentence = _best_of(m.cuts.sentence_ends, s_max)
    if sentence >= max(1, m.field.min_clusters) and m.prefix[sentence] >= _SENTENCE_KEEP * best_k:
        return "".join(parts[:sentence]) + SENTENCE_MARK
    word = _best_of(m.cuts.word_ends, k_max)
    if word >= max(1, m.field.min_clusters) and m.prefix[word] >= _WORD_KEEP * best_k:
        return "".join(parts[:word]) + WORD_MARK
    k = k_max
    while k > 1 and parts[k - 1].isspace():
        k -= 1
    if k >= max(1, m.field.min_clusters):
        return "".join(parts[:k]) + WORD_MARK
    if m.field.min_clusters == 0:
        return ""
    if len(parts[0]) > DEGENERATE_CLUSTER and count * wm <= avail:
        return WORD_MARK
    return None


def minimum(m: Measured, mark_weight: Callable[[str], int]) -> tuple[str, int]:
    """The smallest value the field may take, and its weight."""
    if m.field.min_clusters == 0 or not m.cuts.parts:
        return "", 0
    if len(m.cuts.parts[0]) > DEGENERATE_CLUSTER:
        return WORD_MARK, mark_weight(WORD_MARK)
    if len(m.cuts.parts) == 1:
        return m.field.text, m.full
    return m.cuts.parts[0] + WORD_MARK, m.prefix[1] + mark_weight(WORD_MARK)


def fit(
    fields: Sequence[Measured],
    counts: dict[str, int],
    static: int,
    budget: int,
    mark_weight: Callable[[str], int],
) -> tuple[dict[str, str], bool]:
    """Values for every field so that the estimated total fits `budget`; fields are cut in order.

    Returns the values and whether anything was shortened; raises NoFit when even every field at
    its minimum is too heavy.
    """
    values = {m.field.name: m.field.text for m in fields}
    weights = {m.field.name: m.full for m in fields}

    def total() -> int:
        return static + sum(counts.get(name, 0) * w for name, w in weights.items())

    if total() <= budget:
        return values, False
    for m in fields:
        name = m.field.name
        count = counts.get(name, 0)
        if count == 0:
            continue
        avail = budget - (total() - count * weights[name])
        chosen = choose(m, avail, count, mark_weight) if avail >= 0 else None
        if chosen is not None:
            values[name] = chosen
            return values, True
        values[name], weights[name] = minimum(m, mark_weight)
    if total() <= budget:
        return values, True
    raise NoFit
