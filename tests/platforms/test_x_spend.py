"""Every billable X call is metered as it is made (real tweepy against the fake X), and the
meter agrees with the fake X's own count of what X would bill."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery.content import ContentTools, prepare
from bot.platforms.base import DeliveryError
from bot.platforms.x import XPublisher
from bot.platforms.x_api import XApi, XCredentials
from bot.platforms.x_price import planned_calls, post_kind, price_usd
from bot.posts import Post
from fakes.x import FakeX

SECRETS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")
CREDS = XCredentials(*SECRETS)


def make_post(slug: str = "hello") -> Post:
    return Post(
        url=f"https://news.example/2026/11/28/{slug}.html",
        path=Path(f"/site/_posts/2026-11-28-{slug}.md"),
        rel_path=f"_posts/2026-11-28-{slug}.md",
        title=f"EXAONE 3 & friends: {slug}",
        date=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        slug=slug,
        tags=("ai",),
        excerpt="LG released a new open model; here is what changed.",
        image="/assets/feature.jpg",
        image_alt="A bar chart of benchmark scores",
    )


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def metered(fake: FakeX) -> tuple[XApi, list[str]]:
    api = XApi(CREDS, api_url=fake.base_url, timeout=3.0)
    seen: list[str] = []
    api.meter = seen.append
    return api, seen


@pytest.mark.parametrize(("text", "kind"), [
    ("Read it: https://newsdao.kr/2026/12/01/a.html", "post_url"),
    ("bare domain example.com counts too", "post_url"),
    ("no link at all, just news", "post"),
    ("a reserved name https://news.example/a is no URL to X", "post"),
])
def test_post_kind_is_what_x_bills(fake: FakeX, text: str, kind: str) -> None:
    assert post_kind(text) == kind
    api, seen = metered(fake)
    api.create_post(text)
    assert seen == [kind]
    assert fake.billable_calls()[kind] == 1


def test_refused_calls_cost_nothing_and_deletes_are_billed(fake: FakeX) -> None:
    api, seen = metered(fake)
    post_id, _ = api.create_post("https://newsdao.kr/x once")
    with pytest.raises(Exception):  # noqa: B017 (the duplicate refusal, an XApiError)
        api.create_post("https://newsdao.kr/x once")
    assert api.delete_post(post_id) is True
    assert api.delete_post(post_id) is False  # 404: gone already, not billed
    api.account_handle()
    assert seen == ["post_url", "delete", "read"]
    assert fake.billable_calls() == {"post": 0, "post_url": 1, "media": 0, "delete": 1,
                                     "read": 1}


def test_a_send_with_photo_meters_upload_alt_text_read_and_post(
        tools: ContentTools, fake: FakeX) -> None:
    post = make_post()
    item = prepare(tools, post, "x")
    pub = XPublisher(CREDS, api_url=fake.base_url, timeout=3.0)
    seen: list[str] = []
    pub.set_meter(seen.append)
    try:
        pub.send(post, item)
        pub.send(make_post("second"), prepare(tools, make_post("second"), "x"))
    finally:
        pub.close()
    assert seen == ["media", "media", "read", "post", "media", "media", "post"]
    assert Counter(seen) == {k: n for k, n in fake.billable_calls().items() if n}
    # The planned price of a send is what it was metered at (the read is the process's).
    assert planned_calls(item) == {"post": 1, "media": 2}
    prices = {"post": 0.015, "post_url": 0.20, "media": 0.005, "delete": 0.01, "read": 0.001}
    assert price_usd(planned_calls(item), prices) == 0.025


def test_a_broken_meter_never_fails_the_post(fake: FakeX) -> None:
    api = XApi(CREDS, api_url=fake.base_url, timeout=3.0)

    def broken(kind: str) -> None:
        raise ConnectionError("ledger down")

    api.meter = broken
    post_id, _ = api.create_post("still goes out")
    assert post_id and len(fake.posts) == 1


def test_a_failed_post_is_not_metered(fake: FakeX) -> None:
    pub = XPublisher(CREDS, api_url=fake.base_url, timeout=3.0)
    seen: list[str] = []
    pub.set_meter(seen.append)
    fake.fail_next("/2/tweets", status=503)
    try:
        pub._api.create_post("x")
    except Exception as exc:
        assert not isinstance(exc, DeliveryError)  # the transport's own XApiError
    else:
        raise AssertionError("a 503 must fail")
    finally:
        pub.close()
    assert seen == []
    assert sum(fake.billable_calls().values()) == 0


def test_the_dry_run_outbox_shows_each_x_posts_price(tools: ContentTools,
                                                     tmp_path: Path) -> None:
    import json

    from bot.config import parse_prices
    from bot.platforms.dryrun import DryRunPublisher

    post = make_post()
    prices = parse_prices("post=0.02")
    DryRunPublisher("x", tmp_path, prices=prices).send(post, prepare(tools, post, "x"))
    DryRunPublisher("telegram", tmp_path, prices=prices).send(
        post, prepare(tools, post, "telegram"))
    x_line, tg_line = (json.loads(line) for line in
                       (tmp_path / "outbox.jsonl").read_text().splitlines())
    assert x_line["billable"] == {"post": 1, "media": 2}
    assert x_line["price_usd"] == 0.03  # 0.02 + 2 x 0.005
    assert "price_usd" not in tg_line
