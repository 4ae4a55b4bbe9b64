"""Deploy-aware publishing end to end: `newsbot run` (real Celery worker, watcher, the live
checker thread) with WAIT_FOR_LIVE=true, python-telegram-bot and tweepy against the fakes, and a
local site server.  Judged by what the fakes received: nothing while the page is 404; with
LIVE_POLL_SECONDS=30 a page that turns 200 is not picked up by the poll within seconds, but a
deploy signal (what the webhook endpoint records) sends it at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post

from bot.config import TESTING_SWITCH
from bot.state.deploy_signal import DeploySignals
from fakes.site import FakeSite
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(time_scale=0.01) as server:
        yield server


@pytest.fixture
def fake_site() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


def test_newsbot_run_waits_for_the_page_and_a_deploy_signal_sends_at_once(
        e2e: Any, fake_tg: FakeTelegram, fake_x: FakeX, fake_site: FakeSite) -> None:
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    env |= {"WAIT_FOR_LIVE": "true", "LIVE_POLL_SECONDS": "30", "SITE_URL": fake_site.base_url,
            "IMAGE_ALLOW_PRIVATE_HOSTS": "true", "HEALTH_SECONDS": "0",
            "RATE_TIME_SCALE": "0.1", TESTING_SWITCH: "1"}
    e2e.start("run", extra_env=env)
    wait_for(e2e.baseline_done, 60, "the baseline")  # what is written now is new
    write_post(e2e.site, "deploy", now_utc(), title="Deploy day", image=False)
    held = wait_for(lambda: [r for r in e2e.records("waiting")
                             if r.reason == "not live: HTTP 404"], 30, "the post held")
    path = urlsplit(held[0].post).path
    wait_for(lambda: len([r for r in e2e.records("waiting")
                          if r.reason.startswith("not live: ")]) == 2, 15, "both held")
    fake_site.page(path, "Deploy day")
    time.sleep(3)  # the next poll is 30 s away: nothing yet
    assert fake_tg.channel_posts(CHAT_ID) == [] and fake_x.posts == []
    signalled = time.time()
    DeploySignals(e2e.state.client).signal("deploy-hook")
    wait_for(lambda: len(fake_tg.channel_posts(CHAT_ID)) == 1 and len(fake_x.posts) == 1, 10,
             "both sends after the signal")
    took = time.time() - signalled
    assert took < 2.0, took
    # the receipts are written just after the platforms answered
    wait_for(lambda: len(e2e.records("sent")) == 2, 10, "both records sent")
