"""The editors' bot's life: connect, serve, stop within seconds, and say each step in one line.

Why not python-telegram-bot's ``run_polling``: its bootstrap retries cannot be interrupted (a
Ctrl-C while the API was unreachable waited 15 s), it says nothing when it gives up, it owns
the signals, and its logs put a traceback on every failed poll.  Here ``getMe`` is tried until
it answers (one line when it does not), only then is the bot "up", every step races a stop
event, and a Telegram API error is one log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bot.config import Settings
from bot.logs import as_one_line

from .outbox import NoticeDispatcher

__all__ = ["MAX_RETRY_SECONDS", "STOP_SECONDS", "BotRejectedError", "Report",
           "install_one_line_errors", "log_report", "serve", "serve_until", "webhook_secret"]

log = logging.getLogger(__name__)

#: (kind, line): kind is "up", "unreachable" or "stopped"; the line never holds the token.
Report = Callable[[str, str], None]
#: A stop (Ctrl-C) must end the bot within this, whatever the Telegram API is doing.
STOP_SECONDS = 3.0
UPDATER_STOP_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
#: In webhook mode nothing polls, so a revoked token would go unnoticed: getMe this often.
WATCH_SECONDS = 300.0
#: python-telegram-bot's name for its long-poll task (``Updater.start_polling``).
_POLLING_TASK = "Updater:start_polling:polling_task"
_REVOKED = ("editors' bot stopped: Telegram no longer accepts TELEGRAM_BOT_TOKEN (Unauthorized: "
            "revoked or regenerated?); check the token with @BotFather and restart")


class BotRejectedError(Exception):
    """Telegram refused the bot token: retrying cannot help."""


def webhook_secret(token: str) -> str:
    """Telegram's X-Telegram-Bot-Api-Secret-Token, derived so it survives restarts."""
    return hashlib.sha256(b"newsbot-webhook\0" + token.encode()).hexdigest()[:48]


def _token(settings: Settings) -> str:
    assert settings.telegram_bot_token is not None
    return settings.telegram_bot_token.get_secret_value()


def serve(app: Application, settings: Settings, *,
          stop_signals: Sequence[int] | None = (signal.SIGINT, signal.SIGTERM),
          report: Report | None = None, heartbeat: Any = None) -> None:
    """Run ``app`` in a new event loop until one of ``stop_signals`` (see ``_serve_until``)."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    try:
        for sig in stop_signals or ():
            loop.add_signal_handler(sig, stop.set)
        loop.run_until_complete(serve_until(app, settings, stop, report or log_report,
                                             heartbeat))
    finally:
        for sig in stop_signals or ():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        loop.close()


async def serve_until(app: Application, settings: Settings, stop: asyncio.Event,
                       report: Report, heartbeat: Any = None) -> None:
    """Connect, serve, and stop within seconds of ``stop`` being set, whatever the API does.

    Why not PTB's ``run_polling``: its bootstrap retries cannot be interrupted (a stop while the
    API is unreachable waited 15 s), it reports nothing when it gives up, and it owns signals.
    Here ``getMe`` is tried until it answers (one line when it does not), only then is the bot
    "up", and every step races the stop event.  The notice sender (``app.bot_data["notices"]``)
    runs for as long as this does.
    """
    notices: NoticeDispatcher | None = app.bot_data.get("notices")
    if notices is not None:
        notices.start()
    try:
        if not await _connect(app, settings, stop, report):
            return
        if not await _until(_start_updates(app, settings), stop):
            return
        await app.start()
        if heartbeat is not None:
            heartbeat.start()
        report("up", f"editors' bot is up as @{app.bot.username}")
        await _watch(app, settings, stop)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_shutdown(app), STOP_SECONDS)
        if notices is not None:
            notices.close()


async def _until(coro: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Await ``coro`` unless ``stop`` is set first (then it is cancelled): True if it ran."""
    work = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for task in (work, waiter):
        if task not in done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    if work in done:
        work.result()  # raises what it raised
        return True
    return False


async def _connect(app: Application, settings: Settings, stop: asyncio.Event,
                   report: Report) -> bool:
    """``getMe`` (``initialize``) until it answers: False when stopped first; raises
    BotRejectedError for a token Telegram refuses (retrying cannot help)."""
    delay = 1.0
    told = False
    while not stop.is_set():
        try:
            if not await _until(app.initialize(), stop):
                return False
            break
        except InvalidToken:
            raise BotRejectedError(
                "editors' bot stopped: Telegram rejected TELEGRAM_BOT_TOKEN (Unauthorized); "
                "check the token with @BotFather") from None
        except TelegramError as exc:
            wait = exc.retry_after if isinstance(exc, RetryAfter) else delay
            if not told:
                report("unreachable", f"editors' bot cannot reach the Telegram API at "
                       f"{_api_host(settings)} ({_reason(exc, settings)}); retrying")
                told = True
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            delay = min(MAX_RETRY_SECONDS, delay * 2)
    else:
        return False
    if app.post_init is not None:
        await _until(app.post_init(app), stop)
    return not stop.is_set()


async def _watch(app: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop``; raise BotRejectedError when Telegram stops accepting the token.

    Why: PTB's long poll ends for good on a token that was revoked while running and says so
    only in its log, so the process would look healthy while no editor's command is heard.
    Its polling task is found by name (public asyncio, PTB's stable task name); in webhook mode
    ``getMe`` is asked every WATCH_SECONDS instead.
    """
    polling = next((task for task in asyncio.all_tasks() if task.get_name() == _POLLING_TASK),
                   None)
    while not stop.is_set():
        if polling is not None:
            try:  # the shield: a stop leaves the poll to _shutdown, which ends it cleanly
                await _until(asyncio.shield(polling), stop)
            except InvalidToken:
                raise BotRejectedError(_REVOKED) from None
            return  # stopped (the poll never ends by itself otherwise: it retries forever)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_SECONDS)
        if stop.is_set():
            return
        try:
            await _until(app.bot.get_me(), stop)
        except InvalidToken:
            raise BotRejectedError(_REVOKED) from None
        except TelegramError as exc:  # unreachable for a while: the sends say so themselves
            log.warning("editor bot: Telegram getMe failed (%s)", _reason(exc, settings))


async def _start_updates(app: Application, settings: Settings) -> None:
    updater = app.updater
    assert updater is not None
    if settings.bot_webhook_url:
        host, _, port = settings.bot_webhook_listen.rpartition(":")
        secret = webhook_secret(_token(settings))
        await updater.start_webhook(
            listen=host or "127.0.0.1",
            port=int(port),
            url_path=secret[:16],
            webhook_url=f"{settings.bot_webhook_url.rstrip('/')}/{secret[:16]}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
            bootstrap_retries=-1,
        )
        return
    await updater.start_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1,
                                error_callback=_PollErrors(settings))


class _PollErrors:
    """One line per outage of the long poll (PTB's default logs a traceback per failed poll,
    hundreds while the API is unreachable); at most one a minute."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._last = 0.0

    def __call__(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last >= 60.0:
            self._last = now
            log.warning("editor bot: polling Telegram failed (%s); retrying",
                        _reason(exc, self._settings))


async def _shutdown(app: Application) -> None:
    updater = app.updater
    if updater is not None and updater.running:
        # PTB's polling loop sleeps up to 30 s between failed polls, deaf to its stop event,
        # and then confirms the last updates with one more getUpdates: with the API gone the
        # stop would wait for both.  Past a short grace, the wait (and the task) is cancelled.
        # A poll that ended on a revoked token re-raises that here: the app must still stop.
        with contextlib.suppress(TimeoutError, TelegramError):
            await asyncio.wait_for(updater.stop(), UPDATER_STOP_SECONDS)
    if app.running:
        await app.stop()
    await app.shutdown()


def install_one_line_errors() -> None:
    """python-telegram-bot logs a full traceback for errors it survives (the last getUpdates
    at shutdown failing, a poll failing without our callback): for a Telegram API error that is
    one line with its reason, as everywhere else; a bug keeps its traceback.  Applied where
    records are made, as ``bot.runner`` does for Celery: the redacting handlers render
    tracebacks before any filter runs."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_newsbot_telegram", False):
        return
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not record.name.startswith("telegram") \
                or not isinstance(exc, TelegramError):
            return record
        return as_one_line(record, f"{type(exc).__name__}: {str(exc)[:200]}")

    make._newsbot_telegram = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)


def _api_host(settings: Settings) -> str:
    return urlsplit(settings.telegram_api_url).netloc or settings.telegram_api_url


def _reason(exc: BaseException, settings: Settings) -> str:
    """The error's type and text, never the token (PTB puts request URLs in some texts)."""
    text = f"{type(exc).__name__}: {exc}".split("\n", 1)[0][:200]
    if settings.telegram_bot_token is not None:
        text = text.replace(settings.telegram_bot_token.get_secret_value(), "***")
    return text


def log_report(kind: str, line: str) -> None:
    (log.info if kind == "up" else log.warning)("%s", line)
