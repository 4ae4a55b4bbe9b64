"""The fake Telegram server, driven by the real python-telegram-bot client and by raw HTTP.

Each expectation comes from platform-contracts part A: if the fake drifted from it, delivery
tests built on the fake would prove nothing, so these tests pin the observable contract (status,
description text, PTB exception class and message) rather than the fake's internals.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import telegram
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from fakes.telegram import FakeTelegram
from fakes.telegram_html import HtmlParseError, clean_and_trim, parse_html, utf16_len

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHANNEL = -1001234567890
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHANNEL, "newsdao_test", title="NewsDAO")
        yield server


@pytest.fixture
def limited() -> Iterator[FakeTelegram]:
    with FakeTelegram(time_scale=1.0) as server:
        server.add_chat(CHANNEL, "newsdao_test")
        yield server


def make_bot(server: FakeTelegram, *, token: str | None = None, **request: Any) -> telegram.Bot:
    kwargs: dict[str, Any] = {}
    if request:
        kwargs["request"] = HTTPXRequest(**request)
    return telegram.Bot(token or server.token, base_url=server.base_url + "/bot", **kwargs)


def jpeg(width: int = 1200, height: int = 630) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ----------------------------------------------------------------------------- PTB client
def test_get_me_returns_a_bot_user(fake: FakeTelegram) -> None:
    async def go() -> telegram.User:
        async with make_bot(fake) as bot:
            return await bot.get_me()

    me = run(go())
    assert me.is_bot and me.id == 123456 and me.username == "newsbot_fake_bot"
    assert [c.method for c in fake.journal] == ["getMe", "getMe"]  # initialize() + our call


def test_send_message_html_returns_parsed_entities(fake: FakeTelegram) -> None:
    text = '😀 <b>Bold</b> &amp; <a href="https://news.example/p">link</a> &nbsp;'

    async def go() -> telegram.Message:
        async with make_bot(fake) as bot:
            return await bot.send_message("@newsdao_test", text, parse_mode="HTML")

    message = run(go())
    assert message.text == "😀 Bold & link &nbsp;"
    bold, link = message.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 3, 4)  # the emoji is 2 UTF-16 units
    assert (link.type, link.offset, link.length, link.url) == (
        "text_link", 10, 4, "https://news.example/p",
    )  # fmt: skip
    assert message.chat.id == CHANNEL and message.chat.username == "newsdao_test"
    [post] = fake.channel_posts("@newsdao_test")
    assert post.text == message.text and post.raw == text and post.parse_mode == "HTML"
    assert post.message_id == message.message_id


def test_send_photo_upload_stores_bytes_and_sizes(fake: FakeTelegram) -> None:
    data = jpeg()

    async def go() -> tuple[telegram.Message, telegram.Message]:
        async with make_bot(fake) as bot:
            first = await bot.send_photo(CHANNEL, data, caption="<i>Teaser</i>", parse_mode="HTML")
            again = await bot.send_photo(CHANNEL, first.photo[-1].file_id)
            return first, again

    first, again = run(go())
    largest = first.photo[-1]
    assert (largest.width, largest.height, largest.file_size) == (1200, 630, len(data))
    assert [p.width for p in first.photo] == [90, 320, 800, 1200]
    assert first.caption == "Teaser" and first.caption_entities[0].type == "italic"
    posts = fake.channel_posts(CHANNEL)
    assert [p.photo for p in posts] == [data, data]
    assert fake.calls("sendPhoto")[0].files["photo"] == data
    assert again.photo[-1].width == 1200


def test_caption_limit_counts_code_points_after_parsing(fake: FakeTelegram) -> None:
    async def send(caption: str) -> telegram.Message:
        async with make_bot(fake) as bot:
            return await bot.send_photo(CHANNEL, jpeg(64, 64), caption=caption, parse_mode="HTML")

    assert len(run(send("<b>" + "a" * 1024 + "</b>")).caption) == 1024
    with pytest.raises(BadRequest) as info:
        run(send("a" * 1025))
    assert str(info.value) == "Message caption is too long"
    assert fake.journal[-1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message caption is too long",
    }
    assert fake.journal[-1].status == 400


def test_emoji_caption_is_counted_in_code_points_not_utf16(fake: FakeTelegram) -> None:
    emoji = "🚀"  # outside the BMP: 1 code point, 2 UTF-16 units

    async def send(caption: str) -> telegram.Message:
        async with make_bot(fake) as bot:
            return await bot.send_photo(CHANNEL, jpeg(64, 64), caption=caption)

    message = run(send(emoji * 1024))
    assert utf16_len(message.caption) == 2048
    with pytest.raises(BadRequest, match="Message caption is too long"):
        run(send(emoji * 1025))


def test_text_limits_and_empty_text(fake: FakeTelegram) -> None:
    async def send(text: str, **kwargs: Any) -> telegram.Message:
        async with make_bot(fake) as bot:
            return await bot.send_message(CHANNEL, text, **kwargs)

    assert run(send("x" * 4096 + "\n  ")).text == "x" * 4096  # trailing whitespace trimmed
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        run(send("x" * 4097))
    with pytest.raises(BadRequest, match=r"^Text must be non-empty$"):
        run(send("<b> </b>\r\n", parse_mode="HTML"))
    with pytest.raises(BadRequest, match=r"^Text is too long$"):
        run(send("<b></b>" * 5000, parse_mode="HTML"))  # 35000 raw bytes, empty after parsing
    with pytest.raises(BadRequest, match=r"^Unsupported parse_mode$"):
        run(send("x", parse_mode="BBCode"))


def test_unsupported_tag_error_text_and_byte_offset(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with make_bot(fake) as bot:
            await bot.send_message(CHANNEL, "héllo <p>x</p>", parse_mode="HTML")

    with pytest.raises(BadRequest) as info:
        run(go())
    # PTB strips "Bad Request: " and applies str.capitalize() (contracts A9)
    assert str(info.value) == 'Can\'t parse entities: unsupported start tag "p" at byte offset 7'
    assert fake.journal[-1].response["description"] == (
        'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 7'
    )
    assert fake.channel_posts(CHANNEL) == []


def test_chat_errors(fake: FakeTelegram) -> None:
    fake.add_chat(-100111, "not_member", bot_is_member=False)
    fake.add_chat(-100222, "no_admin", bot_is_admin=False)

    async def send(chat: int | str) -> None:
        async with make_bot(fake) as bot:
            await bot.send_message(chat, "hello")

    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        run(send("@nobody_here"))
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        run(send(-100999))
    with pytest.raises(Forbidden, match=r"^Forbidden: bot is not a member of the channel chat$"):
        run(send(-100111))
    with pytest.raises(BadRequest, match=r"^Need administrator rights in the channel chat$"):
        run(send("@no_admin"))
    assert [c.status for c in fake.calls("sendMessage")] == [400, 400, 403, 400]


def test_per_chat_flood_limit_gives_retry_after(limited: FakeTelegram) -> None:
    async def go() -> None:
        async with make_bot(limited) as bot:
            await bot.send_message(CHANNEL, "one")
            await bot.send_message(CHANNEL, "two")

    with pytest.raises(RetryAfter) as info:
        run(go())
    assert info.value.retry_after == 1
    assert limited.count_429 == 1
    call = limited.calls("sendMessage")[-1]
    assert call.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert [p.text for p in limited.channel_posts(CHANNEL)] == ["one"]


def test_rate_windows_scale_with_time_scale() -> None:
    with FakeTelegram(time_scale=0.05, chat_burst=30) as server:
        server.add_chat(CHANNEL, None)
        url = f"{server.base_url}/bot{server.token}/sendMessage"
        with httpx.Client() as client:
            statuses = [
                client.post(url, data={"chat_id": CHANNEL, "text": f"m{i}"}).status_code
                for i in range(20)
            ]
            blocked = client.post(url, data={"chat_id": CHANNEL, "text": "m20"})
        assert statuses == [200] * 20
        assert blocked.status_code == 429
        retry = blocked.json()["parameters"]["retry_after"]
        assert 1 <= retry <= 3  # 60 s * 0.05 window, reported in whole real seconds
        assert blocked.headers["Retry-After"] == str(retry)
        assert blocked.json()["description"] == f"Too Many Requests: retry after {retry}"


def test_per_chat_interval_recovers_after_scaled_second() -> None:
    with FakeTelegram(time_scale=0.5) as server:  # 1 message per 0.5 s per chat
        server.add_chat(CHANNEL, None)
        url = f"{server.base_url}/bot{server.token}/sendMessage"
        with httpx.Client() as client:
            assert client.post(url, data={"chat_id": CHANNEL, "text": "a"}).status_code == 200
            assert client.post(url, data={"chat_id": CHANNEL, "text": "b"}).status_code == 429
            time.sleep(0.55)
            assert client.post(url, data={"chat_id": CHANNEL, "text": "c"}).status_code == 200


def test_fail_next_500_is_a_network_error_then_recovers(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", status=500)

    async def go() -> telegram.Message:
        async with make_bot(fake) as bot:
            with pytest.raises(NetworkError) as info:
                await bot.send_message(CHANNEL, "first try")
            assert not isinstance(info.value, BadRequest)
            return await bot.send_message(CHANNEL, "second try")

    assert run(go()).text == "second try"
    assert [c.status for c in fake.calls("sendMessage")] == [500, 200]
    assert [p.text for p in fake.channel_posts(CHANNEL)] == ["second try"]


def test_fail_next_429_and_drop_next(fake: FakeTelegram) -> None:
    fake.fail_next("sendmessage", status=429, retry_after=7)
    fake.drop_next("sendMessage")

    async def go() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(CHANNEL, "x")
            assert info.value.retry_after == 7
            with pytest.raises(NetworkError):
                await bot.send_message(CHANNEL, "y")

    run(go())
    assert [c.status for c in fake.calls("sendMessage")] == [429, 0]
    assert fake.channel_posts(CHANNEL) == []


def test_delay_next_times_out_but_the_message_is_still_delivered(fake: FakeTelegram) -> None:
    fake.delay_next("sendMessage", 0.6)

    async def go() -> None:
        async with make_bot(fake, read_timeout=0.2) as bot:
            await bot.send_message(CHANNEL, "slow")

    with pytest.raises(TimedOut):
        run(go())
    deadline = time.monotonic() + 3
    while not fake.channel_posts(CHANNEL) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p.text for p in fake.channel_posts(CHANNEL)] == ["slow"]
    assert fake.calls("sendMessage")[0].client_gone


def test_get_updates_offset_semantics(fake: FakeTelegram) -> None:
    ids = [fake.push_update(fake.make_message_update(42, text=f"/cmd{i}")) for i in range(4)]

    async def go() -> list[list[int]]:
        async with make_bot(fake) as bot:
            seen = [[u.update_id for u in await bot.get_updates()]]
            seen.append([u.update_id for u in await bot.get_updates(offset=ids[1], limit=2)])
            seen.append([u.update_id for u in await bot.get_updates()])  # ids[0] confirmed
            seen.append([u.update_id for u in await bot.get_updates(offset=-1)])
            seen.append([u.update_id for u in await bot.get_updates(offset=ids[3] + 1)])
            return seen

    assert run(go()) == [ids, ids[1:3], ids[1:], ids[3:], []]
    update = fake.make_message_update(42, text="/start now")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


def test_long_poll_wakes_on_push_and_conflicts(fake: FakeTelegram) -> None:
    async def overlap() -> tuple[BaseException | None, list[telegram.Update]]:
        async with make_bot(fake) as first, make_bot(fake) as second:
            task = asyncio.create_task(first.get_updates(timeout=20))
            await _wait_for(lambda: fake.waiting_polls == 1)
            pushed = threading.Timer(0.2, lambda: fake.push_update(fake.make_message_update(7)))
            pushed.start()
            updates = await second.get_updates(timeout=5)
            with pytest.raises(Conflict) as info:
                await task
            return info.value, list(updates)

    started = time.monotonic()
    error, updates = run(overlap())
    assert str(error) == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )
    assert [u.message.from_user.id for u in updates] == [7]
    assert time.monotonic() - started < 5  # woken by the push, not by the 5 s timeout
    assert [c.status for c in fake.calls("getUpdates")] == [409, 200]


def test_long_poll_timeout_is_scaled() -> None:
    with FakeTelegram(time_scale=0.01) as server:
        url = f"{server.base_url}/bot{server.token}/getUpdates"
        started = time.monotonic()
        answer = httpx.post(url, data={"timeout": "50"}, timeout=5)  # 50 s * 0.01
        assert answer.json() == {"ok": True, "result": []}
        assert 0.4 <= time.monotonic() - started < 2.5


def test_wrong_token_is_invalid_token(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with make_bot(fake, token="999999:WRONG-token-value"):
            pass

    with pytest.raises(InvalidToken):
        run(go())
    assert fake.journal[-1].status == 401
    assert fake.journal[-1].response["description"] == "Unauthorized"


def test_photo_dimension_and_content_errors(fake: FakeTelegram) -> None:
    async def send(photo: bytes | str) -> None:
        async with make_bot(fake) as bot:
            await bot.send_photo(CHANNEL, photo)

    with pytest.raises(BadRequest) as info:
        run(send(jpeg(9000, 1001)))  # width + height = 10001
    assert str(info.value) == "Photo_invalid_dimensions"
    assert fake.journal[-1].response["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    with pytest.raises(BadRequest, match=r"^Photo_invalid_dimensions$"):
        run(send(jpeg(2100, 100)))  # ratio 21
    with pytest.raises(BadRequest, match=r"^Image_process_failed$"):
        run(send(b"definitely not an image"))
    with pytest.raises(BadRequest, match=r"^Failed to get http url content$"):
        run(send("https://unreachable.example/p.jpg"))
    with pytest.raises(BadRequest, match=r"^Wrong file identifier/http url specified$"):
        run(send("AgACAgNoSuchFileId"))
    fake.add_url("http://img.local/p.jpg", jpeg(320, 200))
    run(send("http://img.local/p.jpg"))
    assert fake.channel_posts(CHANNEL)[-1].width == 320


def test_edit_and_delete(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with make_bot(fake) as bot:
            sent = await bot.send_message(CHANNEL, "<b>v1</b>", parse_mode="HTML")
            edited = await bot.edit_message_text("v2", CHANNEL, sent.message_id)
            assert edited.text == "v2" and edited.edit_date is not None
            with pytest.raises(BadRequest, match=r"^Message is not modified"):
                await bot.edit_message_text("v2", CHANNEL, sent.message_id)
            with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
                await bot.edit_message_text("v3", CHANNEL, 999)
            assert await bot.delete_message(CHANNEL, sent.message_id) is True
            with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
                await bot.delete_message(CHANNEL, sent.message_id)

    run(go())
    assert fake.channel_posts(CHANNEL) == []
    assert [p.text for p in fake.channel_posts(CHANNEL, include_deleted=True)] == ["v2"]


def test_commands_callbacks_and_private_chats(fake: FakeTelegram) -> None:
    update = fake.make_message_update(555, text="/start", username="editor")
    fake.push_update(update)
    callback = fake.make_callback_update(555, "approve:1", update["message"])
    fake.push_update(callback)
    query_id = callback["callback_query"]["id"]

    async def go() -> None:
        async with make_bot(fake) as bot:
            await bot.set_my_commands([("start", "Start"), ("queue", "Show the queue")])
            assert [c.command for c in await bot.get_my_commands()] == ["start", "queue"]
            with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
                await bot.set_my_commands([("Bad-Command", "x")])
            with pytest.raises(BadRequest, match=r"^Message is too long$"):
                await bot.answer_callback_query(query_id, text="x" * 201)
            assert await bot.answer_callback_query(query_id, text="Approved") is True
            with pytest.raises(BadRequest, match=r"^Query is too old"):
                await bot.answer_callback_query(query_id)
            reply = await bot.send_message(555, "Queued")  # editor wrote first: chat is known
            assert reply.chat.type == "private" and reply.from_user.is_bot
            member = await bot.get_chat_member(CHANNEL, fake.bot_id)
            assert member.status == "administrator" and member.can_post_messages
            chat = await bot.get_chat("@newsdao_test")
            assert chat.title == "NewsDAO"
            with pytest.raises(BadRequest, match=r"^Chat not found$"):
                await bot.send_message(556, "stranger")

    run(go())
    assert fake.callback_answers[query_id]["text"] == "Approved"


# ----------------------------------------------------------------------------- raw HTTP
def test_raw_http_routing_query_string_and_json(fake: FakeTelegram) -> None:
    base = f"{fake.base_url}/bot{fake.token}"
    with httpx.Client() as client:
        got = client.get(f"{base}/SENDMESSAGE", params={"chat_id": CHANNEL, "text": "via GET"})
        assert got.status_code == 200 and got.json()["result"]["text"] == "via GET"
        posted = client.post(
            f"{base}/sendMessage",
            json={"chat_id": CHANNEL, "text": "<i>json</i>", "parse_mode": "HTML",
                  "link_preview_options": {"is_disabled": True}},
        )  # fmt: skip
        assert posted.status_code == 200
        assert posted.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 4}]
        assert fake.channel_posts(CHANNEL)[-1].link_preview_options == {"is_disabled": True}
        bad_preview = client.post(
            f"{base}/sendMessage",
            data={"chat_id": CHANNEL, "text": "x", "link_preview_options": "{nope"},
        )
        assert (bad_preview.status_code, bad_preview.json()["description"]) == (
            400, "Bad Request: can't parse link preview options JSON object",
        )  # fmt: skip
        unknown = client.post(f"{base}/sendTelepathy")
        assert (unknown.status_code, unknown.json()) == (
            404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
        )  # fmt: skip
        outside = client.get(f"{fake.base_url}/api/getMe")
        assert (outside.status_code, outside.json()["description"]) == (404, "Not Found")
        malformed = client.post(f"{fake.base_url}/botnot-a-token/getMe")
        assert malformed.status_code == 401
    assert fake.calls("sendmessage")[0].http_method == "GET"
    assert all(c.status != 200 for c in fake.journal if c.response and not c.response["ok"])


def test_token_is_never_logged(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="fakes.telegram")
    with httpx.Client() as client:
        client.post(f"{fake.base_url}/bot{fake.token}/getMe")
        client.post(f"{fake.base_url}/bot{fake.token}/nope")
    captured = capfd.readouterr()
    assert "getMe" in caplog.text
    secret = fake.token.split(":")[1]
    assert secret not in caplog.text + captured.out + captured.err


def test_standalone_cli_prints_base_url_only() -> None:
    token = "777:CLI-secret-token"
    process = subprocess.Popen(
        [sys.executable, "-m", "fakes.telegram", "--port", "0", "--token", token,
         "--time-scale", "0.01"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:") and "secret" not in line
        answer = httpx.post(f"{line}/bot{token}/getMe", timeout=5)
        assert answer.json()["result"]["id"] == 777
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "secret" not in err


# ----------------------------------------------------------------------------- HTML parser
@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_round_trips(text: str) -> None:
    parsed = parse_html(html.escape(text))
    assert parsed.text == text and parsed.entities == []
    wrapped = parse_html(f"<b>{html.escape(text)}</b>")
    expected = [{"type": "bold", "offset": 0, "length": utf16_len(text)}] if text else []
    assert wrapped.entities == expected


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(["p", "br", "div", "H1", "img"]))
def test_error_offsets_are_utf8_bytes(prefix: str, tag: str) -> None:
    escaped = html.escape(prefix)
    with pytest.raises(HtmlParseError) as info:
        parse_html(f"{escaped}<{tag}>")
    offset = len(escaped.encode("utf-8"))
    assert str(info.value) == f'Unsupported start tag "{tag.lower()}" at byte offset {offset}'


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(min_size=1))
def test_cleaning_keeps_entities_inside_text(before: str, inside: str) -> None:
    cleaned = clean_and_trim(parse_html(f"{html.escape(before)}<u>{html.escape(inside)}</u>"))
    assert "\r" not in cleaned.text and cleaned.text == cleaned.text.strip(" \n\t\v\f")
    for entity in cleaned.entities:
        assert entity["length"] > 0
        assert entity["offset"] + entity["length"] <= utf16_len(cleaned.text)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("</b>", "Unexpected end tag at byte offset 0"),
        ("<b>x <</b>", 'Unsupported start tag "</b" at byte offset 5'),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=https://x.org>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<tg-emoji emoji-id=abc>e</tg-emoji>", "Invalid custom emoji identifier specified"),
    ],
)
def test_html_error_texts(source: str, error: str) -> None:
    with pytest.raises(HtmlParseError) as info:
        parse_html(source)
    assert str(info.value) == error


def test_html_entities_and_nesting() -> None:
    parsed = parse_html(
        "&lt;&gt;&amp;&quot;&#65;&#x1F600;&hellip;&amp <blockquote expandable>q</blockquote>"
        '<pre><code class="language-python">x=1</code></pre><span class="tg-spoiler">s</span>'
        '<a href="tg://user?id=42">u</a><code class="language-x">c</code>'
    )
    assert parsed.text == '<>&"A😀&hellip;& qx=1suc'
    kinds = [(e["type"], e["offset"], e["length"], e.get("language")) for e in parsed.entities]
    assert kinds == [
        ("expandable_blockquote", 17, 1, None),
        ("pre", 18, 3, "python"),
        ("spoiler", 21, 1, None),
        ("text_mention", 22, 1, None),
        ("code", 23, 1, None),
    ]


# ----------------------------------------------------------------------------- PTB Application
def test_application_long_polling_round_trip() -> None:
    """The editor-bot path: Application polls, handles a command and a button press."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="ok")]])
        await update.effective_message.reply_text("<b>Pending</b>", parse_mode="HTML",
                                                  reply_markup=keyboard)  # fmt: skip

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Done")
        await update.callback_query.edit_message_text("Approved")

    async def go(server: FakeTelegram) -> None:
        app = Application.builder().token(server.token).base_url(server.base_url + "/bot").build()
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(pressed))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=10)
            server.push_update(server.make_message_update(321, text="/start"))
            sent = await _wait_for(lambda: server.channel_posts(321))
            assert sent[0].text == "Pending" and sent[0].reply_markup is not None
            callback = server.make_callback_update(321, "ok", sent[0].message)
            server.push_update(callback)
            await _wait_for(lambda: server.channel_posts(321)[0].text == "Approved")
            await app.updater.stop()
            await app.stop()

    with FakeTelegram(time_scale=0.01) as server:
        run(go(server))
        assert server.calls("deleteWebhook") and server.calls("answerCallbackQuery")
        # PTB cancels its last long poll on stop; the fake's 409 for it is never read
        failed = [(c.method, c.status) for c in server.journal if c.status != 200]
        assert all(c.client_gone for c in server.journal if c.status != 200), failed
        # the final getUpdates confirmed both updates: nothing is left to redeliver
        assert server._updates == []


async def _wait_for(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_concurrent_senders_get_unique_increasing_ids(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}/bot{fake.token}/sendMessage"
    ids: list[int] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        with httpx.Client() as client:
            for i in range(10):
                answer = client.post(url, data={"chat_id": CHANNEL, "text": f"{n}-{i}"})
                with lock:
                    ids.append(answer.json()["result"]["message_id"])

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 41))
    assert [p.message_id for p in fake.channel_posts(CHANNEL)] == list(range(1, 41))


def test_explicit_entities_and_file_download(fake: FakeTelegram) -> None:
    data = jpeg(100, 80)

    async def go() -> tuple[telegram.Message, bytes]:
        bot = telegram.Bot(
            fake.token, base_url=fake.base_url + "/bot", base_file_url=fake.base_url + "/file/bot"
        )
        async with bot:
            entities = [
                telegram.MessageEntity("bold", 0, 4),
                telegram.MessageEntity("italic", 5, 99),  # clipped to the text
            ]
            message = await bot.send_message(CHANNEL, "Bold text", entities=entities)
            photo = await bot.send_photo(CHANNEL, data)
            file = await bot.get_file(photo.photo[-1].file_id)
            return message, bytes(await file.download_as_bytearray())

    message, downloaded = run(go())
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 4),
        ("italic", 5, 4),
    ]
    assert downloaded == data


def test_oversized_photo_upload_is_413(fake: FakeTelegram) -> None:
    async def go() -> None:
        async with make_bot(fake) as bot:
            await bot.send_photo(CHANNEL, b"\xff" * 10_000_001)

    with pytest.raises(NetworkError) as info:
        run(go())
    assert not isinstance(info.value, BadRequest)
    assert fake.journal[-1].status == 413
    assert fake.journal[-1].response["description"] == "Request Entity Too Large"
