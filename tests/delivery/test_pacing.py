"""Pacing (MAX_PER_HOUR, MIN_SPACING_SECONDS, BACKLOG_ORDER) through deliver() and the tick's
release, against the fake Telegram and X over HTTP, on a simulated clock (``now=``: an hour of
pacing takes no wall time; the rate limiter and the records use the same clock)."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import CHANNEL, Queue, now_utc, write_post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.delivery.pacing import (
    is_breaking,
    order_score,
    project,
    release_paced,
)
from bot.delivery.planner import scan
from bot.delivery.schedule import bucket_name, rate_spec
from bot.delivery.sender import deliver
from bot.state import Record
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

HOUR = 3600.0


def _burst(svc: Any, site: Path, count: int, *, age_minutes: float = 30.0) -> dict[str, str]:
    """Baseline an empty site, then ``count`` posts at once (post i dated i minutes after the
    first): record key -> slug."""
    scan(svc, enqueue=Queue())
    first = now_utc() - timedelta(minutes=age_minutes)
    for i in range(count):
        write_post(site, f"p{i:02d}", first + timedelta(minutes=i), title=f"Story {i:02d}",
                   image=False)
    queue = Queue()
    scan(svc, enqueue=queue)
    return {k: svc.state.get_by_key(k).post.rsplit("/", 1)[-1] for k in queue.keys}


def _run(svc: Any, keys: list[str], start: float, *, step: float = 20.0,
         until: float = 12 * HOUR, extra: dict[float, list[str]] | None = None
         ) -> list[tuple[float, str, str]]:
    """Deliver ``keys`` at ``start`` (the burst), then tick every ``step`` simulated seconds:
    the tick's release, then the released records' tasks.  Returns (time, platform, key) of
    every send."""
    sent: list[tuple[float, str, str]] = []
    owner = iter(range(10**6))

    def run(key: str, t: float) -> None:
        if deliver(svc, key, owner=f"w:{next(owner)}", now=t) == "sent":
            sent.append((t, svc.state.get_by_key(key).platform, key))

    for key in keys:
        run(key, start)
    t = start
    pending = dict(extra or {})
    while t < start + until:
        t += step
        for at in [a for a in pending if a <= t]:
            for key in pending.pop(at):
                run(key, t)
        released = Queue()
        release_paced(svc, released, now=t)
        for key in released.keys:
            run(key, t)
        for rec in svc.state.promote_due(now=t):  # slot races lost: retry_wait
            run(rec.key, t)
        if not pending and not svc.state.records(state="waiting") and not \
                svc.state.records(state="queued"):
            break
    return sent


def _max_in_any_hour(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + HOUR) for t in times), default=0)


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_a_burst_of_20_goes_out_at_most_6_an_hour_spaced_in_backlog_order(
    live, site: Path, fake_tg: FakeTelegram, fake_x: FakeX, order: str
):
    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=300,
               backlog_order=order)
    slugs = _burst(svc, site, 20)
    start = svc.state.now()
    sent = _run(svc, list(slugs), start)
    for platform in ("telegram", "x"):
        mine = [(t, k) for t, p, k in sent if p == platform]
        times = [t for t, _ in mine]
        assert len(mine) == 20, platform
        assert _max_in_any_hour(times) <= 6
        assert min(b - a for a, b in itertools.pairwise(times)) >= 300
        # After the first (sent the moment it came, nothing waiting), BACKLOG_ORDER.
        names = [slugs[k] for _, k in mine[1:]]
        assert names == sorted(names, reverse=(order == "newest"))
    assert len(fake_tg.channel_posts(CHANNEL)) == 20 and len(fake_x.posts) == 20
    assert not svc.state.records(state="failed")


def test_posts_grown_stale_while_paced_are_skipped_with_a_reason(live, site: Path):
    svc = live(rate_time_scale=1.0, max_per_hour=6, max_age_hours=1.5,
               backlog_order="newest", x_api_key=None, x_api_secret=None,
               x_access_token=None, x_access_token_secret=None)
    slugs = _burst(svc, site, 20, age_minutes=40)
    tg = [k for k in slugs if svc.state.get_by_key(k).platform == "telegram"]
    start = svc.state.now()
    sent = _run(svc, tg, start)
    skipped = svc.state.records(state="skipped")
    assert len(sent) + len(skipped) == 20
    assert skipped and all(r.reason.startswith("stale:") for r in skipped)
    assert all("MAX_AGE_HOURS=1.5" in r.reason for r in skipped)
    # newest first: what grew stale are the oldest posts, none of them was sent
    sent_names = {slugs[k] for _, _, k in sent}
    assert max(slugs[r.key] for r in skipped) < min(sent_names - {slugs[sent[0][2]]})
    assert _max_in_any_hour([t for t, _, _ in sent]) <= 6


def test_a_breaking_record_goes_first_and_is_not_held_by_pacing(
    live, site: Path, fake_tg: FakeTelegram
):
    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=300,
               x_api_key=None, x_api_secret=None, x_access_token=None,
               x_access_token_secret=None)
    slugs = _burst(svc, site, 10)
    start = svc.state.now()
    # The burst: the first goes, nine wait in the backlog.
    sent = _run(svc, list(slugs), start, until=60.0)
    assert len(sent) == 1
    write_post(site, "zz-breaking", now_utc(), title="Breaking story", image=False)
    queue = Queue()
    scan(svc, enqueue=queue)
    [key] = queue.keys
    rec = svc.state.get_by_key(key)
    assert not is_breaking(rec)
    svc.state.transition(*rec.ref, "queued", "queued", breaking="1")
    assert is_breaking(svc.state.get_by_key(key))
    t = start + 61.0  # well inside the 300 s spacing and with the backlog waiting
    assert deliver(svc, key, owner="b", now=t) == "sent"
    assert svc.state.get_by_key(key).state == "sent"
    # The paced posts still keep their own cap and spacing after it.
    rest = _run(svc, [], t)
    times = [t for t, _, _ in sent + rest]
    assert len(rest) == 9
    assert _max_in_any_hour(times) <= 6
    assert min(b - a for a, b in itertools.pairwise(times)) >= 300
    assert rest[0][0] >= t + 300  # spacing counts from the breaking send too
    assert len(fake_tg.channel_posts(CHANNEL)) == 11


def test_breaking_still_obeys_the_platforms_own_limits(live, site: Path):
    svc = live(rate_time_scale=1.0, max_per_hour=1, x_api_key=None, x_api_secret=None,
               x_access_token=None, x_access_token_secret=None)
    slugs = _burst(svc, site, 2)
    [first, second] = list(slugs)
    t = svc.state.now()
    assert deliver(svc, first, owner="a", now=t) == "sent"
    svc.state.transition(*svc.state.get_by_key(second).ref, "queued", "queued", breaking="1")
    # Telegram's 1 message per second applies: it waits on the schedule, not in the backlog.
    assert deliver(svc, second, owner="b", now=t + 0.2) == "rate_wait"
    assert svc.state.get_by_key(second).reason == "rate limit"
    assert [r.key for r in svc.state.promote_due(now=t + 2)] == [second]
    assert deliver(svc, second, owner="c", now=t + 2) == "sent"


def test_status_projection_gives_each_waiting_post_its_expected_time(live, site: Path):
    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=60,
               x_api_key=None, x_api_secret=None, x_access_token=None,
               x_access_token_secret=None)
    slugs = _burst(svc, site, 10)
    t = svc.state.now()
    _run(svc, list(slugs), t, until=1.0)
    proj = project(svc, limit=5, now=t + 1)
    entry = proj[bucket_name("telegram", CHANNEL)]
    assert entry["total"] == 9 and len(entry["next"]) == 5
    assert entry["max_per_hour"] == 6 and entry["order"] == "newest"
    times = [e["expected_at"] for e in entry["next"]]
    assert times == sorted(times)
    names = [slugs[e["key"]] for e in entry["next"]]
    assert names == sorted(names, reverse=True)
    spec = rate_spec(svc.settings, "telegram", CHANNEL, dry_run=False)
    from datetime import datetime
    epochs = [datetime.fromisoformat(x).timestamp() for x in times]
    # the next 5 fit the hour's remaining 5 slots, each a spacing after the one before
    assert epochs[0] == pytest.approx(t + spec.spacing, abs=0.01)
    assert epochs[4] - epochs[0] == pytest.approx(4 * spec.spacing, abs=0.01)
    # the 7th of the hour waits for the first slot to leave the window
    proj = project(svc, limit=9, now=t + 1)["telegram:" + CHANNEL]["next"]
    assert datetime.fromisoformat(proj[5]["expected_at"]).timestamp() >= t + HOUR


def _rec(key: str, **extra: str) -> Record:
    return Record(key=key, post="https://x/p", platform="telegram", destination="@c",
                  state="waiting", extra=dict(extra))


@given(dates=st.lists(st.floats(min_value=1e9, max_value=2e9), min_size=2, max_size=20),
       flags=st.lists(st.sampled_from(["", "breaking", "manual"]), min_size=20, max_size=20),
       order=st.sampled_from(["newest", "oldest"]))
def test_order_score_puts_breaking_then_pushes_then_dates(dates, flags, order):
    recs = []
    for i, (d, f) in enumerate(zip(dates, flags, strict=False)):
        extra = {"breaking": "1"} if f == "breaking" else {"manual": "1"} if f == "manual" \
            else {}
        recs.append((order_score(order, _rec(f"k{i}", **extra), d), f, d))
    ranked = sorted(recs)
    kinds = [f for _, f, _ in ranked]
    rank = {"breaking": 0, "manual": 1, "": 2}
    assert [rank[k] for k in kinds] == sorted(rank[k] for k in kinds)
    plain = [d for _, f, d in ranked if f == ""]
    assert plain == sorted(plain, reverse=(order == "newest"))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.floats(min_value=0.0, max_value=900.0), min_size=1, max_size=40),
       cap=st.integers(min_value=1, max_value=8))
def test_the_limiter_never_grants_more_than_the_cap_in_any_sliding_hour(
    redis_client, redis_namespace, gaps, cap
):
    """The sliding-window invariant under arbitrary arrival times: callers retry at their wait."""
    from bot.config import Settings
    from bot.state import RateLimiter

    settings_ = Settings(_env_file=None, max_per_hour=cap, min_spacing_seconds=30,
                         rate_time_scale=1.0)  # type: ignore[call-arg]
    spec = rate_spec(settings_, "telegram", "@hyp", dry_run=False)
    limiter = RateLimiter(redis_client, namespace=f"{redis_namespace}:{uuid.uuid4().hex}")
    t = 1_000_000.0
    granted: list[float] = []
    for gap in gaps:
        t += gap
        at = t
        while True:
            wait = limiter.reserve(spec.bucket, spec.rules, spacing=spec.spacing, now=at)
            if wait == 0:
                granted.append(at)
                break
            at += wait
        t = max(t, at)
    assert _max_in_any_hour(granted) <= cap
    assert all(b - a >= 30 for a, b in itertools.pairwise(granted))


def test_status_json_cli_and_desk_show_the_paced_queue_with_expected_times(live, site: Path):
    import io

    from rich.console import Console

    from bot.actions.status import status
    from bot.cli.status import print_status
    from bot.editor.render import status_lines

    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=60,
               x_api_key=None, x_api_secret=None, x_access_token=None,
               x_access_token_secret=None)
    slugs = _burst(svc, site, 8)
    t = svc.state.now()
    _run(svc, list(slugs), t, until=1.0)
    report = status(svc, limit=3)
    data = report.to_json()
    entry = data["queue"]["telegram:" + CHANNEL]
    assert entry["total"] == 7 and len(entry["next"]) == 3
    assert [slugs[e["key"]] for e in entry["next"]] == sorted(
        (slugs[e["key"]] for e in entry["next"]), reverse=True)
    paced = [p for p in data["pending"] if p["label"] == "waiting (paced)"]
    by_post = {e["post"]: e["expected_at"] for e in entry["next"]}
    # the projection fills the ETA of a paced wait it covers (it has no due time of its own)
    assert paced and all(p["eta"] == by_post.get(p["post"]) for p in paced)
    assert any(p["eta"] for p in paced)
    out = io.StringIO()
    print_status(Console(file=out, width=200, color_system=None), report)
    text = out.getvalue()
    assert "paced telegram " in text and "7 waiting (at most 6 per hour, 60 s apart; " \
        "newest first), the next 3" in text
    assert entry["next"][0]["expected_at"][:19].replace("T", " ") in text
    _head, lines = status_lines("en", report)
    assert any(line.startswith("<b>Paced</b> telegram") for line in lines)
    assert "… +4" in lines
    _head, lines = status_lines("ko", report)
    assert any(line.startswith("<b>발행 간격 대기</b> telegram") for line in lines)


@pytest.mark.timeout(60)
def test_a_slow_send_on_a_paced_destination_is_not_followed_by_an_hour_of_sleep(
    live, site: Path, fake_x: FakeX
):
    """After a slow send the sender pauses for the platform's shortest window (Telegram's
    second); the pacing hour is kept by the limiter's log, never by a sleep in the worker."""
    import time

    from delivery_helpers import queued_post

    svc = live(rate_time_scale=1.0, max_per_hour=6, telegram_bot_token=None,
               telegram_channel=None)
    key = queued_post(svc, site)["x"]
    fake_x.delay_next("/2/tweets", 0.3)
    started = time.monotonic()
    assert deliver(svc, key, owner="slow") == "sent"
    assert time.monotonic() - started < 10
    bucket = bucket_name("x", "x")
    spec = rate_spec(svc.settings, "x", "x", dry_run=False)
    assert svc.limiter.budget(bucket, spec.rules)["rules"][-1]["used"] == 1


def test_the_projection_reads_only_what_it_shows_however_long_the_backlog(
    live, site: Path
):
    """``status`` stays fast: 300 paced posts, a projection of 20 reads 20 records."""
    from bot.delivery.pacing import queue_of

    svc = live(rate_time_scale=1.0, max_per_hour=6, x_api_key=None, x_api_secret=None,
               x_access_token=None, x_access_token_secret=None)
    bucket = bucket_name("telegram", CHANNEL)
    queue = queue_of(svc)
    for i in range(300):
        rec = svc.state.ensure(f"https://news.example/burst-{i}.html", "telegram", CHANNEL,
                               state="waiting", reason="paced: waits for its turn")
        queue.join(bucket, rec.key, float(-i))
    reads: list[str] = []
    real = svc.state.get_by_key

    def counting(key: str):  # type: ignore[no-untyped-def]
        reads.append(key)
        return real(key)

    svc.state.get_by_key = counting
    try:
        entry = project(svc, limit=20)[bucket]
    finally:
        del svc.state.get_by_key
    assert entry["total"] == 300 and len(entry["next"]) == 20
    assert len(reads) == 20
    assert [e["post"] for e in entry["next"]][:2] == ["https://news.example/burst-299.html",
                                                      "https://news.example/burst-298.html"]


def test_per_platform_caps_override_the_global_one():
    from bot.config import Settings

    def cap(**values: Any) -> dict[str, tuple]:
        s = Settings(_env_file=None, rate_time_scale=1.0, **values)  # type: ignore[call-arg]
        return {p: rate_spec(s, p, "d", dry_run=False).pace_rules for p in ("telegram", "x")}

    assert cap() == {"telegram": (), "x": ()}
    both = cap(max_per_hour=6)
    assert [r[0][0] for r in both.values()] == [6, 6]
    assert both["telegram"][0][1] > HOUR  # the jitter margin: never N + 1 in the channel's hour
    mixed = cap(max_per_hour=6, telegram_max_per_hour=10, x_max_per_hour=0)
    assert mixed["telegram"][0][0] == 10 and mixed["x"] == ()
    assert cap(x_max_per_hour=3)["telegram"] == ()
    assert Settings(_env_file=None, backlog_order="OLDEST").backlog_order == "oldest"  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Settings(_env_file=None, backlog_order="random")  # type: ignore[call-arg]
    spec = rate_spec(Settings(_env_file=None, min_spacing_seconds=30), "telegram", "d",  # type: ignore[call-arg]
                     dry_run=True)
    assert spec.rules == () and spec.spacing == 0  # a dry run paces nothing


def test_a_released_head_keeps_its_place_until_it_holds_its_slot(live, site: Path):
    """Two ticks in a row (or at once) release one record: the next cannot overtake it."""
    from bot.delivery.pacing import queue_of

    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=60,
               x_api_key=None, x_api_secret=None, x_access_token=None,
               x_access_token_secret=None)
    slugs = _burst(svc, site, 4)
    t = svc.state.now()
    assert len(_run(svc, list(slugs), t, until=1.0)) == 1
    bucket = bucket_name("telegram", CHANNEL)
    queue = queue_of(svc)
    head = queue.head(bucket)
    first, second = Queue(), Queue()
    assert release_paced(svc, first, now=t + 100)["released"] == 1
    assert release_paced(svc, second, now=t + 100)["released"] == 0
    assert first.keys == [head] and second.keys == [] and queue.head(bucket) == head
    assert svc.state.get_by_key(head).state == "queued"
    assert deliver(svc, head, owner="w", now=t + 100) == "sent"
    assert queue.head(bucket) != head and queue.size(bucket) == 2


def test_an_editors_push_of_a_paced_post_goes_next_still_paced(live, site: Path):
    from bot.delivery.pacing import queue_of
    from bot.delivery.planner import plan_manual

    svc = live(rate_time_scale=1.0, max_per_hour=6, min_spacing_seconds=60,
               x_api_key=None, x_api_secret=None, x_access_token=None,
               x_access_token_secret=None)
    slugs = _burst(svc, site, 5)
    t = svc.state.now()
    assert len(_run(svc, list(slugs), t, until=1.0)) == 1
    bucket = bucket_name("telegram", CHANNEL)
    oldest = min((k for k in slugs if svc.state.get_by_key(k).state == "waiting"),
                 key=lambda k: slugs[k])
    assert queue_of(svc).head(bucket) != oldest  # newest first: the oldest is last
    post = svc.find_post_by_url(svc.state.get_by_key(oldest).post)
    pushed = Queue()
    [rec] = plan_manual(svc, post, ["telegram"], force=False, who="cli:ed", enqueue=pushed)
    assert rec.state == "queued" and pushed.keys == [oldest]
    # still paced: the spacing since the last send is not over, so it waits, but first in line
    assert deliver(svc, oldest, owner="p", now=t + 10) == "paced"
    assert queue_of(svc).head(bucket) == oldest
    released = Queue()
    release_paced(svc, released, now=t + 100)
    assert released.keys == [oldest]
    assert deliver(svc, oldest, owner="p2", now=t + 100) == "sent"
