"""What deliver() records in the metrics, through the real publishers and the fake platforms."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from delivery_helpers import CHANNEL, queued_post

from bot.delivery.schedule import bucket_name
from bot.delivery.sender import deliver
from bot.metrics import REGISTRY
from fakes.telegram import FakeTelegram
from fakes.x import FakeX


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """The change of a few samples across a block (the registry is the process's own)."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(n, **labels) for n, labels in samples]

    def __call__(self) -> list[float]:
        return [value(n, **labels) - b for (n, labels), b in zip(self.samples, self.before,
                                                                  strict=True)]


def test_a_sent_post_counts_once_per_platform_with_its_latencies(live, site: Path,
                                                                 fake_tg: FakeTelegram,
                                                                 fake_x: FakeX):
    svc = live()
    keys = queued_post(svc, site)
    delta = Delta(("newsbot_sends_total", {"platform": "telegram", "outcome": "sent"}),
                  ("newsbot_sends_total", {"platform": "x", "outcome": "sent"}),
                  ("newsbot_file_to_send_seconds_count", {"platform": "telegram"}),
                  ("newsbot_live_to_send_seconds_count", {"platform": "x"}),
                  ("newsbot_live_to_send_seconds_sum", {"platform": "x"}),
                  ("newsbot_file_to_send_seconds_sum", {"platform": "telegram"}))
    started = time.time()
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert deliver(svc, keys["x"], owner="x") == "sent"
    assert deliver(svc, keys["x"], owner="x2") == "not_queued"  # no second count
    took = time.time() - started
    tg_sent, x_sent, file_count, live_count, live_sum, file_sum = delta()
    assert (tg_sent, x_sent, file_count, live_count) == (1, 1, 1, 1)
    # the post is dated two minutes ago; its file was written just before the scan
    assert 120 <= live_sum <= 120 + took + 30
    assert 0 <= file_sum <= took + 30


def test_a_429_is_a_retry_and_a_platform_rate_wait_of_its_retry_after(
    live, site: Path, fake_tg: FakeTelegram
):
    svc = live()
    key = queued_post(svc, site)["telegram"]
    fake_tg.fail_next("sendPhoto", status=429, retry_after=7)
    delta = Delta(("newsbot_sends_total", {"platform": "telegram", "outcome": "retry"}),
                  ("newsbot_retries_total", {"platform": "telegram", "reason": "rate_limited"}),
                  ("newsbot_rate_limit_waits_total", {"platform": "telegram",
                                                      "source": "platform"}),
                  ("newsbot_rate_limit_wait_seconds_total", {"platform": "telegram",
                                                             "source": "platform"}))
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    assert delta() == [1, 1, 1, 7]


def test_transient_errors_are_retries_then_a_failure(live, site: Path, fake_x: FakeX):
    svc = live(max_attempts=2)
    key = queued_post(svc, site)["x"]
    fake_x.fail_next("/2/tweets", status=503, count=5)
    delta = Delta(("newsbot_sends_total", {"platform": "x", "outcome": "retry"}),
                  ("newsbot_sends_total", {"platform": "x", "outcome": "failed"}),
                  ("newsbot_retries_total", {"platform": "x", "reason": "transient"}))
    now = svc.state.now()
    assert deliver(svc, key, owner="a", now=now) == "retry_wait"
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "failed"
    assert delta() == [1, 1, 1]


def test_a_lost_answer_on_telegram_counts_in_doubt(live, site: Path, fake_tg: FakeTelegram):
    """The fake processes the send and drops the connection: the post may be out."""
    svc = live()
    key = queued_post(svc, site)["telegram"]
    fake_tg.drop_next("sendPhoto", after_processing=True)
    delta = Delta(("newsbot_sends_total", {"platform": "telegram", "outcome": "in_doubt"}),
                  ("newsbot_sends_total", {"platform": "telegram", "outcome": "sent"}),
                  ("newsbot_file_to_send_seconds_count", {"platform": "telegram"}))
    assert deliver(svc, key, owner="a") == "in_doubt"
    assert delta() == [1, 0, 0]


def test_our_own_limiter_holding_a_send_is_a_local_rate_wait(live, site: Path,
                                                            fake_tg: FakeTelegram):
    svc = live(rate_time_scale=1.0)
    key = queued_post(svc, site)["telegram"]
    now = svc.state.now()
    svc.limiter.block_until(bucket_name("telegram", CHANNEL), now + 30, now=now)
    delta = Delta(("newsbot_rate_limit_waits_total", {"platform": "telegram",
                                                      "source": "local"}),
                  ("newsbot_rate_limit_wait_seconds_total", {"platform": "telegram",
                                                             "source": "local"}),
                  ("newsbot_sends_total", {"platform": "telegram", "outcome": "sent"}))
    assert deliver(svc, key, owner="a", now=now) == "rate_wait"
    waits, seconds, sent = delta()
    assert waits == 1 and seconds == pytest.approx(30, abs=0.05) and sent == 0
