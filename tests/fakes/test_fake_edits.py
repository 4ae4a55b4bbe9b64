"""Edits and deletes on the fakes, driven by the real clients (python-telegram-bot, tweepy).

Corrections (README "Corrections and retractions") lean on these answers: a fake that accepted
what Telegram refuses (a 1025-character caption, an edit of a deleted or foreign message, a
delete after 48 h) would let the corrections code pass tests it fails in production.
Texts are from platform-contracts A3 "Edit / delete errors" and A4.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import telegram
from PIL import Image
from requests_oauthlib import OAuth1
from telegram import InputMediaPhoto
from telegram.error import BadRequest, RetryAfter

from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHANNEL = -1001234567890
CREDS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHANNEL, "newsdao_test", title="NewsDAO")
        yield server


def jpeg(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), colour).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def bot_for(server: FakeTelegram) -> telegram.Bot:
    return telegram.Bot(server.token, base_url=server.base_url + "/bot")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_caption_edit_keeps_the_limit_and_the_history(fake: FakeTelegram) -> None:
    async def go() -> int:
        async with bot_for(fake) as bot:
            sent = await bot.send_photo(CHANNEL, jpeg(), caption="<b>v1</b>", parse_mode="HTML")
            await bot.edit_message_caption(CHANNEL, sent.message_id, caption="<b>v2</b>",
                                           parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
                await bot.edit_message_caption(CHANNEL, sent.message_id, caption="x" * 1025)
            with pytest.raises(BadRequest, match=r"^Message is not modified"):
                await bot.edit_message_caption(CHANNEL, sent.message_id, caption="<b>v2</b>",
                                               parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"^There is no text in the message to edit$"):
                await bot.edit_message_text("v3", CHANNEL, sent.message_id)
            # 1024 code points after parsing: the markup does not count (A4)
            await bot.edit_message_caption(CHANNEL, sent.message_id,
                                           caption="<i>" + "é" * 1024 + "</i>",
                                           parse_mode="HTML")
            return sent.message_id

    mid = run(go())
    (post,) = fake.channel_posts(CHANNEL)
    assert post.message_id == mid and post.caption == "é" * 1024
    history = fake.edit_history(CHANNEL, mid)
    assert [(h["method"], h["before"], h["after"]) for h in history] == [
        ("editMessageCaption", "v1", "v2"), ("editMessageCaption", "v2", "é" * 1024)]


def test_edit_media_replaces_the_photo_in_place(fake: FakeTelegram) -> None:
    async def go() -> tuple[int, int]:
        async with bot_for(fake) as bot:
            photo = await bot.send_photo(CHANNEL, jpeg(), caption="old")
            text = await bot.send_message(CHANNEL, "a text post")
            edited = await bot.edit_message_media(
                InputMediaPhoto(jpeg((10, 200, 10)), caption="<b>new</b>", parse_mode="HTML"),
                chat_id=CHANNEL, message_id=photo.message_id)
            assert edited.message_id == photo.message_id and edited.caption == "new"
            with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
                await bot.edit_message_media(InputMediaPhoto(jpeg(), caption="y" * 1025),
                                             chat_id=CHANNEL, message_id=photo.message_id)
            # a text message may get a photo (Telegram allows media on a text message)
            await bot.edit_message_media(InputMediaPhoto(jpeg(), caption="now a photo"),
                                         chat_id=CHANNEL, message_id=text.message_id)
            return photo.message_id, text.message_id

    photo_id, text_id = run(go())
    posts = {p.message_id: p for p in fake.channel_posts(CHANNEL)}
    assert len(posts) == 2
    assert posts[photo_id].photo == jpeg((10, 200, 10)) and posts[photo_id].caption == "new"
    assert posts[text_id].kind == "photo" and posts[text_id].caption == "now a photo"
    assert [h["method"] for h in fake.edit_history(CHANNEL, photo_id)] == ["editMessageMedia"]
    assert fake.edit_history(CHANNEL, photo_id)[0]["photo_changed"] is True


def test_edit_refusals_have_the_real_texts(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with bot_for(fake) as bot:
            sent = await bot.send_message(CHANNEL, "v1")
            fake.make_uneditable(CHANNEL, sent.message_id)
            with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
                await bot.edit_message_text("v2", CHANNEL, sent.message_id)
            other = await bot.send_message(CHANNEL, "v1")
            await bot.delete_message(CHANNEL, other.message_id)
            with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
                await bot.edit_message_text("v2", CHANNEL, other.message_id)

    run(go())
    assert fake.edit_history(CHANNEL, 1) == []


def test_delete_only_within_48_hours(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with bot_for(fake) as bot:
            old = await bot.send_message(CHANNEL, "old")
            young = await bot.send_message(CHANNEL, "young")
            fake.age_message(CHANNEL, old.message_id, 48 * 3600 + 5)
            fake.age_message(CHANNEL, young.message_id, 47 * 3600)
            with pytest.raises(BadRequest, match=r"^Message can't be deleted$"):
                await bot.delete_message(CHANNEL, old.message_id)
            assert await bot.delete_message(CHANNEL, young.message_id) is True

    run(go())
    assert [p.text for p in fake.channel_posts(CHANNEL)] == ["old"]


def test_channel_edits_meet_flood_control() -> None:
    with FakeTelegram(time_scale=1.0) as server:
        server.add_chat(CHANNEL, "newsdao_test")

        async def go() -> None:
            async with bot_for(server) as bot:
                sent = await bot.send_message(CHANNEL, "v0")
                with pytest.raises(RetryAfter):  # the same second as the send: 1 a second
                    await bot.edit_message_text("v1", CHANNEL, sent.message_id)

        run(go())
        assert server.calls("editMessageText")[-1].status == 429


def test_fake_x_deletes_a_post() -> None:
    """DELETE /2/tweets/:id: 200 {"data": {"deleted": true}}; an unknown id is a 404 problem."""
    auth = OAuth1(CREDS[0], client_secret=CREDS[1], resource_owner_key=CREDS[2],
                  resource_owner_secret=CREDS[3], decoding=None)
    with FakeX() as server:
        made = requests.post(server.base_url + "/2/tweets", json={"text": "to be retracted"},
                             auth=auth, timeout=5)
        post_id = made.json()["data"]["id"]
        gone = requests.delete(f"{server.base_url}/2/tweets/{post_id}", auth=auth, timeout=5)
        assert gone.status_code == 200 and gone.json() == {"data": {"deleted": True}}
        assert "x-rate-limit-remaining" in gone.headers
        assert [p.id for p in server.posts if p.deleted] == [post_id]
        again = requests.delete(f"{server.base_url}/2/tweets/{post_id}", auth=auth, timeout=5)
        assert again.status_code == 404
        assert again.json()["type"].endswith("/2/problems/resource-not-found")
        stranger = requests.delete(f"{server.base_url}/2/tweets/{post_id}", timeout=5)
        assert stranger.status_code == 401
        assert server.deletes == [post_id]
