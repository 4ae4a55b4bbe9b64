"""A fake X API v2 server on 127.0.0.1 for tests and local runs.

It reproduces what tweepy 4.17 and our own v2 media calls can observe from the real service
(see shared/docs/platform-contracts.md part B): status codes, RFC 7807 problem bodies with X's
exact texts, rate-limit headers, 24 h posting counters, duplicate detection, weighted text
length via twitter-text, and the v2 media endpoints. OAuth 1.0a is checked only by consumer key
and token: clients sign for the original https URL, so verifying the signature against the
loopback URL would reject every honest client.

Fault injection: ``fail_next``, ``delay_next``, ``drop_next`` (optionally after the request took
effect) and ``set_fault_plan`` (a seeded share of the calls answered with 429 and a future
``x-rate-limit-reset``, 500, 502, a reset, a hang or a drop after processing;
``fakes.faults``).  ``rate_watch`` keeps every 429 answered and the requests to the same
endpoint that arrived before its reset.

Run standalone: ``python -m fakes.x --port 8081 [--time-scale 0.01]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import io
import itertools
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from twitter_text import extract_urls, parse_tweet

from fakes.faults import FAULT_KINDS, Fault, FaultPlan, RateWatch, peer_closed

TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"
# The account states an operator meets (health checks): bodies as X sends them.
# 403 of a suspended account: github.com/akrherz/iembot/issues/156 (2026).
SUSPENDED_BODY = {"detail": "The user used for authentication is suspended", "title": "Forbidden",
                  "status": 403, "type": "https://api.twitter.com/2/problems/user-suspended"}
# 402 of a pay-per-use account without credits (no "status" member; tweepy shows
# "402 Payment Required\n<detail>"): public client fixtures and logs, 2026.
CREDITS_TYPE = "https://api.twitter.com/2/problems/credits"
FAKE_ACCOUNT_ID = 1600000000000000001
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
IMAGE_MAX_BYTES = 5 * 1024 * 1024
GIF_MAX_BYTES = 15 * 1024 * 1024
VIDEO_MAX_BYTES = 512 * 1024 * 1024
ALT_TEXT_MAX = 1000
WINDOW_15MIN = 900.0
WINDOW_24H = 86400.0

_TWEET_KEYS = frozenset(
    {
        "text",
        "media",
        "reply",
        "quote_tweet_id",
        "poll",
        "reply_settings",
        "community_id",
        "geo",
        "for_super_followers_only",
        "made_with_ai",
        "paid_partnership",
        "nullcast",
        "card_uri",
        "direct_message_deep_link",
        "share_with_followers",
    }
)
_MEDIA_CATEGORIES = frozenset(
    {
        "tweet_image",
        "tweet_gif",
        "tweet_video",
        "dm_image",
        "dm_gif",
        "dm_video",
        "subtitles",
        "amplify_video",
    }
)
_IMAGE_MIMES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
# MediaUploadRequestOneShot.media_type enum [docs.x.com]; no GIF or video in one-shot.
ONESHOT_MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/bmp",
        "image/png",
        "image/webp",
        "image/pjpeg",
        "image/tiff",
        "text/srt",
        "text/vtt",
    }
)
_CHUNKED_MIMES = frozenset(
    {
        *_IMAGE_MIMES.values(),
        "image/pjpeg",
        "video/mp4",
        "video/webm",
        "video/mp2t",
        "video/quicktime",
        "text/srt",
        "text/vtt",
    }
)
# Documented per-user 15-minute limits for the non-posting endpoints [XDOCS rate-limits.mdx].
_ROUTE_LIMITS = {"tweets_delete": 50, "media_upload": 500, "media_chunked": 1875,
                 "media_metadata": 500, "users_me": 75, "users_tweets": 900}
#: The fake account (GET /2/users/me) and its own posts' reader (GET /2/users/:id/tweets).
ACCOUNT_ID = "1600000000000000001"
ACCOUNT_USERNAME = "newsbot_test"
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _problem(
    status: int,
    title: str,
    detail: str,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "detail": detail, "type": type_, "status": status}
    if errors:
        body["errors"] = errors
    return body


def _invalid(message: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if parameters:
        error["parameters"] = parameters
    return _problem(400, "Invalid Request", INVALID_REQUEST_DETAIL, INVALID_REQUEST_TYPE, [error])


_DEFAULT_TITLES = {
    400: "Invalid Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def default_problem(status: int) -> dict[str, Any]:
    """Generic problem body for an injected failure (same shape X uses for about:blank)."""
    title = _DEFAULT_TITLES.get(status, "Error")
    return _problem(status, title, title)


class _Reply(Exception):
    """Raised inside a handler to answer with a status and a JSON body at once."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers: dict[str, str] = {}


@dataclass
class JournalEntry:
    """One request as the fake saw it; the repr never shows the Authorization header."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    """When the request arrived (its headers were read)."""

    def __repr__(self) -> str:
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in self.headers.items()
        }
        files = {k: f"<{len(v)} bytes>" for k, v in self.files.items()}
        return (
            f"JournalEntry({self.method} {self.path} status={self.status} "
            f"headers={headers} json={self.json!r} form={self.form!r} files={files} "
            f"response={self.response!r})"
        )


@dataclass
class FakePost:
    """A post created through POST /2/tweets (item access kept for dict-style callers)."""

    id: str
    text: str
    media_ids: list[str]
    created_at: float
    body: dict[str, Any]
    deleted: bool = False

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class _Window:
    limit: int
    seconds: float
    remaining: int = -1
    reset: float = 0.0

    def refresh(self, now: float) -> None:
        if now >= self.reset:
            self.remaining = self.limit
            self.reset = now + self.seconds

    def headers(self, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}-limit": str(self.limit),
            f"{prefix}-remaining": str(max(self.remaining, 0)),
            f"{prefix}-reset": str(math.ceil(self.reset)),
        }


@dataclass
class _Rule:
    prefix: str
    count: int
    action: str  # "fail" | "delay" | "drop" | "reset"
    after_processing: bool = False
    status: int = 500
    body: Any = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0
    method: str | None = None  # only requests with this HTTP method (None: any)


class FakeX:
    """In-process fake of the X API v2 subset newsbot uses; start()/stop() or ``with``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        credentials: tuple[str, str, str, str] = (
            "test-api-key",
            "test-api-secret",
            "test-access-token",
            "test-access-secret",
        ),
        user_24h_limit: int = 100,
        rate_limit_15min: int = 100,
        app_24h_limit: int = 10_000,
        base_path: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.credentials = credentials
        self.base_path = base_path.rstrip("/")
        self.journal: list[JournalEntry] = []
        self.posts: list[FakePost] = []
        self.deletes: list[str] = []  # ids of posts removed through DELETE /2/tweets/:id
        self.media: dict[str, dict[str, Any]] = {}
        self.count_429 = 0
        # Calls X bills under pay-per-use (contracts B5), by kind: answered 2xx only.
        self.billable: dict[str, int] = dict.fromkeys(BILLABLE_KINDS, 0)
        self._lock = threading.RLock()
        self._rules: list[_Rule] = []
        self.fault_plan: FaultPlan | None = None
        self.rate_watch = RateWatch()
        self._windows: dict[str, _Window] = {}
        self._rate_limit_15min = rate_limit_15min
        self._user_24h = _Window(user_24h_limit, WINDOW_24H * time_scale)
        self._app_24h = _Window(app_24h_limit, WINDOW_24H * time_scale)
        self._processing_steps = 0
        self._processing_fail = False
        # account state (``revoke_credentials``, ``lock_account``, ``deplete_credits``)
        self.account_problem: tuple[int, dict[str, Any]] | None = None
        self._ids: Iterator[int] = itertools.count(
            1_860_000_000_000_000_000 + random.randrange(10**15), 7919
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: Seconds a new post takes to show in GET /2/users/:id/tweets (X's timelines are
        #: eventually consistent); 0: at once.
        self.timeline_lag = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeX:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() fast (the default 0.5 s adds up over many tests).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name=f"fake-x-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.base_path}"

    # ------------------------------------------------------------------ test controls
    def calls(self, path_prefix: str = "") -> list[JournalEntry]:
        with self._lock:
            return [e for e in self.journal if e.path.startswith(path_prefix)]

    def fail_next(
        self,
        path_prefix: str,
        *,
        status: int,
        body: Any = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (problem body by default)."""
        with self._lock:
            self._rules.append(
                _Rule(path_prefix, count, "fail", status=status, body=body, headers=headers)
            )

    def delay_next(self, path_prefix: str, seconds: float, *, count: int = 1) -> None:
        """Sleep before handling the next ``count`` matching requests (client timeouts)."""
        with self._lock:
            self._rules.append(_Rule(path_prefix, count, "delay", seconds=seconds))

    def drop_next(self, path_prefix: str, *, count: int = 1,
                  after_processing: bool = False, method: str | None = None) -> None:
        """Close the connection without any response for the next matching requests;
        ``after_processing``: only after the request took effect (the answer is lost);
        ``method``: only requests with this HTTP method (``GET`` for a media STATUS)."""
        with self._lock:
            self._rules.append(_Rule(path_prefix, count, "drop",
                                     after_processing=after_processing, method=method))

    def set_fault_plan(
        self,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        *,
        retry_after: tuple[int, int] = (1, 5),
        hang_seconds: float = 25.0,
        limits: dict[str, int] | None = None,
    ) -> FaultPlan:
        """Answer a share ``rate`` of the calls to X's endpoints (posts and media) with random
        faults (see ``fakes.faults``); a 429 carries a reset 1-5 s ahead.  Rules set with
        ``fail_next``... still come first."""
        plan = FaultPlan(rate, kinds, seed, retry_after=retry_after, hang_seconds=hang_seconds,
                         limits=limits)
        with self._lock:
            self.fault_plan = plan
        return plan

    def clear_fault_plan(self) -> None:
        with self._lock:
            self.fault_plan = None

    def set_rate_limit_exhausted(self, reset_in_seconds: float) -> None:
        """Empty the POST /2/tweets 15-minute window until ``reset_in_seconds`` from now."""
        with self._lock:
            window = self._window("tweets", time.time())
            window.remaining = 0
            window.reset = time.time() + reset_in_seconds

    def set_user_24h_remaining(self, remaining: int) -> None:
        """Jump the per-user 24 h counter (e.g. to 0 to test the daily cap)."""
        with self._lock:
            self._user_24h.refresh(time.time())
            self._user_24h.remaining = remaining

    def revoke_credentials(self) -> None:
        """The access token was revoked (or the keys regenerated): every call gets X's 401."""
        with self._lock:
            self.account_problem = (401, _problem(401, "Unauthorized", "Unauthorized"))

    def lock_account(self) -> None:
        """The account is suspended or locked: every call gets X's 403 user-suspended."""
        with self._lock:
            self.account_problem = (403, dict(SUSPENDED_BODY))

    def deplete_credits(self, status: int = 402) -> None:
        """The pay-per-use credit balance is spent: every billable call (posts, media, reads,
        users/me) gets ``402 Payment Required`` with X's CreditsDepleted problem; ``status=403``
        gives the same billing problem as a 403, as X has also been seen to answer."""
        body = {"account_id": FAKE_ACCOUNT_ID, "title": "CreditsDepleted",
                "detail": f"Your enrolled account [{FAKE_ACCOUNT_ID}] does not have any credits "
                          "to fulfill this request.",
                "type": CREDITS_TYPE}
        with self._lock:
            self.account_problem = (status, body)

    def restore_account(self) -> None:
        """Keys valid, account in good standing, credits bought: calls succeed again."""
        with self._lock:
            self.account_problem = None

    def set_media_processing(self, steps: int, *, fail: bool = False) -> None:
        """Make later image uploads report processing_info for ``steps`` STATUS polls."""
        with self._lock:
            self._processing_steps = steps
            self._processing_fail = fail

    def reset(self) -> None:
        """Forget journal, posts, media, rules and counters (reuse one server across tests)."""
        with self._lock:
            self.journal.clear()
            self.posts.clear()
            self.deletes.clear()
            self.media.clear()
            self._rules.clear()
            self._windows.clear()
            self._user_24h.reset = 0.0
            self._app_24h.reset = 0.0
            self._processing_steps = 0
            self._processing_fail = False
            self.count_429 = 0
            self.account_problem = None
            self.billable = dict.fromkeys(BILLABLE_KINDS, 0)

    def billable_calls(self) -> dict[str, int]:
        """How many billable calls X would charge for, by kind (post, post_url, media, delete,
        read): what a spend ledger must equal once priced."""
        with self._lock:
            return dict(self.billable)

    # ------------------------------------------------------------------ internals
    def _new_id(self) -> str:
        return str(next(self._ids))

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            limit = self._rate_limit_15min if key == "tweets" else _ROUTE_LIMITS.get(key, 900)
            window = self._windows[key] = _Window(limit, WINDOW_15MIN * self.time_scale)
        window.refresh(now)
        return window

    def _take_rule(self, path: str, method: str = "POST") -> list[_Rule]:
        with self._lock:
            taken = []
            for rule in self._rules:
                final_taken = any(t.action != "delay" for t in taken)
                if (
                    rule.count > 0
                    and path.startswith(rule.prefix)
                    and rule.method in (None, method)
                    and (rule.action == "delay" or not final_taken)
                ):
                    rule.count -= 1
                    taken.append(rule)
            self._rules = [r for r in self._rules if r.count > 0]
            plan = self.fault_plan
        key = _route_key(method, path.split("?", 1)[0])
        if taken or plan is None or key in (None, "users_me", "users_tweets"):
            return taken
        fault = plan.draw(key)
        return [_rule_for(fault, path)] if fault is not None else []

    def _check_auth(self, headers: dict[str, str]) -> None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if auth.startswith("Bearer "):
            raise _Reply(
                403,
                _problem(
                    403,
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  "
                    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                    "Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication",
                ),
            )
        params = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(auth)}
        key, _secret, token, _token_secret = self.credentials
        if (
            not auth.startswith("OAuth ")
            or params.get("oauth_consumer_key") != key
            or params.get("oauth_token") != token
            or "oauth_signature" not in params
        ):
            raise _Reply(401, _problem(401, "Unauthorized", "Unauthorized"))

    def _handle(
        self, method: str, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Dispatch one request; returns (status, body, extra headers). Holds the lock."""
        now = time.time()
        key = _route_key(method, route)
        if key is None:
            raise _Reply(
                404,
                _problem(
                    404,
                    "Not Found Error",
                    f"Could not find a route for {method} {route}",
                    NOT_FOUND_TYPE,
                ),
            )
        window = self._window(key, now)
        headers = window.headers("x-rate-limit")
        if key == "tweets":
            self._user_24h.refresh(now)
            self._app_24h.refresh(now)
            headers |= self._user_24h.headers("x-user-limit-24hour")
            headers |= self._app_24h.headers("x-app-limit-24hour")
        try:
            return self._handle_checked(key, window, headers, route, query, req)
        except _Reply as reply:
            reply.headers = headers | reply.headers
            raise

    def _handle_checked(
        self,
        key: str,
        window: _Window,
        headers: dict[str, str],
        route: str,
        query: dict[str, list[str]],
        req: _Parsed,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        self._check_auth(req.headers)
        if self.account_problem is not None:
            status, problem = self.account_problem
            raise _Reply(status, dict(problem))
        # A spent 24 h counter shows in its own headers; the 15-min ones stay as they are.
        if window.remaining <= 0 or (
            key == "tweets" and (self._user_24h.remaining <= 0 or self._app_24h.remaining <= 0)
        ):
            return 429, _problem(429, "Too Many Requests", "Too Many Requests"), headers
        window.remaining -= 1
        headers |= window.headers("x-rate-limit")
        status, body = getattr(self, f"_do_{key}")(route, query, req)
        kind = _billed_as(key, route, req, status)
        if kind is not None:
            self.billable[kind] += 1
        if key == "tweets" and status == 201:
            self._user_24h.remaining -= 1
            self._app_24h.remaining -= 1
            headers |= self._user_24h.headers("x-user-limit-24hour")
            headers |= self._app_24h.headers("x-app-limit-24hour")
        return status, body, headers

    # ---- POST /2/tweets
    def _do_tweets(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        body = req.json
        if not isinstance(body, dict):
            raise _Reply(400, _invalid("Request body must be a JSON object"))
        unknown = sorted(set(body) - _TWEET_KEYS)
        if unknown:
            raise _Reply(
                400,
                _invalid(
                    f"$.{unknown[0]}: is not defined in the schema and the schema does not allow "
                    "additional properties"
                ),
            )
        text = body.get("text")
        media_ids = self._check_post_media(body.get("media"))
        if text is not None and not isinstance(text, str):
            raise _Reply(400, _invalid("$.text: string found, but expected"))
        if not text and not media_ids:
            raise _Reply(400, _invalid("Post text or media is required"))
        text = text or ""
        if parse_tweet(text).weightedLength > 280:
            raise _Reply(
                400, _problem(400, "Invalid Request", TOO_LONG_DETAIL, INVALID_REQUEST_TYPE)
            )
        if text and any(p.text == text and not p.deleted for p in self.posts):
            raise _Reply(
                403,
                {
                    "detail": DUPLICATE_DETAIL,
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
            )
        post_id = self._new_id()
        self.posts.append(FakePost(post_id, text, media_ids, time.time(), body))
        return 201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}

    # ---- DELETE /2/tweets/:id
    def _do_tweets_delete(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        """The account's own post goes; an id it does not have (or no more) is a 404 problem."""
        post_id = route.rsplit("/", 1)[1]
        post = next((p for p in self.posts if p.id == post_id and not p.deleted), None)
        if post is None:
            raise _Reply(404, _problem(404, "Not Found Error",
                                       f"Could not find post with id: [{post_id}].",
                                       NOT_FOUND_TYPE))
        post.deleted = True
        self.deletes.append(post_id)
        return 200, {"data": {"deleted": True}}

    def _check_post_media(self, media: Any) -> list[str]:
        if media is None:
            return []
        ids = media.get("media_ids") if isinstance(media, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
            raise _Reply(400, _invalid("$.media.media_ids: must have 1 to 4 items"))
        bad = [
            i
            for i in ids
            if not (
                isinstance(i, str)
                and i.isdigit()
                and self.media.get(i, {}).get("state") == "succeeded"
            )
        ]
        if bad:
            raise _Reply(
                400,
                _invalid("Your media IDs are invalid.", {"media.media_ids": [str(i) for i in bad]}),
            )
        kinds = [self.media[i]["media_category"] for i in ids]
        if len(ids) > 1 and any(k in ("tweet_gif", "tweet_video", "amplify_video") for k in kinds):
            raise _Reply(
                400, _invalid("Your media IDs are invalid.", {"media.media_ids": list(ids)})
            )
        return list(ids)

    # ---- media
    def _do_media_upload(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        if req.method == "GET":
            return self._media_status(query)
        fields = req.fields()
        if "command" in fields:
            raise _Reply(400, _invalid("command is deprecated; use the dedicated endpoints"))
        data = req.media_bytes()
        category = fields.get("media_category")
        if data is None or not category:
            raise _Reply(400, _invalid("media and media_category are required"))
        if category not in _MEDIA_CATEGORIES:
            raise _Reply(
                400,
                _invalid(
                    f"$.media_category: does not have a value in the "
                    f"enumeration {sorted(_MEDIA_CATEGORIES)}"
                ),
            )
        media_type = fields.get("media_type")
        if media_type is not None and media_type not in ONESHOT_MEDIA_TYPES:
            raise _Reply(
                400,
                _invalid(
                    f"$.media_type: does not have a value in the enumeration "
                    f"{sorted(ONESHOT_MEDIA_TYPES)}"
                ),
            )
        record = self._new_media(category, media_type, len(data))
        self._store_bytes(record, data)
        return 200, {"data": self._media_view(record, initial=True)}

    def _media_status(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if query.get("command", [""])[0] != "STATUS":
            raise _Reply(400, _invalid("$.command: must be STATUS"))
        record = self.media.get(query.get("media_id", [""])[0])
        if record is None:
            raise _Reply(404, _problem(404, "Not Found Error", "Media not found", NOT_FOUND_TYPE))
        info = record.get("processing_info")
        if info and record["polls_left"] > 0:
            record["polls_left"] -= 1
            if record["polls_left"] == 0:
                record["state"] = "failed" if record["fail"] else "succeeded"
            else:
                record["state"] = "in_progress"
        return 200, {"data": self._media_view(record)}

    def _do_media_chunked(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        parts = route.split("/")  # ['', '2', 'media', 'upload', id?, action]
        if parts[-1] == "initialize":
            fields = req.fields()
            category = fields.get("media_category") or "tweet_image"
            mime = fields.get("media_type")
            total = int(fields.get("total_bytes") or 0)
            if category not in _MEDIA_CATEGORIES:
                raise _Reply(400, _invalid("$.media_category: invalid value"))
            if mime not in _CHUNKED_MIMES:
                raise _Reply(400, _invalid("media type unrecognized."))
            record = self._new_media(category, mime, total)
            self._check_size(record, total)
            record.update(state="uploading", chunks={})
            return 200, {
                "data": {
                    "id": record["id"],
                    "media_key": record["media_key"],
                    "expires_after_secs": 86400,
                }
            }
        record = self.media.get(parts[4])
        if record is None:
            raise _Reply(404, _problem(404, "Not Found Error", "Media not found", NOT_FOUND_TYPE))
        if parts[-1] == "append":
            if record["state"] != "uploading":
                raise _Reply(400, _invalid("Media is not in the uploading state"))
            data = req.media_bytes()
            index = req.fields().get("segment_index")
            if data is None or index is None or not str(index).isdigit() or int(index) > 999:
                raise _Reply(400, _invalid("media and segment_index (0-999) are required"))
            record["chunks"][int(index)] = data
            return 200, {"data": {"expires_at": int(time.time() + 86400)}}
        if record["state"] != "uploading":
            raise _Reply(400, _invalid("Media is not in the uploading state"))
        chunks = record.pop("chunks")
        data = b"".join(chunks[i] for i in sorted(chunks))
        if len(data) != record["declared_size"]:
            raise _Reply(400, _invalid("Segments do not add up to provided total file size."))
        self._store_bytes(record, data)
        return 200, {"data": self._media_view(record, initial=True)}

    def _do_media_metadata(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        body = req.json if isinstance(req.json, dict) else {}
        media_id = body.get("id")
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(media_id, str) or not isinstance(alt, str):
            raise _Reply(400, _invalid("$.id and $.metadata.alt_text.text are required"))
        if len(alt) > ALT_TEXT_MAX:
            raise _Reply(
                400,
                _invalid(
                    f"$.metadata.alt_text.text: must be at most {ALT_TEXT_MAX} characters long"
                ),
            )
        record = self.media.get(media_id)
        if record is None:
            raise _Reply(404, _problem(404, "Not Found Error", "Media not found", NOT_FOUND_TYPE))
        record["alt_text"] = alt
        return 200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}

    def _do_users_me(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        return 200, {
            "data": {
                "id": ACCOUNT_ID,
                "name": "Newsbot Test",
                "username": ACCOUNT_USERNAME,
            }
        }

    # ---- GET /2/users/:id/tweets (fakes.x_timeline: what X shows of its posts)
    def _do_users_tweets(
        self, route: str, query: dict[str, list[str]], req: _Parsed
    ) -> tuple[int, dict[str, Any]]:
        from fakes.x_timeline import user_timeline

        status, body = user_timeline(self.posts, route.split("/")[3], query,
                                     now=time.time(), lag=self.timeline_lag)
        if status >= 400:
            raise _Reply(status, body)
        return status, body

    def _new_media(self, category: str, mime: str | None, size: int) -> dict[str, Any]:
        media_id = self._new_id()
        record: dict[str, Any] = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "media_category": category,
            "mime": mime,
            "declared_size": size,
            "size": 0,
            "bytes": b"",
            "alt_text": None,
            "state": "uploading",
            "width": None,
            "height": None,
            "created_at": time.time(),
        }
        self.media[media_id] = record
        return record

    def _check_size(self, record: dict[str, Any], size: int) -> None:
        category = record["media_category"]
        limit = (
            GIF_MAX_BYTES
            if category.endswith("_gif")
            else VIDEO_MAX_BYTES
            if category.endswith("video")
            else IMAGE_MAX_BYTES
        )
        if size > limit:
            del self.media[record["id"]]
            raise _Reply(400, _invalid(f"File size exceeds {limit} bytes."))

    def _store_bytes(self, record: dict[str, Any], data: bytes) -> None:
        category = record["media_category"]
        self._check_size(record, len(data))
        if category.endswith("image") or category.endswith("_gif"):
            mime, width, height = _sniff_image(data)
            if mime is None or (category.endswith("_gif") and mime != "image/gif"):
                del self.media[record["id"]]
                raise _Reply(400, _invalid("media type unrecognized."))
            record.update(mime=mime, width=width, height=height)
        record.update(bytes=data, size=len(data))
        steps = 2 if category.endswith(("_gif", "video")) else self._processing_steps
        if steps > 0:
            record.update(
                state="pending", polls_left=steps, fail=self._processing_fail, processing_info=True
            )
        else:
            record["state"] = "succeeded"

    def _media_view(self, record: dict[str, Any], *, initial: bool = False) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": record["id"],
            "media_key": record["media_key"],
            "size": record["size"],
            "expires_after_secs": 86400,
        }
        if record["width"] is not None:
            view["image"] = {
                "image_type": record["mime"],
                "w": record["width"],
                "h": record["height"],
            }
        if record.get("processing_info"):
            state = record["state"]
            info: dict[str, Any] = {"state": state}
            if state in ("pending", "in_progress"):
                info["check_after_secs"] = 1
                info["progress_percent"] = 0 if state == "pending" else 50
            elif state == "succeeded":
                info["progress_percent"] = 100
            else:
                info["error"] = {
                    "code": 1,
                    "name": "InvalidMedia",
                    "message": "Unsupported video format",
                }
            view["processing_info"] = info
        return view


def _rule_for(fault: Fault, path: str) -> _Rule:
    """A drawn fault as the one-shot rule the handler already knows how to apply."""
    if fault.kind == "429":
        reset = math.ceil(time.time() + fault.retry_after)
        return _Rule(path, 1, "fail", status=429,
                     body=_problem(429, "Too Many Requests", "Too Many Requests"),
                     headers={"x-rate-limit-reset": str(reset)})
    if fault.kind in ("500", "502"):
        return _Rule(path, 1, "fail", status=int(fault.kind))
    if fault.kind == "hang":
        return _Rule(path, 1, "delay", seconds=fault.hang_seconds)
    if fault.kind == "drop":
        return _Rule(path, 1, "drop", after_processing=True)
    return _Rule(path, 1, "reset")


def _blocked_until(headers: dict[str, str]) -> float:
    """When a 429's client may call again: the latest reset among the spent windows."""
    resets = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        if headers.get(f"{prefix}-remaining") == "0" and f"{prefix}-reset" in headers:
            resets.append(float(headers[f"{prefix}-reset"]))
    if not resets and "x-rate-limit-reset" in headers:
        resets.append(float(headers["x-rate-limit-reset"]))
    return max(resets, default=time.time())


BILLABLE_KINDS = ("post", "post_url", "media", "delete", "read")


def _billed_as(key: str, route: str, req: _Parsed, status: int) -> str | None:
    """The pay-per-use kind of an answered call (contracts B5), None when X does not bill it.

    A post whose text holds a URL (as X finds URLs: twitter-text) is the $0.20 kind; a media
    upload (one-shot, or the chunked INIT) and a metadata call are media; users/me is an owned
    read, and so is each page of the account's own posts; a delete is a delete.  A refused call
    (4xx, 5xx) and a media STATUS poll cost nothing.
    """
    if not 200 <= status < 300:
        return None
    if key == "tweets":
        text = req.json.get("text") if isinstance(req.json, dict) else None
        return "post_url" if isinstance(text, str) and extract_urls(text) else "post"
    if key == "tweets_delete":
        return "delete"
    if key == "media_upload":
        return "media" if req.method == "POST" else None
    if key == "media_chunked":
        return "media" if route.endswith("/initialize") else None
    if key == "media_metadata":
        return "media"
    if key in ("users_me", "users_tweets"):
        return "read"
    return None


def _route_key(method: str, route: str) -> str | None:
    if route == "/2/tweets" and method == "POST":
        return "tweets"
    if method == "DELETE" and re.fullmatch(r"/2/tweets/\d+", route):
        return "tweets_delete"
    if route == "/2/media/upload" and method in ("POST", "GET"):
        return "media_upload"
    if method == "POST" and (
        route == "/2/media/upload/initialize"
        or re.fullmatch(r"/2/media/upload/\d+/(append|finalize)", route)
    ):
        return "media_chunked"
    if route == "/2/media/metadata" and method == "POST":
        return "media_metadata"
    if route == "/2/users/me" and method == "GET":
        return "users_me"
    if method == "GET" and re.fullmatch(r"/2/users/[^/]+/tweets", route):
        return "users_tweets"
    return None


def _sniff_image(data: bytes) -> tuple[str | None, int | None, int | None]:
    """Detect the real image type from the bytes (X ignores the declared type)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return _IMAGE_MIMES.get(img.format or ""), img.width, img.height
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None, None


@dataclass
class _Parsed:
    method: str
    headers: dict[str, str]
    raw: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        if isinstance(self.json, dict):
            return {k: v for k, v in self.json.items() if k != "media"}
        return dict(self.form)

    def media_bytes(self) -> bytes | None:
        if "media" in self.files:
            return self.files["media"]
        source = self.json.get("media") if isinstance(self.json, dict) else self.form.get("media")
        if not isinstance(source, str):
            return None
        try:
            return base64.b64decode(source, validate=True)
        except (binascii.Error, ValueError):
            raise _Reply(400, _invalid("$.media: is not valid base64")) from None


def _parse_body(method: str, headers: dict[str, str], raw: bytes) -> _Parsed:
    parsed = _Parsed(method, headers, raw)
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not raw:
        return parsed
    if ctype.startswith("application/json"):
        try:
            parsed.json = json.loads(raw)
        except ValueError:
            raise _Reply(400, _invalid("Request body is not valid JSON")) from None
    elif ctype.startswith("multipart/form-data"):
        match = re.search(r'boundary="?([^";]+)"?', ctype)
        if match:
            for name, filename, content in _parse_multipart(raw, match.group(1).encode()):
                if filename is not None or name == "media":
                    parsed.files[name] = content
                else:
                    parsed.form[name] = content.decode("utf-8", "replace")
    elif ctype.startswith("application/x-www-form-urlencoded"):
        parsed.form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    return parsed


def _parse_multipart(raw: bytes, boundary: bytes) -> Iterator[tuple[str, str | None, bytes]]:
    """Minimal RFC 7578 parser: the stdlib cgi module is gone and email mangles binary parts."""
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition")
            ),
            "",
        )
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name:
            yield name.group(1), (filename.group(1) if filename else None), content


class _Handler(BaseHTTPRequestHandler):
    owner: FakeX
    protocol_version = "HTTP/1.1"
    server_version = "fake-x/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake = self.owner
        arrived = time.time()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        path = split.path
        route = path[len(fake.base_path) :] if path.startswith(fake.base_path + "/") else path
        query = parse_qs(split.query)
        entry = JournalEntry(method, route, query, headers, at=arrived)
        with fake._lock:
            fake.journal.append(entry)
        watch_key = _route_key(method, route)
        if watch_key is not None:
            fake.rate_watch.arrived(watch_key, arrived)
        extra: dict[str, str] = {}
        try:
            parsed = _parse_body(method, headers, raw)
            entry.json, entry.form, entry.files = parsed.json, parsed.form, parsed.files
            rules = fake._take_rule(route, method)
            for rule in rules:
                if rule.action == "delay":
                    time.sleep(rule.seconds)
            final = next((r for r in rules if r.action != "delay"), None)
            if final is not None and final.action == "drop" and not final.after_processing:
                self.close_connection = True
                return
            if final is not None and final.action == "reset":
                self._reset()
                return
            with fake._lock:
                if final is not None and final.action == "drop":
                    with contextlib.suppress(_Reply):  # it took effect (or was refused) ...
                        fake._handle(method, route, query, parsed)
                    entry.status = None
                    self.close_connection = True
                    return  # ... and the answer is lost
                if final is not None:
                    status = final.status
                    body = final.body if final.body is not None else default_problem(status)
                    window = fake._window(_route_key(method, route) or "other", time.time())
                    extra = window.headers("x-rate-limit")
                    if status == 429:
                        extra["x-rate-limit-remaining"] = "0"
                    extra |= final.headers or {}
                else:
                    status, body, extra = fake._handle(method, route, query, parsed)
        except _Reply as reply:
            status, body, extra = reply.status, reply.body, reply.headers
            with fake._lock:
                if not extra:
                    key = _route_key(method, route) or "other"
                    extra = fake._window(key, time.time()).headers("x-rate-limit")
        with fake._lock:
            if status == 429:
                fake.count_429 += 1
        if status == 429 and watch_key is not None:
            fake.rate_watch.answered_429(watch_key, _blocked_until(extra),
                                         read=not peer_closed(self.connection))
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        entry.status, entry.response, entry.response_headers = status, body, extra
        try:
            self.send_response(status)
            ctype = ("application/json; charset=utf-8" if status < 400
                     else "application/problem+json")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (its timeout passed while the answer was held)
            self.close_connection = True

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client reads ``connection reset by peer``."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake X API v2 server on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply rate-limit windows (0.01: 15 min -> 9 s)",
    )
    parser.add_argument("--rate-limit-15min", type=int, default=100)
    parser.add_argument("--user-24h-limit", type=int, default=100)
    args = parser.parse_args(argv)
    fake = FakeX(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        rate_limit_15min=args.rate_limit_15min,
        user_24h_limit=args.user_24h_limit,
    ).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
