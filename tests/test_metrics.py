"""bot.metrics: each metric as recorded, the queue collector, serving over HTTP, and the
multi-process mode (in a child interpreter, so this process keeps its in-memory values)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.metrics import REGISTRY
from bot.state import State


def value(name: str, **labels: str) -> float:
    """A sample's current value (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_sent_attempt_counts_once_and_observes_both_latencies():
    before = value("newsbot_sends_total", platform="telegram", outcome="sent")
    file_count = value("newsbot_file_to_send_seconds_count", platform="telegram")
    live_sum = value("newsbot_live_to_send_seconds_sum", platform="telegram")
    le_5 = value("newsbot_file_to_send_seconds_bucket", platform="telegram", le="5.0")
    metrics.record_send("telegram", "sent", file_seconds=3.0, live_seconds=90.0)
    assert value("newsbot_sends_total", platform="telegram", outcome="sent") == before + 1
    assert value("newsbot_file_to_send_seconds_count", platform="telegram") == file_count + 1
    assert value("newsbot_file_to_send_seconds_bucket", platform="telegram", le="5.0") == le_5 + 1
    assert value("newsbot_live_to_send_seconds_sum", platform="telegram") == live_sum + 90.0


def test_other_outcomes_count_without_latencies():
    count = value("newsbot_file_to_send_seconds_count", platform="x")
    for outcome in ("failed", "in_doubt", "retry"):
        before = value("newsbot_sends_total", platform="x", outcome=outcome)
        metrics.record_send("x", outcome, file_seconds=1.0, live_seconds=1.0)
        assert value("newsbot_sends_total", platform="x", outcome=outcome) == before + 1
    assert value("newsbot_file_to_send_seconds_count", platform="x") == count


def test_a_negative_latency_from_clock_skew_counts_as_zero():
    total = value("newsbot_live_to_send_seconds_sum", platform="skew")
    metrics.record_send("skew", "sent", live_seconds=-40.0)
    assert value("newsbot_live_to_send_seconds_sum", platform="skew") == total
    assert value("newsbot_live_to_send_seconds_bucket", platform="skew", le="0.5") >= 1


def test_retries_rate_waits_spend_and_health():
    retry = value("newsbot_retries_total", platform="x", reason="transient")
    metrics.record_retry("x", "transient")
    assert value("newsbot_retries_total", platform="x", reason="transient") == retry + 1

    waits = value("newsbot_rate_limit_waits_total", platform="telegram", source="platform")
    secs = value("newsbot_rate_limit_wait_seconds_total", platform="telegram", source="platform")
    metrics.record_rate_wait("telegram", "platform", 7.0)
    metrics.record_rate_wait("telegram", "platform", 0.5)
    assert value("newsbot_rate_limit_waits_total", platform="telegram",
                 source="platform") == waits + 2
    assert value("newsbot_rate_limit_wait_seconds_total", platform="telegram",
                 source="platform") == pytest.approx(secs + 7.5)

    spent = value("newsbot_x_spend_usd_total", kind="post_url")
    calls = value("newsbot_x_billable_calls_total", kind="post_url")
    metrics.record_x_spend("post_url", 0.20)
    metrics.record_x_spend("post_url", 0.20)
    assert value("newsbot_x_spend_usd_total", kind="post_url") == pytest.approx(spent + 0.4)
    assert value("newsbot_x_billable_calls_total", kind="post_url") == calls + 2

    metrics.set_destination_health("telegram", "@news", False)
    assert REGISTRY.get_sample_value("newsbot_destination_healthy",
                                     {"platform": "telegram", "destination": "@news"}) == 0.0
    metrics.set_destination_health("telegram", "@news", True)
    assert REGISTRY.get_sample_value("newsbot_destination_healthy",
                                     {"platform": "telegram", "destination": "@news"}) == 1.0


def test_recording_never_raises(monkeypatch: pytest.MonkeyPatch):
    def broken(*_: object) -> None:
        raise OSError("mmap file gone")

    monkeypatch.setattr(metrics.SENDS, "labels", broken)
    metrics.record_send("telegram", "sent", file_seconds=1.0)  # no exception


@given(st.text(max_size=30))
def test_parse_listen_accepts_only_host_and_port(text: str):
    try:
        host, port = metrics.parse_listen(text)
    except ValueError:
        return
    assert 0 <= port <= 65535 and host
    assert port == int(text.strip().rpartition(":")[2])


def test_parse_listen_examples():
    assert metrics.parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert metrics.parse_listen("[::1]:9464") == ("::1", 9464)
    assert metrics.parse_listen(":9464") == ("0.0.0.0", 9464)
    for bad in ("9464", "host:", "host:99999", "host:port"):
        with pytest.raises(ValueError):
            metrics.parse_listen(bad)


def test_queue_depth_is_counted_from_redis_at_scrape_time(state: State):
    state.ensure("https://news.example/a.html", "telegram", "@news", state="queued")
    state.ensure("https://news.example/b.html", "telegram", "@news", state="queued")
    state.ensure("https://news.example/a.html", "x", "acct", state="waiting")
    collector = metrics.QueueCollector(state.counts, lambda: 4)
    families = {f.name: f for f in collector.collect()}
    depth = {s.labels["state"]: s.value for s in families["newsbot_queue_depth"].samples}
    assert depth["queued"] == 2 and depth["waiting"] == 1 and depth["sent"] == 0
    assert families["newsbot_broker_queue_length"].samples[0].value == 4
    # a new record shows in the next scrape (nothing cached)
    state.ensure("https://news.example/c.html", "telegram", "@news", state="queued")
    again = {f.name: f for f in collector.collect()}["newsbot_queue_depth"]
    assert {s.labels["state"]: s.value for s in again.samples}["queued"] == 3


def test_queue_depth_left_out_while_redis_is_down():
    def down() -> dict[str, int]:
        raise ConnectionError("Redis restarting")

    def down_len() -> int:
        raise ConnectionError("Redis restarting")

    assert list(metrics.QueueCollector(down, down_len).collect()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_a_scrape_over_http():
    metrics.record_send("served", "sent", file_seconds=1.0, live_seconds=2.0)
    server = metrics.serve(f"127.0.0.1:{_free_port()}",
                           extra=[metrics.QueueCollector(lambda: {"queued": 5})])
    try:
        body = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
    finally:
        server.stop()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    sends = [s for s in families["newsbot_sends"].samples if s.labels.get("platform") == "served"]
    assert sends and sends[0].value >= 1
    assert families["newsbot_queue_depth"].samples[0].value == 5
    # serving again (a restarted part of the process) registers nothing twice
    second = metrics.serve(f"127.0.0.1:{_free_port()}")
    second.stop()


_CHILDREN = textwrap.dedent("""
    import multiprocessing, os, sys
    from pathlib import Path
    import httpx
    from bot import metrics

    directory = metrics.enable_multiprocess(Path(sys.argv[1]))
    server = metrics.serve("127.0.0.1:0")

    def child(n):
        for _ in range(n):
            metrics.record_send("telegram", "sent", file_seconds=1.0, live_seconds=1.0)
        metrics.record_x_spend("post_url", 0.2)
        metrics.set_destination_health("telegram", "@news", False)
        metrics.mark_process_dead()

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=child, args=(n,)) for n in (2, 3)]
    for p in procs: p.start()
    for p in procs: p.join()
    metrics.record_send("telegram", "failed")
    metrics.set_destination_health("telegram", "@news", True)  # after the child's False
    print(httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text)
    server.stop()
""")


def test_multiprocess_mode_sums_forked_children(tmp_path: Path):
    stale = tmp_path / "metrics" / f"worker-{socket.gethostname()}-999999999"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"")
    other_host = tmp_path / "metrics" / "worker-elsewhere-1"
    other_host.mkdir()
    (other_host / "alive").touch()
    gone_container = tmp_path / "metrics" / "worker-3f2a9c1d-7"
    gone_container.mkdir()
    (gone_container / "alive").touch()
    two_hours_ago = time.time() - 7200
    os.utime(gone_container / "alive", (two_hours_ago, two_hours_ago))
    directory = tmp_path / "metrics" / f"run-{socket.gethostname()}-{os.getpid()}"
    out = subprocess.run([sys.executable, "-c", _CHILDREN, str(directory)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    families = {f.name: f for f in text_string_to_metric_families(out)}
    sends = {s.labels["outcome"]: s.value for s in families["newsbot_sends"].samples
             if s.name == "newsbot_sends_total"}
    assert sends == {"sent": 5.0, "failed": 1.0}
    counts = [s.value for s in families["newsbot_file_to_send_seconds"].samples
              if s.name.endswith("_count")]
    assert counts == [5.0]
    spend = [s.value for s in families["newsbot_x_spend_usd"].samples
             if s.name.endswith("_total")]
    assert spend == [pytest.approx(0.4)]
    health = [s.value for s in families["newsbot_destination_healthy"].samples]
    assert health == [1.0]  # the most recent check wins, whichever process made it
    assert not stale.exists()  # a gone process's folder of this host is cleaned at start
    assert other_host.exists()  # another host's live process keeps its folder
    assert not gone_container.exists()  # a container gone for an hour: its folder goes
    assert (directory / "alive").is_file()


def test_initialized_series_are_served_as_zeros_before_anything_happened():
    metrics.initialize(["fresh"], x_spend=True)
    assert REGISTRY.get_sample_value("newsbot_sends_total",
                                     {"platform": "fresh", "outcome": "in_doubt"}) == 0.0
    assert REGISTRY.get_sample_value("newsbot_rate_limit_wait_seconds_total",
                                     {"platform": "fresh", "source": "local"}) == 0.0
    assert REGISTRY.get_sample_value("newsbot_live_to_send_seconds_count",
                                     {"platform": "fresh"}) == 0.0
    # X spend has no platform label: other tests of this process may have billed calls, so
    # only the presence of every kind's series is checked here (their counts: test_metrics_e2e)
    for kind in metrics.X_SPEND_KINDS:
        assert REGISTRY.get_sample_value("newsbot_x_billable_calls_total", {"kind": kind}) \
            is not None
