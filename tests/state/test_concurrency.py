"""Races on real Redis: only one sender per record, leases, schedule claims."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from bot.state import State

T0 = 1_800_000_000.0
ROUNDS = 50


def _refs(n: int, tag: str) -> list[tuple[str, str, str]]:
    return [(f"https://newsdao.kr/{tag}/{i}", "telegram", "@newsdao") for i in range(n)]


def test_eight_threads_race_acquire_exactly_one_wins(state: State, redis_url: str,
                                                     redis_namespace: str) -> None:
    refs = _refs(ROUNDS, "threads")
    for ref in refs:
        state.ensure(*ref, state="queued")
    # one client (and connection pool) per thread, as separate workers would have
    states = [State(redis.Redis.from_url(redis_url, decode_responses=True),
                    namespace=redis_namespace) for _ in range(8)]
    barrier = threading.Barrier(8)

    def worker(i: int) -> list[bool]:
        won = []
        for ref in refs:
            barrier.wait()
            won.append(states[i].acquire_send(*ref, owner=f"t{i}", lease_seconds=30) is not None)
        return won

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    for n, ref in enumerate(refs):
        winners = [i for i in range(8) if results[i][n]]
        assert len(winners) == 1, (n, winners)
        record = state.get(*ref)
        assert record.state == "sending" and record.attempts == 1
        assert record.lease_owner == f"t{winners[0]}"
    assert state.counts()["sending"] == ROUNDS


def _process_racer(url: str, ns: str, idx: int, refs: list[tuple[str, str, str]],
                   barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    st = State(redis.Redis.from_url(url, decode_responses=True), namespace=ns)
    won = []
    for ref in refs:
        barrier.wait(timeout=30)
        won.append(st.acquire_send(*ref, owner=f"p{idx}", lease_seconds=30) is not None)
    out.put((idx, won))


def test_three_processes_race_acquire_exactly_one_wins(state: State, redis_url: str,
                                                       redis_namespace: str) -> None:
    refs = _refs(ROUNDS, "procs")
    for ref in refs:
        state.ensure(*ref, state="queued")
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(3)
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_process_racer,
                         args=(redis_url, redis_namespace, i, refs, barrier, out))
             for i in range(3)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for n, ref in enumerate(refs):
        winners = [i for i in range(3) if results[i][n]]
        assert len(winners) == 1, (n, winners)
        assert state.get(*ref).lease_owner == f"p{winners[0]}"


def test_racing_completions_and_expiry(state: State) -> None:
    """The owner's completion and a lease sweep race: the record ends sent or in_doubt, once."""
    refs = _refs(30, "expiry-race")
    for ref in refs:
        state.ensure(*ref, state="queued")
        state.acquire_send(*ref, owner="w", lease_seconds=5, now=T0)
        assert state.fence_send(*ref, owner="w", send_seconds=5, now=T0) == T0 + 5
    barrier = threading.Barrier(2)

    def sweeper() -> int:
        barrier.wait()
        # one record per call, so sweeps interleave with the completions
        return sum(len(state.expire_leases(now=T0 + 6, limit=1)) for _ in range(40))

    def completer() -> int:
        barrier.wait()
        return sum(state.complete_send(*ref, owner="w", receipt_id="1") for ref in refs)

    with ThreadPoolExecutor(2) as pool:
        swept = pool.submit(sweeper)
        done = pool.submit(completer)
        swept.result()
        completed = done.result()
    # late receipts resolve doubt, so every record is sent exactly once
    assert completed == 30
    assert state.counts()["sent"] == 30 and state.counts()["in_doubt"] == 0


def test_lease_lost_before_the_fence_is_queued_again_not_doubted(state: State) -> None:
    """Before the fence the request was never made: nobody needs to ask an editor."""
    ref = ("https://newsdao.kr/unfenced", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    state.acquire_send(*ref, owner="w1", lease_seconds=10, now=T0)
    [again] = state.expire_leases(now=T0 + 10.5)
    assert (again.state, again.attempts, again.lease_owner) == ("queued", 0, None)
    assert "before sending" in again.reason and not again.maybe_sent
    # the slow holder wakes up: its fence is refused, so it can never send
    assert state.fence_send(*ref, owner="w1", send_seconds=30, now=T0 + 11) is None
    assert state.acquire_send(*ref, owner="w2", lease_seconds=10, now=T0 + 12).attempts == 1
    assert state.fence_send(*ref, owner="w1", send_seconds=30, now=T0 + 12) is None
    assert state.fence_send(*ref, owner="w2", send_seconds=30, now=T0 + 12) == T0 + 42


def test_lease_expiry_past_the_fence_goes_in_doubt_and_is_never_reacquired(state: State) -> None:
    ref = ("https://newsdao.kr/lease", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w1", lease_seconds=10, now=T0)
    assert held.lease_until == T0 + 10
    assert state.renew_lease(*ref, owner="other", lease_seconds=10, now=T0 + 5) is None
    assert state.renew_lease(*ref, owner="w1", lease_seconds=10, now=T0 + 5) == T0 + 15
    assert state.expire_leases(now=T0 + 12) == []  # renewed: still held
    # the fence stretches the lease over the whole send, and renewal never shortens it
    assert state.fence_send(*ref, owner="w1", send_seconds=20, now=T0 + 13) == T0 + 33
    assert state.renew_lease(*ref, owner="w1", lease_seconds=10, now=T0 + 14) == T0 + 33
    assert state.expire_leases(now=T0 + 33) == []  # lease_until < now, strictly
    doubted = state.expire_leases(now=T0 + 33.001)
    assert [r.state for r in doubted] == ["in_doubt"]
    assert "lease expired" in doubted[0].reason and doubted[0].maybe_sent
    for later in (T0 + 34, T0 + 10_000, None):
        assert state.acquire_send(*ref, owner="w2", lease_seconds=10, now=later) is None
    assert state.renew_lease(*ref, owner="w1", lease_seconds=10) is None
    assert not state.fail_send(*ref, owner="w1", reason="timeout", permanent=False)
    assert state.promote_due(now=T0 + 10_000) == []
    assert state.get(*ref).state == "in_doubt"
    resent = state.editor_resolve(*ref, "resend", "alice", now=T0 + 34)
    assert resent.state == "queued"
    again = state.acquire_send(*ref, owner="w3", lease_seconds=10, now=T0 + 35)
    assert again.attempts == 2
    # the first worker's very late receipt no longer matches the lease
    assert not state.complete_send(*ref, owner="w1", receipt_id="1")


def test_a_resend_waits_until_a_vanished_attempt_can_no_longer_land(state: State) -> None:
    """Presumed dead is not known dead: its request may still land until its send deadline."""
    ref = ("https://newsdao.kr/vanished", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w1", lease_seconds=10, now=T0)
    state.fence_send(*ref, owner="w1", send_seconds=100, now=T0 + 1)
    doubted = state.reap_lease(held.key, "w1", why="worker stopped answering", dead=False,
                               now=T0 + 5)
    assert doubted.state == "in_doubt" and doubted.send_deadline == T0 + 101
    state.editor_resolve(*ref, "resend", "alice", now=T0 + 6)
    assert state.acquire_send(*ref, owner="w2", lease_seconds=10, now=T0 + 50) is None
    # the vanished attempt's receipt still counts, and then nothing is sent again
    assert state.complete_send(*ref, owner="w1", receipt_id="9", now=T0 + 60)
    done = state.get(*ref)
    assert done.state == "sent" and "after the lease was lost (was queued)" in done.reason
    assert state.acquire_send(*ref, owner="w2", lease_seconds=10, now=T0 + 200) is None


def test_a_known_dead_holder_lifts_the_deadline(state: State) -> None:
    ref = ("https://newsdao.kr/dead", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w1", lease_seconds=10, now=T0)
    state.fence_send(*ref, owner="w1", send_seconds=100, now=T0 + 1)
    assert state.reap_lease(held.key, "someone-else", why="x", dead=True, now=T0 + 2) is None
    doubted = state.reap_lease(held.key, "w1", why="worker died", dead=True, now=T0 + 2)
    assert doubted.state == "in_doubt" and doubted.send_deadline is None
    assert "worker died mid-send" in doubted.reason
    state.editor_resolve(*ref, "resend", "alice", now=T0 + 3)
    assert state.acquire_send(*ref, owner="w2", lease_seconds=10, now=T0 + 4) is not None
    assert not state.complete_send(*ref, owner="w1", receipt_id="9", now=T0 + 5)


def test_a_lost_attempt_on_a_repeat_safe_platform_is_retried(state: State) -> None:
    ref = ("https://newsdao.kr/x-lost", "x", "x")
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w1", lease_seconds=10, repeat_safe=True, now=T0)
    state.fence_send(*ref, owner="w1", send_seconds=20, fingerprint="fp1", now=T0 + 1)
    retry = state.reap_lease(held.key, "w1", why="worker died", dead=True, now=T0 + 2)
    assert (retry.state, retry.maybe_sent, retry.inflight_fp) == ("retry_wait", True, "fp1")
    assert retry.scheduled_at == T0 + 2 and retry.transient_failures == 1
    assert "[uncertain]" in retry.reason


def test_lease_expiry_by_server_clock(state: State) -> None:
    ref = ("https://newsdao.kr/clock", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w1", lease_seconds=0.2)
    assert abs(held.lease_until - (state.now() + 0.2)) < 1.0
    assert state.fence_send(*ref, owner="w1", send_seconds=0.2) is not None
    assert state.expire_leases() == []
    time.sleep(0.3)
    assert [r.key for r in state.expire_leases()] == [held.key]
    assert state.acquire_send(*ref, owner="w2", lease_seconds=5) is None


def test_late_receipt_resolves_doubt(state: State) -> None:
    ref = ("https://newsdao.kr/late", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    state.acquire_send(*ref, owner="w1", lease_seconds=1, now=T0)
    state.fence_send(*ref, owner="w1", send_seconds=1, now=T0)
    state.expire_leases(now=T0 + 2)
    assert not state.complete_send(*ref, owner="w2", receipt_id="5")
    assert state.complete_send(*ref, owner="w1", receipt_id="5", now=T0 + 3)
    record = state.get(*ref)
    assert record.state == "sent" and record.receipt["id"] == "5"
    assert "after the lease was lost" in record.reason


def test_due_is_claimed_once_by_racing_movers(state: State, redis_url: str,
                                              redis_namespace: str) -> None:
    keys = [f"k{i:04d}" for i in range(400)]
    for i, key in enumerate(keys):
        state.schedule(key, T0 + i % 50)
    state.schedule("later", T0 + 1000)
    movers = [State(redis.Redis.from_url(redis_url, decode_responses=True),
                    namespace=redis_namespace) for _ in range(6)]
    barrier = threading.Barrier(6)

    def move(i: int) -> list[str]:
        barrier.wait()
        got: list[str] = []
        while batch := movers[i].due(now=T0 + 100, limit=7):
            got += batch
        return got

    with ThreadPoolExecutor(6) as pool:
        claimed = [k for part in pool.map(move, range(6)) for k in part]
    assert sorted(claimed) == keys  # each exactly once
    assert state.next_due() == ("later", T0 + 1000)
    assert state.due(now=T0 + 999) == []


def test_due_order_and_promote(state: State) -> None:
    future = ("https://newsdao.kr/future", "telegram", "@newsdao")
    other = ("https://newsdao.kr/skipped-meanwhile", "telegram", "@newsdao")
    f = state.ensure(*future, state="waiting", reason="future date", scheduled_at=T0 + 60)
    o = state.ensure(*other, state="waiting", scheduled_at=T0 + 30)
    state.editor_resolve(*other, "skip", "alice")  # leaves the schedule
    state.schedule(o.key, T0 + 30)  # a stale entry must not resurrect a skipped record
    assert state.promote_due(now=T0 + 59) == []
    assert state.get(*other).state == "skipped" and state.next_due() == (f.key, T0 + 60)
    promoted = state.promote_due(now=T0 + 60)
    assert [(r.key, r.state) for r in promoted] == [(f.key, "queued")]
    assert state.next_due() is None
    state.schedule("a", T0 + 3)
    state.schedule("b", T0 + 1)
    state.schedule("c", T0 + 2)
    assert state.due(now=T0 + 2, limit=10) == ["b", "c"]
    assert state.ref(f.key) == future
