"""GET /2/users/:id/tweets of the fake X: the account's own posts as X shows them.

What a reader of the real endpoint meets, reproduced because newsbot settles a doubtful send by
searching these posts (X API v2 reference, "User Posts timeline"; tweepy 4.17
``Client.get_users_tweets``):

- newest first, ``max_results`` 5-100 (default 10), ``pagination_token`` from
  ``meta.next_token``; ``meta`` carries ``result_count``, ``newest_id``, ``oldest_id``,
  ``next_token`` / ``previous_token``; no ``data`` key at all when nothing matched;
- ``start_time`` / ``end_time`` (``YYYY-MM-DDTHH:mm:ssZ``, end exclusive), ``since_id`` /
  ``until_id``; a bad value or an unknown parameter is a 400 ``invalid-request`` problem naming
  it; an id that is no user is a 200 with only ``errors`` (resource-not-found);
- ``text`` as X stores it: every URL replaced by a 23-character ``https://t.co/...`` link, an
  attached photo as a trailing t.co link, and ``&``, ``<``, ``>`` HTML-escaped; with
  ``tweet.fields=entities`` the original link is in ``entities.urls[].expanded_url``;
- a deleted post is gone; a post younger than the fake's ``timeline_lag`` is not shown yet.

Auth, the 15-minute window (``x-rate-limit-*``) and the 429 are the fake's common handling.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from twitter_text import extract_urls_with_indices

_PARAMS = frozenset({"max_results", "pagination_token", "since_id", "until_id", "start_time",
                     "end_time", "exclude", "expansions", "tweet.fields", "media.fields",
                     "poll.fields", "place.fields", "user.fields"})
_TWEET_FIELDS = frozenset({
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations",
    "conversation_id", "created_at", "display_text_range", "edit_controls",
    "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
    "media_metadata", "note_tweet", "possibly_sensitive", "public_metrics",
    "referenced_tweets", "reply_settings", "scopes", "source", "text", "withheld"})
_ID = re.compile(r"[0-9]{1,19}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")
_TOKEN = re.compile(r"f([0-9a-z]{1,8})")
_TCO_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def user_timeline(posts: list[Any], user_id: str, query: dict[str, list[str]], *, now: float,
                  lag: float = 0.0) -> tuple[int, dict[str, Any]]:
    """(status, body) of GET /2/users/:id/tweets over ``posts`` (the fake's FakePost list)."""
    from fakes.x import ACCOUNT_ID, ACCOUNT_USERNAME, NOT_FOUND_TYPE, _invalid

    def bad(message: str, name: str, value: str) -> tuple[int, dict[str, Any]]:
        return 400, _invalid(message, {name: [value]})

    unknown = sorted(set(query) - _PARAMS)
    if unknown:
        return 400, _invalid(f"The query parameter [{unknown[0]}] is not one of "
                             f"[{','.join(sorted(_PARAMS))}]")
    if not _ID.fullmatch(user_id):
        return bad(f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$",
                   "id", user_id)
    value = _one(query, "max_results")
    max_results = 10
    if value is not None:
        if not value.isdigit() or not 5 <= int(value) <= 100:
            return bad(f"The `max_results` query parameter value [{value}] is not between 5 "
                       "and 100", "max_results", value)
        max_results = int(value)
    fields = set()
    value = _one(query, "tweet.fields")
    if value is not None:
        for name in value.split(","):
            if name not in _TWEET_FIELDS:
                return bad(f"The `tweet.fields` query parameter value [{name}] is not one of "
                           f"[{','.join(sorted(_TWEET_FIELDS))}]", "tweet.fields", name)
            fields.add(name)
    bounds: dict[str, float] = {}
    for name in ("start_time", "end_time"):
        value = _one(query, name)
        if value is not None:
            if not _TIME.fullmatch(value):
                return bad(f"Invalid '{name}':'{value}'. '{name}' must be a date in the form "
                           "YYYY-MM-DDTHH:mm:ssZ", name, value)
            bounds[name] = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    ids: dict[str, int] = {}
    for name in ("since_id", "until_id"):
        value = _one(query, name)
        if value is not None:
            if not _ID.fullmatch(value):
                return bad(f"The `{name}` query parameter value [{value}] does not match "
                           "^[0-9]{1,19}$", name, value)
            ids[name] = int(value)
    offset = 0
    value = _one(query, "pagination_token")
    if value is not None:
        match = _TOKEN.fullmatch(value)
        if match is None:
            return bad(f"The `pagination_token` query parameter value [{value}] is not valid",
                       "pagination_token", value)
        offset = int(match.group(1), 36)
    if user_id != ACCOUNT_ID:
        return 200, {"errors": [{
            "value": user_id, "detail": f"Could not find user with id: [{user_id}].",
            "title": "Not Found Error", "resource_type": "user", "parameter": "id",
            "resource_id": user_id, "type": NOT_FOUND_TYPE}]}

    shown = [p for p in posts if not p.deleted and p.created_at <= now - lag
             and p.created_at >= bounds.get("start_time", float("-inf"))
             and p.created_at < bounds.get("end_time", float("inf"))
             and int(p.id) > ids.get("since_id", -1)
             and int(p.id) < ids.get("until_id", 10**20)]
    shown.sort(key=lambda p: (p.created_at, int(p.id)), reverse=True)
    shown = shown[:3200]  # X serves only the most recent 3,200 of a timeline
    page = shown[offset:offset + max_results]
    if not page:
        return 200, {"meta": {"result_count": 0}}
    meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0].id,
                            "oldest_id": page[-1].id}
    if offset + max_results < len(shown):
        meta["next_token"] = "f" + _base36(offset + max_results)
    if offset > 0:
        meta["previous_token"] = "f" + _base36(max(offset - max_results, 0))
    return 200, {"data": [_view(p, fields, ACCOUNT_USERNAME) for p in page], "meta": meta}


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _tco(post_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{post_id}/{index}".encode()).digest()
    return "https://t.co/" + "".join(_TCO_ALPHABET[b % 62] for b in digest[:10])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _view(post: Any, fields: set[str], username: str) -> dict[str, Any]:
    """One post as the timeline shows it: t.co links, escaped text, entities on request."""
    text = post.text
    parts: list[str] = []
    urls: list[dict[str, Any]] = []
    pos = 0
    length = 0  # code points of the shown text so far (X's entity indices)
    for n, found in enumerate(extract_urls_with_indices(text)):
        start, end = found["indices"]
        before = _escape(text[pos:start])
        parts.append(before)
        length += len(before)
        short = _tco(post.id, n)
        expanded = found["url"] if "://" in found["url"] else f"http://{found['url']}"
        urls.append({"start": length, "end": length + len(short), "url": short,
                     "expanded_url": expanded,
                     "display_url": expanded.split("://", 1)[1][:26] + (
                         "…" if len(expanded.split("://", 1)[1]) > 26 else "")})
        parts.append(short)
        length += len(short)
        pos = end
    tail = _escape(text[pos:])
    parts.append(tail)
    length += len(tail)
    if post.media_ids:
        short = _tco(post.id, 99)
        sep = " " if parts and "".join(parts) else ""
        parts.append(sep + short)
        length += len(sep)
        urls.append({"start": length, "end": length + len(short), "url": short,
                     "expanded_url": f"https://x.com/{username}/status/{post.id}/photo/1",
                     "display_url": f"pic.x.com/{short.rsplit('/', 1)[1]}",
                     "media_key": f"3_{post.media_ids[0]}"})
    item: dict[str, Any] = {"id": post.id, "text": "".join(parts),
                            "edit_history_tweet_ids": [post.id]}
    if "created_at" in fields:
        item["created_at"] = datetime.fromtimestamp(post.created_at, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.") + f"{int(post.created_at * 1000) % 1000:03d}Z"
    if "entities" in fields and urls:
        item["entities"] = {"urls": urls}
    return item
