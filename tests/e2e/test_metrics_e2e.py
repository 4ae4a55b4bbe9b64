"""The Metrics figure: the pipeline end to end (`newsbot worker` with Celery's prefork pool,
`newsbot beat` watching the site, the fake Telegram and X), then one scrape of /metrics over HTTP
shows every metric family with the counts of what happened, recorded in the forked children."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post
from prometheus_client.parser import text_string_to_metric_families

from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.timeout(180)

POSTS = 3


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """family -> {(sample name, sorted labels): value}."""
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(body):
        samples = out.setdefault(family.name, {})
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _get(families: dict, family: str, name: str, **labels: str) -> float:
    return families[family][(name, tuple(sorted(labels.items())))]


def test_a_scrape_after_the_run_shows_every_metric_with_its_counts(e2e, fake_tg, fake_x):
    port, beat_port = _free_port(), _free_port()
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    worker = e2e.start("worker", "--pool", "prefork", "--concurrency", "2", extra_env={
        **env, "METRICS_LISTEN": f"127.0.0.1:{port}", "LOG_FORMAT": "json"})
    beat = e2e.start("beat", extra_env={**env, "LOG_FORMAT": "json",
                                        "METRICS_LISTEN": f"127.0.0.1:{beat_port}"},
                     ready="for new and changed posts")
    wait_for(lambda: _scrape(port).get("newsbot_queue_depth"), 30, "the first scrape")
    # the first run's baseline scan comes first: a post written before it would be baseline
    wait_for(e2e.baseline_done, 60, "the baseline")

    # One Telegram 429 (a platform rate wait and a retry), one X 503 (a transient retry).
    fake_tg.fail_next("sendPhoto", status=429, retry_after=1)
    fake_x.fail_next("/2/tweets", status=503)
    started = time.time()
    for i in range(POSTS):
        write_post(e2e.site, f"story-{i}", now_utc() - timedelta(minutes=5), title=f"Story {i}")
    try:
        wait_for(lambda: len(e2e.records("sent")) == 2 * POSTS, 90, "every teaser sent")
    except AssertionError:  # say where they stand: states, reasons, the processes' last lines
        states = [(r.platform, r.state, r.reason) for r in e2e.records()]
        raise AssertionError(f"{states}\nworker:\n{worker.text()[-3000:]}\n"
                             f"beat:\n{beat.text()[-3000:]}") from None
    took = time.time() - started

    families = _scrape(port)
    for platform in ("telegram", "x"):
        assert _get(families, "newsbot_sends", "newsbot_sends_total", platform=platform,
                    outcome="sent") == POSTS
        assert _get(families, "newsbot_sends", "newsbot_sends_total", platform=platform,
                    outcome="retry") == 1
        for outcome in ("failed", "in_doubt"):
            assert _get(families, "newsbot_sends", "newsbot_sends_total", platform=platform,
                        outcome=outcome) == 0
        for hist in ("newsbot_file_to_send_seconds", "newsbot_live_to_send_seconds"):
            assert _get(families, hist, f"{hist}_count", platform=platform) == POSTS
            assert _get(families, hist, f"{hist}_bucket", platform=platform, le="+Inf") == POSTS
        file_sum = _get(families, "newsbot_file_to_send_seconds",
                        "newsbot_file_to_send_seconds_sum", platform=platform)
        assert 0 < file_sum <= POSTS * (took + 5)
        live_sum = _get(families, "newsbot_live_to_send_seconds",
                        "newsbot_live_to_send_seconds_sum", platform=platform)
        assert POSTS * 300 <= live_sum <= POSTS * (300 + took + 5)  # dated 5 minutes ago
    assert _get(families, "newsbot_retries", "newsbot_retries_total", platform="telegram",
                reason="rate_limited") == 1
    assert _get(families, "newsbot_retries", "newsbot_retries_total", platform="x",
                reason="transient") == 1
    assert _get(families, "newsbot_rate_limit_waits", "newsbot_rate_limit_waits_total",
                platform="telegram", source="platform") == 1
    assert _get(families, "newsbot_rate_limit_wait_seconds",
                "newsbot_rate_limit_wait_seconds_total", platform="telegram",
                source="platform") == 1.0
    # Our own limiter's waits are present (Telegram spaces a channel's posts; how many depends
    # on timing, so only their consistency is checked).
    local = _get(families, "newsbot_rate_limit_waits", "newsbot_rate_limit_waits_total",
                 platform="telegram", source="local")
    local_seconds = _get(families, "newsbot_rate_limit_wait_seconds",
                         "newsbot_rate_limit_wait_seconds_total", platform="telegram",
                         source="local")
    assert (local == 0) == (local_seconds == 0)
    # X spend: every kind's series exists, and the calls counted by the worker (posts, media,
    # the handle read) and by beat (the health check's users/me read) are the fake X's own count.
    beat_families = _scrape(beat_port)
    billed = fake_x.billable_calls()
    assert billed["post"] + billed["post_url"] == POSTS
    for kind in ("post", "post_url", "media", "delete", "read"):
        assert ("newsbot_x_spend_usd_total", (("kind", kind),)) in families["newsbot_x_spend_usd"]
        counted = sum(fams.get("newsbot_x_billable_calls", {}).get(
            ("newsbot_x_billable_calls_total", (("kind", kind),)), 0.0)
            for fams in (families, beat_families))
        assert counted == billed[kind], (kind, counted, billed)
    assert sum(families["newsbot_x_spend_usd"].values()) > 0
    # Destination health: beat runs the connection checks (one at start) and serves their gauge.
    health = wait_for(lambda: _scrape(beat_port).get("newsbot_destination_healthy"), 30,
                      "the health gauge in beat's scrape")
    assert sorted(dict(labels)["platform"] for (_, labels) in health) == ["telegram", "x"]
    assert set(health.values()) == {1.0}, health
    # Queue depth, read from Redis at the scrape.
    assert _get(families, "newsbot_queue_depth", "newsbot_queue_depth", state="sent") == 2 * POSTS
    assert _get(families, "newsbot_queue_depth", "newsbot_queue_depth", state="queued") == 0
    assert "newsbot_broker_queue_length" in families

    # The sends ran in the prefork children, not in the process that serves.
    folders = sorted(d.name.split("-")[0] for d in (e2e.data / "metrics").iterdir())
    assert folders == ["beat", "worker"], folders  # one folder per serving process
    worker_dir = next(d for d in (e2e.data / "metrics").iterdir() if d.name.startswith("worker-"))
    db_files = list(worker_dir.glob("counter_*.db"))
    assert len(db_files) >= 2, db_files  # the parent's zeros and at least one child's counts

    # LOG_FORMAT=json: every line the worker logged is one JSON object, state changes included.
    lines = _json_lines(worker.text())
    sent = [o for o in lines if o.get("event") == "state_change" and o.get("new") == "sent"]
    assert len(sent) == 2 * POSTS
    assert all({"ts", "level", "logger", "post", "platform", "old", "new"} <= set(o)
               for o in sent)
    assert "TEST-fake-token" not in worker.text()
    assert any(o.get("logger") == "bot.watcher" for o in _json_lines(beat.text()))


def _json_lines(text: str) -> list[dict]:
    objects = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("newsbot") or not line.startswith("{"):
            assert not line.strip() or line.startswith("newsbot"), f"not JSON: {line!r}"
            continue
        objects.append(json.loads(line))
    return objects


def test_newsbot_run_serves_its_metrics_and_cleans_them_at_start(e2e):
    """`newsbot run` (threads pool, a dry run): the same families from the one process; a
    restart starts from a clean folder (the old process's files are gone)."""
    port = _free_port()
    env = {"METRICS_LISTEN": f"127.0.0.1:{port}"}
    run = e2e.start("run", extra_env=env)
    wait_for(lambda: _scrape(port).get("newsbot_queue_depth"), 30, "the first scrape")
    # the first run's baseline scan comes first: a post written before it would be baseline
    wait_for(e2e.baseline_done, 60, "the baseline")
    write_post(e2e.site, "dry", now_utc() - timedelta(minutes=1), title="Dry news")
    wait_for(lambda: len(e2e.records("sent")) == 2, 30, "both dry-run sends")
    families = _scrape(port)
    for platform in ("telegram", "x"):
        assert _get(families, "newsbot_sends", "newsbot_sends_total", platform=platform,
                    outcome="sent") == 1
        assert _get(families, "newsbot_live_to_send_seconds",
                    "newsbot_live_to_send_seconds_count", platform=platform) == 1
    assert _get(families, "newsbot_queue_depth", "newsbot_queue_depth", state="sent") == 2
    assert run.stop() == 0
    [old] = list((e2e.data / "metrics").iterdir())
    e2e.start("run", extra_env=env)
    wait_for(lambda: _scrape(port).get("newsbot_queue_depth"), 30, "the scrape after restart")
    assert not old.exists()
    assert _get(_scrape(port), "newsbot_sends", "newsbot_sends_total", platform="telegram",
                outcome="sent") == 0
