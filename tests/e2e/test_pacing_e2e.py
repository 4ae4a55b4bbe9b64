"""The burst figure with the product as it runs: `newsbot run` (a real Celery worker and the tick)
on a real Redis, the fake Telegram (enforcing its flood limits) and the fake X, time-scaled with
RATE_TIME_SCALE so that an hour of pacing takes six seconds.

20 posts land while newsbot is stopped (an outage); at start they are all due at once.  With
MAX_PER_HOUR=6 and MIN_SPACING_SECONDS=300 each platform receives at most 6 in any scaled hour,
at least the spacing apart, newest first after the first, and no 429.  A breaking post (its
record marked ``breaking="1"``, as the breaking lane's planner does) due behind the burst reaches
the channel within 2 s of coming due, while the backlog still waits.
"""

from __future__ import annotations

import itertools
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post

from bot.config import TESTING_SWITCH
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]

SCALE = 1 / 600  # an hour is 6 s, on both sides (the fakes and newsbot's limiter)
HOUR = 3600 * SCALE
SPACING = 300 * SCALE
CAP = 6


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(time_scale=SCALE) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(time_scale=SCALE) as server:
        yield server


def _max_in_any_hour(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + HOUR) for t in times), default=0)


def _story(text: str) -> str:
    found = re.search(r"Story (\d\d)", text)
    return found.group(1) if found else text


def test_a_burst_after_an_outage_is_paced_newest_first_and_breaking_goes_at_once(
    e2e, fake_tg, fake_x
):
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    env |= {"RATE_TIME_SCALE": repr(SCALE), TESTING_SWITCH: "1", "MAX_PER_HOUR": str(CAP),
            "MIN_SPACING_SECONDS": "300", "HEALTH_SECONDS": "0"}
    run = e2e.start("run", extra_env=env)
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), what="the baseline")
    assert run.stop(signal.SIGTERM) == 0  # first run: the (empty) baseline is recorded

    first = now_utc() - timedelta(minutes=30)
    for i in range(20):
        write_post(e2e.site, f"p{i:02d}", first + timedelta(minutes=i), title=f"Story {i:02d}",
                   image=False)
    # A breaking post due a few seconds into the catch-up (scheduled: waiting on the schedule).
    due = now_utc() + timedelta(seconds=12)
    write_post(e2e.site, "zz-breaking", due, title="Breaking story", image=False)
    started = time.time()
    e2e.start("run", extra_env=env)
    breaking = wait_for(lambda: [r for r in e2e.records("waiting")
                                 if r.post.endswith("/zz-breaking.html")
                                 and r.reason != "baseline"], 30, "the breaking records")
    for rec in breaking:  # what the breaking lane's planner does
        assert e2e.state.transition(*rec.ref, "waiting", "waiting", breaking="1",
                                    scheduled_at=rec.scheduled_at) is not None
    wait_for(lambda: len(e2e.records("sent")) == 42, 90, "all 42 sends")
    took = time.time() - started

    tg = sorted((c for c in itertools.chain(fake_tg.calls("sendMessage"))
                 if c.status == 200 and str(c.params.get("chat_id")) in (CHANNEL, str(CHAT_ID))),
                key=lambda c: c.time)
    tg_sends = [(c.time, _story(str(c.params.get("text", "")))) for c in tg]
    x_sends = sorted((p.created_at, _story(p.text)) for p in fake_x.posts)
    assert len(tg_sends) == len(x_sends) == 21
    for sends in (tg_sends, x_sends):
        paced = [(t, s) for t, s in sends if s.isdigit()]
        [(b_at, _)] = [(t, s) for t, s in sends if not s.isdigit()]
        times = [t for t, _ in paced]
        assert _max_in_any_hour(times) <= CAP
        assert min(b - a for a, b in itertools.pairwise(times)) >= SPACING
        assert times[CAP] - times[0] >= HOUR  # the cap binds: the 7th waits for the hour
        names = [s for _, s in paced[1:]]
        assert names == sorted(names, reverse=True)  # BACKLOG_ORDER=newest (the default)
        # not held by pacing: within 2 s of coming due, with paced posts still waiting after it
        assert b_at - due.timestamp() <= 2.0
        assert any(t > b_at for t in times)
    assert fake_tg.count_429 == 0
    assert took < 60


def _site_key(e2e) -> str:
    from bot.delivery.services import site_key_of
    from bot.sources.site import SiteConfig

    return site_key_of(SiteConfig.load(e2e.site))
