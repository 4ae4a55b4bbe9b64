"""The editor bot process: a python-telegram-bot ``Application`` over the shared services.

Only this process reads updates (long polling, or a webhook when BOT_WEBHOOK_URL is set); workers
never poll, they only queue notices (``bot.delivery.notify``), which this process sends to the
editors' chat from a thread of its own (``bot.editor.outbox``).  The bot itself never sends
channel posts: ``/push`` and the buttons queue records, and the Celery workers deliver them,
so a push from Telegram obeys the same pause flag, rate limits and exactly-once state as
everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import ConfigError, Settings
from bot.delivery.notify import Notifier
from bot.state.health import Heartbeat

from .auth import EditorAuth, RefusalGate
from .callbacks import CallbackSigner
from .handlers import EditorDesk
from .i18n import COMMANDS, LANGUAGES, command_descriptions
from .lifecycle import (
    STOP_SECONDS,
    BotRejectedError,
    Report,
    _reason,
    install_one_line_errors,
    log_report,
    serve,
    serve_until,
    webhook_secret,
)
from .outbox import NoticeDispatcher

__all__ = ["BotRejectedError", "BotThread", "EditorsFirst", "build_application",
           "run_bot", "serve", "webhook_secret"]

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


def _token(settings: Settings) -> str:
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is required for the editor bot")
    return settings.telegram_bot_token.get_secret_value()


class EditorsFirst(BaseUpdateProcessor):
    """Up to ``max_concurrent`` updates at once, but an editor's never waits behind others.

    Why: updates are handled in arrival order, so a stranger's flood of commands or presses
    would queue an editor's /status behind every one of them.  Updates from the user ids in
    TELEGRAM_EDITOR_IDS skip that queue (they still pass the same editor check in the
    handlers); members admitted by EDITOR_CHAT_MEMBERS_ARE_EDITORS are only known after a
    lookup, so they queue like everyone else.
    """

    def __init__(self, max_concurrent: int, editor_ids: Sequence[int]) -> None:
        super().__init__(max_concurrent)
        self._editors = frozenset(int(i) for i in editor_ids)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is not None and user.id in self._editors:
            await self.do_process_update(update, coroutine)
            return
        await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def build_application(
    settings: Settings,
    services: Any,
    *,
    enqueue: Enqueue,
    notifier: Notifier | None = None,
    member_cache_seconds: float = 60.0,
    refusal_window_seconds: int = 600,
) -> Application:
    """The Application with every handler registered; not started."""
    install_one_line_errors()
    token = _token(settings)
    api = settings.telegram_api_url.rstrip("/")
    state = services.state
    app = (
        Application.builder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(EditorsFirst(16, settings.telegram_editor_ids))
        .post_init(_post_init(settings.bot_language))
        .build()
    )
    lookup = None
    if settings.editor_chat_members_are_editors and settings.telegram_editor_chat:
        chat = settings.telegram_editor_chat
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat

        async def lookup(user_id: int) -> str | None:
            member = await app.bot.get_chat_member(chat_id, user_id)
            return str(member.status)

    if notifier is None:  # the one Services already built (one httpx pool, one dedupe)
        notifier = getattr(services, "notifier", None)
    if notifier is None and settings.telegram_editor_chat:
        notifier = Notifier.from_settings(settings, state)
    desk = EditorDesk(
        services,
        signer=CallbackSigner.from_token(token, state.client, namespace=state.namespace),
        auth=EditorAuth(settings.telegram_editor_ids, member_lookup=lookup,
                        cache_seconds=member_cache_seconds),
        refusals=RefusalGate(state.client, namespace=state.namespace,
                             window_seconds=refusal_window_seconds),
        language=settings.bot_language,
        enqueue=enqueue,
        notifier=notifier,
    )
    app.bot_data["desk"] = desk
    # The notices' sender; ``serve`` runs it beside the bot (None: notices are off).
    app.bot_data["notices"] = NoticeDispatcher.from_settings(settings, services)
    # New messages only: editing an old "/push ... force" must not run it a second time.
    fresh = filters.UpdateType.MESSAGE
    for name in COMMANDS:
        app.add_handler(CommandHandler(name, getattr(desk, name), filters=fresh))
    app.add_handler(CommandHandler("start", desk.help, filters=fresh))
    app.add_handler(CallbackQueryHandler(desk.button_pressed))
    app.add_handler(MessageHandler(
        fresh & (filters.COMMAND | (filters.ChatType.PRIVATE & filters.TEXT)), desk.unknown))
    # A command posted in a channel the bot is in speaks for the channel, not an editor: it is
    # refused (audited, no answer) like any stranger's.
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST & filters.COMMAND,
                                   desk.unknown))
    app.add_error_handler(_on_error)
    return app


def _post_init(language: str) -> Callable[[Application], Any]:
    async def set_commands(app: Application) -> None:
        """Telegram's command menu, in the bot language by default and per client language."""
        try:
            await app.bot.set_my_commands(_commands(language))
            for code in LANGUAGES:
                await app.bot.set_my_commands(_commands(code), language_code=code)
        except Exception as exc:  # a menu is a convenience: never block the bot on it
            log.warning("editor bot: setMyCommands failed (%s)", type(exc).__name__)

    return set_commands


def _commands(language: str) -> Sequence[BotCommand]:
    return [BotCommand(name, text) for name, text in command_descriptions(language)]


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    # PTB's default prints the exception, whose text may hold the API URL and so the token.
    error = context.error
    log.warning("editor bot: %s while handling an update", type(error).__name__)


def run_bot(
    settings: Settings,
    services: Any,
    *,
    enqueue: Enqueue,
    stop_signals: Sequence[int] | None = (signal.SIGINT, signal.SIGTERM),
    report: Report | None = None,
) -> None:
    """Block serving updates until a stop signal (long polling, or webhook when configured).

    For ``newsbot run`` (the bot beside other work in one process) use ``BotThread`` instead:
    signals belong to the main thread there.  Raises BotRejectedError when Telegram refuses
    the token.
    """
    serve(build_application(settings, services, enqueue=enqueue), settings,
          stop_signals=stop_signals, report=report, heartbeat=_bot_heartbeat(services))


def _bot_heartbeat(services: Any) -> Any:
    """The "bot" health beat (``bot.health``), written only while the bot is up."""
    state = getattr(services, "state", None)
    if state is None:
        return None
    return Heartbeat(state.client, "bot", namespace=state.namespace)


class BotThread:
    """The editor bot in a daemon thread with its own event loop (``newsbot run``, tests).

    ``start()`` returns once the thread runs; ``stop()`` sets the bot's stop event (from any
    thread: it interrupts a connection attempt, a long poll or the webhook server) and waits
    for the thread.  ``report(kind, line)`` hears "up" (after ``getMe`` succeeded),
    "unreachable" (once per outage at start) and "stopped" (the bot gave up: rejected token).
    """

    def __init__(self, settings: Settings, services: Any, *, enqueue: Enqueue,
                 report: Report | None = None) -> None:
        self.settings = settings
        self.app = build_application(settings, services, enqueue=enqueue)
        self._loop = asyncio.new_event_loop()
        self._stop_event = asyncio.Event()
        self._report = report or log_report
        self._heartbeat = _bot_heartbeat(services)
        self._thread = threading.Thread(target=self._run, name="editor-bot", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(
                serve_until(self.app, self.settings, self._stop_event, self._report,
                             self._heartbeat))
        except BotRejectedError as exc:
            self._report("stopped", str(exc))
            self.error = exc
        except BaseException as exc:  # a thread must not die silently
            log.error("editors' bot stopped", exc_info=True)
            self._report("stopped", f"editors' bot stopped ({_reason(exc, self.settings)})")
            self.error = exc
        finally:
            if not self._loop.is_closed():
                self._loop.close()

    def start(self) -> BotThread:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the bot to stop without waiting (it stops beside the worker's warm shutdown)."""
        if self._thread.is_alive() and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop_event.set)

    def stop(self, timeout: float = STOP_SECONDS + 2) -> None:
        self.request_stop()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
