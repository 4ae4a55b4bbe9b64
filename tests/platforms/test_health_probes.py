"""Connection health checks of the publishers (python-telegram-bot and tweepy against the fakes),
and the sends that meet the same refusals: marked ``unhealthy``, never a per-post failure."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.content import ContentTools, prepare
from bot.platforms.base import DeliveryError
from bot.platforms.telegram import TelegramPublisher
from bot.platforms.x import XPublisher
from bot.platforms.x_api import XApiError, XCredentials
from bot.platforms.x_health import account_problem
from bot.posts import Post
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT_ID = -1001234567890
CHANNEL = "@newsdao"
CREDS = XCredentials("test-api-key", "test-api-secret", "test-access-token",
                     "test-access-secret")


def make_post(slug: str = "hello") -> Post:
    return Post(
        url=f"https://news.example/2026/11/28/{slug}.html",
        path=Path(f"/site/_posts/2026-11-28-{slug}.md"),
        rel_path=f"_posts/2026-11-28-{slug}.md",
        title=f"Title {slug}",
        date=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        slug=slug,
        excerpt="An excerpt.",
    )


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def tg_pub(tg: FakeTelegram) -> Iterator[TelegramPublisher]:
    pub = TelegramPublisher(tg.token, CHANNEL, api_url=tg.base_url, timeout=3.0)
    yield pub
    pub.close()


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def x_pub(x: FakeX) -> Iterator[XPublisher]:
    pub = XPublisher(CREDS, api_url=x.base_url, timeout=3.0)
    yield pub
    pub.close()


def test_telegram_check_asks_getme_and_getchatmember(tg: FakeTelegram,
                                                      tg_pub: TelegramPublisher) -> None:
    result = tg_pub.check_health()
    assert result.ok and result.account.startswith("@")
    assert len(tg.calls("getChatMember")) == 1
    assert len(tg.calls("getMe")) >= 2  # initialize, then the check's own


@pytest.mark.parametrize(("to", "said"), [
    ("member", "is no longer an administrator of @newsdao (getChatMember: member)"),
    ("no_post", "without the right to post messages (can_post_messages is off)"),
    ("left", "is not in @newsdao (getChatMember: left)"),
    ("kicked", "getChatMember: Forbidden: bot was kicked from the channel chat"),
])
def test_telegram_check_finds_a_demoted_bot_and_its_return(
        tg: FakeTelegram, tg_pub: TelegramPublisher, to: str, said: str) -> None:
    tg.demote_bot(CHAT_ID, to)
    result = tg_pub.check_health()
    assert result.outcome == "unhealthy" and said in result.reason
    tg.restore_bot(CHAT_ID)
    assert tg_pub.check_health().ok


def test_telegram_check_of_a_revoked_token(tg: FakeTelegram, tg_pub: TelegramPublisher) -> None:
    assert tg_pub.check_health().ok
    old = tg.token
    tg.revoke_token()
    result = tg_pub.check_health()
    assert result.outcome == "unhealthy" and "rejected the bot token" in result.reason
    assert old not in result.reason


def test_telegram_check_without_an_answer_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pub = TelegramPublisher("1:abcdefghijk", CHANNEL, api_url=f"http://127.0.0.1:{port}",
                            timeout=1.0)
    try:
        result = pub.check_health()
    finally:
        pub.close()
    assert result.outcome == "unreachable" and "abcdefghijk" not in result.reason


def test_telegram_check_of_a_server_error_is_unreachable(tg: FakeTelegram,
                                                          tg_pub: TelegramPublisher) -> None:
    tg.fail_next("getChatMember", status=500, description="Internal Server Error")
    assert tg_pub.check_health().outcome == "unreachable"


def test_a_send_to_a_channel_the_bot_may_not_post_in_is_unhealthy(
        tools: ContentTools, tg: FakeTelegram, tg_pub: TelegramPublisher) -> None:
    post = make_post()
    tg.demote_bot(CHAT_ID, "member")
    with pytest.raises(DeliveryError) as caught:
        tg_pub.send(post, prepare(tools, post, "telegram"))
    assert caught.value.unhealthy and "Need administrator rights" in caught.value.reason
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.unhealthy and again.kind == "permanent"
    tg.restore_bot(CHAT_ID)
    tg.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    with pytest.raises(DeliveryError) as per_post:
        tg_pub.send(post, prepare(tools, post, "telegram"))
    assert not per_post.value.unhealthy  # a refusal of the post, not of the channel


def test_x_check_asks_users_me(x: FakeX, x_pub: XPublisher) -> None:
    result = x_pub.check_health()
    assert result.ok and result.account == "@newsbot_test"
    assert len(x.calls("/2/users/me")) == 1


@pytest.mark.parametrize(("break_it", "said"), [
    (lambda fake: fake.revoke_credentials(), "X no longer accepts the keys (401: Unauthorized)"),
    (lambda fake: fake.lock_account(), "the X account is suspended or locked (403: The user used "
                                       "for authentication is suspended)"),
    (lambda fake: fake.deplete_credits(), "X credits are spent (402: Your enrolled account"),
    (lambda fake: fake.deplete_credits(status=403), "X credits are spent (403: Your enrolled"),
])
def test_x_check_finds_the_account_unfit_and_its_return(x: FakeX, x_pub: XPublisher,
                                                         break_it: object, said: str) -> None:
    break_it(x)  # type: ignore[operator]
    result = x_pub.check_health()
    assert result.outcome == "unhealthy" and said in result.reason, result.reason
    for secret in CREDS.values():
        assert secret not in result.reason
    x.restore_account()
    assert x_pub.check_health().ok


def test_x_check_of_a_server_error_or_429_is_unreachable(x: FakeX, x_pub: XPublisher) -> None:
    x.fail_next("/2/users/me", status=503)
    assert x_pub.check_health().outcome == "unreachable"
    x.fail_next("/2/users/me", status=429, headers={"x-rate-limit-reset": "9999999999"})
    assert x_pub.check_health().outcome == "unreachable"


@pytest.mark.parametrize("status", [402, 403])
def test_an_x_send_meeting_spent_credits_is_unhealthy_not_a_post_failure(
        tools: ContentTools, x: FakeX, x_pub: XPublisher, status: int) -> None:
    post = make_post("credits")
    x.deplete_credits(status=status)
    with pytest.raises(DeliveryError) as caught:
        x_pub.send(post, prepare(tools, post, "x"))
    assert caught.value.unhealthy and "X credits are spent" in caught.value.reason
    assert x.posts == []


def test_an_x_duplicate_or_too_long_is_no_health_matter(tools: ContentTools, x: FakeX,
                                                        x_pub: XPublisher) -> None:
    post = make_post("dup")
    item = prepare(tools, post, "x")
    x_pub.send(post, item)
    with pytest.raises(DeliveryError) as caught:
        x_pub.send(post, item)
    assert caught.value.kind == "duplicate" and not caught.value.unhealthy


def test_x_api_error_keeps_the_health_reason_through_pickling() -> None:
    err = XApiError("permanent", "Unauthorized", status=401, unhealthy="X no longer accepts")
    again = pickle.loads(pickle.dumps(err))
    assert again.unhealthy == "X no longer accepts" and again.status == 401


@pytest.mark.parametrize(("status", "body", "expected"), [
    (400, {"detail": "Your Tweet text is too long."}, None),
    (403, {"detail": "You are not allowed to create a Tweet with duplicate content."}, None),
    (403, {"detail": "Forbidden", "type": "about:blank"}, None),
    (403, {"title": "Forbidden", "type": "https://api.twitter.com/2/problems/oauth1-permissions",
           "detail": "Your client app is not configured with the appropriate oauth1 app "
                     "permissions for this endpoint."}, "may not post"),
    (403, {"detail": "Your account has hit its spending limit for this billing cycle"},
     "credits are spent"),
    (402, None, "credits are spent (402)"),
    (401, "not json", "no longer accepts the keys (401)"),
])
def test_account_problem_tells_account_from_post(status: int, body: object,
                                                 expected: str | None) -> None:
    problem = account_problem(status, body)
    assert (problem is None) if expected is None else (expected in (problem or ""))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["creator", "administrator", "member", "restricted", "left", "kicked"]),
       st.sampled_from([True, False, None]))
def test_judge_member_ok_only_for_the_creator_or_an_admin_allowed_to_post(
        status: str, can_post: bool | None) -> None:
    """Every member shape PTB builds from the Bot API: ok exactly when the bot may post."""
    from telegram import ChatMember, User

    from bot.platforms.telegram_health import judge_member

    user = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "b_bot"}
    data: dict[str, object] = {"status": status, "user": user}
    if status == "administrator":
        data |= dict.fromkeys(("can_be_edited", "is_anonymous", "can_manage_chat",
                               "can_delete_messages", "can_manage_video_chats",
                               "can_restrict_members", "can_promote_members",
                               "can_change_info", "can_invite_users", "can_post_stories",
                               "can_edit_stories", "can_delete_stories"), False)
        if can_post is not None:
            data["can_post_messages"] = can_post
    elif status == "creator":
        data["is_anonymous"] = False
    elif status == "restricted":
        data |= dict.fromkeys(("is_member", "can_send_messages", "can_send_audios",
                               "can_send_documents", "can_send_photos", "can_send_videos",
                               "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
                               "can_send_other_messages", "can_add_web_page_previews",
                               "can_change_info", "can_invite_users", "can_pin_messages",
                               "can_manage_topics", "can_edit_tag", "can_react_to_messages"),
                              True) | {"until_date": 0}
    elif status == "kicked":
        data["until_date"] = 0
    member = ChatMember.de_json(data, None)  # type: ignore[arg-type]
    assert isinstance(member.user, User)
    result = judge_member(member, "@news")
    may_post = status == "creator" or (status == "administrator" and can_post is not False)
    assert result.ok == may_post
    if not may_post:
        assert result.outcome == "unhealthy" and "@news" in result.reason
