"""Proof: platform faults.  ``python -m proofs faults [--short|--long] [--keep]``.

The promise (README "Errors" and "Uncertain answers"): on a bad platform day every post goes out
once on each platform, or its record says ``failed`` or ``in_doubt`` with the reason; a post is
never sent twice; and no request reaches a platform before its ``retry_after`` (Telegram) or
``x-rate-limit-reset`` (X) has passed.

How: the real ``newsbot worker`` and ``newsbot beat`` (threads pool, ``LOG_LEVEL=DEBUG``) against
the fakes and an embedded Redis.  Both fakes get a seeded fault plan (``set_fault_plan``,
``fakes.faults``): 30 % of the calls of every method the publishers use (Telegram getMe,
sendPhoto, sendMessage; X media upload, STATUS, alt text, POST /2/tweets) are answered with one
of: 429 with a wait of 1-5 s, 500, 502, a TCP reset, a hang longer than the publisher's client
timeout (then carried out anyway), or a drop after the call was carried out.  Then posts are
written to the site (a quarter without image) and the suite waits until every record settles.

What is time-scaled: the platforms' rate windows (the fakes' 1/s and 20/min on Telegram and
the product's, ``RATE_TIME_SCALE=0.01``).  What is not: a 429's wait (real seconds on the wire,
waited as such by the product), the backoff after errors, and the client timeouts a hang must
outlast (each hang costs the publisher's whole timeout; the short run caps them).

Judged by the fakes: the ledger (channel messages and X posts per post URL), each fake's watch
of its 429s and of the requests to the same chat (Telegram) or endpoint (X) that arrived after
the 429 was answered and before its wait had passed ("early requests"), and the records in
Redis.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections import Counter
from collections.abc import Hashable

from bot.platforms.telegram import TelegramPublisher
from bot.platforms.x import XPublisher
from fakes.faults import FAULT_KINDS, FaultPlan, RateWatch

from .harness import Mode, Stack, wait_until, workdir
from .lost_answers import (
    TERMINAL,
    doubt_notices,
    records_of,
    start_processes,
    write_text_post,
)
from .report import Result

__all__ = ["run"]

SUITE = "faults"
SEED = 20261201
RATE = 0.30
HANG_MARGIN = 3.0
TG_METHODS = ("getMe", "sendPhoto", "sendMessage")


def client_timeouts() -> dict[str, float]:
    """The publishers' own client timeouts (what the registry builds them with)."""
    return {name: float(inspect.signature(cls).parameters["timeout"].default)
            for name, cls in (("telegram", TelegramPublisher), ("x", XPublisher))}


def _kinds(plan: FaultPlan) -> str:
    return ", ".join(f"{k} {plan.injected[k]}" for k in FAULT_KINDS if plan.injected[k])


def _early(watch: RateWatch) -> tuple[int, str]:
    worst = max((e.block.until - e.at for e in watch.early), default=0.0)
    keys: Counter[Hashable] = Counter(e.key for e in watch.early)
    return len(watch.early), (f"{dict(keys)}, up to {worst:.2f} s early" if keys else "")


def run(mode: Mode) -> Result:
    result = Result(SUITE, mode.name)
    posts = 200 if mode.long else 12
    seed = SEED if mode.seed is None else mode.seed
    timeouts = client_timeouts()
    hang = max(timeouts.values()) + HANG_MARGIN
    limits = {"hang": 10 if mode.long else 1}
    result.note(f"{posts} posts (every 4th without image); seed {seed}; {RATE:.0%} of the calls "
                f"faulted: {', '.join(FAULT_KINDS)} (drawn evenly; hangs capped at "
                f"{limits['hang']} per platform, each costs a client timeout)")
    result.note(f"client timeouts: Telegram {timeouts['telegram']:g} s, X {timeouts['x']:g} s;"
                f" a hang holds the answer {hang:g} s, then carries the call out")
    result.note("time scale: rate windows x0.01 (fakes and RATE_TIME_SCALE); retry-after / "
                "x-rate-limit-reset waits (1-5 s), backoff and timeouts are real seconds")
    started = time.monotonic()
    with workdir(SUITE, mode.keep) as work, Stack(work) as stack:
        tg_plan = stack.tg.set_fault_plan(RATE, FAULT_KINDS, seed, methods=TG_METHODS,
                                          hang_seconds=hang, limits=limits)
        x_plan = stack.x.set_fault_plan(RATE, FAULT_KINDS, seed + 1, hang_seconds=hang,
                                        limits=limits)
        procs = start_processes(stack, result)
        state = stack.state()
        slugs = [f"fault-{i:03d}" for i in range(posts)]
        written = time.monotonic()
        for i, slug in enumerate(slugs):
            if i % 4 == 3:
                write_text_post(stack, slug)
            else:
                stack.write_post(slug)

        def settled() -> bool:
            recs = records_of(state, slugs)
            return len(recs) == 2 * posts and all(r.state in TERMINAL for r in recs.values())

        done = bool(wait_until(settled, 1500 if mode.long else 150, every=0.5))
        took = time.monotonic() - written
        for proc in procs:
            proc.stop()
        recs = records_of(state, slugs)
        ledger = stack.ledger()
        dups = stack.duplicates()

        # ---------------------------------------------------------------- what happened
        for name, plan, fake_calls in (("telegram", tg_plan, len(stack.tg.journal)),
                                       ("x", x_plan, len(stack.x.journal))):
            result.figure(f"{name}: calls / faulted (share)",
                          f"{fake_calls} / {plan.faulted} "
                          f"({plan.faulted / max(plan.calls, 1):.0%} of {plan.calls} planned)")
            result.figure(f"{name}: faults injected", _kinds(plan) or "none")
        for name, watch, plan in (("telegram", stack.tg.rate_watch, tg_plan),
                                  ("x", stack.x.rate_watch, x_plan)):
            waits = [b.until - b.answered_at for b in watch.blocks]
            span = f", waits {min(waits):.1f}-{max(waits):.1f} s" if waits else ""
            own = len(watch.blocks) + watch.unread - plan.injected["429"]
            result.figure(f"{name}: 429s answered: read / unread (the fake's own)",
                          f"{len(watch.blocks)} / {watch.unread} ({own}){span}")
        bad: list[str] = []
        outcome: Counter[str] = Counter()
        for (slug, platform), rec in sorted(recs.items()):
            times = ledger.get(rec.post, Counter())[platform]
            if rec.state == "sent":
                ok = times == 1
                outcome[f"{platform} sent once"] += ok
            elif rec.state in ("failed", "in_doubt"):
                ok = times <= 1 and bool(rec.reason.strip())
                outcome[f"{platform} {rec.state} ({'out once' if times else 'not out'})"] += ok
            else:
                ok = False
            if not ok:
                bad.append(f"{slug}/{platform}: {rec.state}, {times}x, {rec.reason[:120]!r}")
        missing = 2 * posts - len(recs)
        for platform in ("telegram", "x"):
            parts = [f"{n} {k.split(' ', 1)[1]}" for k, n in sorted(outcome.items())
                     if k.startswith(platform + " ")]
            result.figure(f"{platform}: outcome of {posts} posts", ", ".join(parts))
        reasons = Counter(_reason_kind(r.reason) for r in recs.values()
                          if r.state in ("failed", "in_doubt"))
        result.figure("reasons of failed / in_doubt", ", ".join(
            f"{n} {k}" for k, n in reasons.most_common()) or "none")
        doubted = {(r.post, r.platform) for r in recs.values() if r.state == "in_doubt"}
        unasked = doubted - doubt_notices(state)
        result.figure("in_doubt records with the editors' notice queued",
                      f"{len(doubted) - len(unasked)} of {len(doubted)}")
        result.figure("duplicates (posts on a platform more than once)", len(dups))
        tg_early, tg_detail = _early(stack.tg.rate_watch)
        x_early, x_detail = _early(stack.x.rate_watch)
        result.figure("early requests (before a retry-after / reset passed)",
                      f"{tg_early + x_early} (telegram {tg_early}, x {x_early})")
        states = Counter(r.state for r in recs.values())
        result.figure("records by state", ", ".join(f"{n} {s}" for s, n in sorted(
            states.items())))
        result.figure("time from the first post written to all settled, s", round(took, 1))

        # ---------------------------------------------------------------- promises
        result.promise("each post sent exactly once on each platform, or failed/in_doubt "
                       "with a reason (and out at most once)", not bad and not missing,
                       f"{missing} records missing; " + "; ".join(bad[:8]))
        result.promise("0 duplicates", not dups, str(dups))
        result.promise("0 early requests (nothing before a retry-after / reset passed)",
                       tg_early + x_early == 0, f"telegram {tg_detail}; x {x_detail}")
        result.promise("nothing left queued, sending or retrying", done and all(
            s in TERMINAL for s in states), f"settled {done}: {dict(states)}")
        result.promise("editors asked about every in_doubt record", not unasked,
                       str(sorted(unasked)[:5]))
        result.promise("faults were injected on both platforms (the plan ran)",
                       tg_plan.faulted > 0 and x_plan.faulted > 0 and all(
                           (tg_plan.injected[k] or x_plan.injected[k]) for k in FAULT_KINDS),
                       f"telegram {_kinds(tg_plan)}; x {_kinds(x_plan)}")
        leaks = stack.leaks()
        result.figure("secrets in logs", sum(leaks.values()))
        result.promise("no secret in any log", not leaks, str(leaks))
    result.figure("run time, s", round(time.monotonic() - started, 1))
    return result


def _reason_kind(reason: str) -> str:
    """A short label for a record's reason (the figures group them)."""
    text = reason.lower()
    if text.startswith("gave up after"):
        return "gave up after MAX_ATTEMPTS"
    if "timed out" in text or "timeout" in text:
        return "timeout [uncertain]"
    if "[uncertain]" in text:
        return "connection lost [uncertain]"
    return reason[:60]


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
