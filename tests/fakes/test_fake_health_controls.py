"""The fakes' controls for connection health: the bot's rights in a channel (Telegram) and the
account's standing (X), seen through the real client libraries with the real shapes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import telegram
import tweepy
from requests_oauthlib import OAuth1
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden

from fakes.telegram import FakeTelegram
from fakes.x import CREDITS_TYPE, FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHANNEL = -1001234567890
CREDS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHANNEL, "newsdao_test", title="NewsDAO")
        yield server


def _member_and_send(server: FakeTelegram) -> tuple[Any, Exception | None]:
    async def go() -> tuple[Any, Exception | None]:
        async with telegram.Bot(server.token, base_url=server.base_url + "/bot") as bot:
            try:
                member = await bot.get_chat_member(CHANNEL, bot.id)
            except telegram.error.TelegramError as exc:
                member = exc
            try:
                await bot.send_message(CHANNEL, "hello")
            except telegram.error.TelegramError as exc:
                return member, exc
            return member, None
    return asyncio.run(go())


def test_an_administrator_may_post(tg: FakeTelegram) -> None:
    member, error = _member_and_send(tg)
    assert isinstance(member, telegram.ChatMemberAdministrator)
    assert member.can_post_messages is True and error is None


@pytest.mark.parametrize(("to", "kind", "refusal"), [
    ("no_post", telegram.ChatMemberAdministrator,
     "Need administrator rights in the channel chat"),
    ("member", telegram.ChatMemberMember, "Need administrator rights in the channel chat"),
    ("left", telegram.ChatMemberLeft, "Forbidden: bot is not a member of the channel chat"),
])
def test_a_demoted_bot_is_told_so_and_cannot_post(tg: FakeTelegram, to: str, kind: type,
                                                   refusal: str) -> None:
    tg.demote_bot(CHANNEL, to)
    member, error = _member_and_send(tg)
    assert type(member) is kind
    if to == "no_post":
        assert member.can_post_messages is False
    assert error is not None and refusal in error.message
    assert isinstance(error, BadRequest if to != "left" else Forbidden)
    assert tg.channel_posts(CHANNEL) == []
    tg.restore_bot(CHANNEL)
    member, error = _member_and_send(tg)
    assert member.status == ChatMemberStatus.ADMINISTRATOR and error is None
    assert len(tg.channel_posts(CHANNEL)) == 1


def test_a_banned_bot_gets_403_kicked_everywhere(tg: FakeTelegram) -> None:
    tg.demote_bot(CHANNEL, "kicked")
    member, error = _member_and_send(tg)
    assert isinstance(member, Forbidden)
    assert member.message == "Forbidden: bot was kicked from the channel chat"
    assert isinstance(error, Forbidden) and "kicked" in error.message


def test_unknown_member_status_is_refused(tg: FakeTelegram) -> None:
    with pytest.raises(ValueError):
        tg.set_bot_rights(CHANNEL, "owner")
    with pytest.raises(KeyError):
        tg.set_bot_rights(-100999, "member")


# ----------------------------------------------------------------------------- X
@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def _me(server: FakeX) -> requests.Response:
    auth = OAuth1(CREDS[0], client_secret=CREDS[1], resource_owner_key=CREDS[2],
                  resource_owner_secret=CREDS[3], decoding=None)
    return requests.get(server.base_url + "/2/users/me", auth=auth, timeout=5)


def _tweepy(server: FakeX) -> tweepy.Client:
    client = tweepy.Client(consumer_key=CREDS[0], consumer_secret=CREDS[1],
                           access_token=CREDS[2], access_token_secret=CREDS[3],
                           return_type=requests.Response)
    adapter = requests.adapters.HTTPAdapter()
    real_send = adapter.send

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = (request.url or "").replace("https://api.twitter.com", server.base_url)
        kwargs["proxies"] = {}
        return real_send(request, **kwargs)

    adapter.send = send  # type: ignore[method-assign]
    client.session.mount("https://api.twitter.com", adapter)
    return client


def test_users_me_answers_while_the_account_is_fine(x: FakeX) -> None:
    reply = _me(x)
    assert reply.status_code == 200 and reply.json()["data"]["username"] == "newsbot_test"
    assert "x-rate-limit-remaining" in reply.headers


def test_revoked_credentials_get_401_problem(x: FakeX) -> None:
    _tweepy(x).create_tweet(text="before")  # the keys work until revoked
    x.revoke_credentials()
    reply = _me(x)
    assert reply.status_code == 401
    assert reply.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401,
                            "detail": "Unauthorized"}
    with pytest.raises(tweepy.Unauthorized):
        _tweepy(x).create_tweet(text="hello")
    x.restore_account()
    assert _me(x).status_code == 200


def test_a_locked_account_gets_403_user_suspended(x: FakeX) -> None:
    x.lock_account()
    reply = _me(x)
    assert reply.status_code == 403
    assert reply.json()["type"] == "https://api.twitter.com/2/problems/user-suspended"
    with pytest.raises(tweepy.Forbidden) as caught:
        _tweepy(x).create_tweet(text="hello")
    assert "The user used for authentication is suspended" in str(caught.value)
    assert x.posts == []


@pytest.mark.parametrize("status", [402, 403])
def test_spent_credits_get_the_credits_problem_on_every_billable_call(x: FakeX,
                                                                      status: int) -> None:
    x.deplete_credits(status=status)
    reply = _me(x)
    assert reply.status_code == status
    body = reply.json()
    assert body["title"] == "CreditsDepleted" and body["type"] == CREDITS_TYPE
    assert "does not have any credits" in body["detail"]
    with pytest.raises(tweepy.HTTPException) as caught:
        _tweepy(x).create_tweet(text="hello")
    assert caught.value.response.status_code == status
    assert x.posts == []
    x.restore_account()
    _tweepy(x).create_tweet(text="hello")
    assert len(x.posts) == 1


def test_python_m_fakes_health_breaks_and_fixes_each_destination(capsys: Any) -> None:
    """`python -m fakes health <action>` through the control server of `python -m fakes serve`."""
    import threading
    from http.server import ThreadingHTTPServer

    from fakes.__main__ import CHANNEL as TRIAL_CHANNEL
    from fakes.__main__ import _control_handler, _Fakes, main

    with FakeTelegram(enforce_rate_limits=False) as tg, FakeX() as x:
        tg.add_chat(TRIAL_CHANNEL, "newsfake")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(_Fakes(tg, x)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        control = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            assert main(["health", "telegram-demote", "--control", control]) == 0
            assert _member_status(tg, TRIAL_CHANNEL) == "member"
            assert main(["health", "telegram-restore", "--control", control]) == 0
            assert _member_status(tg, TRIAL_CHANNEL) == "administrator"
            assert main(["health", "x-credits", "--control", control]) == 0
            assert _me(x).status_code == 402
            assert main(["health", "x-restore", "--control", control]) == 0
            assert _me(x).status_code == 200
        finally:
            server.shutdown()
            server.server_close()
    assert capsys.readouterr().out.split() == ["telegram-demote", "telegram-restore",
                                               "x-credits", "x-restore"]


def _member_status(server: FakeTelegram, chat: int) -> str:
    async def go() -> str:
        async with telegram.Bot(server.token, base_url=server.base_url + "/bot") as bot:
            return (await bot.get_chat_member(chat, bot.id)).status
    return asyncio.run(go())
