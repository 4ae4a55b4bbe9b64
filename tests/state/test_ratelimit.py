"""The shared rate limiter: exact windows, minimal drain time, blocks, budgets."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bot.state import RateLimiter, server_time

RULES = [(1, 1.0), (20, 60.0)]
BACKLOG = 300
T0 = 1_800_000_000.0


def _minimal_last_send(n: int) -> float:
    """Earliest possible time of the n-th send under RULES, starting at 0.

    Sends i and i+20 must be >= 60 s apart (no window (t-60, t] may hold 21), consecutive sends
    >= 1 s apart.  Greedy: 20 sends at 0..19, the 21st at 60, ...  so send k (0-based) is at
    60 * (k // 20) + (k % 20); for 300 sends the last is at 60 * 14 + 19 = 859 s.
    """
    k = n - 1
    return 60.0 * (k // 20) + (k % 20)


def _check_windows(times: list[float]) -> None:
    times = sorted(times)
    for limit, window in RULES:
        for i, t in enumerate(times):
            inside = [s for s in times[: i + 1] if t - window < s <= t]
            assert len(inside) <= limit, (t, limit, window, inside)


def _drain(reserve: Callable[[float], float], take: Callable[[], bool], start: float,
           sent: list[float]) -> None:
    """One worker on its own virtual clock: take an item, wait as told, send."""
    t = start
    while take():
        while (wait := reserve(t)) > 0:
            t += wait
        sent.append(t)


def test_arithmetic_of_the_minimum() -> None:
    assert _minimal_last_send(300) == 859.0
    assert _minimal_last_send(20) == 19.0 and _minimal_last_send(21) == 60.0
    greedy = [_minimal_last_send(k + 1) for k in range(BACKLOG)]
    _check_windows(greedy)
    # the checker is not vacuous: one send a second earlier breaks the 20-per-60 rule
    early = [*greedy[:20], 59.0]
    with pytest.raises(AssertionError):
        _check_windows(early)


def test_backlog_drains_at_exact_rate_with_threads(redis_url: str, redis_namespace: str) -> None:
    lock = threading.Lock()
    remaining = [BACKLOG]

    def take() -> bool:
        with lock:
            if remaining[0] == 0:
                return False
            remaining[0] -= 1
            return True

    limiters = [RateLimiter(redis.Redis.from_url(redis_url, decode_responses=True),
                            namespace=redis_namespace) for _ in range(4)]
    results: list[list[float]] = [[] for _ in limiters]
    barrier = threading.Barrier(len(limiters))

    def worker(i: int) -> None:
        barrier.wait()
        _drain(lambda t: limiters[i].reserve("x:post", RULES, now=t), take, 0.0, results[i])

    with ThreadPoolExecutor(len(limiters)) as pool:
        list(pool.map(worker, range(len(limiters))))
    times = sorted(t for part in results for t in part)
    assert len(times) == BACKLOG
    _check_windows(times)
    assert times[0] == 0.0
    assert times[-1] == _minimal_last_send(BACKLOG) == 859.0
    assert times == [_minimal_last_send(k + 1) for k in range(BACKLOG)]
    assert sum(len(r) > 0 for r in results) > 1  # really shared between workers


def _process_drain(url: str, ns: str, start: float, out: mp.Queue) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    limiter = RateLimiter(client, namespace=ns)
    backlog = f"{ns}:test:backlog"  # a test-only key, not a product key
    sent: list[float] = []
    _drain(lambda t: limiter.reserve("tg", RULES, now=t), lambda: client.lpop(backlog) is not None,
           start, sent)
    out.put(sent)


def test_backlog_drains_at_exact_rate_across_processes(redis_client: redis.Redis,
                                                        redis_url: str,
                                                        redis_namespace: str) -> None:
    redis_client.rpush(f"{redis_namespace}:test:backlog", *range(BACKLOG))
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    # the workers' clocks disagree by a few hundred ms, as real machines' would
    procs = [ctx.Process(target=_process_drain, args=(redis_url, redis_namespace,
                                                      T0 + skew, out))
             for skew in (0.0, 0.25, 0.5)]
    for p in procs:
        p.start()
    times = sorted(t for _ in procs for t in out.get(timeout=120))
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(times) == BACKLOG
    rel = [t - times[0] for t in times]  # whichever worker sent first sets the origin
    _check_windows(rel)
    assert times[0] - T0 in (0.0, 0.25, 0.5)
    assert rel[-1] == _minimal_last_send(BACKLOG) == 859.0


def test_refusal_records_nothing_and_reports_the_exact_wait(rate_limiter: RateLimiter) -> None:
    r = rate_limiter
    assert r.reserve("b", RULES, now=100.0) == 0.0
    assert r.reserve("b", RULES, now=100.4) == pytest.approx(0.6)
    assert r.reserve("b", RULES, now=100.4) == pytest.approx(0.6)  # nothing was recorded
    assert r.reserve("b", RULES, now=101.0) == 0.0  # window (100, 101] is empty
    assert r.budget("b", RULES, now=101.0)["rules"][1] == {
        "limit": 20, "window": 60.0, "used": 2, "remaining": 18}


def test_spacing(rate_limiter: RateLimiter) -> None:
    r = rate_limiter
    assert r.reserve("s", [], spacing=2.5, now=10.0) == 0.0
    assert r.reserve("s", [], spacing=2.5, now=11.0) == 1.5
    assert r.reserve("s", [], spacing=2.5, now=12.5) == 0.0
    # spacing and a rule together: the larger wait wins
    assert r.reserve("s2", [(2, 10.0)], spacing=3.0, now=0.0) == 0.0
    assert r.reserve("s2", [(2, 10.0)], spacing=3.0, now=3.0) == 0.0
    assert r.reserve("s2", [(2, 10.0)], spacing=3.0, now=6.0) == 4.0
    with pytest.raises(ValueError):
        r.reserve("s", [(0, 1.0)])
    with pytest.raises(ValueError):
        r.reserve("s", [], spacing=-1)


def test_block_until_is_seen_by_every_worker(rate_limiter: RateLimiter,
                                             redis_url: str, redis_namespace: str) -> None:
    other = RateLimiter(redis.Redis.from_url(redis_url, decode_responses=True),
                        namespace=redis_namespace)
    assert rate_limiter.reserve("x", RULES, now=T0) == 0.0
    assert rate_limiter.block_until("x", T0 + 900, now=T0 + 5) == T0 + 900
    assert other.reserve("x", RULES, now=T0 + 100) == pytest.approx(800.0)
    assert other.block_until("x", T0 + 500, now=T0 + 100) == T0 + 900  # never shortened
    assert other.blocked_until("x", now=T0 + 100) == T0 + 900
    assert other.budget("x", RULES, now=T0 + 100)["blocked_until"] == T0 + 900
    assert rate_limiter.reserve("x", RULES, now=T0 + 900) == 0.0
    assert other.blocked_until("x", now=T0 + 900) is None
    assert rate_limiter.reserve("other-bucket", RULES, now=T0 + 100) == 0.0


def test_block_until_with_server_clock(rate_limiter: RateLimiter) -> None:
    assert rate_limiter.budget("z", RULES)["wait"] == 0.0
    current = server_time(rate_limiter.client)
    rate_limiter.block_until("z", current + 30)
    wait = rate_limiter.reserve("z", RULES)
    assert 28 < wait <= 30


def test_daily_counter(rate_limiter: RateLimiter) -> None:
    r = rate_limiter
    day = [(17, 86_400.0)]
    for i in range(3):
        assert r.reserve("x:day", day, now=T0 + i) == 0.0
    info = r.daily_counter("x:day", 17, now=T0 + 10)
    assert (info["used"], info["remaining"], info["platform_remaining"]) == (3, 14, None)
    info = r.daily_counter("x:day", 17, remaining_from_platform=5, reset_at=T0 + 3600,
                           now=T0 + 10)
    assert info["remaining"] == 5 and info["reset_at"] == T0 + 3600
    info = r.daily_counter("x:day", 17, remaining_from_platform=0, reset_at=T0 + 3600,
                           now=T0 + 20)
    assert info["remaining"] == 0
    assert r.reserve("x:day", day, now=T0 + 30) == pytest.approx(3570.0)
    after = r.daily_counter("x:day", 17, now=T0 + 3601)
    assert after["platform_remaining"] is None and after["remaining"] == 14


def test_settle_counts_a_slow_slot_from_its_answer_for_every_rule(
        rate_limiter: RateLimiter) -> None:
    r, rules = rate_limiter, [(1, 1.0), (3, 60.0)]
    assert r.reserve("s", rules, now=1000.0) == 0.0
    # The request took 2.5 s: the platform may have timed it at 1002.5.
    assert r.settle("s", 1000.0, 1002.5) == 1
    assert r.wait_time("s", rules, now=1003.0) == pytest.approx(0.5)  # 1/s from the answer
    assert r.reserve("s", rules, now=1003.5) == 0.0
    assert r.reserve("s", rules, now=1004.5) == 0.0
    # The minute frees its first slot 60 s after the answer, not after the slot.
    assert r.reserve("s", rules, now=1061.0) == pytest.approx(1.5)
    assert r.reserve("s", rules, now=1062.5) == 0.0
    # Never earlier; a slot that is not there moves nothing.
    assert r.settle("s", 1003.5, 1000.0) == 1
    assert r.wait_time("s", rules, now=1063.0) == pytest.approx(0.5)
    assert r.settle("s", 999.0, 1010.0) == 0


def test_platform_windows_say_what_the_platform_stated_until_each_resets(
    rate_limiter: RateLimiter,
) -> None:
    now = server_time(rate_limiter.client)
    rate_limiter.record_budget("x:x", {"15min": (7, now + 600), "user24h": (3, now + 80_000)})
    rate_limiter.record_budget("x:x", {"15min": (6, now + 600)})  # a later answer, same window
    assert rate_limiter.platform_windows("x:x", now=now) == {
        "15min": {"remaining": 6, "reset_at": now + 600},
        "user24h": {"remaining": 3, "reset_at": now + 80_000},
    }
    # a window past its reset says nothing any more
    assert list(rate_limiter.platform_windows("x:x", now=now + 601)) == ["user24h"]
    assert rate_limiter.platform_windows("telegram:@c", now=now) == {}
