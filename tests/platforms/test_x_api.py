"""The X transport, driven through the real tweepy 4.17 against the fake X server."""

from __future__ import annotations

import io
import logging
import pickle
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from bot.platforms.x_api import XApi, XApiError, XCredentials, XLimits
from fakes.x import DUPLICATE_DETAIL, IMAGE_MAX_BYTES, TOO_LONG_DETAIL, FakeX

SECRETS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")
CREDS = XCredentials(*SECRETS)




@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def api(fake: FakeX, sleeps: list[float]) -> XApi:
    return XApi(CREDS, api_url=fake.base_url, timeout=2.0, sleep=sleeps.append)


def _png(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def _error(call) -> XApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(XApiError) as info:
        call()
    return info.value


def test_create_post_returns_id_and_limits(api: XApi, fake: FakeX) -> None:
    post_id, limits = api.create_post("First teaser https://example.com/post")
    assert post_id.isdigit() and len(post_id) == 19
    assert [p.id for p in fake.posts] == [post_id]
    assert fake.posts[0].text == "First teaser https://example.com/post"
    now = time.time()
    assert limits.remaining_15min == 99 and limits.limit_15min == 100
    assert limits.reset_15min is not None and limits.reset_15min > now
    assert limits.user_24h_limit == 100 and limits.user_24h_remaining == 99
    assert limits.user_24h_reset is not None and limits.user_24h_reset > now + 80000
    assert limits.app_24h_remaining == 9999
    assert api.last_limits == limits
    _, limits2 = api.create_post("Second teaser")
    assert limits2.user_24h_remaining == 98


def test_every_request_went_to_loopback_with_tweepy(api: XApi, fake: FakeX) -> None:
    media_id = api.upload_image(_png(), "image/png")
    api.set_alt_text(media_id, "alt")
    api.create_post("where did it go")
    calls = fake.calls("/2/")
    assert [c.path for c in calls] == ["/2/media/upload", "/2/media/metadata", "/2/tweets"]
    for call in calls:
        assert call.headers["Host"] == f"127.0.0.1:{fake.port}"
        assert "Tweepy/4.17" in call.headers["User-Agent"]
        assert call.headers["Authorization"].startswith("OAuth ")


def test_media_upload_alt_text_and_post_with_media(api: XApi, fake: FakeX) -> None:
    data = _png(64, 48)
    media_id = api.upload_image(data, "image/png")
    api.set_alt_text(media_id, "Blue rectangle, the article's cover")
    post_id, _ = api.create_post("With a picture", [media_id])
    record = fake.media[media_id]
    assert record["bytes"] == data and record["mime"] == "image/png"
    assert (record["width"], record["height"]) == (64, 48)
    assert record["media_category"] == "tweet_image"
    assert record["alt_text"] == "Blue rectangle, the article's cover"
    assert fake.posts[0].id == post_id and fake.posts[0].media_ids == [media_id]


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                           ("WEBP", "image/webp")])
def test_upload_other_image_formats(api: XApi, fake: FakeX, fmt: str, mime: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(buf, fmt)
    media_id = api.upload_image(buf.getvalue(), mime)
    assert fake.media[media_id]["mime"] == mime
    sent = fake.calls("/2/media/upload")[0].form
    assert sent["media_category"] == "tweet_image"
    assert sent.get("media_type") == (None if mime == "image/gif" else mime)


def test_alt_text_is_cut_to_1000(api: XApi, fake: FakeX) -> None:
    media_id = api.upload_image(_png(), "image/png")
    api.set_alt_text(media_id, "é" * 1500)
    assert fake.media[media_id]["alt_text"] == "é" * 1000


def test_upload_polls_status_while_processing(api: XApi, fake: FakeX,
                                              sleeps: list[float]) -> None:
    fake.set_media_processing(3)
    media_id = api.upload_image(_png(), "image/png")
    statuses = fake.calls("/2/media/upload")[1:]
    assert [c.query["command"] for c in statuses] == [["STATUS"]] * 3
    assert sleeps == [1.0, 1.0, 1.0]
    assert fake.media[media_id]["state"] == "succeeded"
    api.create_post("processed", [media_id])


def test_failed_processing_is_permanent(api: XApi, fake: FakeX) -> None:
    fake.set_media_processing(1, fail=True)
    err = _error(lambda: api.upload_image(_png(), "image/png"))
    assert err.kind == "permanent" and "processing failed" in err.detail


def test_processing_that_never_ends_is_transient(fake: FakeX, sleeps: list[float]) -> None:
    fake.set_media_processing(50)
    api = XApi(CREDS, api_url=fake.base_url, max_status_polls=3, sleep=sleeps.append)
    err = _error(lambda: api.upload_image(_png(), "image/png"))
    assert err.kind == "transient" and len(sleeps) == 3


def test_duplicate_is_its_own_kind(api: XApi) -> None:
    api.create_post("Same words")
    err = _error(lambda: api.create_post("Same words"))
    assert err.kind == "duplicate" and err.status == 403
    assert err.detail == DUPLICATE_DETAIL


def test_too_long_is_permanent_with_x_detail(api: XApi, fake: FakeX) -> None:
    err = _error(lambda: api.create_post("日" * 141))
    assert err.kind == "permanent" and err.status == 400
    assert err.detail == TOO_LONG_DETAIL and TOO_LONG_DETAIL in str(err)
    assert fake.posts == []


def test_429_is_rate_limited_with_future_reset(api: XApi, fake: FakeX) -> None:
    fake.set_rate_limit_exhausted(300)
    err = _error(lambda: api.create_post("Blocked for now"))
    assert err.kind == "rate_limited" and err.status == 429
    assert err.reset_at is not None and err.reset_at >= time.time() + 298
    assert api.last_limits is not None and api.last_limits.remaining_15min == 0
    assert fake.count_429 == 1 and fake.posts == []  # tweepy did not retry on its own


def test_429_on_daily_cap_uses_24h_reset() -> None:
    with FakeX(user_24h_limit=1) as fake:
        api = XApi(CREDS, api_url=fake.base_url)
        api.create_post("the only one today")
        err = _error(lambda: api.create_post("one too many"))
        assert err.kind == "rate_limited"
        assert err.limits is not None and err.limits.user_24h_remaining == 0
        assert err.reset_at == err.limits.user_24h_reset
        assert err.reset_at is not None and err.reset_at > time.time() + 80000


def test_5xx_is_transient(api: XApi, fake: FakeX) -> None:
    fake.fail_next("/2/tweets", status=500)
    err = _error(lambda: api.create_post("server trouble"))
    assert err.kind == "transient" and err.status == 500
    fake.fail_next("/2/media/upload", status=503)
    err = _error(lambda: api.upload_image(_png(), "image/png"))
    assert err.kind == "transient" and err.status == 503
    api.create_post("server trouble")  # the retry succeeds


def test_dropped_connection_and_timeout_are_transient(api: XApi, fake: FakeX) -> None:
    fake.drop_next("/2/tweets")
    err = _error(lambda: api.create_post("dropped"))
    assert err.kind == "transient" and err.status is None
    fake.drop_next("/2/media/metadata")
    assert _error(lambda: api.set_alt_text("1", "x")).kind == "transient"
    fake.delay_next("/2/tweets", 0.8)
    slow = XApi(CREDS, api_url=fake.base_url, timeout=0.3)
    err = _error(lambda: slow.create_post("slow"))
    assert err.kind == "transient" and "timeout" in err.detail


def test_bad_credentials_are_permanent_401(fake: FakeX) -> None:
    api = XApi(XCredentials("wrong-key", "s", "wrong-token", "s2"), api_url=fake.base_url)
    err = _error(lambda: api.create_post("nope"))
    assert (err.kind, err.status, err.detail) == ("permanent", 401, "Unauthorized")
    err = _error(lambda: api.upload_image(_png(), "image/png"))
    assert (err.kind, err.status) == ("permanent", 401)


def test_oversize_and_bad_media_are_permanent(api: XApi, fake: FakeX) -> None:
    big = _png() + b"\0" * (IMAGE_MAX_BYTES + 1 - len(_png()))
    err = _error(lambda: api.upload_image(big, "image/png"))
    assert err.kind == "permanent" and err.status == 400 and "5242880" in err.detail
    err = _error(lambda: api.upload_image(b"%PDF-1.4 not an image", "image/png"))
    assert err.kind == "permanent" and err.detail == "media type unrecognized."
    err = _error(lambda: api.create_post("ghost media", ["1234567890123456789"]))
    assert err.kind == "permanent" and err.detail == "Your media IDs are invalid."
    assert fake.media == {} and fake.posts == []


def test_api_url_with_path_prefix() -> None:
    with FakeX(base_path="/proxy") as fake:
        api = XApi(CREDS, api_url=fake.base_url)
        media_id = api.upload_image(_png(), "image/png")
        api.create_post("through a prefix", [media_id])
        assert fake.base_url.endswith("/proxy")
        assert [c.path for c in fake.calls("/2/")] == ["/2/media/upload", "/2/tweets"]


def test_default_api_url_rewrites_twitter_host_to_x() -> None:
    api = XApi(CREDS)
    adapter = api.client.session.get_adapter("https://api.twitter.com/2/tweets")
    assert adapter.rewrite("https://api.twitter.com/2/tweets?a=1") == "https://api.x.com/2/tweets?a=1"
    assert adapter.rewrite("https://api.x.com/2/media/upload") == "https://api.x.com/2/media/upload"
    assert api.client.session.get_adapter("https://api.x.com/2/tweets") is adapter
    assert adapter.rewrite("https://example.com/x") == "https://example.com/x"
    assert api.client.wait_on_rate_limit is False


def test_no_secret_in_errors_reprs_or_logs(fake: FakeX, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = XApi(CREDS, api_url=fake.base_url)
    texts = [repr(CREDS), str(CREDS), repr(api)]
    api.create_post("log check")
    for status in (401, 403, 429, 500):
        fake.fail_next("/2/tweets", status=status)
        err = _error(lambda: api.create_post("log check 2"))
        texts += [str(err), repr(err), err.detail]
    fake.drop_next("/2/tweets")
    texts.append(str(_error(lambda: api.create_post("log check 3"))))
    texts.append(caplog.text)
    assert "api.twitter.com" in caplog.text  # tweepy's DEBUG log was captured
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_error_survives_pickle(api: XApi, fake: FakeX) -> None:
    fake.set_rate_limit_exhausted(60)
    err = _error(lambda: api.create_post("pickled"))
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.status, copy.reset_at, copy.detail, str(copy)) == (
        err.kind, err.status, err.reset_at, err.detail, str(err))
    assert copy.limits == err.limits


def test_limits_parsing_tolerates_missing_headers() -> None:
    limits = XLimits.from_headers({"x-rate-limit-reset": "1700000000",
                                   "x-rate-limit-remaining": "x"})
    assert limits.reset_15min == 1700000000.0 and limits.remaining_15min is None
    assert limits.blocking_reset() == 1700000000.0
    assert XLimits.from_headers({}).blocking_reset() is None
