"""XPublisher through the real tweepy 4.17 (and v2 media calls) against FakeX on 127.0.0.1."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery.content import ContentTools, prepare
from bot.images import ImageVariant
from bot.platforms.base import DeliveryError
from bot.platforms.outgoing import PlatformTeaser
from bot.platforms.x import XPublisher
from bot.platforms.x_api import XCredentials
from bot.posts import Post
from fakes.x import IMAGE_MAX_BYTES, FakeX

SECRETS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")
CREDS = XCredentials(*SECRETS)






def make_post(
    slug: str = "hello", image: str | None = "/assets/feature.jpg", alt: str = ""
) -> Post:
    return Post(
        url=f"https://news.example/2026/11/28/{slug}.html",
        path=Path(f"/site/_posts/2026-11-28-{slug}.md"),
        rel_path=f"_posts/2026-11-28-{slug}.md",
        title=f"EXAONE 3 & friends: {slug}",
        date=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        slug=slug,
        tags=("ai",),
        excerpt="LG released a new open model; here is what changed.",
        image=image,
        image_alt=alt or "A bar chart of benchmark scores",
    )


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def publisher(fake: FakeX) -> Iterator[XPublisher]:
    pub = XPublisher(CREDS, api_url=fake.base_url, timeout=3.0)
    yield pub
    pub.close()


def send_error(pub: XPublisher, post: Post, item: PlatformTeaser) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        pub.send(post, item)
    return info.value


def test_post_with_photo_and_alt_text(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post()
    item = prepare(tools, post, "x")
    assert isinstance(item.image, ImageVariant)
    receipt = publisher.send(post, item)

    [created] = fake.posts
    assert created.text == item.teaser.text
    [media_id] = created.media_ids
    assert fake.media[media_id]["bytes"] == item.image.read_bytes()
    assert fake.media[media_id]["alt_text"] == post.image_alt
    assert receipt.id == created.id
    assert receipt.url == f"https://x.com/i/web/status/{created.id}"
    assert receipt.notes == ()
    assert [c.path for c in fake.calls("/2/")] == [
        "/2/media/upload",
        "/2/media/metadata",
        "/2/users/me",  # the account's handle, asked once per process (status shows it)
        "/2/tweets",
    ]
    assert receipt.meta["account"] == "@newsbot_test"


def test_the_account_handle_is_asked_once_and_its_failure_costs_nothing(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(image=None)
    fake.fail_next("/2/users/me", status=503)
    first = publisher.send(post, prepare(tools, post, "x"))
    assert "account" not in first.meta and len(fake.posts) == 1  # posted all the same
    other = make_post(slug="another", image=None)
    second = publisher.send(other, prepare(tools, other, "x"))
    assert "account" not in second.meta  # not asked again within the hour
    assert len(fake.calls("/2/users/me")) == 1


def test_long_alt_text_is_cut_to_1000(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(alt="ä" * 1500)
    publisher.send(post, prepare(tools, post, "x"))
    [created] = fake.posts
    assert fake.media[created.media_ids[0]]["alt_text"] == "ä" * 1000


def test_text_only_post_without_image(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(image=None)
    item = prepare(tools, post, "x")
    publisher.send(post, item)
    [created] = fake.posts
    assert created.text == item.teaser.text and created.media_ids == []
    assert fake.calls("/2/media") == []


def test_meta_carries_the_24h_counters(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(image=None)
    now = time.time()
    first = publisher.send(post, prepare(tools, post, "x"))
    second_post = make_post("second", image=None)
    second = publisher.send(second_post, prepare(tools, second_post, "x"))
    assert first.meta["user_24h_remaining"] == 99
    assert second.meta["user_24h_remaining"] == 98
    assert second.meta["user_24h_limit"] == 100
    assert second.meta["app_24h_remaining"] == 9998
    assert second.meta["remaining_15min"] == 98
    reset = second.meta["user_24h_reset"]
    assert isinstance(reset, float) and reset > now + 80_000
    assert isinstance(second.meta["reset_15min"], float)


def test_duplicate_text_is_kind_duplicate(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(image=None)
    item = prepare(tools, post, "x")
    publisher.send(post, item)
    err = send_error(publisher, post, item)
    assert err.kind == "duplicate"
    assert "duplicate content" in err.reason
    assert err.reason.startswith("create post: ")
    assert len(fake.posts) == 1


def test_rate_limit_has_retry_after_until_reset(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    fake.set_rate_limit_exhausted(120)
    post = make_post(image=None)
    err = send_error(publisher, post, prepare(tools, post, "x"))
    assert err.kind == "rate_limited"
    assert err.retry_after is not None and 100 < err.retry_after <= 121
    assert pickle.loads(pickle.dumps(err)).retry_after == err.retry_after


def test_daily_cap_waits_for_the_24h_reset(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    fake.set_user_24h_remaining(0)
    post = make_post(image=None)
    err = send_error(publisher, post, prepare(tools, post, "x"))
    assert err.kind == "rate_limited"
    assert err.retry_after is not None and err.retry_after > 80_000


def test_rate_limit_in_the_past_still_waits_at_least_a_second(
    tools: ContentTools, fake: FakeX
) -> None:
    pub = XPublisher(CREDS, api_url=fake.base_url, timeout=3.0, clock=lambda: time.time() + 10_000)
    post = make_post(image=None)
    fake.set_rate_limit_exhausted(60)
    try:
        err = send_error(pub, post, prepare(tools, post, "x"))
    finally:
        pub.close()
    assert err.kind == "rate_limited" and err.retry_after == 1.0


def test_oversized_image_is_refused_and_posted_as_text_with_note(
    tools: ContentTools, fake: FakeX, publisher: XPublisher, tmp_path: Path
) -> None:
    post = make_post()
    item = prepare(tools, post, "x")
    assert isinstance(item.image, ImageVariant)
    big = tmp_path / "big.jpg"
    big.write_bytes(item.image.read_bytes() + os.urandom(IMAGE_MAX_BYTES))
    huge = replace(item, image=replace(item.image, path=big, size=big.stat().st_size))
    receipt = publisher.send(post, huge)

    [created] = fake.posts
    assert created.media_ids == [] and created.text == item.teaser.text
    [note] = receipt.notes
    assert note.startswith("image refused by X (")
    assert "File size exceeds" in note and note.endswith("posted without it")


def test_refused_alt_text_is_a_permanent_media_failure(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post()
    fake.fail_next("/2/media/metadata", status=400)
    receipt = publisher.send(post, prepare(tools, post, "x"))
    [created] = fake.posts
    assert created.media_ids == []
    assert len(receipt.notes) == 1 and receipt.notes[0].startswith("image refused by X")


@pytest.mark.parametrize(("status", "kind"), [(503, "transient"), (429, "rate_limited")])
def test_passing_media_failure_raises_instead_of_dropping_the_photo(
    tools: ContentTools, fake: FakeX, publisher: XPublisher, status: int, kind: str
) -> None:
    post = make_post()
    headers = {"x-rate-limit-reset": str(int(time.time()) + 30)} if status == 429 else None
    fake.fail_next("/2/media/upload", status=status, headers=headers)
    err = send_error(publisher, post, prepare(tools, post, "x"))
    assert err.kind == kind
    assert err.reason.startswith("media upload: ")
    assert not err.uncertain
    assert fake.posts == []
    if status == 429:
        assert err.retry_after is not None and 25 < err.retry_after <= 31


def test_server_error_on_post_is_transient_and_certain(
    tools: ContentTools, fake: FakeX, publisher: XPublisher
) -> None:
    post = make_post(image=None)
    fake.fail_next("/2/tweets", status=503)
    err = send_error(publisher, post, prepare(tools, post, "x"))
    assert err.kind == "transient" and not err.uncertain


def test_timeout_on_post_is_uncertain(tools: ContentTools, fake: FakeX) -> None:
    pub = XPublisher(CREDS, api_url=fake.base_url, timeout=0.4)
    post = make_post(image=None)
    fake.delay_next("/2/tweets", 1.0)
    try:
        err = send_error(pub, post, prepare(tools, post, "x"))
    finally:
        pub.close()
    assert err.kind == "transient" and err.uncertain
    deadline = time.monotonic() + 3
    while not fake.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake.posts) == 1  # the post did get created: hence "uncertain"


def test_bad_credentials_are_permanent_and_not_shown(tools: ContentTools, fake: FakeX) -> None:
    wrong = XCredentials("wrong-key-123", "wrong-secret-456", "wrong-token-789", "wrong-ts-000")
    pub = XPublisher(wrong, api_url=fake.base_url, timeout=3.0)
    post = make_post(image=None)
    try:
        err = send_error(pub, post, prepare(tools, post, "x"))
    finally:
        pub.close()
    assert err.kind == "permanent"
    for secret in wrong.values():
        assert secret not in str(err) and secret not in repr(pub)


def test_vanished_image_file_is_transient_and_nothing_is_posted(
    tools: ContentTools, fake: FakeX, publisher: XPublisher, tmp_path: Path
) -> None:
    post = make_post()
    item = prepare(tools, post, "x")
    assert isinstance(item.image, ImageVariant)
    gone = replace(item, image=replace(item.image, path=tmp_path / "evicted.jpg"))
    err = send_error(publisher, post, gone)
    assert err.kind == "transient" and not err.uncertain
    assert "cannot read the prepared image" in err.reason
    assert fake.posts == [] and fake.calls("/2/") == []
