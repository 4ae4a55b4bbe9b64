"""TelegramPublisher.pin/unpin through python-telegram-bot against the fake over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.delivery.content import ContentTools, prepare
from bot.platforms.base import DeliveryError
from bot.platforms.telegram import TelegramPublisher
from fakes.telegram import FakeTelegram

from .test_telegram_publisher import CHANNEL, CHAT_ID, make_post


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def publisher(fake: FakeTelegram) -> Iterator[TelegramPublisher]:
    pub = TelegramPublisher(fake.token, CHANNEL, api_url=fake.base_url, timeout=3.0)
    yield pub
    pub.close()


def sent_id(publisher: TelegramPublisher, tools: ContentTools, *, silent: bool = False) -> str:
    from dataclasses import replace

    post = make_post()
    item = replace(prepare(tools, post, "telegram"), silent=silent)
    return publisher.send(post, item).id


def test_silent_send_sets_disable_notification(publisher, fake, tools) -> None:
    sent_id(publisher, tools, silent=True)
    sent_id(publisher, tools)
    loud_then_quiet = [m.disable_notification for m in fake.channel_posts(CHAT_ID)]
    assert loud_then_quiet == [True, False]


def test_pin_and_unpin(publisher, fake, tools) -> None:
    mid = sent_id(publisher, tools)
    publisher.pin(mid)
    assert fake.pinned(CHAT_ID) == [int(mid)]
    assert publisher.unpin(mid) == "unpinned"
    assert fake.pinned(CHAT_ID) == []


def test_pin_without_the_right_is_a_permanent_refusal(publisher, fake, tools) -> None:
    mid = sent_id(publisher, tools)
    fake.set_pin_right(CHAT_ID, False)
    with pytest.raises(DeliveryError) as info:
        publisher.pin(mid)
    assert info.value.kind == "permanent"
    assert "not enough rights to manage pinned messages" in info.value.reason.lower()
    assert fake.token not in info.value.reason


def test_unpin_of_a_deleted_message_is_already_gone(publisher, fake, tools) -> None:
    mid = sent_id(publisher, tools)
    publisher.pin(mid)
    assert publisher.delete(mid) == "deleted"
    assert publisher.unpin(mid) == "already gone"


def test_the_fake_answers_like_the_bot_api(fake: FakeTelegram) -> None:
    """Raw HTTP: True on success, the API's error body on a refusal."""
    def call(method: str, **params: object) -> tuple[int, dict]:
        req = urllib.request.Request(
            f"{fake.bot_base_url}{fake.token}/{method}", data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, body = call("sendMessage", chat_id=CHAT_ID, text="hi", disable_notification=True)
    assert status == 200
    mid = body["result"]["message_id"]
    assert call("pinChatMessage", chat_id=CHAT_ID, message_id=mid) == (
        200, {"ok": True, "result": True})
    assert call("pinChatMessage", chat_id=CHAT_ID, message_id=999)[1]["description"] == \
        "Bad Request: message to pin not found"
    assert call("unpinChatMessage", chat_id=CHAT_ID) == (200, {"ok": True, "result": True})
    assert call("unpinChatMessage", chat_id=CHAT_ID)[0] == 400
    fake.set_pin_right(CHAT_ID, False)
    assert call("pinChatMessage", chat_id=CHAT_ID, message_id=mid) == (400, {
        "ok": False, "error_code": 400,
        "description": "Bad Request: not enough rights to manage pinned messages in the chat"})
