"""Issue 11's combined figures, one round each, in real processes: `newsbot run` (Celery worker,
tick, live checker, file events or the Git webhook) with WAIT_FOR_LIVE=true against the fakes of
Telegram and X and a local site server (fakes/site.py).  benchmarks/bench_newsroom.py measures
the same over many rounds.

The bounds here are looser than the issue's (3 s instead of 2 s / 1.5 s) so a busy 2-core machine
does not flake them, yet a breaking post held by pacing (MAX_PER_HOUR=6 at an hour of 60 s holds
it for tens of seconds) or a post sent while its page is 404 fails them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post
from git_remote import Remote  # loaded by tests/conftest.py

from bot.config import TESTING_SWITCH
from bot.webhook import github_signature
from fakes.site import FakeSite
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]

SCALE = 1 / 60  # an hour of pacing is 60 s: the burst stays paced for the whole test
LIVE_AFTER = 3.0  # seconds until the watched post's page turns 200
BOUND = 3.0  # the 2 s (1.5 s Telegram after a push), loosened for a busy machine
SECRET = "whsec-TEST-fake-secret-not-real-newsroom-0123"


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(time_scale=SCALE) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(time_scale=SCALE) as server:
        yield server


@pytest.fixture
def fake_site() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


def _env(fake_tg: FakeTelegram, fake_x: FakeX, fake_site: FakeSite) -> dict[str, str]:
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    return env | {"WAIT_FOR_LIVE": "true", "LIVE_POLL_SECONDS": "1",
                  "SITE_URL": fake_site.base_url, "IMAGE_ALLOW_PRIVATE_HOSTS": "true",
                  "HEALTH_SECONDS": "0", "RATE_TIME_SCALE": repr(SCALE), TESTING_SWITCH: "1"}


def _arrivals(fake_tg: FakeTelegram, fake_x: FakeX, title: str) -> tuple[float, float] | None:
    """When the fake Telegram and the fake X received ``title``, once both did."""
    tg = next((c.time for c in fake_tg.calls("sendMessage")
               if c.status == 200 and title in str(c.params.get("text", ""))), None)
    x = next((p.created_at for p in fake_x.posts if title in p.text), None)
    return (tg, x) if tg is not None and x is not None else None


def _go_live_later(site: FakeSite, path: str, title: str) -> threading.Timer:
    timer = threading.Timer(LIVE_AFTER, site.page, args=(path, title))
    timer.daemon = True
    timer.start()
    return timer


def _page(when: Any, slug: str) -> str:
    return f"/{when:%Y/%m/%d}/{slug}.html"


def test_a_breaking_post_behind_a_paced_burst_goes_once_its_page_is_live(
        e2e: Any, fake_tg: FakeTelegram, fake_x: FakeX, fake_site: FakeSite) -> None:
    e2e.start("run", extra_env=_env(fake_tg, fake_x, fake_site) | {"MAX_PER_HOUR": "6"})
    wait_for(e2e.baseline_done, 60, "the baseline")  # what is written now is new
    when = now_utc() - timedelta(minutes=1)
    for i in range(20):
        fake_site.page(_page(when, f"burst-{i:02d}"), f"Burst {i:02d}")  # already live
        write_post(e2e.site, f"burst-{i:02d}", when, title=f"Burst {i:02d}", image=False)
    wait_for(lambda: len([r for r in e2e.records() if "burst-" in r.post]) == 40, 30,
             "the burst planned")
    time.sleep(1.5)  # the burst's publish tasks settle: six go, the rest are paced

    path = _page(when, "breaking")
    write_post(e2e.site, "breaking", when, title="Breaking alert", extra="breaking: true",
               image=False)
    timer = _go_live_later(fake_site, path, "Breaking alert")
    try:
        tg_at, x_at = wait_for(lambda: _arrivals(fake_tg, fake_x, "Breaking alert"), 30,
                               "the breaking post on both platforms", interval=0.01)
    finally:
        timer.cancel()
    live = fake_site.live_since(path)
    assert live is not None, "sent while its page was 404: the page never went live"
    assert live <= tg_at <= live + BOUND, (tg_at - live)  # not before the 200, not paced
    assert live <= x_at <= live + BOUND, (x_at - live)
    still_paced = [r for r in e2e.records("waiting") if "burst-" in r.post]
    assert still_paced, "the burst was not paced: the breaking post was not behind it"




def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_pushed_post_is_scanned_on_the_webhook_and_sent_once_its_page_is_live(
        e2e: Any, fake_tg: FakeTelegram, fake_x: FakeX, fake_site: FakeSite) -> None:
    remote = Remote(e2e.tmp / "git")
    remote.add_post("first", "First")  # the baseline
    port = _free_port()
    proc = e2e.start("run", extra_env=_env(fake_tg, fake_x, fake_site) | {
        "SITE_GIT_URL": remote.url, "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "WEBHOOK_SECRET": SECRET})
    wait_for(lambda: "baseline=true" in proc.text(), 30, "the first scan")

    when = now_utc() - timedelta(minutes=1)
    write_post(remote.work, "pushed", when, title="Pushed story", image=False)
    remote.commit("post pushed")
    body = json.dumps({"ref": "refs/heads/main",
                       "repository": {"default_branch": "main"}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/github", data=body, method="POST",
        headers={"X-GitHub-Event": "push", "Content-Type": "application/json",
                 "X-Hub-Signature-256": github_signature(SECRET, body)})
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    path = _page(when, "pushed")
    timer = _go_live_later(fake_site, path, "Pushed story")
    try:
        wait_for(lambda: [r for r in e2e.records() if r.post.endswith("/pushed.html")], 10,
                 "the pushed post planned", interval=0.005)
        planned = time.monotonic() - sent
        assert planned < BOUND, planned  # webhook -> pull, scan, plan (the issue: start < 1 s)
        tg_at, x_at = wait_for(lambda: _arrivals(fake_tg, fake_x, "Pushed story"), 30,
                               "the pushed post on both platforms", interval=0.01)
    finally:
        timer.cancel()
    live = fake_site.live_since(path)
    assert live is not None, "sent while its page was 404: the page never went live"
    assert live <= tg_at <= live + BOUND, (tg_at - live)
    assert live <= x_at <= live + BOUND, (x_at - live)
