"""An X send that may be out is settled by reading the account's own recent posts.

Through the real XPublisher (tweepy) against the fake X, whose GET /2/users/:id/tweets shows the
posts as X does (t.co links, escaped text): a lost answer after X posted is recorded with the
post's real id and nothing is posted again; a worker that died before its request reached X has
its post sent once; when X cannot be read the editors decide, as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from delivery_helpers import live_env, queued_post

from bot.delivery.content import prepare
from bot.delivery.leases import reap_lost_leases
from bot.delivery.sender import DUPLICATE_NOTE, deliver
from bot.delivery.services import Services
from bot.editor.outbox import NoticeDispatcher
from bot.platforms.x import FOUND_NOTE, XPublisher
from bot.platforms.x_api import XCredentials
from fakes.telegram import FakeTelegram
from fakes.x import ACCOUNT_ID, FakeX

EDITORS = -100778
TIMELINE = f"/2/users/{ACCOUNT_ID}/tweets"


def _editor_chat(svc: Services, fake_tg: FakeTelegram) -> list[Any]:
    sender = NoticeDispatcher.from_settings(svc.settings, svc)
    assert sender is not None
    try:
        sender.drain()
    finally:
        sender.close()
    return fake_tg.channel_posts(EDITORS)


def _services(make_services, fake_tg: FakeTelegram, fake_x: FakeX, **extra: Any) -> Services:
    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    # A real top-level domain: twitter-text (and X) see a link only with one, and the fake X
    # shows it as a t.co link with its expanded URL, as X does.
    return make_services(**{**live_env(fake_tg, fake_x), "telegram_editor_chat": str(EDITORS),
                            "bot_language": "en", "site_url": "https://newsdao.kr", **extra})


def _dead_owner() -> str:
    """A lease owner naming a process of this machine that has exited (known dead)."""
    import subprocess
    import sys
    import time

    from bot.delivery.leases import worker_id
    from bot.processes import start_time

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = None
        deadline = time.monotonic() + 10
        while start is None and time.monotonic() < deadline:
            start = start_time(proc.pid)
        assert start is not None
    finally:
        proc.kill()
        proc.wait()
    host = worker_id().rsplit(":", 2)[0]
    return f"{host}:{proc.pid}:{start}/t:0123abcd"


def _posts_made(fake_x: FakeX) -> int:
    return len([c for c in fake_x.calls("/2/tweets") if c.method == "POST"])


def test_lost_answer_after_x_posted_is_settled_sent_with_the_posts_id(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x,
                    utm_template="utm_source={platform}&utm_medium=social")
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    now = svc.state.now()
    assert deliver(svc, key, owner="a", now=now) == "retry_wait"
    rec = svc.state.get_by_key(key)
    assert rec.maybe_sent and "[uncertain]" in rec.reason
    [tweet] = fake_x.posts  # X did post it; the answer was lost

    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    rec = svc.state.get_by_key(key)
    assert rec.state == "sent" and rec.receipt_id == tweet.id
    assert rec.receipt_url == f"https://x.com/i/web/status/{tweet.id}"
    assert FOUND_NOTE in rec.notes
    assert len(fake_x.posts) == 1 and _posts_made(fake_x) == 1  # not even a refused repeat
    [read] = fake_x.calls(TIMELINE)
    assert read.query["tweet.fields"] == ["created_at,entities"]
    assert svc.state.destination_names().get("x:x") == "@newsbot_test"


def test_a_post_found_on_the_account_is_announced_as_published(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x, notify_published=True)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    assert _editor_chat(svc, fake_tg) == []  # a retry_wait is nobody's business yet
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    (notice,) = _editor_chat(svc, fake_tg)
    assert "Published" in notice.text
    assert fake_x.posts[0].id in notice.text


def test_crash_before_x_posted_is_sent_once(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    rec = svc.state.get_by_key(key)
    owner = _dead_owner()  # passed the fence, then died before its request reached X
    assert svc.state.acquire_send(*rec.ref, owner=owner, lease_seconds=120, repeat_safe=True)
    assert svc.state.fence_send(*rec.ref, owner=owner, send_seconds=200)
    [reaped] = reap_lost_leases(svc.state)
    assert reaped.state == "retry_wait" and reaped.maybe_sent

    assert deliver(svc, key, owner="b", now=(reaped.scheduled_at or 0) + 0.01) == "sent"
    [tweet] = fake_x.posts
    rec = svc.state.get_by_key(key)
    assert rec.receipt_id == tweet.id and FOUND_NOTE not in rec.notes
    assert len(fake_x.calls(TIMELINE)) == 1 and _posts_made(fake_x) == 1
    assert [m for m in _editor_chat(svc, fake_tg) if "doubt" in (m.text or "").lower()] == []


def test_crash_after_x_posted_is_settled_without_a_second_post(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    rec = svc.state.get_by_key(key)
    owner = _dead_owner()
    assert svc.state.acquire_send(*rec.ref, owner=owner, lease_seconds=120, repeat_safe=True)
    assert svc.state.fence_send(*rec.ref, owner=owner, send_seconds=200)
    post = svc.find_post_by_url(rec.post)
    assert post is not None
    landed = XPublisher(XCredentials(*fake_x.credentials), api_url=fake_x.base_url).send(
        post, prepare(svc.tools, post, "x"))  # the dead worker's request did land
    [reaped] = reap_lost_leases(svc.state)

    assert deliver(svc, key, owner="b", now=(reaped.scheduled_at or 0) + 0.01) == "sent"
    rec = svc.state.get_by_key(key)
    assert rec.receipt_id == landed.id and len(fake_x.posts) == 1 and _posts_made(fake_x) == 1


def test_changed_content_is_still_recognised_by_its_link(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """Before, an edit between the lost answer and the retry sent the record to the editors
    (X's duplicate refusal cannot recognise other text); the link on the account settles it."""
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site, slug="edited")["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    path = next((site / "_posts").iterdir())
    path.write_text(path.read_text().replace("Big news edited", "Bigger news edited"))
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    [tweet] = fake_x.posts
    assert svc.state.get_by_key(key).receipt_id == tweet.id and "Big news" in tweet.text


def test_changed_content_absent_from_the_account_goes_out_once(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """The connection dropped before X acted: the account has no post with the link, so the
    edited text goes out, once."""
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site, slug="edited")["x"]
    fake_x.drop_next("/2/tweets", method="POST")  # dropped before X carried it out
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    assert svc.state.get_by_key(key).maybe_sent and fake_x.posts == []
    path = next((site / "_posts").iterdir())
    path.write_text(path.read_text().replace("Big news edited", "Bigger news edited"))
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    [tweet] = fake_x.posts
    assert "Bigger news" in tweet.text and svc.state.get_by_key(key).receipt_id == tweet.id


def test_changed_text_without_a_link_still_goes_to_the_editors(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """Without a link only the text identifies the post, and it changed: not found proves
    nothing, so the editors decide (as before), and nothing is posted a second time."""
    svc = _services(make_services, fake_tg, fake_x, x_link_mode="none")
    key = queued_post(svc, site, slug="edited")["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    path = next((site / "_posts").iterdir())
    path.write_text(path.read_text().replace("Big news edited", "Bigger news edited"))
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "in_doubt"
    assert len(fake_x.posts) == 1 and _posts_made(fake_x) == 1


def test_without_a_link_the_post_is_recognised_by_its_text(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x, x_link_mode="none")
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    [tweet] = fake_x.posts
    assert "http" not in tweet.text
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    assert svc.state.get_by_key(key).receipt_id == tweet.id and _posts_made(fake_x) == 1


def test_x_unreadable_leaves_it_in_doubt_for_the_editors(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    fake_x.fail_next("/2/users/", status=503, count=5)
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "in_doubt"
    rec = svc.state.get_by_key(key)
    assert rec.state == "in_doubt" and "could not be read" in rec.reason
    assert len(fake_x.posts) == 1 and _posts_made(fake_x) == 1  # never posted blindly
    doubts = [m for m in _editor_chat(svc, fake_tg) if "Big news news" in (m.text or "")]
    assert len(doubts) == 1 and doubts[0].reply_markup  # [Send again] [It went out]


def test_an_editors_send_again_is_honoured_when_x_still_cannot_be_read(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """The connection dropped before X acted, X cannot be read, the editors checked and pressed
    [Send again]: the read fails again, and the post goes out (once) instead of coming back to
    them."""
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", method="POST")  # not carried out
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    fake_x.fail_next("/2/users/", status=503, count=10)
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "in_doubt"
    svc.state.editor_resolve(*rec.ref, "resend", "tg:1001")
    assert deliver(svc, key, owner="c") == "sent"
    [tweet] = fake_x.posts
    assert svc.state.get_by_key(key).receipt_id == tweet.id and _posts_made(fake_x) == 2


def test_a_rate_limited_read_waits_for_its_reset(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    import time

    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    reset = int(time.time()) + 30
    fake_x.fail_next(TIMELINE, status=429, headers={"x-rate-limit-reset": str(reset)})
    rec = svc.state.get_by_key(key)
    at = rec.scheduled_at + 0.01
    assert deliver(svc, key, owner="b", now=at) == "retry_wait"
    rec = svc.state.get_by_key(key)
    assert rec.state == "retry_wait" and rec.maybe_sent and "rate limited reading" in rec.reason
    assert rec.scheduled_at is not None and rec.scheduled_at >= at + 20
    assert deliver(svc, key, owner="c", now=rec.scheduled_at + 0.01) == "sent"
    assert svc.state.get_by_key(key).receipt_id == fake_x.posts[0].id
    assert _posts_made(fake_x) == 1


def test_timeline_lag_falls_back_on_xs_duplicate_refusal(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """A post created a moment ago may not show yet: the retry posts, X refuses the identical
    repeat, and that refusal is recorded as sent (0 duplicates either way)."""
    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.timeline_lag = 3600.0
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    assert DUPLICATE_NOTE in (svc.state.get_by_key(key).receipt_id or "")
    assert len(fake_x.posts) == 1


def test_once_x_can_be_read_again_the_doubt_settles_by_itself(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """X could not be read, so the editors were asked; nobody answered.  Once the account can be
    read again, the record is handed back to delivery, which finds the post and records it
    sent with its id: no second post, and the editors' old buttons answer "changed"."""
    from bot.delivery.x_doubt import RECHECK_MIN, RECHECKER, DoubtRechecker

    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", after_processing=True, method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    fake_x.fail_next("/2/users/", status=503, count=2)  # the sender's read, the first re-check
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "in_doubt"
    checker = DoubtRechecker()
    t = svc.state.now()
    assert checker.run(svc, now=t) == []  # still unreadable: stays with the editors
    assert svc.state.get_by_key(key).state == "in_doubt"
    assert checker.run(svc, now=t + 1) == []  # not again before its interval
    reads = len(fake_x.calls("/2/users/"))
    assert checker.run(svc, now=t + RECHECK_MIN + 1) != []  # readable now: handed back
    assert len(fake_x.calls("/2/users/")) > reads
    queued = svc.state.get_by_key(key)
    assert queued.state == "queued" and queued.maybe_sent
    assert svc.state.history(*queued.ref)[-1]["by"] == RECHECKER
    assert deliver(svc, key, owner="c") == "sent"
    done = svc.state.get_by_key(key)
    assert done.receipt_id == fake_x.posts[0].id and len(fake_x.posts) == 1
    assert _posts_made(fake_x) == 1


def test_a_handed_back_record_that_meets_an_unreadable_account_again_returns_to_the_editors(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    """Only an editor's [Send again] sends without a read; the re-checker's hand-back does not."""
    from bot.delivery.x_doubt import RECHECK_MIN, DoubtRechecker

    svc = _services(make_services, fake_tg, fake_x)
    key = queued_post(svc, site)["x"]
    fake_x.drop_next("/2/tweets", method="POST")
    assert deliver(svc, key, owner="a", now=svc.state.now()) == "retry_wait"
    fake_x.fail_next("/2/users/", status=503, count=1)
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "in_doubt"
    assert DoubtRechecker().run(svc, now=svc.state.now() + RECHECK_MIN) != []
    fake_x.fail_next("/2/users/", status=503, count=1)
    assert deliver(svc, key, owner="c") == "in_doubt"
    assert fake_x.posts == []
