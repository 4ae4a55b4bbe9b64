"""X budgets in the delivery core: real Services on Redis, the real X publisher over HTTP to
the fake X, deliver() called as a worker would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from delivery_helpers import Queue, now_utc, write_post

from bot.delivery.budget import is_budget_wait, release_budget_waits
from bot.delivery.planner import scan
from bot.delivery.sender import deliver
from fakes.x import FakeX

LINK_SITE = "https://news.example.com"


def link_site(site: Path) -> Path:
    """A site whose links X recognises: ``news.example`` has no real top-level domain, so
    twitter-text (and X) finds no URL in it and bills a plain post."""
    (site / "_config.yml").write_text(f"url: {LINK_SITE}\ntimezone: UTC\n", encoding="utf-8")
    return site


def x_records(svc, site: Path, count: int, *, image: bool = False) -> list[str]:
    """Baseline an empty site, write ``count`` posts, scan: the X record keys in date order."""
    scan(svc, enqueue=Queue())
    base = now_utc() - timedelta(minutes=10)
    for i in range(count):
        write_post(site, f"story-{i}", base + timedelta(seconds=i), image=image,
                   title=f"Story {i}")
    queue = Queue()
    scan(svc, enqueue=queue)
    recs = [svc.state.get_by_key(k) for k in queue.keys]
    xs = sorted((r for r in recs if r.platform == "x"), key=lambda r: r.post)
    return [r.key for r in xs]


def test_a_post_past_the_budget_waits_and_is_released_in_order(
        live, site: Path, fake_x: FakeX):
    link_site(site)
    svc = live(x_monthly_budget=0.45)  # two $0.20 link posts fit, the third does not
    keys = x_records(svc, site, 4)
    outcomes = [deliver(svc, k, owner=f"w{i}") for i, k in enumerate(keys)]
    # The one @handle read ($0.001) comes first: 0.401 spent, the third needs 0.20.
    assert outcomes == ["sent", "sent", "budget_wait", "budget_wait"]
    assert len(fake_x.posts) == 2
    waiting = [svc.state.get_by_key(k) for k in keys[2:]]
    assert all(is_budget_wait(r) for r in waiting)
    assert waiting[0].reason.startswith("budget: X_MONTHLY_BUDGET $0.450 reached this month")
    assert [rid for rid, _ in svc.spend.waiting()] == keys[2:]
    # The ledger is what the fake X billed, priced by the table.
    billed = fake_x.billable_calls()
    assert billed == {"post": 0, "post_url": 2, "media": 0, "delete": 0, "read": 1}
    assert svc.spend.spent()[1] == 2 * 200_000 + 1_000
    # Nothing has room: the tick releases nothing.
    released: list[str] = []
    assert release_budget_waits(svc, released.append) == 0
    # A raised budget (a restart with the new setting): released in the order they waited.
    raised = live(x_monthly_budget=0.61)  # room for one more
    assert release_budget_waits(raised, released.append) == 1
    assert released == [keys[2]]
    assert deliver(raised, keys[2], owner="w9") == "sent"
    assert is_budget_wait(raised.state.get_by_key(keys[3]))
    more = live(x_monthly_budget=5)
    assert release_budget_waits(more, released.append) == 1
    assert deliver(more, keys[3], owner="w10") == "sent"
    assert len(fake_x.posts) == 4
    assert more.spend.waiting() == []
    assert more.spend.spent()[1] == 4 * 200_000 + fake_x.billable_calls()["read"] * 1_000


def test_a_post_with_a_photo_holds_its_media_calls_too(live, site: Path, fake_x: FakeX):
    link_site(site)
    svc = live(x_daily_budget=0.21)  # post_url 0.20 + upload 0.005 + alt text 0.005
    first, second = x_records(svc, site, 2, image=True)
    assert deliver(svc, first, owner="w") == "sent"
    assert fake_x.billable_calls() == {"post": 0, "post_url": 1, "media": 2, "delete": 0,
                                       "read": 1}
    assert deliver(svc, second, owner="w") == "budget_wait"
    rec = svc.state.get_by_key(second)
    assert "X_DAILY_BUDGET $0.210 reached this day" in rec.reason
    assert "this post costs $0.210" in rec.reason
    assert len(fake_x.posts) == 1


def test_without_a_budget_nothing_waits_and_every_call_is_priced(
        live, site: Path, fake_x: FakeX):
    link_site(site)
    svc = live()
    keys = x_records(svc, site, 2, image=True)
    assert [deliver(svc, k, owner="w") for k in keys] == ["sent", "sent"]
    billed = fake_x.billable_calls()
    assert billed == {"post": 0, "post_url": 2, "media": 4, "delete": 0, "read": 1}
    report = svc.spend.report()
    assert {k: v["n"] for k, v in report.by_kind.items()} == billed
    assert report.total == 2 * 200_000 + 4 * 5_000 + 1_000


def test_the_editors_are_told_once_per_budget_and_period(
        make_services, site: Path, fake_tg, fake_x: FakeX):
    from delivery_helpers import live_env

    from bot.state.notices import NoticeQueue

    link_site(site)
    fake_tg.add_chat(-100500, None, type="supergroup", title="Editors")
    svc = make_services(**live_env(fake_tg, fake_x), telegram_editor_chat="-100500",
                        bot_language="en", x_monthly_budget=0.25)
    keys = x_records(svc, site, 4)
    outcomes = [deliver(svc, k, owner="w") for k in keys]
    assert outcomes == ["sent", "budget_wait", "budget_wait", "budget_wait"]
    # Three records wait, the tick offers them again and again: still one notice.
    for key in keys[1:]:
        svc.state.transition(*svc.state.get_by_key(key).ref, "waiting", "queued")
        assert deliver(svc, key, owner="w2") == "budget_wait"
    queue = NoticeQueue(svc.state.client, namespace=svc.state.namespace)
    notices = [e.data["notice"] for e in queue.due()]
    budget = [n for n in notices if "X budget reached" in n["text"]]
    assert len(budget) == 1
    assert "X_MONTHLY_BUDGET is $0.250" in budget[0]["text"]
    assert "nothing is dropped" in budget[0]["text"]


def test_a_new_utc_day_releases_a_daily_budget_wait(live, site: Path, fake_x: FakeX):
    link_site(site)
    svc = live(x_daily_budget=0.30)
    first, second = x_records(svc, site, 2)
    assert deliver(svc, first, owner="w") == "sent"
    assert deliver(svc, second, owner="w") == "budget_wait"
    assert "or 20" in svc.state.get_by_key(second).reason  # "... or <tomorrow> 00:00 UTC"
    released: list[str] = []
    now = svc.state.now()
    assert release_budget_waits(svc, released.append, now=now) == 0
    assert release_budget_waits(svc, released.append, now=now + 86_400) == 1
    assert released == [second] and svc.state.get_by_key(second).state == "queued"
    # Released, it keeps its place in line until its send holds the money.
    assert [rid for rid, _ in svc.spend.waiting()] == [second]
    assert release_budget_waits(svc, released.append, now=now + 86_400) == 0


def test_a_later_cheaper_post_does_not_overtake_a_waiting_one(
        live, site: Path, fake_x: FakeX):
    """A $0.21 photo post waits; a later $0.20 link post would fit the room left, but it is
    held behind the waiting one (released in order), until both fit."""
    link_site(site)
    svc = live(x_monthly_budget=0.405)
    scan(svc, enqueue=Queue())
    base = now_utc() - timedelta(minutes=10)
    write_post(site, "a-first", base, image=False, title="First")
    write_post(site, "b-photo", base + timedelta(seconds=1), image=True, title="Photo")
    write_post(site, "c-link", base + timedelta(seconds=2), image=False, title="Link")
    queue = Queue()
    scan(svc, enqueue=queue)
    xs = {svc.state.get_by_key(k).post.rsplit("/", 1)[1]: k for k in queue.keys
          if svc.state.get_by_key(k).platform == "x"}
    assert deliver(svc, xs["a-first.html"], owner="w") == "sent"  # 0.201 spent with the read
    assert deliver(svc, xs["b-photo.html"], owner="w") == "budget_wait"  # 0.21 > 0.204 left
    rec = svc.state.get_by_key(xs["c-link.html"])
    # 0.204 left would take the 0.20 link post, but the photo post waits before it.
    assert deliver(svc, rec.key, owner="w") == "budget_wait"
    assert "for posts waiting before it" in svc.state.get_by_key(rec.key).reason
    assert [rid for rid, _ in svc.spend.waiting()] == [xs["b-photo.html"], xs["c-link.html"]]
    assert len(fake_x.posts) == 1
