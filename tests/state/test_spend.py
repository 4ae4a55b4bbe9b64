"""The X spend ledger against a real Redis: integer money, UTC days and months, atomic holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import X_DEFAULT_PRICES
from bot.state.spend import KINDS, SpendLedger, holding, money, to_micro

# 2026-12-15 12:00 UTC
NOON = datetime(2026, 12, 15, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def ledger(redis_client: redis.Redis, redis_namespace: str) -> SpendLedger:
    return SpendLedger(redis_client, namespace=redis_namespace)


def test_prices_are_the_table_in_micro_dollars(ledger: SpendLedger) -> None:
    assert ledger.prices == {"post": 15_000, "post_url": 200_000, "media": 5_000,
                             "delete": 10_000, "read": 1_000}
    assert set(KINDS) == set(X_DEFAULT_PRICES)
    assert money(200_000) == "$0.200"
    with pytest.raises(ValueError):
        ledger.price("like")


def test_a_thousand_small_posts_sum_exactly(ledger: SpendLedger) -> None:
    for _ in range(1000):
        ledger.charge("post", now=NOON)
    day, month = ledger.spent(NOON)
    assert day == month == 15_000_000  # $15.000, not 14.999999...
    assert sum([0.015] * 1000) != 15.0  # what floats would have said


def test_days_and_months_are_utc(ledger: SpendLedger) -> None:
    late = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    ledger.charge("post_url", now=late)
    ledger.charge("read", now=late + 2)  # 2027-01-01 00:00:01 UTC
    assert ledger.day_totals("2026-12-31") == {"post_url:n": 1, "post_url:usd": 200_000,
                                               "total": 200_000}
    assert ledger.month_totals("2027-01")["total"] == 1_000
    assert ledger.month_totals("2026-12")["total"] == 200_000


def test_custom_prices_apply(redis_client: redis.Redis, redis_namespace: str) -> None:
    ledger = SpendLedger(redis_client, namespace=redis_namespace, prices={"post_url": 0.25})
    assert ledger.charge("post_url", now=NOON) == 250_000
    assert ledger.price("post") == 15_000


def test_reserve_refuses_past_a_cap_and_names_it(ledger: SpendLedger) -> None:
    cap = to_micro(1.00)
    for _ in range(4):
        ledger.charge("post_url", now=NOON)
    got = ledger.reserve("r5", 200_000, daily_cap=None, monthly_cap=cap, hold_seconds=60,
                         now=NOON)
    assert got.ok  # exactly $1.00 is within a $1.00 budget
    other = ledger.reserve("r6", 200_000, daily_cap=None, monthly_cap=cap, hold_seconds=60,
                           now=NOON)
    assert not other.ok and other.blocked_by == "month" and other.held == 200_000
    with holding("r5"):
        ledger.charge("post_url", now=NOON)  # the hold shrinks as the send is charged
    assert ledger.held(NOON) == 0
    ledger.release("r5")
    day = ledger.reserve("r6", 15_000, daily_cap=to_micro(1.0), monthly_cap=None,
                         hold_seconds=60, now=NOON)
    assert not day.ok and day.blocked_by == "day"
    # A new day (the monthly cap is not set): the daily budget allows it again.
    tomorrow = ledger.reserve("r6", 15_000, daily_cap=to_micro(1.0), monthly_cap=None,
                              hold_seconds=60, now=NOON + 86_400)
    assert tomorrow.ok


def test_an_expired_hold_frees_its_money(ledger: SpendLedger) -> None:
    assert ledger.reserve("a", 900_000, daily_cap=None, monthly_cap=1_000_000,
                          hold_seconds=30, now=NOON).ok
    assert not ledger.reserve("b", 200_000, daily_cap=None, monthly_cap=1_000_000,
                              hold_seconds=30, now=NOON + 10).ok
    assert ledger.reserve("b", 200_000, daily_cap=None, monthly_cap=1_000_000,
                          hold_seconds=30, now=NOON + 31).ok


def test_two_workers_cannot_both_spend_the_last_dollar(redis_url: str,
                                                       redis_namespace: str) -> None:
    """20 threads on their own connections race for room for exactly 5 link posts."""
    winners: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def race(name: str) -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        mine = SpendLedger(client, namespace=redis_namespace)
        start.wait()
        if mine.reserve(name, 200_000, daily_cap=None, monthly_cap=1_000_000,
                        hold_seconds=60, now=NOON).ok:
            with lock:
                winners.append(name)
        client.close()

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 5


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(KINDS), max_size=60))
def test_ledger_equals_the_priced_count(redis_client: redis.Redis, kinds: list[str]) -> None:
    ledger = SpendLedger(redis_client, namespace="hyp-spend")
    redis_client.flushdb()  # each example starts from an empty ledger
    for kind in kinds:
        ledger.charge(kind, now=NOON)
    report = ledger.report("2026-12", now=NOON)
    assert report.total == sum(ledger.prices[k] for k in kinds)
    assert {k: v["n"] for k, v in report.by_kind.items()} == {k: kinds.count(k) for k in KINDS}


def test_report_per_day_and_projection(ledger: SpendLedger) -> None:
    first = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
    ledger.charge("post_url", count=3, now=first)
    ledger.charge("post", now=NOON)
    report = ledger.report(now=NOON)
    assert report.month == "2026-12"
    assert [d["date"] for d in report.days] == ["2026-12-01", "2026-12-15"]
    assert report.days[0]["calls"] == {"post_url": 3}
    assert report.total == 615_000 and report.today == 15_000
    # 14.5 days elapsed of 31: a straight line to the month's end
    assert report.projection == round(615_000 / 14.5 * 31)
    past = ledger.report("2026-11", now=NOON)
    assert past.total == past.projection == 0
    data = report.to_json()
    assert data["total_usd"] == 0.615 and data["by_kind"]["post_url"] == {"calls": 3,
                                                                          "usd": 0.6}


def test_waits_keep_their_first_order(ledger: SpendLedger) -> None:
    assert ledger.wait("b", 200_000, now=NOON)
    assert ledger.wait("a", 15_000, now=NOON + 1)
    assert not ledger.wait("b", 200_000, now=NOON + 2)  # still first
    assert ledger.waiting() == [("b", 200_000), ("a", 15_000)]
    ledger.unwait("b")
    assert ledger.waiting() == [("a", 15_000)]
    assert ledger.room(daily_cap=None, monthly_cap=None) is None
