"""Editing and deleting what went out: TelegramPublisher.edit/delete through the real
python-telegram-bot, XPublisher.delete through tweepy, both against the fakes over HTTP.

The message id is the receipt's and never changes; which Bot API method is used depends on what
the message is (photo or text) and whether the photo changed.  Telegram's answers become the
same DeliveryError kinds sends use: "message is not modified" is success, a 429 is rate_limited
with its retry_after, "message to edit not found" / "message can't be edited" are permanent with
Telegram's reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from bot.delivery.content import ContentTools, prepare
from bot.images import ImageVariant
from bot.platforms.base import DeliveryError
from bot.platforms.telegram import TelegramPublisher
from bot.platforms.x import XPublisher
from bot.platforms.x_api import XCredentials
from bot.posts import Post
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT_ID = -1001234567890
CHANNEL = "@newsdao"
CREDS = XCredentials("test-api-key", "test-api-secret", "test-access-token",
                     "test-access-secret")


def make_post(image: str | None = "/assets/feature.jpg", title: str = "First title") -> Post:
    return Post(
        url="https://news.example/2026/11/28/hello.html",
        path=Path("/site/_posts/2026-11-28-hello.md"),
        rel_path="_posts/2026-11-28-hello.md",
        title=title,
        date=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        slug="hello",
        excerpt="LG released a new open model; here is what changed.",
        image=image,
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


@pytest.fixture(scope="module")
def other_image(tools: ContentTools) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (800, 450), (200, 200, 20)).save(buf, "JPEG", quality=85)
    (tools.site.root / "assets" / "other.jpg").write_bytes(buf.getvalue())
    return "/assets/other.jpg"


def test_photo_post_caption_is_edited_in_place(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post()
    item = prepare(tools, post, "telegram")
    receipt = publisher.send(post, item)
    assert receipt.meta.get("kind") == "photo"
    changed = make_post(title="Corrected title")
    new = prepare(tools, changed, "telegram")
    assert isinstance(new.image, ImageVariant)
    outcome = publisher.edit(changed, receipt.id, new, sent_kind="photo",
                             sent_image=new.image.sha256)
    assert outcome.method == "editMessageCaption" and not outcome.unchanged
    [message] = fake.channel_posts(CHANNEL)
    assert str(message.message_id) == receipt.id and message.raw == new.teaser.text
    assert message.caption is not None and message.caption.startswith("Corrected title")
    # the same edit again: Telegram says "not modified", which is success
    again = publisher.edit(changed, receipt.id, new, sent_kind="photo",
                           sent_image=new.image.sha256)
    assert again.unchanged and len(fake.channel_posts(CHANNEL)) == 1
    assert not fake.calls("sendPhoto")[1:] and not fake.calls("sendMessage")


def test_changed_image_goes_through_edit_message_media(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher, other_image: str
) -> None:
    post = make_post()
    receipt = publisher.send(post, prepare(tools, post, "telegram"))
    changed = make_post(image=other_image, title="New picture")
    new = prepare(tools, changed, "telegram")
    assert isinstance(new.image, ImageVariant)
    outcome = publisher.edit(changed, receipt.id, new, sent_kind="photo", sent_image="old")
    assert outcome.method == "editMessageMedia" and outcome.image == new.image.sha256
    [message] = fake.channel_posts(CHANNEL)
    assert message.photo == new.image.read_bytes() and message.raw == new.teaser.text
    assert [h["method"] for h in fake.edit_history(CHAT_ID, message.message_id)] == [
        "editMessageMedia"]


def test_text_post_is_edited_as_text(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    receipt = publisher.send(post, prepare(tools, post, "telegram"))
    assert receipt.meta.get("kind") == "text"
    changed = make_post(image=None, title="Better words")
    new = prepare(tools, changed, "telegram")
    outcome = publisher.edit(changed, receipt.id, new, sent_kind="text", sent_image="")
    assert outcome.method == "editMessageText" and outcome.kind == "text"
    [message] = fake.channel_posts(CHANNEL)
    assert message.text is not None and message.text.startswith("Better words")


def test_photo_whose_image_was_removed_keeps_a_fitted_caption(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post()
    receipt = publisher.send(post, prepare(tools, post, "telegram"))
    long = make_post(image=None, title="Long " * 300)
    new = prepare(tools, long, "telegram")
    assert new.image is None and new.teaser.length > 1024  # a text teaser: 4096 limit
    caption = tools.renderer.telegram(long, photo=True)
    outcome = publisher.edit(long, receipt.id, new, sent_kind="photo", sent_image="x",
                             caption=caption.text)
    assert outcome.method == "editMessageCaption" and outcome.kind == "photo"
    assert any("photo stays" in n for n in outcome.notes)
    [message] = fake.channel_posts(CHANNEL)
    assert message.caption is not None and len(message.caption) <= 1024


@pytest.mark.parametrize(("prepare_fake", "reason"), [
    ("uneditable", "Message can't be edited"),
    ("deleted", "Message to edit not found"),
])
def test_refusals_are_permanent_with_telegrams_reason(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher,
    prepare_fake: str, reason: str,
) -> None:
    post = make_post(image=None)
    receipt = publisher.send(post, prepare(tools, post, "telegram"))
    if prepare_fake == "uneditable":
        fake.make_uneditable(CHAT_ID, int(receipt.id))
    else:
        publisher.delete(receipt.id)
    changed = make_post(image=None, title="Changed")
    with pytest.raises(DeliveryError) as info:
        publisher.edit(changed, receipt.id, prepare(tools, changed, "telegram"),
                       sent_kind="text", sent_image="")
    assert info.value.kind == "permanent" and reason in info.value.reason


def test_flood_control_on_an_edit_is_rate_limited_with_retry_after(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    receipt = publisher.send(post, prepare(tools, post, "telegram"))
    fake.fail_next("editMessageText", status=429, retry_after=7)
    changed = make_post(image=None, title="Changed")
    with pytest.raises(DeliveryError) as info:
        publisher.edit(changed, receipt.id, prepare(tools, changed, "telegram"),
                       sent_kind="text", sent_image="")
    assert info.value.kind == "rate_limited" and info.value.retry_after == 7


def test_delete_within_48_hours_only(
    tools: ContentTools, fake: FakeTelegram, publisher: TelegramPublisher
) -> None:
    post = make_post(image=None)
    first = publisher.send(post, prepare(tools, post, "telegram"))
    second = publisher.send(replace(post, title="Two"), prepare(tools, replace(
        post, title="Two"), "telegram"))
    fake.age_message(CHAT_ID, int(first.id), 49 * 3600)
    with pytest.raises(DeliveryError) as info:
        publisher.delete(first.id)
    assert info.value.kind == "permanent" and "can't be deleted" in info.value.reason
    assert "48 h" in info.value.reason
    assert publisher.delete(second.id) == "deleted"
    assert publisher.delete(second.id) == "already gone"
    assert [m.message_id for m in fake.channel_posts(CHANNEL)] == [int(first.id)]


def test_x_post_is_deleted_and_never_edited(tools: ContentTools) -> None:
    with FakeX() as server:
        pub = XPublisher(CREDS, api_url=server.base_url, timeout=3.0)
        try:
            post = make_post(image=None)
            receipt = pub.send(post, prepare(tools, post, "x"))
            with pytest.raises(DeliveryError) as info:
                pub.edit(post, receipt.id, prepare(tools, post, "x"), sent_kind="text",
                         sent_image="")
            assert info.value.kind == "permanent" and "cannot be edited" in info.value.reason
            assert pub.delete(receipt.id) == "deleted"
            assert pub.delete(receipt.id) == "already gone"
        finally:
            pub.close()
        assert server.deletes == [receipt.id]
        assert len(server.posts) == 1
