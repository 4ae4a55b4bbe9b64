"""What an X post costs under pay-per-use (contracts B5): which billable calls a send makes.

Light on purpose (twitter-text only, no tweepy): previews, the dry-run outbox and the budget
check price a post before anything is sent, and the X transport bills each call as it is made
with the same rule, so a preview's price is what the ledger records.
"""

from __future__ import annotations

from collections.abc import Mapping

from twitter_text import extract_urls

from bot.images import ImageVariant
from bot.platforms.outgoing import PlatformTeaser

__all__ = ["planned_calls", "post_kind", "price_usd"]


def post_kind(text: str) -> str:
    """``post_url`` when X finds a URL in the text (twitter-text, as X does), else ``post``.

    Why twitter-text: X charges the URL price for any link it wraps in t.co, including a bare
    ``example.com``; a plain ``http`` search would miss those and under-price the post.
    """
    return "post_url" if extract_urls(text) else "post"


def planned_calls(item: PlatformTeaser, *, alt_text: bool = True) -> dict[str, int]:
    """The billable calls sending ``item`` makes: the post, plus an upload and (with alt text)
    a metadata call for its photo.  The one @handle read per process is not a post's cost."""
    calls = {post_kind(item.teaser.text): 1}
    if isinstance(item.image, ImageVariant):
        calls["media"] = 2 if alt_text else 1
    return calls


def price_usd(calls: Mapping[str, int], prices: Mapping[str, float]) -> float:
    """USD of ``calls`` at ``prices`` (the settings' X_PRICES), rounded to micro-dollars."""
    micro = sum(round(float(prices[k]) * 1_000_000) * int(n) for k, n in calls.items())
    return micro / 1_000_000
