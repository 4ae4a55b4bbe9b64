"""Seeded fault plans of both fakes (``fakes.faults``) and their watch on early requests.

The proof suites judge the product by these: a plan must give the faults it says (the answers
real clients see from a bad platform day, contracts A2 and B3), the same seed the same plan, and
the watch must count a request that did not wait for a 429 and only such a request.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import requests
import telegram
from requests_oauthlib import OAuth1
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from fakes.faults import FAULT_KINDS, FaultPlan, RateWatch
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHANNEL = -1001234567890
CREDS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-secret")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHANNEL, "faultchannel")
        yield server


@pytest.fixture
def x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def _send(tg: FakeTelegram, text: str = "hello", timeout: float = 5.0) -> httpx.Response:
    return httpx.post(f"{tg.bot_base_url}{tg.token}/sendMessage",
                      data={"chat_id": "@faultchannel", "text": text}, timeout=timeout)


def _auth() -> OAuth1:
    return OAuth1(CREDS[0], client_secret=CREDS[1], resource_owner_key=CREDS[2],
                  resource_owner_secret=CREDS[3], decoding=None)


def _tweet(x: FakeX, text: str, timeout: float = 5.0) -> requests.Response:
    return requests.post(x.base_url + "/2/tweets", json={"text": text}, auth=_auth(),
                         timeout=timeout)


# ---------------------------------------------------------------- the plan itself
def test_same_seed_same_plan_and_the_share_asked_for() -> None:
    def draws(seed: int) -> list[str | None]:
        plan = FaultPlan(0.3, seed=seed)
        return [f.kind if (f := plan.draw()) else None for _ in range(3000)]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    share = sum(k is not None for k in first) / len(first)
    assert 0.27 < share < 0.33
    kinds = Counter(k for k in first if k)
    assert set(kinds) == set(FAULT_KINDS)
    assert min(kinds.values()) > 100  # every kind drawn, none starved


def test_limits_cap_a_kind_and_the_others_take_its_share() -> None:
    plan = FaultPlan(0.5, seed=1, limits={"hang": 2})
    faults = [plan.draw("k") for _ in range(2000)]
    assert plan.injected["hang"] == 2
    assert 0.46 < plan.faulted / plan.calls < 0.54
    assert len(plan.log) == plan.faulted == sum(f is not None for f in faults)


def test_retry_after_within_bounds_and_bad_plans_refused() -> None:
    plan = FaultPlan(1.0, ("429",), seed=3, retry_after=(1, 5))
    seconds = {plan.draw().retry_after for _ in range(300)}  # type: ignore[union-attr]
    assert seconds == {1, 2, 3, 4, 5}
    with pytest.raises(ValueError):
        FaultPlan(0.3, ("teapot",))
    with pytest.raises(ValueError):
        FaultPlan(1.5)
    with pytest.raises(ValueError):
        FaultPlan(0.3, retry_after=(0, 5))


def test_watch_counts_only_requests_after_the_answer_and_before_the_wait() -> None:
    watch = RateWatch()
    watch.answered_429("k", until=110.0, at=100.0)
    assert not watch.arrived("k", 99.9)  # on its way before the 429 left
    assert watch.arrived("k", 105.0)
    assert not watch.arrived("other", 105.0)
    assert not watch.arrived("k", 110.0)
    assert [e.at for e in watch.early] == [105.0]
    watch.answered_429("k", until=105.0, at=101.0)  # a shorter wait does not shorten it
    assert watch.arrived("k", 107.0)


# ---------------------------------------------------------------- Telegram
def test_telegram_429_has_retry_after_and_an_early_request_is_counted(tg: FakeTelegram) -> None:
    tg.set_fault_plan(1.0, ("429",), seed=5)
    first = _send(tg)
    assert first.status_code == 429
    body = first.json()
    wait = body["parameters"]["retry_after"]
    assert 1 <= wait <= 5 and first.headers["Retry-After"] == str(wait)
    assert body["description"] == f"Too Many Requests: retry after {wait}"
    assert len(tg.rate_watch.blocks) == 1 and not tg.rate_watch.early
    tg.clear_fault_plan()
    assert _send(tg).status_code == 200  # too early: answered, but counted
    assert [e.key for e in tg.rate_watch.early] == [("chat", CHANNEL)]
    assert httpx.post(f"{tg.bot_base_url}{tg.token}/getMe").status_code == 200


def test_telegram_plan_touches_only_its_methods(tg: FakeTelegram) -> None:
    tg.set_fault_plan(1.0, ("500",), methods=("sendPhoto",))
    assert _send(tg).status_code == 200
    tg.set_fault_plan(1.0, ("500", "502"), seed=2)
    statuses = {_send(tg).status_code for _ in range(20)}
    assert statuses == {500, 502}
    assert tg.channel_posts(CHANNEL)[0].text == "hello" and len(tg.channel_posts(CHANNEL)) == 1


def test_telegram_reset_drop_and_hang_as_ptb_sees_them(tg: FakeTelegram) -> None:
    async def send(kind: str, text: str, timeout: float = 5.0) -> None:
        request = HTTPXRequest(read_timeout=timeout, connection_pool_size=2)
        bot = telegram.Bot(tg.token, base_url=tg.bot_base_url, request=request)
        tg.set_fault_plan(1.0, (kind,), hang_seconds=1.0)
        try:
            await bot.send_message(CHANNEL, text)
        finally:
            tg.clear_fault_plan()
            await request.shutdown()

    import asyncio

    with pytest.raises(NetworkError) as reset:
        asyncio.run(send("reset", "reset one"))
    assert isinstance(reset.value.__cause__, httpx.TransportError)
    with pytest.raises(NetworkError) as dropped:
        asyncio.run(send("drop", "dropped one"))
    assert isinstance(dropped.value.__cause__, httpx.TransportError)
    with pytest.raises(TimedOut):
        asyncio.run(send("hang", "slow one", timeout=0.3))
    time.sleep(1.0)
    texts = [m.text for m in tg.channel_posts(CHANNEL)]
    assert texts == ["dropped one", "slow one"]  # the reset did nothing, the others did
    with pytest.raises(RetryAfter):
        asyncio.run(send("429", "limited"))


def test_telegram_reset_is_a_tcp_reset(tg: FakeTelegram) -> None:
    tg.set_fault_plan(1.0, ("reset",))
    body = b"chat_id=%40faultchannel&text=x"
    request = (f"POST /bot{tg.token}/sendMessage HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection((tg.host, tg.port), timeout=5) as sock:
        sock.sendall(request)
        with pytest.raises(ConnectionResetError):
            while sock.recv(1024):
                pass


# ---------------------------------------------------------------- X
def test_x_429_has_a_future_reset_and_an_early_request_is_counted(x: FakeX) -> None:
    x.set_fault_plan(1.0, ("429",), seed=4)
    first = _tweet(x, "one")
    assert first.status_code == 429
    reset = int(first.headers["x-rate-limit-reset"])
    assert time.time() < reset <= time.time() + 6
    assert first.headers["x-rate-limit-remaining"] == "0"
    assert first.json()["title"] == "Too Many Requests"
    x.clear_fault_plan()
    assert _tweet(x, "two").status_code == 201
    assert [e.key for e in x.rate_watch.early] == ["tweets"]
    assert x.rate_watch.blocks[0].until == reset
    upload = requests.post(x.base_url + "/2/media/metadata", json={}, auth=_auth(), timeout=5)
    assert upload.status_code == 400  # another endpoint: not early
    assert len(x.rate_watch.early) == 1


def test_x_reset_drop_hang_and_server_errors(x: FakeX) -> None:
    x.set_fault_plan(1.0, ("reset",))
    with pytest.raises(requests.ConnectionError):
        _tweet(x, "reset one")
    x.set_fault_plan(1.0, ("drop",))
    with pytest.raises(requests.ConnectionError):
        _tweet(x, "dropped one")
    x.set_fault_plan(1.0, ("hang",), hang_seconds=1.0)
    with pytest.raises(requests.Timeout):
        _tweet(x, "slow one", timeout=0.3)
    x.set_fault_plan(1.0, ("500", "502"), seed=1)
    assert {_tweet(x, f"e{i}").status_code for i in range(20)} == {500, 502}
    x.clear_fault_plan()
    time.sleep(1.0)
    assert [p.text for p in x.posts] == ["dropped one", "slow one"]
    assert all(e.at > 0 for e in x.journal)


def test_x_plan_rate_over_many_calls_is_the_share_asked_for() -> None:
    with FakeX(rate_limit_15min=10_000, user_24h_limit=10_000) as x:
        plan = x.set_fault_plan(0.3, ("500", "502"), seed=9)
        statuses = [_tweet(x, f"post {i}").status_code for i in range(200)]
    assert plan.calls == 200
    assert statuses.count(201) == 200 - plan.faulted
    assert 0.2 < plan.faulted / 200 < 0.4


def test_a_429_nobody_reads_is_no_wait_for_anyone() -> None:
    """A hung call answered with a 429 after its client gave up told nobody to wait: the
    client's next requests are not early."""
    with FakeTelegram(time_scale=1.0) as tg:
        tg.add_chat(CHANNEL, "faultchannel")
        assert _send(tg, "first").status_code == 200
        tg.delay_next("sendMessage", 0.5)
        with pytest.raises(httpx.ReadTimeout):
            _send(tg, "second", timeout=0.2)
        time.sleep(0.6)
        assert tg.calls("sendMessage")[-1].status == 429  # the fake's own 1/s limit
        assert not tg.rate_watch.blocks and tg.rate_watch.unread == 1
    with FakeX() as x:
        x.delay_next("/2/tweets", 0.5)
        x.fail_next("/2/tweets", status=429)
        with pytest.raises(requests.Timeout):
            _tweet(x, "late", timeout=0.2)
        time.sleep(0.6)
        assert x.count_429 == 1 and not x.rate_watch.blocks and x.rate_watch.unread == 1
        assert _tweet(x, "next").status_code == 201
        assert not x.rate_watch.early


def test_a_client_still_waiting_is_seen_as_such_above_fd_1023(tg: FakeTelegram) -> None:
    """``select`` refuses descriptors above 1023: a long proof run got there (a Redis client per
    poll) and every 429 then looked unread, every answer "client gone"."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip("cannot open 1200 files here")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    spare = []
    try:
        while not spare or spare[-1] < 1030:
            spare.append(os.open(os.devnull, os.O_RDONLY))
        tg.set_fault_plan(1.0, ("429",))
        assert _send(tg).status_code == 429
        tg.clear_fault_plan()
        assert _send(tg).status_code == 200
    finally:
        for fd in spare:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(tg.rate_watch.blocks) == 1 and tg.rate_watch.unread == 0
    assert not any(c.client_gone for c in tg.journal)
    assert len(tg.rate_watch.early) == 1
