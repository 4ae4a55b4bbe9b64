"""Telegram channel publisher on python-telegram-bot 22, usable from plain worker threads.

PTB is asyncio-only while Celery calls `send()` from ordinary threads, several at once. Each
publisher therefore owns one event loop in a daemon thread and hands coroutines to it with
`run_coroutine_threadsafe`: one httpx connection pool, one `Bot.initialize()` (getMe) per process
instead of per send, and no loop created or torn down per message. The loop is rebuilt after a
fork (Celery prefork), because a loop thread and its sockets do not survive one.

Error texts from PTB can carry the token (`InvalidToken` from `initialize`, httpx URL errors), so
every reason is built here and scrubbed; PTB exception messages are never passed on raw.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from telegram import Bot, InputMediaPhoto, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.images import ImageVariant
from bot.platforms.base import DeliveryError, EditOutcome, Receipt
from bot.platforms.outgoing import PlatformTeaser, plan_edit
from bot.platforms.probes import ProbeResult
from bot.platforms.telegram_health import channel_refusal, probe_channel
from bot.posts import Post

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
_T = TypeVar("_T")

# Lower-cased fragments of Telegram's answers that mean "this photo, not this message, was
# refused" (platform-contracts A3), with the label shown to editors. Caption or HTML errors are
# deliberately absent: sending the same text without the photo would fail the same way.
_PHOTO_REFUSALS: tuple[tuple[str, str], ...] = (
    ("photo_invalid_dimensions", "PHOTO_INVALID_DIMENSIONS"),
    ("image_process_failed", "IMAGE_PROCESS_FAILED"),
    ("photo_save_file_invalid", "PHOTO_SAVE_FILE_INVALID"),
    ("photo_ext_invalid", "PHOTO_EXT_INVALID"),
    ("entity too large", "photo too big: Request Entity Too Large"),
    ("wrong file identifier", "wrong file identifier/HTTP URL specified"),
    ("photo has unsupported extension", "photo has unsupported extension"),
    ("failed to get http url content", "failed to get HTTP URL content"),
    ("wrong type of the web page content", "wrong type of the web page content"),
)

# Short hints for refusals an editor or operator can fix outside newsbot.
_HINTS: tuple[tuple[str, str], ...] = (
    ("chat not found", "check TELEGRAM_CHANNEL and that the bot was added to the channel"),
    ("need administrator rights", "make the bot an administrator allowed to post"),
    ("not enough rights", "give the bot the right to post in the channel"),
    ("have no write access", "give the bot the right to post in the channel"),
    ("not a member", "add the bot to the channel as an administrator"),
    ("was kicked", "add the bot to the channel again"),
    ("can't parse entities", "the teaser template produced invalid HTML"),
)


class TelegramPublisher:
    """Sends teasers to one channel; thread-safe, one event loop thread per publisher."""

    platform = "telegram"
    repeat_safe = False  # Telegram posts the same text twice without a word

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 20.0,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        channel = channel.strip()
        if not channel:
            raise ValueError("a Telegram channel is required")
        self.destination = channel
        self._token = token
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._chat_id: int | str = int(channel) if _is_int(channel) else channel
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: Bot | None = None
        self._init_lock: asyncio.Lock | None = None
        self._closed = False

    def __repr__(self) -> str:  # the token must not show up in a traceback or log
        return f"TelegramPublisher(channel={self.destination!r}, api_url={self._api_url!r})"

    @property
    def max_send_seconds(self) -> float:
        """``_run`` cancels the request there (a getMe, an upload and a text fallback fit)."""
        return self._run_limit()

    def _run_limit(self) -> float:
        return self._timeout * 8 + 10

    # ------------------------------------------------------------------ public API
    def send(self, post: Post, item: PlatformTeaser) -> Receipt:
        """Photo with caption when there is a usable image, else text with a large preview."""
        if isinstance(item.image, ImageVariant):
            return self._run(self._send_photo_or_text(post, item, item.image))
        message = self._run(self._send_text(post, item.teaser.text, item.link,
                                            silent=item.silent))
        return self._receipt(message, kind="text")

    def edit(self, post: Post, message_id: str, item: PlatformTeaser, *, sent_kind: str,
             sent_image: str, caption: str | None = None) -> EditOutcome:
        """Make the channel message ``message_id`` say ``item``, keeping its id.

        A photo that changed (or a text message that now has one) goes through
        editMessageMedia with the caption; the same photo through editMessageCaption; a text
        message through editMessageText.  A photo message whose post lost its image keeps the
        photo (Telegram cannot turn a photo message into text) and gets ``caption``, a teaser
        fitted to 1024.  "Message is not modified" is success (``unchanged``).
        """
        return self._run(self._edit(post, int(message_id), item, sent_kind, sent_image, caption))

    def delete(self, message_id: str) -> str:
        """deleteMessage: ``deleted``, or ``already gone`` when Telegram no longer has it."""
        return self._run(self._delete(int(message_id)))

    def check_health(self) -> ProbeResult:
        """getMe + getChatMember of the bot in the channel (``telegram_health``); never raises."""
        try:
            return self._run(self._check_health())
        except DeliveryError as err:  # no answer in time, or the publisher is closed
            return ProbeResult("unhealthy" if err.unhealthy else "unreachable", err.reason)

    async def _check_health(self) -> ProbeResult:
        try:
            bot = await self._ready()
        except DeliveryError as err:
            return ProbeResult("unhealthy" if err.unhealthy else "unreachable", err.reason)

        def error(method: str, exc: TelegramError) -> tuple[str, bool]:
            err = self._error(method, exc)
            return err.reason, err.unhealthy

        return await probe_channel(bot, self._chat_id, self.destination, error)

    def close(self) -> None:
        """Close the HTTP pool and stop the loop thread; later sends raise."""
        with self._lock:
            self._closed = True
            loop, thread, bot = self._loop, self._thread, self._bot
            self._loop = self._thread = self._bot = None
        if loop is None or thread is None:
            return
        if bot is not None and self._pid == os.getpid():
            future = asyncio.run_coroutine_threadsafe(bot.shutdown(), loop)
            try:
                future.result(timeout=5)
            except Exception as exc:  # closing must not fail a shutdown
                log.debug("telegram publisher: shutdown error %s", type(exc).__name__)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    def message_url(self, message_id: int | str) -> str | None:
        return channel_message_url(self.destination, message_id)

    # ------------------------------------------------------------------ coroutines (loop thread)
    async def _send_photo_or_text(
        self, post: Post, item: PlatformTeaser, image: ImageVariant
    ) -> Receipt:
        bot = await self._ready()
        try:
            data = image.read_bytes()
        except OSError as exc:  # the variant cache was cleaned: the next prepare() rebuilds it
            raise DeliveryError(
                "transient", f"sendPhoto: cannot read the prepared image ({exc.strerror})"
            ) from None
        try:
            message = await bot.send_photo(
                chat_id=self._chat_id,
                photo=data,
                caption=item.teaser.text,
                parse_mode=ParseMode.HTML,
                filename=image.path.name,
                disable_notification=item.silent,
            )
        except (BadRequest, NetworkError) as exc:
            refusal = _photo_refusal(exc)
            if refusal is None:
                raise self._error("sendPhoto", exc) from None
            if item.fallback is None:
                raise DeliveryError(
                    "permanent", f"sendPhoto: photo refused by Telegram ({refusal})"
                ) from None
            log.warning("telegram: photo refused (%s), sending the text teaser", refusal)
            message = await self._send_text(post, item.fallback.text, item.link,
                                            silent=item.silent)
            return self._receipt(
                message, notes=(f"photo refused by Telegram ({refusal}): sent as text",),
                kind="text")
        except TelegramError as exc:
            raise self._error("sendPhoto", exc) from None
        return self._receipt(message, kind="photo")

    async def _edit(self, post: Post, message_id: int, item: PlatformTeaser, sent_kind: str,
                    sent_image: str, caption: str | None) -> EditOutcome:
        bot = await self._ready()
        plan = plan_edit(item, sent_kind, sent_image, caption)
        method, kind, text = plan.method, plan.kind, plan.text
        try:
            if plan.image is not None:
                try:
                    data = plan.image.read_bytes()
                except OSError as exc:
                    raise DeliveryError("transient", f"{method}: cannot read the prepared "
                                                     f"image ({exc.strerror})") from None
                await bot.edit_message_media(
                    InputMediaPhoto(data, caption=text, parse_mode=ParseMode.HTML,
                                    filename=plan.image.path.name),
                    chat_id=self._chat_id, message_id=message_id)
            elif method == "editMessageCaption":
                if sent_kind == "photo" and not item.has_photo and caption is None:
                    raise DeliveryError("permanent", "editMessageCaption: the post has no "
                                                     "image now and no caption was given")
                await bot.edit_message_caption(chat_id=self._chat_id, message_id=message_id,
                                               caption=text, parse_mode=ParseMode.HTML)
            else:
                await bot.edit_message_text(
                    text, chat_id=self._chat_id, message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(url=item.link or post.url,
                                                            prefer_large_media=True))
        except BadRequest as exc:
            if "message is not modified" not in exc.message.lower():
                raise self._edit_error(method, exc) from None
            return EditOutcome(method, kind, text, plan.shown, unchanged=True, notes=plan.notes)
        except TelegramError as exc:
            raise self._edit_error(method, exc) from None
        return EditOutcome(method, kind, text, plan.shown, notes=plan.notes)

    async def _delete(self, message_id: int) -> str:
        bot = await self._ready()
        try:
            await bot.delete_message(chat_id=self._chat_id, message_id=message_id)
        except BadRequest as exc:
            lowered = exc.message.lower()
            if "message to delete not found" in lowered:
                return "already gone"
            err = self._edit_error("deleteMessage", exc)
            if "can't be deleted" in lowered:
                err = DeliveryError("permanent", f"{err.reason} (Telegram deletes channel "
                                                 "messages only within 48 h of sending)")
            raise err from None
        except TelegramError as exc:
            raise self._edit_error("deleteMessage", exc) from None
        return "deleted"

    def _edit_error(self, method: str, exc: TelegramError) -> DeliveryError:
        """As for a send, except that nothing new can appear: an edit or a delete repeated is
        harmless, so a lost answer is a plain transient failure, never "in doubt"."""
        err = self._error(method, exc)
        if err.uncertain:
            return DeliveryError("transient", err.reason)
        return err

    async def _send_text(self, post: Post, text: str, link: str | None = None, *,
                         silent: bool = False) -> Message:
        bot = await self._ready()
        try:
            return await bot.send_message(
                chat_id=self._chat_id,
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(url=link or post.url,
                                                        prefer_large_media=True),
                disable_notification=silent,
            )
        except TelegramError as exc:
            raise self._error("sendMessage", exc) from None

    def pin(self, message_id: str) -> None:
        """pinChatMessage without a second notification (the post itself notified); raises
        DeliveryError (a refusal: the bot may not manage pinned messages)."""
        self._run(self._pin(int(message_id), pin=True))

    def unpin(self, message_id: str) -> str:
        """unpinChatMessage: ``unpinned``, or ``already gone`` when the message no longer
        exists (deleted by hand)."""
        return self._run(self._pin(int(message_id), pin=False))

    async def _pin(self, message_id: int, *, pin: bool) -> str:
        bot = await self._ready()
        method = "pinChatMessage" if pin else "unpinChatMessage"
        try:
            if pin:
                await bot.pin_chat_message(chat_id=self._chat_id, message_id=message_id,
                                           disable_notification=True)
            else:
                await bot.unpin_chat_message(chat_id=self._chat_id, message_id=message_id)
        except BadRequest as exc:
            if not pin and "not found" in exc.message.lower():
                return "already gone"
            # Not _error's hint: a pin refusal is about the pin right, not the right to post.
            raise DeliveryError("permanent", f"{method}: {self._clean(exc.message)}") from None
        except TelegramError as exc:
            raise self._edit_error(method, exc) from None
        return "pinned" if pin else "unpinned"

    async def _ready(self) -> Bot:
        """`initialize()` once (getMe); concurrent first sends wait for the same call.

        getMe posts nothing, so however its answer got lost (a timeout, a dropped connection)
        no message can have left: the send is certainly not done and is simply retried, never
        put in doubt for the editors.
        """
        bot, lock = self._bot, self._init_lock
        if bot is None or lock is None:
            raise DeliveryError("transient", "Telegram publisher is closed")
        async with lock:
            try:
                await bot.initialize()
            except TelegramError as exc:
                err = self._error("getMe", exc)
                if err.uncertain:
                    err = DeliveryError(
                        "transient",
                        f"getMe: {type(exc).__name__}: {self._clean(exc.message)} "
                        "(nothing was sent)",
                    )
                raise err from None
        return bot

    # ------------------------------------------------------------------ plumbing
    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run on the publisher's loop and wait; a stuck call becomes an uncertain failure."""
        try:
            loop = self._ensure_loop()
        except BaseException:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        # httpx enforces the real timeouts; this only guards against a wedged loop. A photo
        # may take a getMe, an upload and a text fallback.
        limit = self._run_limit()
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeliveryError(
                "transient",
                f"Telegram: no answer within {limit:.0f} s",
                uncertain=True,
            ) from None
        except DeliveryError:
            raise
        except Exception as exc:  # e.g. PTB's KeyError('result') on a malformed 200 answer
            # Delivery only understands DeliveryError; nobody knows whether the message left.
            raise DeliveryError(
                "transient",
                f"Telegram: unexpected {type(exc).__name__}: {self._clean(str(exc))}",
                uncertain=True,
            ) from None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise DeliveryError("transient", "Telegram publisher is closed")
            if self._loop is not None and self._pid == os.getpid():
                return self._loop
            # First use, or a forked child: the parent's loop thread does not exist here.
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="telegram-publisher", daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread, self._pid = loop, thread, os.getpid()
            self._bot = self._make_bot()
            self._init_lock = asyncio.run_coroutine_threadsafe(_make_lock(), loop).result()
            return loop

    def _make_bot(self) -> Bot:
        t = self._timeout
        request = HTTPXRequest(
            read_timeout=t,
            write_timeout=t,
            connect_timeout=t,
            pool_timeout=t,
            media_write_timeout=max(t, 20.0),
        )
        return Bot(
            self._token,
            base_url=f"{self._api_url}/bot",
            base_file_url=f"{self._api_url}/file/bot",
            request=request,
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )

    def _receipt(self, message: Message, notes: tuple[str, ...] = (), *,
                 kind: str) -> Receipt:
        """``meta["kind"]`` (photo or text) tells a later correction which edit applies."""
        message_id = message.message_id
        return Receipt(
            id=str(message_id),
            url=channel_message_url(self.destination, message_id),
            notes=notes,
            meta={"kind": kind},
        )

    def _error(self, method: str, exc: TelegramError) -> DeliveryError:
        """PTB exception -> DeliveryError with a one-line, token-free reason; a refusal of the
        channel itself (bot demoted, removed, token revoked) is marked ``unhealthy``."""
        err = self._classify(method, exc)
        err.unhealthy = channel_refusal(exc)
        return err

    def _classify(self, method: str, exc: TelegramError) -> DeliveryError:
        if isinstance(exc, RetryAfter):
            seconds = _retry_after_seconds(exc)
            return DeliveryError(
                "rate_limited",
                f"{method}: Telegram flood control, retry in {seconds:g} s",
                retry_after=seconds,
            )
        if isinstance(exc, InvalidToken):
            return DeliveryError(
                "permanent",
                f"{method}: Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)",
            )
        if isinstance(exc, ChatMigrated):
            return DeliveryError(
                "permanent",
                f"{method}: the chat moved to a supergroup; set TELEGRAM_CHANNEL={exc.new_chat_id}",
            )
        text = self._clean(exc.message)
        if isinstance(exc, TimedOut):
            if not _request_left(exc):
                return DeliveryError("transient", f"{method}: {text} (not sent)")
            return DeliveryError(
                "transient",
                f"{method}: timed out, the message may have been sent ({text})",
                uncertain=True,
            )
        if isinstance(exc, BadRequest):
            return DeliveryError("permanent", f"{method}: {_with_hint(text)}")
        if isinstance(exc, Forbidden):
            return DeliveryError("permanent", f"{method}: {_with_hint(text)}")
        if isinstance(exc, Conflict):
            return DeliveryError("transient", f"{method}: {text}")
        if isinstance(exc, NetworkError):
            # A connection lost after the request went out is as uncertain as a timeout:
            # Telegram may have posted the message before the answer was lost.
            uncertain = isinstance(exc.__cause__, httpx.TransportError) and _request_left(exc)
            return DeliveryError("transient", f"{method}: {text}", uncertain=uncertain)
        return DeliveryError("transient", f"{method}: {type(exc).__name__}: {text}")

    def _clean(self, text: str) -> str:
        """One line, no token (httpx errors may quote the request URL)."""
        secret = self._token.partition(":")[2]
        for value in (self._token, secret):
            if len(value) >= 4:
                text = text.replace(value, "<redacted>")
        return " ".join(text.split())[:500]


async def _make_lock() -> asyncio.Lock:
    return asyncio.Lock()


def channel_message_url(channel: str, message_id: int | str) -> str | None:
    """Public link: t.me/<name>/<id>, or t.me/c/<internal>/<id> for -100... ids."""
    channel = channel.strip()
    if channel.startswith("@") and len(channel) > 1:
        return f"https://t.me/{channel[1:]}/{message_id}"
    if channel.startswith("-100") and channel[4:].isdigit():
        return f"https://t.me/c/{channel[4:]}/{message_id}"
    return None


def _photo_refusal(exc: TelegramError) -> str | None:
    message = exc.message.lower()
    for needle, label in _PHOTO_REFUSALS:
        if needle in message:
            return label
    return None


def _request_left(exc: TelegramError) -> bool:
    """False only when httpx failed before anything was sent (connect or pool errors)."""
    return not isinstance(
        exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
    )


def _with_hint(text: str) -> str:
    lowered = text.lower()
    for needle, hint in _HINTS:
        if needle in lowered:
            return f"{text} ({hint})"
    return text


def _retry_after_seconds(exc: RetryAfter) -> float:
    # `_retry_after` is always a timedelta; the public `retry_after` warns (deprecated in 22.2)
    # and `warnings.catch_warnings` is not thread-safe.
    raw: object = getattr(exc, "_retry_after", None)
    if not isinstance(raw, timedelta):
        raw = exc.retry_after
    seconds = raw.total_seconds() if isinstance(raw, timedelta) else float(raw)  # type: ignore[arg-type]
    return max(seconds, 1.0)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True
