"""GET /2/users/me and GET /2/users/:id/tweets of the fake X, read through tweepy 4.17's own
Client.get_me / get_users_tweets (redirected to the fake as in production), as X answers them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import tweepy

from bot.platforms.x_api import XApi, XCredentials
from fakes.x import ACCOUNT_ID, FakeX


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def _client(fake: FakeX, creds: tuple[str, str, str, str] | None = None) -> tweepy.Client:
    """tweepy's own client; the production adapter sends its requests to the fake."""
    api = XApi(XCredentials(*(creds or fake.credentials)), api_url=fake.base_url, timeout=5)
    return api.client


def _post(client: tweepy.Client, text: str) -> str:
    return client.create_tweet(text=text, user_auth=True).json()["data"]["id"]


def test_get_me_names_the_account(fake: FakeX) -> None:
    me = _client(fake).get_me(user_auth=True).json()["data"]
    assert me == {"id": ACCOUNT_ID, "name": "Newsbot Test", "username": "newsbot_test"}


def test_own_posts_newest_first_with_tco_links_and_entities(fake: FakeX) -> None:
    client = _client(fake)
    first = _post(client, "Old story https://newsdao.kr/a.html?utm_source=x#top")
    second = _post(client, "A & B <tag> 한국어 newsdao.kr")
    body = client.get_users_tweets(ACCOUNT_ID, user_auth=True,
                                   tweet_fields=["created_at", "entities"]).json()
    assert [p["id"] for p in body["data"]] == [second, first]
    assert body["meta"] == {"result_count": 2, "newest_id": second, "oldest_id": first}
    newest, oldest = body["data"]
    assert newest["text"].startswith("A &amp; B &lt;tag&gt; 한국어 https://t.co/")
    assert newest["entities"]["urls"][0]["expanded_url"] == "http://newsdao.kr"
    [url] = oldest["entities"]["urls"]
    assert url["expanded_url"] == "https://newsdao.kr/a.html?utm_source=x#top"
    assert len(url["url"]) == 23 and oldest["text"] == f"Old story {url['url']}"
    assert oldest["text"][url["start"]:url["end"]] == url["url"]
    assert oldest["edit_history_tweet_ids"] == [first]
    assert datetime.fromisoformat(oldest["created_at"].replace("Z", "+00:00")).tzinfo
    plain = client.get_users_tweets(ACCOUNT_ID, user_auth=True).json()["data"][0]
    assert set(plain) == {"id", "text", "edit_history_tweet_ids"}  # fields only on request


def test_pagination_tokens_walk_the_timeline(fake: FakeX) -> None:
    client = _client(fake)
    ids = [_post(client, f"post number {i}") for i in range(12)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body = client.get_users_tweets(ACCOUNT_ID, user_auth=True, max_results=5,
                                       pagination_token=token).json()
        seen += [p["id"] for p in body["data"]]
        pages += 1
        token = body["meta"].get("next_token")
        if pages > 1:
            assert "previous_token" in body["meta"]
        if token is None:
            break
    assert pages == 3 and seen == ids[::-1]


def test_time_and_id_bounds_deleted_posts_and_the_empty_answer(fake: FakeX) -> None:
    client = _client(fake)
    a = _post(client, "first")
    b = _post(client, "second")
    client.delete_tweet(b, user_auth=True)
    body = client.get_users_tweets(ACCOUNT_ID, user_auth=True).json()
    assert [p["id"] for p in body["data"]] == [a]
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert client.get_users_tweets(ACCOUNT_ID, user_auth=True, start_time=later).json() == {
        "meta": {"result_count": 0}}
    assert client.get_users_tweets(ACCOUNT_ID, user_auth=True, since_id=a).json() == {
        "meta": {"result_count": 0}}


def test_a_new_post_shows_after_the_timeline_lag(fake: FakeX) -> None:
    client = _client(fake)
    fake.timeline_lag = 0.5
    _post(client, "just now")
    assert client.get_users_tweets(ACCOUNT_ID, user_auth=True).json()["meta"] == {
        "result_count": 0}
    time.sleep(0.6)
    assert client.get_users_tweets(ACCOUNT_ID, user_auth=True).json()["meta"]["result_count"] == 1


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"max_results": 3}, "The `max_results` query parameter value [3] is not between 5 and 100"),
    ({"max_results": 101}, "not between 5 and 100"),
    ({"tweet_fields": ["colour"]}, "The `tweet.fields` query parameter value [colour]"),
    ({"start_time": "yesterday"}, "must be a date in the form YYYY-MM-DDTHH:mm:ssZ"),
    ({"pagination_token": "nope"}, "The `pagination_token` query parameter value [nope]"),
])
def test_bad_parameters_are_400_problems_naming_them(fake: FakeX, kwargs: dict,
                                                     fragment: str) -> None:
    with pytest.raises(tweepy.BadRequest) as err:
        _client(fake).get_users_tweets(ACCOUNT_ID, user_auth=True, **kwargs)
    assert fragment in str(err.value)
    body = err.value.response.json()
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"


def test_a_non_numeric_or_unknown_user(fake: FakeX) -> None:
    with pytest.raises(tweepy.BadRequest, match=r"does not match \^\[0-9\]"):
        _client(fake).get_users_tweets("me", user_auth=True)
    body = _client(fake).get_users_tweets("42", user_auth=True).json()
    assert "data" not in body and body["errors"][0]["title"] == "Not Found Error"


def test_auth_is_required(fake: FakeX) -> None:
    with pytest.raises(tweepy.Unauthorized):
        _client(fake, ("wrong-key", "s", "test-access-token", "t")).get_users_tweets(
            ACCOUNT_ID, user_auth=True)
    plain = requests.get(fake.base_url + f"/2/users/{ACCOUNT_ID}/tweets", timeout=5)
    assert plain.status_code == 401


def test_rate_window_headers_and_429_with_a_future_reset() -> None:
    with FakeX(time_scale=0.01) as fake:
        client = _client(fake)
        first = client.get_users_tweets(ACCOUNT_ID, user_auth=True)
        assert first.headers["x-rate-limit-limit"] == "900"
        assert first.headers["x-rate-limit-remaining"] == "899"
        fake.fail_next(f"/2/users/{ACCOUNT_ID}/tweets", status=429,
                       headers={"x-rate-limit-reset": str(int(time.time()) + 3)})
        with pytest.raises(tweepy.TooManyRequests) as err:
            client.get_users_tweets(ACCOUNT_ID, user_auth=True)
        assert err.value.response.headers["x-rate-limit-remaining"] == "0"
        assert float(err.value.response.headers["x-rate-limit-reset"]) > time.time()
        assert err.value.response.json()["title"] == "Too Many Requests"
