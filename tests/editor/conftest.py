"""The editor bot running for real against the fake Telegram server and a real Redis.

``desk`` starts the PTB Application (long polling) in its own thread and event loop, with a
"worker" enqueue that runs the real ``deliver()`` at once, so a test can type a command as an
editor would and then look both at the bot's replies and at what reached the channel.  The
notices' sender runs beside it as in production (``serve`` starts it there); reading the
editors' chat first waits for the notice queue to empty, so a test sees every notice queued so far.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.delivery.sender import deliver
from bot.delivery.services import Services
from bot.editor.app import build_application
from fakes.telegram import FakeTelegram, StoredMessage

DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"
CHANNEL = -1001234567890
EDITOR_CHAT = -100500
EDITOR = 1001
OTHER_EDITOR = 1002
STRANGER = 2002


@pytest.fixture
def site(tmp_path: Path) -> Path:
    target = tmp_path / "site"
    shutil.copytree(DEMO_SITE, target)
    return target


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False, time_scale=0.01) as server:
        server.add_chat(CHANNEL, "newsdao_test", title="NewsDAO")
        server.add_chat(EDITOR_CHAT, None, type="supergroup", title="Editors")
        yield server


def make_settings(site: Path, tmp_path: Path, fake: FakeTelegram, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        site_dir=site, data_dir=tmp_path / "var", telegram_bot_token=fake.token,
        telegram_api_url=fake.base_url, telegram_channel=str(CHANNEL),
        telegram_editor_chat=str(EDITOR_CHAT), telegram_editor_ids=f"{EDITOR},{OTHER_EDITOR}",
        bot_language="en", rate_time_scale=0.001, max_age_hours=1e6,
    )
    values.update(extra)
    return load_settings(**values)


@dataclass
class Worker:
    """Stands in for Celery: each enqueued key is delivered at once by the real sender."""

    services: Services
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    run: bool = True

    def __call__(self, key: str) -> None:
        self.enqueued.append(key)
        if self.run:
            self.outcomes.append((key, deliver(self.services, key, owner=uuid.uuid4().hex)))


class Desk:
    """The running bot plus helpers that act as Telegram users."""

    channel, editor_chat = CHANNEL, EDITOR_CHAT
    editor, other_editor, stranger = EDITOR, OTHER_EDITOR, STRANGER

    def __init__(self, fake: FakeTelegram, settings: Settings, services: Services,
                 worker: Worker) -> None:
        self.fake = fake
        self.settings = settings
        self.services = services
        self.worker = worker
        self.app = build_application(settings, services, enqueue=worker,
                                     member_cache_seconds=0.0)
        self.notices = self.app.bot_data.get("notices")
        if self.notices is not None:  # bursts settle for 0.2 s here (3 s in production)
            self.notices.gather_seconds = 0.2
            self.notices.poll_seconds = 0.02
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Desk:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        if self.notices is not None:
            self.notices.start()
        return self

    async def _start(self) -> None:
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=10)

    async def _stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()

    def stop(self) -> None:
        if self.notices is not None:
            self.notices.close()
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ------------------------------------------------------------------ acting as users
    def messages(self, chat: int) -> list[StoredMessage]:
        if chat == self.editor_chat:
            self.wait_for_notices()
        return self.fake.channel_posts(chat)

    def wait_for_notices(self, timeout: float = 10.0) -> None:
        """Until the notice sender has delivered (or given up) everything queued so far."""
        if self.notices is not None:
            wait_for(lambda: self.notices.queue.pending() == 0, timeout)

    def send(self, text: str, user: int = EDITOR, chat: int | None = None, *,
             replies: int = 1, timeout: float = 10.0) -> list[StoredMessage]:
        """Type ``text`` and wait for ``replies`` new bot messages in that chat."""
        where = user if chat is None else chat
        before = len(self.messages(where))
        self.fake.push_update(self.fake.make_message_update(user, chat, text))
        if replies == 0:
            self.settle()
            return self.messages(where)[before:]
        return wait_for(lambda: (self.messages(where)[before:]
                                 if len(self.messages(where)) >= before + replies else None),
                        timeout)

    def press(self, message: StoredMessage, label: str | None = None, *, data: str | None = None,
              user: int = EDITOR, replies: int = 1) -> tuple[dict[str, Any], list[StoredMessage]]:
        """Press a button of ``message`` (by label) or send raw ``data``; (answer, new replies)."""
        if data is None:
            data = button_data(message, label)
        chat = message.chat_id
        before = len(self.messages(chat))
        update = self.fake.make_callback_update(user, data, message.message)
        query_id = update["callback_query"]["id"]
        self.fake.push_update(update)
        answer = wait_for(lambda: self.fake.callback_answers.get(query_id))
        if replies:
            wait_for(lambda: len(self.messages(chat)) >= before + replies)
        else:
            self.settle()
        return answer, self.messages(chat)[before:]

    def settle(self, quiet: float = 0.3) -> None:
        """Wait until the bot has sent nothing for ``quiet`` seconds."""
        def count() -> int:  # long polls return every 0.1 s: they are not activity
            return sum(1 for c in list(self.fake.journal) if c.method != "getUpdates")

        last = count()
        deadline = time.monotonic() + quiet
        while time.monotonic() < deadline:
            time.sleep(0.02)
            if count() != last:
                last = count()
                deadline = time.monotonic() + quiet


def button_data(message: StoredMessage, label: str | None) -> str:
    markup = message.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if label is None or button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {markup}")


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.fixture
def make_desk(site: Path, tmp_path: Path, fake: FakeTelegram, redis_url: str,
              redis_namespace: str) -> Iterator[Callable[..., Desk]]:
    started: list[Desk] = []
    opened: list[Services] = []

    def build(**extra: Any) -> Desk:
        settings = make_settings(site, tmp_path, fake, **extra)
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        opened.append(services)
        desk = Desk(fake, settings, services, Worker(services)).start()
        started.append(desk)
        return desk

    yield build
    for desk in started:
        desk.stop()
    for services in opened:
        services.close()


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()
