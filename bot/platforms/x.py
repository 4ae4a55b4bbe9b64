"""X publisher: photo + alt text when possible, the post itself is what matters.

A permanently refused image (too big, bad format, alt text rejected) must not cost the post, so
it falls back to text only and says so in the Receipt. A media failure that will pass (rate
limit, network) raises instead: retrying later gives the post its photo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from bot.images import ImageVariant
from bot.platforms.base import DeliveryError, EditOutcome, Receipt
from bot.platforms.outgoing import PlatformTeaser
from bot.platforms.probes import ProbeResult
from bot.platforms.x_api import ALT_TEXT_MAX, DEFAULT_API_URL, XApi, XApiError, XCredentials
from bot.platforms.x_health import probe_account
from bot.platforms.x_lookup import find_own_post
from bot.posts import Post

log = logging.getLogger(__name__)

HANDLE_RETRY_SECONDS = 3600.0
FOUND_NOTE = "found on the account's recent posts after an uncertain send"


class XPublisher:
    """Posts teasers to the account of `creds`; thread-safe as far as requests' Session is."""

    platform = "x"
    destination = "x"
    repeat_safe = True  # X answers an identical repeat with its duplicate-content refusal

    def __init__(
        self,
        creds: XCredentials,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = XApi(creds, api_url=api_url, timeout=timeout)
        # upload (or initialize/append/finalize/status), alt text, create: each call's connect
        # and read timeouts; X's answers are small, so this bounds a send in practice.
        self.max_send_seconds = timeout * 12 + 10
        self._clock = clock
        self._lock = threading.Lock()
        self._handle: str | None = None
        self._handle_asked_at: float | None = None
        self._user_id: str | None = None

    def __repr__(self) -> str:
        return f"XPublisher(api_url={self._api.api_url!r})"

    def set_meter(self, meter: Callable[[str], None] | None) -> None:
        """Price every billable call this publisher makes (``bot.state.spend`` through the
        delivery services): ``meter(kind)`` after each call X answered with 2xx."""
        self._api.meter = meter

    def send(self, post: Post, item: PlatformTeaser) -> Receipt:
        # tweepy's Client and its requests.Session are not documented as thread-safe, and X
        # allows a few posts per minute at best: serialising costs nothing.
        with self._lock:
            return self._send(post, item)

    def _send(self, post: Post, item: PlatformTeaser) -> Receipt:
        notes: tuple[str, ...] = ()
        media_ids: list[str] = []
        if isinstance(item.image, ImageVariant):
            try:
                media_ids = [self._upload(post, item.image)]
            except XApiError as exc:
                if exc.kind != "permanent" or exc.unhealthy:  # the account, not the image
                    raise self._error("media upload", exc) from None
                log.warning("x: image refused (%s), posting text only", exc.detail)
                notes = (f"image refused by X ({_one_line(exc.detail)}): posted without it",)
        # Asked before the post, not after: the time between X creating the post and us
        # recording its receipt (where a crash leaves it in doubt) stays as short as it was.
        handle = self._learn_handle()
        try:
            post_id, limits = self._api.create_post(item.teaser.text, media_ids or None)
        except XApiError as exc:
            raise self._error("create post", exc) from None
        meta: dict[str, object] = dict(asdict(limits))
        if handle:
            meta["account"] = f"@{handle}"
        return Receipt(
            id=post_id,
            url=f"https://x.com/i/web/status/{post_id}",
            notes=notes,
            meta=meta,
        )

    def find_sent(self, post: Post, item: PlatformTeaser, *, since: float) -> Receipt | None:
        """The post already on the account (created since ``since``), found by its link or its
        text, as a receipt; None when X shows no such post.  Raises ``DeliveryError`` when X
        cannot be read (then nobody knows, and an editor decides)."""
        with self._lock:
            try:
                if self._user_id is None:
                    self._user_id, handle = self._api.me()
                    self._handle = self._handle or handle or None
                posts = self._api.own_posts(self._user_id, since=since)
            except XApiError as exc:
                raise self._error("read own posts", exc) from None
        found = find_own_post(posts, url=post.url, text=item.teaser.text)
        if found is None:
            return None
        post_id = str(found.get("id"))
        meta: dict[str, object] = {"found": True}
        if self._handle:
            meta["account"] = f"@{self._handle}"
        return Receipt(id=post_id, url=f"https://x.com/i/web/status/{post_id}",
                       notes=(FOUND_NOTE,), meta=meta)

    def edit(self, post: Post, message_id: str, item: PlatformTeaser, *, sent_kind: str,
             sent_image: str, caption: str | None = None) -> EditOutcome:
        """Never: an X edit needs Premium and the first hour, and makes a new post id; newsbot
        does not try (``X_EDIT`` is refused by the settings).  Correct it on X by hand."""
        raise DeliveryError("permanent", "X posts cannot be edited by newsbot (an X edit needs "
                                         "Premium and the first hour); correct it on X by hand "
                                         "or delete it")

    def delete(self, message_id: str) -> str:
        """DELETE /2/tweets/:id: ``deleted``, or ``already gone`` when X answers 404."""
        with self._lock:
            try:
                gone = self._api.delete_post(message_id)
            except XApiError as exc:
                raise self._error("delete post", exc) from None
        return "deleted" if gone else "already gone"

    def _learn_handle(self) -> str | None:
        """The account's @handle, asked once per process (status names the destination by
        it); a failure only costs the name, and is asked again an hour later."""
        now = self._clock()
        if self._handle is None and (self._handle_asked_at is None
                                     or now - self._handle_asked_at >= HANDLE_RETRY_SECONDS):
            self._handle_asked_at = now
            try:
                self._handle = self._api.account_handle()
            except Exception as exc:  # never a reason to hold the post back
                log.info("x: account name not learnt (%s)", exc)
        return self._handle

    def check_health(self) -> ProbeResult:
        """GET /2/users/me with the configured keys (``x_health``); never raises.  Learns the
        account's @handle on the way."""
        with self._lock:
            result = probe_account(self._api.client, scrub=self._api._scrub)
            if result.ok:  # users/me answered 2xx: an owned read on the bill
                self._api._bill("read")
            if result.ok and result.account and self._handle is None:
                self._handle = result.account.lstrip("@")
        return result

    def close(self) -> None:
        self._api.client.session.close()

    def _upload(self, post: Post, image: ImageVariant) -> str:
        try:
            data = image.read_bytes()
        except OSError as exc:  # the variant cache was cleaned: the next prepare() rebuilds it
            raise XApiError(
                "transient", f"cannot read the prepared image ({exc.strerror})"
            ) from None
        media_id = self._api.upload_image(data, image.mime)
        alt = post.image_alt.strip()
        if alt:
            self._api.set_alt_text(media_id, alt[:ALT_TEXT_MAX])
        return media_id

    def _error(self, what: str, exc: XApiError) -> DeliveryError:
        reason = f"{what}: {_one_line(str(exc))}"
        if exc.kind == "rate_limited":
            now = self._clock()
            retry = max(1.0, exc.reset_at - now) if exc.reset_at is not None else 60.0
            return DeliveryError("rate_limited", reason, retry_after=retry)
        if exc.kind == "transient":
            uncertain = what == "create post" and _maybe_created(exc)
            return DeliveryError("transient", reason, uncertain=uncertain)
        if exc.unhealthy:
            return DeliveryError(exc.kind, f"{what}: {exc.unhealthy}", unhealthy=True)
        return DeliveryError(exc.kind, reason)


def _maybe_created(exc: XApiError) -> bool:
    """Whether X may have created the post although we got no usable answer.

    A timeout or dropped connection after the body left, or a 2xx without an id, may hide a
    created post (the duplicate answer on the retry settles it); a refused connection does not.
    """
    if exc.status is not None:
        return 200 <= exc.status < 300
    return not any(m in exc.detail for m in _NOT_SENT)


_NOT_SENT = ("ConnectTimeout", "NewConnectionError", "Connection refused", "NameResolution")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]
