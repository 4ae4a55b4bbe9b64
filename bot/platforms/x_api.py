"""X API v2 transport: posts via tweepy 4.17, v2 media upload via tweepy's own session.

tweepy hard-codes ``https://api.twitter.com`` and has no v2 media methods (contracts B7), so
every request goes through ``client.session`` with an HTTP adapter that rewrites the URL to
``api_url``; that one hook serves production (api.twitter.com -> api.x.com) and tests (a fake on
127.0.0.1). Errors are reduced to four kinds the scheduler acts on; retries are never done here
because the caller owns timing (``wait_on_rate_limit`` would sleep inside a worker).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from bot.platforms.x_health import account_problem
from bot.platforms.x_price import post_kind

log = logging.getLogger(__name__)

ErrorKind = Literal["rate_limited", "transient", "permanent", "duplicate"]

DEFAULT_API_URL = "https://api.x.com"
ALT_TEXT_MAX = 1000
DUPLICATE_MARKER = "duplicate content"
_REWRITTEN_PREFIXES = ("https://api.twitter.com", "https://api.x.com")
_ONESHOT_MEDIA_TYPES = frozenset({"image/jpeg", "image/bmp", "image/png", "image/webp",
                                  "image/pjpeg", "image/tiff"})
_TRANSIENT_STATUSES = frozenset({408, 425})


class XApiError(Exception):
    """A failed X call, classified for the scheduler; the message never holds secrets."""

    def __init__(self, kind: ErrorKind, detail: str, *, status: int | None = None,
                 reset_at: float | None = None, limits: XLimits | None = None,
                 unhealthy: str = "") -> None:
        self.kind = kind
        self.detail = detail
        self.status = status
        self.reset_at = reset_at
        self.limits = limits
        #: the account-wide reason (revoked keys, suspended account, spent credits), else ""
        self.unhealthy = unhealthy
        super().__init__(f"X API {kind} ({status if status is not None else 'no status'}): "
                         f"{detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles task exceptions; the default reduce would call __init__(message).
        return (_rebuild_error, (self.kind, self.detail, self.status, self.reset_at, self.limits,
                                 self.unhealthy))


def _rebuild_error(kind: ErrorKind, detail: str, status: int | None, reset_at: float | None,
                   limits: XLimits | None, unhealthy: str = "") -> XApiError:
    return XApiError(kind, detail, status=status, reset_at=reset_at, limits=limits,
                     unhealthy=unhealthy)


@dataclass(frozen=True)
class XCredentials:
    """OAuth 1.0a user-context keys; repr shows none of them."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "XCredentials(<redacted>)"

    def values(self) -> tuple[str, str, str, str]:
        return (self.api_key, self.api_secret, self.access_token, self.access_token_secret)


@dataclass(frozen=True)
class XLimits:
    """Rate-limit headers of one response (epoch seconds; None when X did not send one)."""

    limit_15min: int | None = None
    remaining_15min: int | None = None
    reset_15min: float | None = None
    user_24h_limit: int | None = None
    user_24h_remaining: int | None = None
    user_24h_reset: float | None = None
    app_24h_limit: int | None = None
    app_24h_remaining: int | None = None
    app_24h_reset: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> XLimits:
        def num(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        def epoch(name: str) -> float | None:
            value = num(name)
            return float(value) if value is not None else None

        return cls(
            limit_15min=num("x-rate-limit-limit"),
            remaining_15min=num("x-rate-limit-remaining"),
            reset_15min=epoch("x-rate-limit-reset"),
            user_24h_limit=num("x-user-limit-24hour-limit"),
            user_24h_remaining=num("x-user-limit-24hour-remaining"),
            user_24h_reset=epoch("x-user-limit-24hour-reset"),
            app_24h_limit=num("x-app-limit-24hour-limit"),
            app_24h_remaining=num("x-app-limit-24hour-remaining"),
            app_24h_reset=epoch("x-app-limit-24hour-reset"),
        )

    def blocking_reset(self) -> float | None:
        """When posting may resume: the 24 h reset if a daily counter is spent, else 15 min."""
        resets = []
        if self.user_24h_remaining == 0 and self.user_24h_reset is not None:
            resets.append(self.user_24h_reset)
        if self.app_24h_remaining == 0 and self.app_24h_reset is not None:
            resets.append(self.app_24h_reset)
        return max(resets) if resets else self.reset_15min


class _RedactFilter(logging.Filter):
    """Replaces credential values in records of the libraries that log OAuth details.

    At DEBUG, requests_oauthlib and oauthlib log the Authorization header and the signature base
    string, both holding the API key and access token. Filters only run for enabled records, so
    this costs nothing at the usual INFO level.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, values: tuple[str, ...]) -> None:
        with self._lock:
            for value in values:
                if len(value) >= 4:
                    self._secrets |= {value, quote(value, safe=""), quote(value, safe="~")}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hits = [s for s in self._secrets if s in message]
        if hits:
            for secret in sorted(hits, key=len, reverse=True):
                message = message.replace(secret, "<redacted>")
            record.msg, record.args = message, None
        return True


_REDACT = _RedactFilter()
_NOISY_LOGGERS = ("tweepy.client", "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849",
                  "oauthlib.oauth1.rfc5849.signature", "urllib3.connectionpool")


def _install_redaction(values: tuple[str, ...]) -> None:
    _REDACT.add(values)
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


class _RewriteAdapter(HTTPAdapter):
    """Sends requests for api.twitter.com / api.x.com to ``api_url`` instead (contracts B7)."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        host = urlsplit(self.api_url).hostname or ""
        self._loopback = host == "localhost" or _is_loopback_ip(host)

    def rewrite(self, url: str) -> str:
        """Map a public X URL onto ``api_url``, keeping path and query; others pass through."""
        for prefix in _REWRITTEN_PREFIXES:
            if url.startswith(prefix + "/") or url.startswith(prefix + "?") or url == prefix:
                return self.api_url + url[len(prefix):]
        return url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = self.rewrite(request.url or "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if self._loopback:
            # requests picked proxies for the original public host; loopback never goes via one.
            kwargs["proxies"] = {}
        return super().send(request, **kwargs)


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class XApi:
    """The three X operations newsbot needs, with errors classified for retry scheduling."""

    def __init__(self, creds: XCredentials, *, api_url: str = DEFAULT_API_URL,
                 timeout: float = 10.0, max_status_polls: int = 20,
                 max_poll_sleep: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._creds = creds
        _install_redaction(creds.values())
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.max_status_polls = max_status_polls
        self.max_poll_sleep = max_poll_sleep
        self._sleep = sleep
        self.last_limits: XLimits | None = None
        # Called with the pay-per-use kind of every call X answered with 2xx (contracts B5):
        # the spend ledger's hook.  Never allowed to fail a call (see ``_bill``).
        self.meter: Callable[[str], None] | None = None
        self.client = tweepy.Client(
            consumer_key=creds.api_key, consumer_secret=creds.api_secret,
            access_token=creds.access_token, access_token_secret=creds.access_token_secret,
            return_type=requests.Response, wait_on_rate_limit=False)
        adapter = _RewriteAdapter(self.api_url, timeout)
        for prefix in _REWRITTEN_PREFIXES:
            self.client.session.mount(prefix, adapter)

    def __repr__(self) -> str:
        return f"XApi(api_url={self.api_url!r})"

    # ------------------------------------------------------------------ public operations
    def create_post(self, text: str, media_ids: list[str] | None = None) -> tuple[str, XLimits]:
        """Publish one post; returns its id and the counters X reported with it."""
        try:
            response = self.client.create_tweet(text=text, media_ids=media_ids or None,
                                                user_auth=True)
        except tweepy.HTTPException as exc:
            raise self._from_response(exc.response, remember=True) from exc
        except requests.RequestException as exc:
            raise XApiError("transient", self._scrub(_network_detail(exc))) from exc
        limits = self._remember(response)
        self._bill(post_kind(text))  # a 2xx: X created (and bills) the post, id or not
        post_id = _data_id(response)
        if post_id is None:
            raise XApiError("transient", "post response without data.id",
                            status=response.status_code, limits=limits)
        return post_id, limits

    def delete_post(self, post_id: str) -> bool:
        """DELETE /2/tweets/:id through tweepy; False when X no longer has it (404)."""
        try:
            response = self.client.delete_tweet(post_id, user_auth=True)
        except tweepy.NotFound:
            return False
        except tweepy.HTTPException as exc:
            raise self._from_response(exc.response) from exc
        except requests.RequestException as exc:
            raise XApiError("transient", self._scrub(_network_detail(exc))) from exc
        self._bill("delete")
        data = _json(response).get("data")
        if not (isinstance(data, dict) and data.get("deleted") is True):
            raise XApiError("transient", "delete answer without data.deleted",
                            status=response.status_code)
        return True

    def upload_image(self, data: bytes, mime: str) -> str:
        """One-shot v2 upload; waits (bounded) while X reports processing_info."""
        fields = {"media_category": "tweet_image"}
        if mime in _ONESHOT_MEDIA_TYPES:  # the one-shot enum has no image/gif: let X sniff it
            fields["media_type"] = mime
        response = self._call("POST", "/2/media/upload",
                              files={"media": ("media", data, mime)}, data=fields)
        self._bill("media")  # STATUS polls below are not billed
        body = _json(response)
        media = body.get("data") or {}
        media_id = media.get("id")
        if not isinstance(media_id, str) or not media_id.isdigit():
            raise XApiError("transient", "media response without data.id",
                            status=response.status_code)
        info = media.get("processing_info")
        polls = 0
        while info and info.get("state") not in ("succeeded", None):
            if info.get("state") == "failed":
                error = info.get("error") or {}
                raise XApiError("permanent", self._scrub(
                    f"media processing failed: {error.get('message') or error or 'unknown'}"))
            if polls >= self.max_status_polls:
                raise XApiError("transient", f"media {media_id} still processing after "
                                             f"{polls} status checks")
            self._sleep(min(float(info.get("check_after_secs") or 1), self.max_poll_sleep))
            polls += 1
            status = self._call("GET", "/2/media/upload",
                                params={"command": "STATUS", "media_id": media_id})
            info = (_json(status).get("data") or {}).get("processing_info")
        return media_id

    def set_alt_text(self, media_id: str, alt: str) -> None:
        """Attach alt text (cut to X's 1000-character limit rather than failing the post)."""
        self._call("POST", "/2/media/metadata",
                   json={"id": media_id,
                         "metadata": {"alt_text": {"text": alt[:ALT_TEXT_MAX]}}})
        self._bill("media")

    def account_handle(self) -> str:
        """The @handle (without the @) of the account these keys post as (GET /2/users/me)."""
        response = self._call("GET", "/2/users/me")
        self._bill("read")  # an owned read
        data = _json(response).get("data")
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username.strip():
            raise XApiError("transient", "users/me answer without data.username")
        return username.strip()

    def me(self) -> tuple[str, str]:
        """(user id, @handle without the @) of the account, through tweepy's ``get_me``."""
        body = self._tweepy(lambda: self.client.get_me(user_auth=True))
        self._bill("read")  # an owned read
        data = body.get("data")
        user_id = data.get("id") if isinstance(data, dict) else None
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(user_id, str) or not user_id.isdigit():
            raise XApiError("transient", "users/me answer without data.id")
        return user_id, username.strip() if isinstance(username, str) else ""

    def own_posts(self, user_id: str, *, since: float, pages: int = 2,
                  per_page: int = 100) -> list[dict[str, Any]]:
        """The account's posts created since ``since`` (epoch s), newest first, as X shows them
        (``text`` with t.co links, ``entities.urls`` with the expanded links), at most
        ``pages`` pages: GET /2/users/:id/tweets through tweepy's ``get_users_tweets``.  Each
        page is an owned read ($0.001 on pay-per-use, platform-contracts B5)."""
        start = datetime.fromtimestamp(max(since, 0.0), UTC)
        out: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(max(pages, 1)):
            body = self._tweepy(lambda token=token: self.client.get_users_tweets(
                user_id, user_auth=True, max_results=per_page, start_time=start,
                pagination_token=token, tweet_fields=["created_at", "entities"]))
            self._bill("read")  # each page is one owned read
            data = body.get("data")
            if data is None and body.get("errors"):
                raise XApiError("permanent", self._scrub(_problem_detail_of(body)))
            out += [p for p in data or [] if isinstance(p, dict)]
            meta = body.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                break
        return out

    # ------------------------------------------------------------------ internals
    def _tweepy(self, call: Callable[[], Any]) -> dict[str, Any]:
        """One read through a tweepy ``Client`` method, its errors classified like ours."""
        try:
            response = call()
        except tweepy.HTTPException as exc:
            raise self._from_response(exc.response) from exc
        except requests.RequestException as exc:
            raise XApiError("transient", self._scrub(_network_detail(exc))) from exc
        return _json(response)

    def _bill(self, kind: str) -> None:
        """Tell the meter about one billable call; a ledger that cannot record it is logged,
        never raised: the call has happened, and its receipt matters more than its price."""
        meter = self.meter
        if meter is None:
            return
        try:
            meter(kind)
        except Exception as exc:
            log.warning("x: a %s call was not recorded in the spend ledger (%s)", kind,
                        type(exc).__name__)

    def _call(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        """Our own v2 request through tweepy's session and OAuth 1.0a signer."""
        auth = tweepy.OAuth1UserHandler(
            self._creds.api_key, self._creds.api_secret,
            self._creds.access_token, self._creds.access_token_secret).apply_auth()
        try:
            response = self.client.session.request(
                method, DEFAULT_API_URL + route, auth=auth, timeout=self.timeout,
                headers={"User-Agent": self.client.user_agent}, **kwargs)
        except requests.RequestException as exc:
            raise XApiError("transient", self._scrub(_network_detail(exc))) from exc
        if not 200 <= response.status_code < 300:
            raise self._from_response(response)
        return response

    def _remember(self, response: requests.Response) -> XLimits:
        limits = XLimits.from_headers(response.headers)
        self.last_limits = limits
        return limits

    def _from_response(self, response: requests.Response, *,
                       remember: bool = False) -> XApiError:
        """Classify a non-2xx answer; only posting answers update ``last_limits``."""
        status = response.status_code
        limits = self._remember(response) if remember else XLimits.from_headers(response.headers)
        detail = self._scrub(_problem_detail(response))
        if status == 429:
            return XApiError("rate_limited", detail, status=status,
                             reset_at=limits.blocking_reset(), limits=limits)
        if status >= 500 or status in _TRANSIENT_STATUSES:
            return XApiError("transient", detail, status=status, limits=limits)
        if status == 403 and DUPLICATE_MARKER in detail.lower():
            return XApiError("duplicate", detail, status=status, limits=limits)
        try:
            body = response.json()
        except ValueError:
            body = None
        problem = account_problem(status, body)
        return XApiError("permanent", detail, status=status, limits=limits,
                         unhealthy=self._scrub(problem) if problem else "")

    def _scrub(self, text: str) -> str:
        for secret in self._creds.values():
            if secret:
                text = text.replace(secret, "<redacted>")
        return text


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise XApiError("transient", "X answered with a body that is not JSON",
                        status=response.status_code) from exc
    return body if isinstance(body, dict) else {}


def _data_id(response: requests.Response) -> str | None:
    data = _json(response).get("data")
    post_id = data.get("id") if isinstance(data, dict) else None
    return post_id if isinstance(post_id, str) and post_id.isdigit() else None


def _problem_detail(response: requests.Response) -> str:
    """X's own reason: the messages of ``errors`` if any, else ``detail``/``title``."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.reason}"
    if not isinstance(body, dict):
        return f"{response.status_code} {response.reason}"
    messages = [e.get("message") for e in body.get("errors") or [] if isinstance(e, dict)]
    messages = [m for m in messages if isinstance(m, str) and m]
    if messages:
        return "; ".join(messages)
    for key in ("detail", "title", "error"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return f"{response.status_code} {response.reason}"


def _problem_detail_of(body: dict[str, Any]) -> str:
    """The detail of a 200 answer that holds only ``errors`` (an unknown user, say)."""
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            for key in ("detail", "message", "title"):
                if isinstance(error.get(key), str) and error[key]:
                    return error[key]
    return "X answered without data"


def _network_detail(exc: requests.RequestException) -> str:
    kind = "timeout" if isinstance(exc, requests.Timeout) else "network error"
    return f"{kind}: {type(exc).__name__}: {str(exc)[:300]}"
