"""X budgets: a post that would pass ``X_DAILY_BUDGET`` / ``X_MONTHLY_BUDGET`` waits, never drops.

Why here and not in the publisher: waiting is a delivery state (``waiting`` with a ``budget:``
reason, shown as ``waiting (budget)``), decided before the lease like a rate wait, so a post
held for money costs no attempt and no lease.  The price is known before the send (the teaser's
text says whether X bills the URL kind, the image adds its media calls: ``x_price``), and it is
held atomically in the ledger (``SpendLedger.reserve``), so two workers never both spend the
last dollar.  The calls are then charged one by one as X answers them; the hold ends with the
attempt.

The editors hear once per budget and period (one notice for "the monthly budget of $1.00 is
reached in 2026-12", however many posts wait).  The tick releases waiting posts in the order
they first waited, as soon as the budget has room for the first of them: after a raised budget
(a setting, so a restart) or when a new UTC day or month begins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from bot.delivery.notify import Notice
from bot.delivery.services import Services
from bot.logs import log_event
from bot.platforms.base import Publisher
from bot.platforms.outgoing import PlatformTeaser
from bot.platforms.x_price import planned_calls
from bot.posts import Post
from bot.state import FINAL_STATES, Record
from bot.state.spend import caps, holding, money

__all__ = ["BUDGET_REASON", "BudgetHold", "caps", "hold_for", "is_budget_wait",
           "release_budget_waits"]

log = logging.getLogger(__name__)

#: The reason of a record waiting for budget starts with this (status shows ``waiting
#: (budget)``; the tick releases only these).
BUDGET_REASON = "budget"
#: A hold outlives the longest send by this much, then lapses by itself (a worker died).
HOLD_MARGIN_SECONDS = 60.0


def is_budget_wait(rec: Record) -> bool:
    return rec.state == "waiting" and rec.reason.startswith(BUDGET_REASON + ":")


class BudgetHold:
    """What ``hold_for`` decided: ``outcome`` set means the record now waits (nothing held).

    Used as a context manager around the attempt: calls charged inside shrink the hold, which
    is released when the attempt ends, however it ends.
    """

    def __init__(self, svc: Services, holder: str, *, held: bool,
                 outcome: str | None = None) -> None:
        self.svc = svc
        self.holder = holder
        self.held = held
        self.outcome = outcome
        self._ctx = holding(holder)

    def __enter__(self) -> BudgetHold:
        self._ctx.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ctx.__exit__(kind, exc, tb)
        if self.held:
            try:
                self.svc.spend.release(self.holder)
            except Exception as error:  # the hold lapses by itself at its end
                log.warning("budget hold of %s not released (%s)", self.holder,
                            type(error).__name__)


def hold_for(svc: Services, rec: Record, post: Post, item: PlatformTeaser,
             publisher: Publisher, now: float, *,
             move: Callable[..., str]) -> BudgetHold:
    """Hold this X post's price against the budgets, or move the record to waiting (budget).

    ``move(svc, rec, new, reason, now)`` is the sender's own transition helper, so a budget
    wait is logged like every other wait.
    """
    daily, monthly = caps(svc.settings)
    if rec.platform != "x" or getattr(publisher, "dry_run", False) or (
            daily is None and monthly is None):
        return BudgetHold(svc, rec.key, held=False)
    ledger = svc.spend
    need = ledger.cost(planned_calls(item, alt_text=bool(post.image_alt.strip())))
    bound = float(getattr(publisher, "max_send_seconds", 300.0))
    # Posts already waiting for budget go first: a later one is held behind them.
    ahead = ledger.ahead_of(rec.key) if ledger.waiting_count() else 0
    got = ledger.reserve(rec.key, need, daily_cap=daily, monthly_cap=monthly,
                         hold_seconds=svc.lease_seconds + bound + HOLD_MARGIN_SECONDS,
                         ahead=ahead, now=now)
    if got.ok:
        ledger.unwait(rec.key)
        return BudgetHold(svc, rec.key, held=True)
    cap = monthly if got.blocked_by == "month" else daily
    spent = got.month_spent if got.blocked_by == "month" else got.day_spent
    at = datetime.fromtimestamp(now, UTC)
    if got.blocked_by == "month":
        period, what, name = at.strftime("%Y-%m"), "month", "X_MONTHLY_BUDGET"
        nxt = (at.replace(day=1) + timedelta(days=32)).replace(day=1)
        opens = f"{nxt:%Y-%m-%d} 00:00 UTC"
    else:
        period, what, name = at.strftime("%Y-%m-%d"), "day", "X_DAILY_BUDGET"
        opens = f"{at + timedelta(days=1):%Y-%m-%d} 00:00 UTC"
    others = got.held - ahead
    in_flight = f" + {money(others)} being sent" if others > 0 else ""
    if ahead:
        in_flight += f" + {money(ahead)} for posts waiting before it"
    reason = (f"{BUDGET_REASON}: {name} {money(cap)} reached this {what} ({money(spent)} "
              f"spent{in_flight}; this post costs {money(need)}): waits until the budget is "
              f"raised or {opens}")
    outcome = move(svc, rec, "waiting", reason, now)
    if outcome == "waiting":
        ledger.wait(rec.key, need, now=now)
        log_event(log, "budget_wait", post=rec.post, platform=rec.platform, budget=name,
                  cap_usd=(cap or 0) / 1e6, spent_usd=spent / 1e6, price_usd=need / 1e6)
        svc.notify(Notice(
            kind="generic", platform="x", destination=rec.destination,
            text=(f"X budget reached: {name} is {money(cap)} and {money(spent)} is spent this "
                  f"{what} ({period}, UTC). X posts wait as \"waiting (budget)\"; nothing is "
                  f"dropped. They go out in order when the budget is raised (change {name} "
                  f"and restart) or at {opens}. `newsbot spend` shows the ledger."),
            dedupe=f"budget|{what}|{period}|{cap}"))
        return BudgetHold(svc, rec.key, held=False, outcome="budget_wait")
    return BudgetHold(svc, rec.key, held=False, outcome=outcome)


def release_budget_waits(svc: Services, enqueue: Callable[[str], object], *,
                         now: float | None = None) -> int:
    """Queue records waiting for budget, first waited first, while the budget has room.

    Run by the tick: one ZCARD when nothing waits.  Stops at the first post that does not fit,
    so a cheaper later post never overtakes an earlier one.  A released record stays listed
    (in its place) until its send holds the money; records that left the budget wait
    otherwise (sent by an editor's push, skipped) are forgotten here.
    """
    ledger = svc.spend
    if not ledger.waiting_count():
        return 0
    daily, monthly = caps(svc.settings)
    room = ledger.room(daily_cap=daily, monthly_cap=monthly, now=now)
    released = 0
    for rid, need in ledger.waiting():
        rec = svc.state.get_by_key(rid)
        if rec is None or rec.state in FINAL_STATES or (
                rec.state == "waiting" and not is_budget_wait(rec)):
            ledger.unwait(rid)  # sent, skipped, or waiting for something else now
            continue
        if rec.state != "waiting":
            # Released before and not yet sent: it keeps its place (``ahead_of``) until its
            # send holds the money, which takes it off the list.
            if rec.state != "sending" and room is not None:
                room -= need
            continue
        if room is not None and need > room:
            break
        moved = svc.state.transition(*rec.ref, "waiting", "queued",
                                     reason="budget has room again", by="budget", now=now)
        if moved is None:
            continue
        if room is not None:
            room -= need
        log_event(log, "state_change", post=rec.post, platform=rec.platform,
                  destination=rec.destination, old="waiting", new="queued",
                  attempt=rec.attempts, reason="budget has room again", receipt=None)
        enqueue(rid)
        released += 1
    return released
