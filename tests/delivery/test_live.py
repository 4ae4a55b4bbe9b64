"""Deploy-aware publishing in the delivery core: real Services, real Redis, the real publishers
over HTTP to the fakes, and a local site server (fakes/site.py) playing the deployed site.  A
teaser never goes out while its page is not live; the moment it is, it goes out within about a
second; a deploy signal checks at once; the editors hear once about a page that never came up;
an editor's push overrides the check."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from delivery_helpers import CHAT_ID, Queue, live_env, now_utc, wait_for, write_post

from bot.actions.publish import push
from bot.actions.status import status
from bot.delivery.live import NOT_LIVE_PREFIX, LiveChecks, enabled, live_book
from bot.delivery.planner import scan
from bot.delivery.sender import deliver
from bot.delivery.services import Services
from bot.editor.outbox import NoticeDispatcher
from bot.state.deploy_signal import DeploySignals
from fakes.site import FakeSite
from fakes.telegram import FakeTelegram
from fakes.x import FakeX
from tasks.live_checks import LiveChecker

EDITORS = -100777


@pytest.fixture
def fake_site() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


class Worker:
    """What a Celery worker does with an enqueued key: ``deliver`` it, here in a thread, and
    the time each send returned (for the timing checks)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.outcomes: list[tuple[str, str, float]] = []

    def __call__(self, key: str) -> None:
        def run() -> None:
            for _ in range(100):
                outcome = deliver(self.svc, key, owner="test-worker")
                if outcome not in ("rate_wait", "not_queued", "busy"):
                    break
                time.sleep(0.05)
                self.svc.state.promote_due()
            self.outcomes.append((key, outcome, time.time()))
        threading.Thread(target=run, daemon=True).start()


def build(make_services: Any, fake_tg: FakeTelegram, fake_x: FakeX, site_server: FakeSite,
          **extra: Any) -> Services:
    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    return make_services(**{**live_env(fake_tg, fake_x), "site_url": site_server.base_url,
                            "wait_for_live": True, "image_allow_private_hosts": True,
                            "telegram_editor_chat": str(EDITORS), "bot_language": "en",
                            "health_seconds": 0, **extra})


def land(svc: Services, site: Path, slug: str = "storm") -> tuple[str, str, dict[str, str]]:
    """Baseline, then a new post file: (its URL, its page path, platform -> record key)."""
    scan(svc, enqueue=Queue())
    write_post(site, slug, now_utc(), title=f"Storm {slug} arrives", image=False)
    queue = Queue()
    scan(svc, enqueue=queue)
    keys = {svc.state.get_by_key(k).platform: k for k in queue.keys}
    url = svc.state.get_by_key(queue.keys[0]).post
    return url, urlsplit(url).path, keys


def channel_sends(fake_tg: FakeTelegram) -> list[Any]:
    return fake_tg.channel_posts(CHAT_ID)


def editor_texts(svc: Services, fake_tg: FakeTelegram) -> list[str]:
    sender = NoticeDispatcher.from_settings(svc.settings, svc)
    assert sender is not None
    try:
        sender.drain()
    finally:
        sender.close()
    return [m.text or "" for m in fake_tg.channel_posts(EDITORS)]


def test_a_404_holds_the_post_and_the_200_sends_it_within_a_second(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site)
    _url, path, keys = land(svc, site)
    for key in keys.values():
        assert deliver(svc, key, owner="w") == "not_live"
        rec = svc.state.get_by_key(key)
        assert (rec.state, rec.reason) == ("waiting", NOT_LIVE_PREFIX + "HTTP 404")
    assert {p["label"] for p in status(svc).pending} == {"waiting (not live)"}
    worker = Worker(svc)
    checker = LiveChecker(svc, worker).start()
    assert checker is not None
    try:
        time.sleep(2.5)  # polled about once a second: still 404, nothing sent
        assert channel_sends(fake_tg) == [] and fake_x.posts == []
        assert len(fake_site.requests(path)) >= 3
        fake_site.page(path, "Storm storm arrives")
        turned = fake_site.live_since(path)
        assert turned is not None
        wait_for(lambda: len(worker.outcomes) == 2, timeout=5, what="both sends")
    finally:
        checker.stop()
    assert sorted(o for _, o, _ in worker.outcomes) == ["sent", "sent"]
    for _, _, at in worker.outcomes:
        assert at - turned < 1.6
    assert len(channel_sends(fake_tg)) == 1 and len(fake_x.posts) == 1
    # nothing ever went out while the page was 404
    first_sent = min(at for _, _, at in worker.outcomes)
    assert first_sent >= turned


def test_a_stale_page_a_500_and_a_missing_image_are_not_live(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site)
    scan(svc, enqueue=Queue())
    write_post(site, "pic", now_utc(), title="Pictures arrive", image=True)
    queue = Queue()
    scan(svc, enqueue=queue)
    key = queue.keys[0]
    path = urlsplit(svc.state.get_by_key(key).post).path

    fake_site.page(path, "An older story")
    assert deliver(svc, key, owner="w") == "not_live"
    assert svc.state.get_by_key(key).reason.startswith(NOT_LIVE_PREFIX + "stale page (title")
    checks = LiveChecks(svc, Queue())
    try:
        fake_site.status(path, 500)
        assert checks.round(force=True, wait=True) == 1
        assert svc.state.get_by_key(key).reason == NOT_LIVE_PREFIX + "HTTP 500"
        fake_site.page(path, "Pictures arrive")  # the page is up, its image is not
        checks.round(force=True, wait=True)
        assert svc.state.get_by_key(key).reason.startswith(
            NOT_LIVE_PREFIX + "image HTTP 404 at ")
        fake_site.image("/assets/feature.jpg")
        released = Queue()
        checks.enqueue = released
        checks.round(force=True, wait=True)
    finally:
        checks.close()
    assert released.keys == [key]  # the one delivered (so held); the other never ran
    assert channel_sends(fake_tg) == [] and fake_x.posts == []


def test_a_deploy_signal_checks_at_once_not_at_the_next_poll(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site, live_poll_seconds=60)
    _, path, keys = land(svc, site)
    for key in keys.values():
        assert deliver(svc, key, owner="w") == "not_live"
    worker = Worker(svc)
    checker = LiveChecker(svc, worker).start()
    assert checker is not None
    try:
        time.sleep(0.5)
        fake_site.page(path, "Storm storm arrives")
        time.sleep(1.5)
        assert worker.outcomes == []  # the next poll is a minute away
        signalled = time.time()
        DeploySignals(svc.state.client, svc.state.namespace).signal("deploy-hook")
        wait_for(lambda: len(worker.outcomes) == 2, timeout=5, what="both sends")
    finally:
        checker.stop()
    assert all(o == "sent" for _, o, _ in worker.outcomes)
    assert max(at for _, _, at in worker.outcomes) - signalled < 1.5


def test_never_live_is_reported_once_and_a_push_overrides(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site, live_timeout_minutes=0.01)
    url, path, keys = land(svc, site)
    key = keys["telegram"]
    assert deliver(svc, key, owner="w") == "not_live"
    checks = LiveChecks(svc, Queue())
    try:
        time.sleep(0.7)  # past the timeout (0.6 s)
        checks.round(force=True, wait=True)
        checks.round(force=True, wait=True)
        checks.round(force=True, wait=True)
    finally:
        checks.close()
    assert sum(o.reported for o in checks.outcomes) == 1
    said = [t for t in editor_texts(svc, fake_tg) if "Page not live" in t]
    assert len(said) == 1 and "HTTP 404" in said[0] and path in said[0]
    assert "Not live within LIVE_TIMEOUT_MINUTES" in said[0] and "/push" in said[0]
    assert svc.state.get_by_key(key).state == "waiting"  # still waiting, never sent
    assert channel_sends(fake_tg) == []

    queue = Queue()
    report = push(svc, url, who="editor:1", enqueue=queue, platforms=("telegram",))
    assert report.ok, report
    assert deliver(svc, key, owner="w") == "sent"  # the editor's push skips the check
    assert len(channel_sends(fake_tg)) == 1
    assert live_book(svc).get(url).status == "HTTP 404"


def test_turning_wait_for_live_off_hands_back_what_was_held(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site)
    _, _, keys = land(svc, site)
    assert deliver(svc, keys["x"], owner="w") == "not_live"
    off = build(make_services, fake_tg, fake_x, fake_site, wait_for_live=False)
    queue = Queue()
    assert LiveChecker(off, queue).start() is None  # no thread: nothing to wait for
    assert queue.keys == [keys["x"]]
    assert svc.state.get_by_key(keys["x"]).state == "queued"
    assert deliver(off, keys["x"], owner="w") == "sent"


def test_a_dry_run_does_not_wait_by_default(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    with_keys = build(make_services, fake_tg, fake_x, fake_site, wait_for_live=None)
    assert enabled(with_keys)  # the default with credentials and an http(s) site
    svc = make_services(site_url=fake_site.base_url, wait_for_live=None)
    assert not enabled(svc)
    scan(svc, enqueue=Queue())
    write_post(site, "dry", now_utc(), title="Dry run", image=False)
    queue = Queue()
    scan(svc, enqueue=queue)
    assert [deliver(svc, k, owner="w") for k in queue.keys] == ["sent"] * len(queue.keys)
    assert fake_site.requests() == []


def test_a_slow_page_is_bounded_and_never_delays_another_posts_check(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    svc = build(make_services, fake_tg, fake_x, fake_site)
    scan(svc, enqueue=Queue())
    write_post(site, "slow", now_utc(), title="Slow page", image=False)
    write_post(site, "quick", now_utc(), title="Quick page", image=False)
    queue = Queue()
    scan(svc, enqueue=queue)
    recs = {svc.state.get_by_key(k).post.rsplit("/", 1)[-1]: k for k in queue.keys
            if svc.state.get_by_key(k).platform == "telegram"}
    slow, quick = recs["slow.html"], recs["quick.html"]
    for key in (slow, quick):
        assert deliver(svc, key, owner="w") == "not_live"
    slow_path = urlsplit(svc.state.get_by_key(slow).post).path
    quick_path = urlsplit(svc.state.get_by_key(quick).post).path
    fake_site.page(slow_path, "Slow page", drip_seconds=3.0)  # one byte every 3 s
    released = Queue()
    checks = LiveChecks(svc, released)
    try:
        checks.round(force=True)  # the slow check starts and hangs on its page
        time.sleep(0.3)
        fake_site.page(quick_path, "Quick page")
        turned = time.monotonic()
        wait_for(lambda: (checks.round(), released.keys)[1], timeout=3, interval=0.25,
                 what="the quick page released")
        assert released.keys == [quick] and time.monotonic() - turned < 1.5
        started = time.monotonic()
        wait_for(lambda: "timed out" in svc.state.get_by_key(slow).reason, timeout=15,
                 what="the slow page's reason")
        assert time.monotonic() - started < 12  # cut at the 10 s deadline
    finally:
        checks.close()
    rec = svc.state.get_by_key(slow)
    assert rec.state == "waiting" and rec.reason.startswith(NOT_LIVE_PREFIX + "timed out")


def test_the_checker_reads_only_the_posts_held_for_their_page(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX,
        fake_site: FakeSite) -> None:
    """A round runs five times a second: it reads the held records through the live:held
    index, not every waiting record (a paced backlog can keep thousands waiting), and drops
    members that no longer wait for their page."""
    from bot.delivery.live import LiveChecks
    from bot.state.live import LiveBook

    svc = build(make_services, fake_tg, fake_x, fake_site)
    _url, path, keys = land(svc, site)
    for key in keys.values():
        assert deliver(svc, key, owner="w") == "not_live"
    book = LiveBook(svc.state.client, namespace=svc.state.namespace)
    assert book.held_rids() == set(keys.values())
    book.index_held("0" * 24)  # a record that does not exist (any more)
    released: list[str] = []
    checks = LiveChecks(svc, enqueue=released.append)
    try:
        held = checks.waiting()
        assert sorted(r.key for recs in held.values() for r in recs) == sorted(keys.values())
        assert book.held_rids() == set(keys.values())  # the stale member is gone
        fake_site.page(path, "Storm storm arrives")
        checks.round(force=True, wait=True)
        assert sorted(released) == sorted(keys.values())
        assert checks.waiting() == {} and book.held_rids() == set()  # queued: out of the index
    finally:
        checks.close()
