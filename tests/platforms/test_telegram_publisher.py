"""TelegramPublisher through the real python-telegram-bot 22.8 against FakeTelegram on 127.0.0.1.

Teasers come from the real `prepare()` (renderer, image pipeline with a real JPEG), so what the
fake channel receives is exactly what delivery would send.
"""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram.error import ChatMigrated

from bot.delivery.content import ContentTools, prepare
from bot.images import ImageFailure, ImageVariant
from bot.platforms.base import DeliveryError, Receipt
from bot.platforms.outgoing import PlatformTeaser
from bot.platforms.telegram import TelegramPublisher, channel_message_url
from bot.posts import Post
from fakes.telegram import FakeTelegram

CHAT_ID = -1001234567890
CHANNEL = "@newsdao"






def make_post(image: str | None = "/assets/feature.jpg", slug: str = "hello") -> Post:
    return Post(
        url=f"https://news.example/2026/11/28/{slug}.html",
        path=Path(f"/site/_posts/2026-11-28-{slug}.md"),
        rel_path=f"_posts/2026-11-28-{slug}.md",
        title='EXAONE 3 <beats> the "benchmarks" & more',
        date=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        slug=slug,
        tags=("ai", "lg"),
        excerpt="LG released a new open model; here is what changed.",
        image=image,
        image_alt="A chart of benchmark scores",
    )


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


def photo_item(tools: ContentTools, post: Post | None = None) -> tuple[Post, PlatformTeaser]:
    post = post or make_post()
    item = prepare(tools, post, "telegram")
    assert isinstance(item.image, ImageVariant) and item.fallback is not None
    return post, item


def send_error(publisher: TelegramPublisher, post: Post, item: PlatformTeaser) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        publisher.send(post, item)
    return info.value


# --------------------------------------------------------------------------- success paths


def test_photo_post_uploads_variant_bytes_with_exact_caption(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    assert isinstance(item.image, ImageVariant)
    receipt = publisher.send(post, item)

    [message] = fake.channel_posts(CHANNEL)
    assert message.kind == "photo"
    assert message.raw == item.teaser.text
    assert message.parse_mode == "HTML"
    assert message.photo == item.image.read_bytes()
    assert message.caption is not None and message.caption.startswith(
        'EXAONE 3 <beats> the "benchmarks" & more'
    )  # HTML was parsed by the server, i.e. it was sent as HTML
    [call] = fake.calls("sendPhoto")
    assert "photo" in call.files  # an upload, never a URL Telegram would fetch (and cache)
    assert receipt == Receipt(
        id=str(message.message_id), url=f"https://t.me/newsdao/{message.message_id}",
        meta={"kind": "photo"},
    )


def test_text_post_has_large_link_preview_of_the_post(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    item = prepare(tools, post, "telegram")
    assert item.image is None
    receipt = publisher.send(post, item)

    [message] = fake.channel_posts(CHANNEL)
    assert message.kind == "text"
    assert message.raw == item.teaser.text and message.parse_mode == "HTML"
    assert message.link_preview_options == {"url": post.url, "prefer_large_media": True}
    assert receipt.id == str(message.message_id) and receipt.notes == ()
    assert fake.calls("sendPhoto") == []


def test_failed_image_sends_text(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image="/assets/missing.jpg")
    item = prepare(tools, post, "telegram")
    assert isinstance(item.image, ImageFailure)
    publisher.send(post, item)
    [message] = fake.channel_posts(CHANNEL)
    assert message.kind == "text" and message.raw == item.teaser.text


def test_get_me_once_for_many_sends(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    text_post = make_post(image=None, slug="other")
    text_item = prepare(tools, text_post, "telegram")
    for _ in range(3):
        publisher.send(post, item)
        publisher.send(text_post, text_item)
    assert len(fake.calls("getMe")) == 1
    assert len(fake.channel_posts(CHANNEL)) == 6


def test_concurrent_sends_from_threads_all_arrive(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    text_post = make_post(image=None, slug="text")
    text_item = prepare(tools, text_post, "telegram")
    receipts: list[Receipt] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)
    lock = threading.Lock()

    def worker(n: int) -> None:
        barrier.wait()
        try:
            for i in range(5):
                p, it = (post, item) if (n + i) % 2 else (text_post, text_item)
                r = publisher.send(p, it)
                with lock:
                    receipts.append(r)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(receipts) == 20
    stored = fake.channel_posts(CHANNEL)
    assert sorted(int(r.id) for r in receipts) == sorted(m.message_id for m in stored)
    assert len({r.id for r in receipts}) == 20
    assert len(fake.calls("getMe")) == 1


def test_numeric_channel_id_and_its_receipt_url(tools: ContentTools, fake: FakeTelegram) -> None:
    pub = TelegramPublisher(fake.token, str(CHAT_ID), api_url=fake.base_url, timeout=3.0)
    try:
        post = make_post(image=None)
        receipt = pub.send(post, prepare(tools, post, "telegram"))
    finally:
        pub.close()
    assert pub.destination == str(CHAT_ID)
    assert receipt.url == f"https://t.me/c/1234567890/{receipt.id}"
    assert len(fake.channel_posts(CHAT_ID)) == 1


@pytest.mark.parametrize(
    ("channel", "url"),
    [
        ("@newsdao", "https://t.me/newsdao/42"),
        ("-1001234567890", "https://t.me/c/1234567890/42"),
        ("-4567", None),  # a basic group: no public link
        ("123456", None),  # a private chat
    ],
)
def test_receipt_url_shapes(channel: str, url: str | None) -> None:
    assert channel_message_url(channel, 42) == url


# --------------------------------------------------------------------------- photo refusals


@pytest.mark.parametrize(
    ("status", "description", "label"),
    [
        (400, "Bad Request: PHOTO_INVALID_DIMENSIONS", "PHOTO_INVALID_DIMENSIONS"),
        (400, "Bad Request: IMAGE_PROCESS_FAILED", "IMAGE_PROCESS_FAILED"),
        (413, "Request Entity Too Large", "photo too big: Request Entity Too Large"),
        (
            400,
            "Bad Request: photo has unsupported extension. Use one of .jpg, .jpeg, .gif, .png, "
            ".tif or .bmp",
            "photo has unsupported extension",
        ),
        (
            400,
            "Bad Request: wrong file identifier/HTTP URL specified",
            "wrong file identifier/HTTP URL specified",
        ),
    ],
)
def test_refused_photo_falls_back_to_text_with_note(
    tools: ContentTools,
    fake: FakeTelegram,
    publisher: TelegramPublisher,
    status: int,
    description: str,
    label: str,
) -> None:
    post, item = photo_item(tools)
    assert item.fallback is not None
    fake.fail_next("sendPhoto", status=status, description=description)
    receipt = publisher.send(post, item)

    [message] = fake.channel_posts(CHANNEL)
    assert message.kind == "text"
    assert message.raw == item.fallback.text
    assert message.link_preview_options == {"url": post.url, "prefer_large_media": True}
    assert receipt.id == str(message.message_id)
    assert receipt.notes == (f"photo refused by Telegram ({label}): sent as text",)


def test_caption_html_error_is_permanent_not_a_photo_refusal(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    fake.fail_next(
        "sendPhoto",
        status=400,
        description='Bad Request: can\'t parse entities: Unsupported start tag "p" at byte 0',
    )
    err = send_error(publisher, post, item)
    assert err.kind == "permanent"
    assert err.reason.startswith("sendPhoto: Can't parse entities")
    assert fake.calls("sendMessage") == []  # no fallback: the text would fail the same way


def test_caption_too_long_from_the_server_is_permanent(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    long = PlatformTeaser(
        platform="telegram",
        teaser=type(item.teaser)(**{**_fields(item.teaser), "text": "x" * 1100}),
        image=item.image,
        fallback=item.fallback,
    )
    err = send_error(publisher, post, long)
    assert err.kind == "permanent"
    assert err.reason == "sendPhoto: Message caption is too long"
    assert fake.channel_posts(CHANNEL) == []


def _fields(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- error mapping


def test_flood_control_is_rate_limited_with_retry_after(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post, item = photo_item(tools)
    fake.fail_next("sendPhoto", status=429, retry_after=7)
    err = send_error(publisher, post, item)
    assert err.kind == "rate_limited"
    assert err.retry_after == 7.0
    assert err.reason.startswith("sendPhoto: ")


def test_real_flood_control_of_the_fake(tools: ContentTools) -> None:
    with FakeTelegram(enforce_rate_limits=True, chat_burst=1) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        pub = TelegramPublisher(server.token, CHANNEL, api_url=server.base_url, timeout=3.0)
        try:
            post = make_post(image=None)
            item = prepare(tools, post, "telegram")
            pub.send(post, item)
            err = send_error(pub, post, item)
        finally:
            pub.close()
    assert err.kind == "rate_limited" and err.retry_after is not None and err.retry_after >= 1


def test_server_error_is_transient(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    fake.fail_next("sendMessage", status=500)
    err = send_error(publisher, post, prepare(tools, post, "telegram"))
    assert err.kind == "transient" and not err.uncertain
    assert err.reason.startswith("sendMessage: Internal Server Error")


def test_timeout_is_transient_and_uncertain(tools: ContentTools, fake: FakeTelegram) -> None:
    pub = TelegramPublisher(fake.token, CHANNEL, api_url=fake.base_url, timeout=0.4)
    post = make_post(image=None)
    item = prepare(tools, post, "telegram")
    try:
        pub.send(post, item)  # getMe done, so the delay hits sendMessage itself
        fake.delay_next("sendMessage", 1.0)
        err = send_error(pub, post, item)
    finally:
        pub.close()
    assert err.kind == "transient" and err.uncertain
    assert err.reason.startswith("sendMessage: timed out")
    deadline = time.monotonic() + 3
    while len(fake.channel_posts(CHANNEL)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake.channel_posts(CHANNEL)) == 2  # why it is uncertain: it did arrive


def test_dropped_connection_after_processing_is_uncertain(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    fake.drop_next("sendMessage", after_processing=True)
    err = send_error(publisher, post, prepare(tools, post, "telegram"))
    assert err.kind == "transient" and err.uncertain
    assert len(fake.channel_posts(CHANNEL)) == 1


@pytest.mark.parametrize("fault", ["drop", "timeout"])
def test_lost_get_me_answer_is_certainly_not_sent_and_the_retry_sends(
    tools: ContentTools, fake: FakeTelegram, fault: str
) -> None:
    """getMe posts nothing: its lost answer must not put the post in doubt (found by the
    lost-answers proof: an editor was asked about a post that had never gone out)."""
    pub = TelegramPublisher(fake.token, CHANNEL, api_url=fake.base_url, timeout=0.4)
    post = make_post(image=None)
    item = prepare(tools, post, "telegram")
    if fault == "drop":
        fake.drop_next("getMe", after_processing=True)
    else:
        fake.delay_next("getMe", 1.0)
    try:
        err = send_error(pub, post, item)
        assert err.kind == "transient" and not err.uncertain
        assert err.reason.startswith("getMe: ") and "nothing was sent" in err.reason
        assert fake.channel_posts(CHANNEL) == []
        pub.send(post, item)  # the retry initialises and sends
    finally:
        pub.close()
    assert len(fake.channel_posts(CHANNEL)) == 1


def test_connection_refused_is_transient_and_certainly_not_sent(tools: ContentTools) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pub = TelegramPublisher("1:abcdefgh", CHANNEL, api_url=f"http://127.0.0.1:{port}", timeout=1)
    post = make_post(image=None)
    try:
        err = send_error(pub, post, prepare(tools, post, "telegram"))
    finally:
        pub.close()
    assert err.kind == "transient" and not err.uncertain
    assert err.reason.startswith("getMe: ")


@pytest.mark.parametrize(
    ("status", "description", "kind", "reason"),
    [
        (400, "Bad Request: chat not found", "permanent", "sendMessage: Chat not found"),
        (
            400,
            "Bad Request: message is too long",
            "permanent",
            "sendMessage: Message is too long",
        ),
        (
            403,
            "Forbidden: bot is not a member of the channel chat",
            "permanent",
            "sendMessage: Forbidden: bot is not a member of the channel chat",
        ),
        (409, "Conflict: fake failure", "transient", "sendMessage: Conflict: fake failure"),
        (502, "Bad Gateway", "transient", "sendMessage: Bad Gateway"),
    ],
)
def test_error_mapping(
    tools: ContentTools,
    fake: FakeTelegram,
    publisher: TelegramPublisher,
    status: int,
    description: str,
    kind: str,
    reason: str,
) -> None:
    post = make_post(image=None)
    fake.fail_next("sendMessage", status=status, description=description)
    err = send_error(publisher, post, prepare(tools, post, "telegram"))
    assert err.kind == kind
    assert err.reason.startswith(reason)
    assert "\n" not in err.reason
    assert pickle.loads(pickle.dumps(err)).reason == err.reason


def test_real_chat_not_found_and_missing_admin_rights(
    tools: ContentTools, fake: FakeTelegram
) -> None:
    fake.add_chat(-1009, "nopost", bot_is_admin=False)
    post = make_post(image=None)
    item = prepare(tools, post, "telegram")
    for channel, expected in [
        ("@nosuchchannel", "sendMessage: Chat not found (check TELEGRAM_CHANNEL"),
        ("@nopost", "sendMessage: Need administrator rights in the channel chat"),
    ]:
        pub = TelegramPublisher(fake.token, channel, api_url=fake.base_url, timeout=3.0)
        try:
            err = send_error(pub, post, item)
        finally:
            pub.close()
        assert err.kind == "permanent"
        assert err.reason.startswith(expected)


@pytest.mark.parametrize("token", ["999:WRONG-but-well-formed-token", "not a token at all"])
def test_rejected_token_is_permanent_and_never_shown(
    tools: ContentTools, fake: FakeTelegram, token: str
) -> None:
    pub = TelegramPublisher(token, CHANNEL, api_url=fake.base_url, timeout=3.0)
    post, item = photo_item(tools)
    try:
        err = send_error(pub, post, item)
    finally:
        pub.close()
    assert err.kind == "permanent"
    assert err.reason == "getMe: Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)"
    for text in (str(err), repr(err), err.reason, repr(pub), repr(pickle.loads(pickle.dumps(err)))):
        assert token not in text
        assert token.partition(":")[2] not in text or not token.partition(":")[2]
    assert fake.channel_posts(CHANNEL) == []


def test_chat_migrated_names_the_new_id(publisher: TelegramPublisher) -> None:
    # The fake cannot answer with migrate_to_chat_id, so the PTB exception is built directly.
    err = publisher._error("sendMessage", ChatMigrated(-1009876))
    assert err.kind == "permanent"
    assert "TELEGRAM_CHANNEL=-1009876" in err.reason


def test_close_stops_the_loop_thread_and_later_sends_fail(
    tools: ContentTools, fake: FakeTelegram
) -> None:
    before = {t.ident for t in threading.enumerate()}
    pub = TelegramPublisher(fake.token, CHANNEL, api_url=fake.base_url, timeout=3.0)
    post = make_post(image=None)
    item = prepare(tools, post, "telegram")
    pub.send(post, item)
    started = [t for t in threading.enumerate() if t.ident not in before]
    assert [t.name for t in started if t.name == "telegram-publisher"]
    pub.close()
    for t in started:
        if t.name == "telegram-publisher":
            assert not t.is_alive()
    err = send_error(pub, post, item)
    assert err.kind == "transient" and "closed" in err.reason


def test_vanished_image_file_is_transient_and_nothing_is_sent(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher, tmp_path: Path
) -> None:
    post, item = photo_item(tools)
    assert isinstance(item.image, ImageVariant)
    gone = PlatformTeaser(
        platform="telegram",
        teaser=item.teaser,
        image=ImageVariant(**{**_fields(item.image), "path": tmp_path / "evicted.jpg"}),
        fallback=item.fallback,
    )
    err = send_error(publisher, post, gone)
    assert err.kind == "transient" and not err.uncertain
    assert err.reason.startswith("sendPhoto: cannot read the prepared image")
    assert fake.calls("sendPhoto") == [] and fake.channel_posts(CHANNEL) == []
