"""The X spend ledger: every billable X call priced as it is made, and the budgets' holds.

Why a ledger of our own: since February 2026 X bills each API call (contracts B5), and a news
teaser carries its link, the $0.20 kind.  An operator must see what newsbot spends before X's
invoice says so, and a budget must stop a post *before* it is paid for.

* Money is kept in integer micro-dollars (``HINCRBY``), never floats: a month of $0.015 posts
  summed as floats drifts, and a budget compared against a drifted sum lets a post through (or
  not) by a rounding error.
* Days and months are UTC (``YYYY-MM-DD``, ``YYYY-MM``), as X's own usage figures are, on the
  Redis server's clock, so every worker puts a call into the same day.
* ``reserve`` is one Lua script: it checks ``spent + held + price`` against the caps and records
  the hold in the same step, so two workers can never both spend the last dollar.  A hold ends
  with ``release`` (the send is over: what it cost was charged call by call) or by itself at its
  ``until`` (a worker that died mid-send).  A call charged under a holder shrinks its hold, so a
  send's price is never counted twice.
* Records waiting for budget are listed in ``spend:waits`` in the order they first waited, with
  the price each needs, so the tick releases them in order once the budget allows the cheapest.
"""

from __future__ import annotations

import calendar
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from bot.config import X_DEFAULT_PRICES, Settings

from .keys import Keys
from .store import check_decoding, server_time

__all__ = ["KINDS", "MICRO", "Reservation", "SpendLedger", "SpendReport", "caps",
           "current_holder", "holding", "money", "to_micro"]

KINDS: tuple[str, ...] = ("post", "post_url", "media", "delete", "read")
MICRO = 1_000_000
DAY_TTL = 400 * 86_400
MONTH_TTL = 3 * 366 * 86_400

# KEYS: day hash, month hash, holds hash.  ARGV: holder, micro wanted, day cap (-1: none),
# month cap (-1: none), hold until, now, micro needed by posts waiting ahead of this one (they
# must fit first, or a cheap later post would overtake them).  Expired holds are dropped; the
# holder's own earlier hold is replaced.  Returns {1|0, 'day'|'month'|'', day spent, month
# spent, held by others}.
RESERVE = """
local now = tonumber(ARGV[6])
local held = 0
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, '|', 1, true)
  local amount = tonumber(string.sub(v, 1, sep - 1)) or 0
  local untl = tonumber(string.sub(v, sep + 1)) or 0
  if untl <= now then
    redis.call('HDEL', KEYS[3], all[i])
  elseif all[i] ~= ARGV[1] then
    held = held + amount
  end
end
local day = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local month = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
local want = tonumber(ARGV[2])
local ahead = tonumber(ARGV[7]) or 0
held = held + ahead
local dcap = tonumber(ARGV[3])
local mcap = tonumber(ARGV[4])
if mcap >= 0 and month + held + want > mcap then
  return {0, 'month', tostring(day), tostring(month), tostring(held)}
end
if dcap >= 0 and day + held + want > dcap then
  return {0, 'day', tostring(day), tostring(month), tostring(held)}
end
if want > 0 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. '|' .. ARGV[5])
end
return {1, '', tostring(day), tostring(month), tostring(held)}
"""

# KEYS: day hash, month hash, holds hash.  ARGV: kind, micro, count, day ttl, month ttl, holder.
# The call is added to both totals; the holder's hold shrinks by what was charged (not below 0).
CHARGE = """
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], ARGV[1] .. ':n', tonumber(ARGV[3]))
  redis.call('HINCRBY', KEYS[i], ARGV[1] .. ':usd', tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[i], 'total', tonumber(ARGV[2]))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
if ARGV[6] ~= '' then
  local v = redis.call('HGET', KEYS[3], ARGV[6])
  if v then
    local sep = string.find(v, '|', 1, true)
    local left = (tonumber(string.sub(v, 1, sep - 1)) or 0) - tonumber(ARGV[2])
    if left <= 0 then left = 0 end
    redis.call('HSET', KEYS[3], ARGV[6], tostring(left) .. '|' .. string.sub(v, sep + 1))
  end
end
return 1
"""


def to_micro(usd: float) -> int:
    """USD -> integer micro-dollars (rounded: 0.015 is 15000, not 14999)."""
    return round(float(usd) * MICRO)


def caps(settings: Settings) -> tuple[int | None, int | None]:
    """(X_DAILY_BUDGET, X_MONTHLY_BUDGET) in micro-USD; None where no budget is set."""
    daily = settings.x_daily_budget
    monthly = settings.x_monthly_budget
    return (None if daily is None else to_micro(daily),
            None if monthly is None else to_micro(monthly))


def money(micro: int | None) -> str:
    """``$1.215``: three decimals, since prices go down to a tenth of a cent."""
    if micro is None:
        return "-"
    return f"${micro / MICRO:,.3f}"


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _month(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m")


_local = threading.local()


@contextmanager
def holding(holder: str) -> Iterator[None]:
    """Calls charged in this thread inside the block shrink ``holder``'s hold (the sender wraps
    one send with it; the X publisher's meter reads it through ``current_holder``)."""
    before = getattr(_local, "holder", None)
    _local.holder = holder
    try:
        yield
    finally:
        _local.holder = before


def current_holder() -> str | None:
    return getattr(_local, "holder", None)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer of ``reserve``: granted, or which budget it would exceed and by how much."""

    ok: bool
    blocked_by: str  # "day" | "month" | ""
    day_spent: int
    month_spent: int
    held: int
    want: int


@dataclass(frozen=True, slots=True)
class SpendReport:
    """Month-to-date X spend, per day, and the month's projection (``newsbot spend``)."""

    month: str
    total: int  # micro-USD
    by_kind: dict[str, dict[str, int]]  # kind -> {"n", "usd"}
    days: list[dict[str, Any]]  # [{"date", "total", "calls"}], days with spend only
    today: int
    projection: int
    monthly_budget: int | None
    daily_budget: int | None
    held: int
    waiting: int  # records waiting for budget
    prices: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """USD as decimals rounded to micro-dollars (the ledger's unit)."""
        def usd(micro: int | None) -> float | None:
            return None if micro is None else round(micro / MICRO, 6)

        return {
            "month": self.month,
            "total_usd": usd(self.total),
            "today_usd": usd(self.today),
            "projection_usd": usd(self.projection),
            "monthly_budget_usd": usd(self.monthly_budget),
            "daily_budget_usd": usd(self.daily_budget),
            "month_left_usd": usd(None if self.monthly_budget is None
                                  else max(0, self.monthly_budget - self.total)),
            "held_usd": usd(self.held),
            "waiting_for_budget": self.waiting,
            "by_kind": {k: {"calls": v["n"], "usd": usd(v["usd"])}
                        for k, v in self.by_kind.items()},
            "days": [{"date": d["date"], "usd": usd(d["total"]), "calls": d["calls"]}
                     for d in self.days],
            "prices_usd": {k: usd(v) for k, v in self.prices.items()},
        }


class SpendLedger:
    """The ledger of one namespace; ``prices`` is the settings' ``X_PRICES`` table (USD)."""

    def __init__(self, client: redis.Redis, *, namespace: str = "newsbot",
                 prices: Mapping[str, float] | None = None) -> None:
        check_decoding(client)
        self.client = client
        self.keys = Keys(namespace)
        table = {**X_DEFAULT_PRICES, **(prices or {})}
        self.prices: dict[str, int] = {k: to_micro(v) for k, v in table.items()}
        self._reserve = client.register_script(RESERVE)
        self._charge = client.register_script(CHARGE)

    def now(self) -> float:
        return server_time(self.client)

    def price(self, kind: str) -> int:
        if kind not in self.prices:
            raise ValueError(f"unknown X call kind {kind!r}")
        return self.prices[kind]

    def cost(self, kinds: Mapping[str, int] | list[str] | tuple[str, ...]) -> int:
        """Micro-USD of a set of calls: ``{"post_url": 1, "media": 2}`` or a list of kinds."""
        if isinstance(kinds, Mapping):
            return sum(self.price(k) * int(n) for k, n in kinds.items())
        return sum(self.price(k) for k in kinds)

    # ------------------------------------------------------------------ the ledger
    def charge(self, kind: str, *, count: int = 1, holder: str | None = None,
               now: float | None = None) -> int:
        """Record ``count`` billable calls of ``kind`` at today's price; returns micro-USD."""
        micro = self.price(kind) * int(count)
        at = self.now() if now is None else now
        holder = current_holder() if holder is None else holder
        k = self.keys
        self._charge(keys=[k.spend_day(_day(at)), k.spend_month(_month(at)), k.spend_holds],
                     args=[kind, str(micro), str(int(count)), str(DAY_TTL), str(MONTH_TTL),
                           holder or ""])
        return micro

    def day_totals(self, day: str) -> dict[str, int]:
        return {f: int(v) for f, v in self.client.hgetall(self.keys.spend_day(day)).items()}

    def month_totals(self, month: str) -> dict[str, int]:
        return {f: int(v) for f, v in self.client.hgetall(self.keys.spend_month(month)).items()}

    def spent(self, now: float | None = None) -> tuple[int, int]:
        """(today, this month) in micro-USD."""
        at = self.now() if now is None else now
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.spend_day(_day(at)), "total")
        pipe.hget(self.keys.spend_month(_month(at)), "total")
        day, month = pipe.execute()
        return int(day or 0), int(month or 0)

    # ------------------------------------------------------------------ budgets
    def reserve(self, holder: str, micro: int, *, daily_cap: int | None,
                monthly_cap: int | None, hold_seconds: float, ahead: int = 0,
                now: float | None = None) -> Reservation:
        """Hold ``micro`` for ``holder`` if neither cap would be passed (atomic); ``ahead`` is
        what posts waiting before this one need (counted as held: they go first)."""
        at = self.now() if now is None else now
        k = self.keys
        ok, which, day, month, held = self._reserve(
            keys=[k.spend_day(_day(at)), k.spend_month(_month(at)), k.spend_holds],
            args=[holder, str(int(micro)), str(-1 if daily_cap is None else int(daily_cap)),
                  str(-1 if monthly_cap is None else int(monthly_cap)),
                  repr(at + hold_seconds), repr(at), str(int(ahead))])
        return Reservation(bool(int(ok)), str(which), int(day), int(month), int(held),
                           int(micro))

    def release(self, holder: str) -> None:
        self.client.hdel(self.keys.spend_holds, holder)

    def held(self, now: float | None = None) -> int:
        at = self.now() if now is None else now
        total = 0
        for value in self.client.hvals(self.keys.spend_holds):
            amount, _, until = value.partition("|")
            if float(until or 0) > at:
                total += int(amount or 0)
        return total

    def room(self, *, daily_cap: int | None, monthly_cap: int | None,
             now: float | None = None) -> int | None:
        """Micro-USD still allowed now by both caps (None: no cap)."""
        if daily_cap is None and monthly_cap is None:
            return None
        day, month = self.spent(now)
        held = self.held(now)
        left = []
        if daily_cap is not None:
            left.append(daily_cap - day - held)
        if monthly_cap is not None:
            left.append(monthly_cap - month - held)
        return max(0, min(left))

    # ------------------------------------------------------------------ budget waits
    def wait(self, rid: str, need: int, *, now: float | None = None) -> bool:
        """List ``rid`` as waiting for budget; True when it was not listed before."""
        at = self.now() if now is None else now
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self.keys.spend_waits, {rid: at}, nx=True)
        pipe.hset(self.keys.spend_need, rid, str(int(need)))
        added, _ = pipe.execute()
        return bool(added)

    def unwait(self, *rids: str) -> None:
        if not rids:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.keys.spend_waits, *rids)
        pipe.hdel(self.keys.spend_need, *rids)
        pipe.execute()

    def waiting(self) -> list[tuple[str, int]]:
        """(record id, micro-USD needed) of records waiting for budget, first waited first."""
        rids = self.client.zrange(self.keys.spend_waits, 0, -1)
        if not rids:
            return []
        needs = self.client.hmget(self.keys.spend_need, rids)
        return [(rid, int(need or 0)) for rid, need in zip(rids, needs, strict=True)]

    def ahead_of(self, rid: str) -> int:
        """Micro-USD that posts waiting for budget before ``rid`` need (all of them when
        ``rid`` is not waiting)."""
        total = 0
        for other, need in self.waiting():
            if other == rid:
                break
            total += need
        return total

    def waiting_count(self) -> int:
        return int(self.client.zcard(self.keys.spend_waits))

    # ------------------------------------------------------------------ reports
    def report(self, month: str | None = None, *, daily_cap: int | None = None,
               monthly_cap: int | None = None, now: float | None = None) -> SpendReport:
        """Month-to-date, per day and projected to the month's end (UTC).

        The projection is the month's spend per elapsed day times the month's days: a
        straight line, since a news desk publishes at a steady pace.  A past month projects to
        what it spent; a future one to nothing.
        """
        at = self.now() if now is None else now
        this_month = _month(at)
        month = month or this_month
        year, mon = (int(p) for p in month.split("-"))
        length = calendar.monthrange(year, mon)[1]
        dates = [f"{month}-{d:02d}" for d in range(1, length + 1)]
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.spend_month(month))
        for date in dates:
            pipe.hgetall(self.keys.spend_day(date))
        month_raw, *day_raw = pipe.execute()
        totals = {f: int(v) for f, v in month_raw.items()}
        by_kind = {k: {"n": totals.get(f"{k}:n", 0), "usd": totals.get(f"{k}:usd", 0)}
                   for k in KINDS}
        days = []
        for date, raw in zip(dates, day_raw, strict=True):
            if raw:
                calls = {k: int(raw.get(f"{k}:n", 0)) for k in KINDS if int(raw.get(f"{k}:n", 0))}
                days.append({"date": date, "total": int(raw.get("total", 0)), "calls": calls})
        total = totals.get("total", 0)
        if month == this_month:
            start = datetime(year, mon, 1, tzinfo=UTC).timestamp()
            elapsed = max((at - start) / 86_400.0, 1 / 24)  # an hour at least: no wild lines
            projection = round(total / elapsed * length)
        elif month < this_month:
            projection = total
        else:
            projection = 0
        today = int(self.client.hget(self.keys.spend_day(_day(at)), "total") or 0) \
            if month == this_month else 0
        return SpendReport(month=month, total=total, by_kind=by_kind, days=days, today=today,
                           projection=projection, monthly_budget=monthly_cap,
                           daily_budget=daily_cap, held=self.held(at),
                           waiting=self.waiting_count(), prices=dict(self.prices))
