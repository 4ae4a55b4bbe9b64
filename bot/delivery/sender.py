"""One delivery attempt of one record: the only code that calls a publisher.

Why the order of steps matters:

* rate limits are checked *before* the lease (a record that must wait goes back to ``waiting`` on
  the schedule without costing an attempt) and the slot is taken right *after* it, so a duplicate
  task that loses the lease race never burns a send slot;
* the post is re-read from disk so the latest text goes out, and a post that became unpublishable
  (date moved forward, ``published: false``) waits again unless an editor pushed it; a post that
  comes due more than MAX_AGE_HOURS after its date is skipped as stale;
* the teaser, image included, is prepared *before* the lease: a slow image server can cost time,
  never a lease (a lease lost mid-send means an editor must decide);
* with APPROVAL_REQUIRED the approval covers what the editor saw: the record carries the
  fingerprint of the approved teaser, and different content at send time is previewed again
  instead of sent;
* the lease is renewed while the worker waits for its destination and its rate slot, and right
  before the request the worker passes the fence (``State.fence_send``): the lease is still its
  own and now covers the longest possible send.  A worker that lost its lease never sends;
* an answer that may hide a sent post (a timeout or a connection dropped after the request left)
  is never retried blindly on Telegram, which has no idempotency: the record goes to ``in_doubt``
  and the editors are asked.  On X the retry first reads the account's own recent posts
  (``x_doubt.check_before_resend``): found is sent with that post's id, absent is posted (X's
  refusal of an identical repeat still catches a post its timeline did not show yet), and an
  account that cannot be read goes to the editors;
* every outcome, including an exception nobody expected, ends in one state transition;
* the editors hear about each outcome worth a human's eye (failed, in doubt, published, a
  duplicate after an uncertain send) through ``svc.notify``, which never raises.

Outcome words returned: sent, rate_wait, paced (joined the destination's pacing backlog:
``pacing``), budget_wait, retry_wait, failed, in_doubt, waiting,
skipped, paused, busy, missing, not_queued, lease_lost, unhealthy (the destination's connection
health holds it: ``connection_health``), not_live (WAIT_FOR_LIVE: the page is not up yet,
``live``); for a sent record with a pending correction, those of
``corrections.apply_edit`` (edited, unchanged, edit_failed, ...).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

import redis

from bot.delivery import observe
from bot.delivery.budget import hold_for
from bot.delivery.connection_health import hold_if_unhealthy, on_unhealthy_answer
from bot.delivery.content import fingerprint, prepare
from bot.delivery.corrections import apply_edit, sent_fields
from bot.delivery.live import hold_if_not_live
from bot.delivery.notify import Notice
from bot.delivery.pacing import gate as pace_gate
from bot.delivery.pacing import lane_spec
from bot.delivery.pacing import taken as pace_taken
from bot.delivery.pins import after_send
from bot.delivery.quiet import QUIET_REASON, is_breaking, quiet_plan, record_is_breaking
from bot.delivery.schedule import JITTER_SECONDS, RateSpec, backoff_delay, rate_spec
from bot.delivery.services import (
    APPROVED_FP,
    AWAITING_APPROVAL,
    MANUAL,
    NO_AGE_LIMIT,
    PUSH_ANYWAY,
    Services,
)
from bot.delivery.x_doubt import UNREADABLE_MARK, check_before_resend, editor_resent
from bot.images import ImageFailure
from bot.logs import log_event, redact
from bot.platforms.base import DeliveryError, Publisher, Receipt
from bot.platforms.outgoing import PlatformTeaser
from bot.posts import Post
from bot.state import Record
from bot.state.outage import through_outage

#: The longest a worker sleeps after a slow send to keep a spacing rule (holding the lock).
MAX_SETTLE_SLEEP_SECONDS = 5.0

__all__ = ["APPROVED_FP", "DUPLICATE_NOTE", "MANUAL", "NO_AGE_LIMIT", "PUSH_ANYWAY",
           "UNCERTAIN_MARK", "deliver", "notify_in_doubt"]

log = logging.getLogger(__name__)

UNCERTAIN_MARK = "[uncertain]"
TRANSIENT_PREFIX = "transient: "
DUPLICATE_NOTE = "X reported duplicate content after an uncertain send"
FREE = ("queued", "retry_wait")
SHORT_WAIT_SECONDS = 1.0
LOCK_WAIT_SECONDS = 60.0
FENCE_MARGIN_SECONDS = 10.0
REDIS_RETRY_SECONDS = 60.0

_T = TypeVar("_T")


def _event(rec: Record | None, old: str, new: str, *, reason: str = "",
           receipt: object = None, attempt: int | None = None, **extra: object) -> None:
    if rec is None:
        return
    log_event(log, "state_change", post=rec.post, platform=rec.platform,
              destination=rec.destination, old=old, new=new,
              attempt=rec.attempts if attempt is None else attempt, reason=reason,
              receipt=receipt, **extra)


def deliver(svc: Services, record_key: str, *, owner: str, now: float | None = None) -> str:
    """Try to send one record; returns an outcome word (see the module docstring)."""
    state = svc.state
    rec = state.get_by_key(record_key)
    if rec is None:
        return "missing"
    if rec.state == "sent":  # a correction of what went out (never a send)
        return apply_edit(svc, record_key, owner=owner, now=now)
    current = state.now() if now is None else now
    if rec.state == "retry_wait":
        if rec.scheduled_at is not None and rec.scheduled_at > current:
            return "not_queued"
    elif rec.state != "queued":
        return "not_queued"

    publisher = svc.publisher_for(rec.platform, rec.destination)
    if publisher is None:
        return _move(svc, rec, "failed",
                     f"{rec.platform} → {rec.destination} is no longer configured", current)
    override = bool(rec.extra.get(PUSH_ANYWAY))
    if not override and state.is_paused():
        return "paused"
    # A destination that refuses every send (bot demoted, keys revoked, X credits spent):
    # nothing is attempted; the health check releases the record (connection_health).
    held = hold_if_unhealthy(svc, rec, current)
    if held is not None:
        return held
    if rec.send_deadline is not None and rec.send_deadline > current:
        return _move(svc, rec, "waiting",
                     "an earlier attempt may still land until "
                     f"{_clock(rec.send_deadline)}: sent after that unless its receipt arrives",
                     current, scheduled_at=rec.send_deadline)

    # Cheap checks first: during a backlog most tasks only learn that they must wait.
    spec = lane_spec(rate_spec(svc.settings, rec.platform, rec.destination,
                               dry_run=svc.dry_run), rec)
    if record_is_breaking(rec):  # the breaking lane: our own spacing yields, the platform's not
        spec = replace(spec, spacing=0.0)
    wait, current = _wait_briefly(svc, spec, current, sleep=now is None)
    paced = pace_gate(svc, rec, spec, wait, current, move=_move)  # MAX_PER_HOUR backlog
    if paced is not None:
        return paced
    if wait > 0:
        observe.rate_wait(rec.platform, wait)
        outcome = _move(svc, rec, "waiting", "rate limit", current, scheduled_at=current + wait)
        return "rate_wait" if outcome == "waiting" else outcome

    post = svc.find_post_by_url(rec.post)
    if post is None:
        return _move(svc, rec, "failed", "post file removed", current)
    if not rec.extra.get(MANUAL):
        held = _content_hold(svc, rec, post, current)
        if held is not None:
            new, reason, scheduled_at = held
            return _move(svc, rec, new, reason, current, scheduled_at=scheduled_at)
        # WAIT_FOR_LIVE: never a teaser to a page that is not up yet (bot/delivery/live.py)
        not_live = hold_if_not_live(svc, rec, post, current)
        if not_live is not None:
            return not_live
    # Quiet hours: X waits for the window's end (QUIET_X=hold), Telegram goes out silently.
    quiet = quiet_plan(svc.settings, svc.site.timezone, rec, post, current,
                       manual=bool(rec.extra.get(MANUAL)))
    if quiet.hold_until is not None:
        return _move(svc, rec, "waiting", QUIET_REASON, current, scheduled_at=quiet.hold_until)
    try:
        item = prepare(svc.tools, post, rec.platform)
        if quiet.silent:
            item = replace(item, silent=True)
    except Exception as exc:  # a template error is the same on every attempt
        text = redact(f"cannot prepare the teaser: {type(exc).__name__}: {exc}")[:500]
        return _move(svc, rec, "failed", text, current)
    fp = fingerprint([item])
    if svc.settings.approval_required and rec.extra.get(APPROVED_FP) != fp:
        outcome = _move(svc, rec, "waiting", AWAITING_APPROVAL, current)
        if outcome == "waiting":
            svc.request_approval(post)
        return outcome

    # X costs money: its price is held against X_DAILY/MONTHLY_BUDGET, or the record waits.
    budget = hold_for(svc, rec, post, item, publisher, current, move=_move)
    if budget.outcome is not None:
        return budget.outcome
    with budget:
        held_rec = state.acquire_send(*rec.ref, owner=owner, lease_seconds=svc.lease_seconds,
                                      ignore_pause=override,
                                      repeat_safe=_repeat_safe(publisher), now=current)
        if held_rec is None:
            return "paused" if not override and state.is_paused() else "busy"
        _event(held_rec, rec.state, "sending")
        with svc.lease_keeper.hold(held_rec.ref, owner):
            try:
                return _attempt(svc, held_rec, post, item, fp, publisher, spec, owner, now,
                                override=override)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # Redis restarting
                log.warning("Redis unavailable while sending %s (%s: %s); settling the "
                            "attempt when it is back", held_rec.post, type(exc).__name__, exc)
                return _after_unexpected(svc, held_rec, owner, exc, now)
            except Exception as exc:  # our own bookkeeping failed
                log.exception("unexpected error sending %s", held_rec.post)
                return _after_unexpected(svc, held_rec, owner, exc, now)


def _repeat_safe(publisher: Publisher) -> bool:
    return bool(getattr(publisher, "repeat_safe", False))


def _send_bound(publisher: Publisher) -> float:
    return float(getattr(publisher, "max_send_seconds", 300.0)) + FENCE_MARGIN_SECONDS


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def _wait_briefly(svc: Services, spec: RateSpec, current: float, *, sleep: bool,
                  reserve: bool = False) -> tuple[float, float]:
    """(seconds still to wait, clock) for a send slot; with ``reserve`` the slot is taken.

    A wait of up to a second (the 1-per-second rule, small spacings) is slept in the worker:
    going through the schedule would cost a tick period each time.  Longer waits are returned.
    """
    limiter = svc.limiter
    check = limiter.reserve if reserve else limiter.wait_time
    wait = check(spec.bucket, spec.rules, spacing=spec.spacing, now=current)
    short = SHORT_WAIT_SECONDS * svc.settings.rate_time_scale
    for _ in range(5):
        if not sleep or not 0 < wait <= short:
            break
        observe.rate_wait(spec.bucket, wait)
        time.sleep(wait)
        current = svc.state.now()
        wait = check(spec.bucket, spec.rules, spacing=spec.spacing, now=current)
    return wait, current


def _attempt(svc: Services, rec: Record, post: Post, item: PlatformTeaser, fp: str,
             publisher: Publisher, spec: RateSpec, owner: str, now: float | None, *,
             override: bool) -> str:
    state = svc.state
    # An earlier attempt may be out: where the platform can be read (X), look before posting.
    settled = check_before_resend(publisher, rec, post, item,
                                  state.now() if now is None else now)
    if settled.outcome == "found" and settled.receipt is not None:
        return _complete(svc, rec, item, settled.receipt, spec, owner, now, post)
    if settled.outcome == "unreadable" and settled.error is not None \
            and not editor_resent(state, rec):
        return _unreadable(svc, rec, owner, settled.error, now)
    if not (settled.outcome == "absent" and settled.by_link) and rec.maybe_sent \
            and rec.inflight_fp and rec.inflight_fp != fp:
        # A repeat is recognised by the platform only if it is the same post.
        text = ("an earlier attempt may be out with the earlier content (the post changed "
                "since): check the account, then resend or mark it sent")
        return _doubt(svc, rec, owner, text, now)
    # One send per destination at a time in this process, the slot taken right before the
    # request: the platform then sees our spacing, not our threads' scheduling jitter (a first
    # send that initialises its client must not be overtaken by a second one).  Costs nothing:
    # a destination takes one post a second at most.
    lock = _destination_lock(spec.bucket)
    if not lock.acquire(timeout=LOCK_WAIT_SECONDS):
        return _slot_wait(svc, rec, owner, state.now() if now is None else now, 1.0)
    try:
        current = state.now() if now is None else now
        wait, current = _wait_briefly(svc, spec, current, sleep=now is None, reserve=True)
        if wait > 0:  # other records took the slots between our check and now
            return _slot_wait(svc, rec, owner, current, wait)
        pace_taken(svc, spec, rec)  # the slot is ours: the paced backlog's next may go
        reserved = time.monotonic()
        try:
            deadline = state.fence_send(*rec.ref, owner=owner,
                                        send_seconds=_send_bound(publisher),
                                        ignore_pause=override, fingerprint=fp, now=now)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The fence's answer was lost with the connection (Redis restarting): it may have
            # passed in Redis, but no request left this process, so this attempt is no
            # uncertain send (a restart must not make an editor check the channel).
            log.warning("Redis unavailable at the fence of %s (%s: %s); nothing was sent",
                        rec.post, type(exc).__name__, exc)
            return _after_unexpected(svc, rec, owner, exc, now, nothing_sent=True)
        if deadline is None:
            return _not_ours_any_more(svc, rec, owner, now)
        started = time.monotonic()
        try:
            receipt = publisher.send(post, item)
        except DeliveryError as err:
            return observe.attempt_ended(
                rec, post, _on_error(svc, rec, publisher, err, spec, owner, now), err=err)
        except Exception as exc:  # the request may have left: as uncertain as a timeout
            err = DeliveryError(
                "transient", redact(f"unexpected {type(exc).__name__}: {exc}")[:500],
                uncertain=True)
            return observe.attempt_ended(
                rec, post, _on_error(svc, rec, publisher, err, spec, owner, now), err=err)
        finally:
            took = time.monotonic() - started
        outcome = observe.attempt_ended(
            rec, post, _complete(svc, rec, item, receipt, spec, owner, now, post))
        # The request reached the platform somewhere within `took` after our slot.  When that
        # is more than the rules' jitter allowance (a first send that initialises its client, a
        # slow network, a busy machine), the slot counts from the answer for every worker (the
        # platform's 20-a-minute window may have started that much later than ours: the 21st
        # send would meet a 429), and this process's next send waits a full window after it.
        if spec.rules and took > JITTER_SECONDS and now is None:
            with contextlib.suppress(redis.RedisError):  # the sleep below still spaces ours
                svc.limiter.settle(spec.bucket, current,
                                   current + time.monotonic() - reserved)
            # A spacing rule's window (one send per window: Telegram's 1 s) is waited out here;
            # a count window (20 a minute, X_DAILY_LIMIT's day, pacing's hour) is kept by the
            # log the settle above corrected, never by a sleep holding this destination's lock
            # (min() of the windows once slept a whole day after a slow X send).
            spacing = [w for n, w in spec.rules[:len(spec.rules) - len(spec.pace_rules)]
                       if n == 1]
            if spacing:
                time.sleep(min(min(spacing), MAX_SETTLE_SLEEP_SECONDS))
        return outcome
    finally:
        lock.release()


def _not_ours_any_more(svc: Services, rec: Record, owner: str, now: float | None) -> str:
    """The fence refused: nothing was sent.  Paused meanwhile: give the record back."""
    state = svc.state
    current = state.get_by_key(rec.key)
    if current is not None and current.state == "sending" and current.lease_owner == owner:
        reason = "paused before sending: goes out when publishing resumes"
        if state.release_send(*rec.ref, owner=owner, reason=reason, now=now) is not None:
            _event(rec, "sending", "queued", reason=reason)
            return "paused"
    log.warning("lease on %s (%s) lost before sending: not sent (now %s)", rec.post,
                rec.platform, current.state if current else "gone")
    return "lease_lost"


def _slot_wait(svc: Services, rec: Record, owner: str, current: float, wait: float) -> str:
    text = "rate limit: waiting for a send slot"
    observe.rate_wait(rec.platform, wait)
    svc.state.fail_send(*rec.ref, owner=owner, reason=text, retry_at=current + wait, now=current)
    _event(rec, "sending", "retry_wait", reason=text)
    return "rate_wait"


_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _destination_lock(bucket: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(bucket, threading.Lock())


def _image_note(item: PlatformTeaser) -> str | None:
    """Why the teaser went out without its image (the image failed before the send)."""
    if not isinstance(item.image, ImageFailure):
        return None
    how = "sent as text with a link preview" if item.platform == "telegram" else \
        "posted without it"
    return f"image failed ({item.image.reason}): {how}"


def _with_redis_retry(what: str, call: Callable[[], _T]) -> _T:
    """A receipt must not be lost to a Redis restart: retry the write for a while."""
    return through_outage(what, call, seconds=REDIS_RETRY_SECONDS, first_delay=0.2,
                          max_delay=5.0)


def _complete(svc: Services, rec: Record, item: PlatformTeaser, receipt: Receipt,
              spec: RateSpec, owner: str, now: float | None, post: Post | None = None) -> str:
    notes = [n for n in (_image_note(item), *receipt.notes) if n]
    kind = (receipt.meta or {}).get("kind")
    content = sent_fields(item, kind if isinstance(kind, str) else None, fingerprint([item]))
    ok = _with_redis_retry(f"recording the receipt of {rec.post}", lambda: svc.state.complete_send(
        *rec.ref, owner=owner, receipt_id=receipt.id, receipt_url=receipt.url or "",
        notes=notes, fields=content, now=now))
    receipt_json = {"id": receipt.id, "url": receipt.url}
    if not ok:
        # Our lease was resolved by an editor meanwhile; the post is out, say so loudly.
        log.warning("send of %s to %s succeeded but the record was changed meanwhile "
                    "(receipt %s)", rec.post, rec.platform, receipt.id)
        return "sent"
    if notes:
        for note in notes:
            log.warning("%s %s: %s", rec.platform, rec.post, note)
    _event(rec, "sending", "sent", receipt=receipt_json, notes=notes or None)
    _record_platform_limits(svc, rec, receipt, spec, now)
    after_send(svc, rec, receipt, now=now,
               breaking=post is not None and is_breaking(post, svc.settings))
    svc.notify(Notice(
        kind="published", title=_title(svc, rec), post_url=rec.post, platform=rec.platform,
        destination=rec.destination, links=(receipt.url,) if receipt.url else (),
        text=f"{rec.platform}: {receipt.id}" + "".join(f"\n{n}" for n in notes),
        dedupe=f"{rec.key}|sent|{receipt.id}"))
    return "sent"


def _record_platform_limits(svc: Services, rec: Record, receipt: Receipt, spec: RateSpec,
                            now: float | None) -> None:
    """X says what its windows have left after each post: every worker honours it before the
    next send (a spent window blocks the bucket until its reset), so a backlog drains without
    a 429."""
    meta = receipt.meta or {}
    if rec.platform != "x":
        return
    account = meta.get("account")
    if isinstance(account, str) and account:
        svc.state.name_destination(rec.platform, rec.destination, account)
    budgets: dict[str, tuple[int, float]] = {}
    for name, remaining_key, reset_key in (
        ("15min", "remaining_15min", "reset_15min"),
        ("user24h", "user_24h_remaining", "user_24h_reset"),
        ("app24h", "app_24h_remaining", "app_24h_reset"),
    ):
        remaining, reset = meta.get(remaining_key), meta.get(reset_key)
        if isinstance(remaining, int) and isinstance(reset, int | float):
            budgets[name] = (remaining, float(reset))
    if budgets:
        svc.limiter.record_budget(spec.bucket, budgets, now=now)
    remaining = meta.get("user_24h_remaining")
    if not isinstance(remaining, int):
        return
    limit = meta.get("user_24h_limit")
    reset = meta.get("user_24h_reset")
    daily = svc.settings.x_daily_limit or (limit if isinstance(limit, int) else remaining)
    svc.limiter.daily_counter(spec.bucket, int(daily), remaining,
                              float(reset) if isinstance(reset, int | float) else None, now=now)


def _on_error(svc: Services, rec: Record, publisher: Publisher, err: DeliveryError,
              spec: RateSpec, owner: str, now: float | None) -> str:
    state = svc.state
    reason = redact(err.reason)
    if err.kind == "rate_limited":
        after = float(err.retry_after) if err.retry_after is not None else 60.0
        t = state.now() if now is None else now
        svc.limiter.block_until(spec.bucket, t + after, now=t)
        text = f"rate limited: {reason}"
        state.fail_send(*rec.ref, owner=owner, reason=text, retry_at=t + after, now=t)
        _event(rec, "sending", "retry_wait", reason=text, retry_after=after)
        return "retry_wait"
    if err.kind == "transient":
        if err.uncertain and not _repeat_safe(publisher):
            return _doubt(svc, rec, owner, f"{reason} {UNCERTAIN_MARK}: the post may be out; "
                                            "check the channel, then resend or mark it sent",
                          now)
        return _transient(svc, rec, owner, reason, uncertain=err.uncertain, now=now)
    if err.kind == "duplicate" and rec.maybe_sent:
        receipt_id = f"unknown: {DUPLICATE_NOTE}"
        if state.complete_send(*rec.ref, owner=owner, receipt_id=receipt_id,
                               notes=[DUPLICATE_NOTE], now=now):
            _event(rec, "sending", "sent", reason=DUPLICATE_NOTE,
                   receipt={"id": receipt_id, "url": None})
            svc.notify(Notice(
                kind="published", title=_title(svc, rec), post_url=rec.post,
                platform=rec.platform, destination=rec.destination,
                text=f"{rec.platform}: {DUPLICATE_NOTE}",
                dedupe=f"{rec.key}|duplicate|{rec.attempts}"))
        return "sent"
    if err.unhealthy:  # the destination refused, not this post: wait for its health
        outcome = on_unhealthy_answer(svc, rec, owner, err, now)
        if outcome is not None:
            return outcome
    state.fail_send(*rec.ref, owner=owner, reason=reason, permanent=True, now=now)
    _event(rec, "sending", "failed", reason=reason)
    _notify_failed(svc, rec, reason)
    return "failed"


def _unreadable(svc: Services, rec: Record, owner: str, err: DeliveryError,
                now: float | None) -> str:
    """The account could not be read to settle an uncertain send: a rate limit is waited
    out (the read's own window, not the posting bucket); anything else goes to the editors."""
    reason = redact(err.reason)
    if err.kind == "rate_limited":
        t = svc.state.now() if now is None else now
        after = float(err.retry_after) if err.retry_after is not None else 60.0
        text = f"rate limited reading the account to settle an uncertain send: {reason}"
        svc.state.fail_send(*rec.ref, owner=owner, reason=text, retry_at=t + after, now=t)
        _event(rec, "sending", "retry_wait", reason=text, retry_after=after)
        return "retry_wait"
    return _doubt(svc, rec, owner, f"{reason} {UNCERTAIN_MARK}: an earlier attempt may be out "
                                   f"and {rec.platform} {UNREADABLE_MARK}; check the account, "
                                   "then resend or mark it sent (settled by itself once the "
                                   "account can be read again)", now)


def _doubt(svc: Services, rec: Record, owner: str, reason: str, now: float | None) -> str:
    if not svc.state.fail_send(*rec.ref, owner=owner, reason=reason, doubt=True, now=now):
        return "lease_lost"
    _event(rec, "sending", "in_doubt", reason=reason)
    doubted = svc.state.get_by_key(rec.key)
    if doubted is not None:
        notify_in_doubt(svc, [doubted])
    return "in_doubt"


def _transient(svc: Services, rec: Record, owner: str, reason: str, *, uncertain: bool,
               now: float | None) -> str:
    """Back off and retry; rate-limit waits never count, and the count is a field of the
    record (a history trimmed to its last entries cannot undercount it)."""
    state = svc.state
    failures = rec.transient_failures + 1
    mark = f" {UNCERTAIN_MARK}" if uncertain else ""
    if failures >= svc.settings.max_attempts:
        text = f"gave up after {failures} attempts: {reason}{mark}"
        state.fail_send(*rec.ref, owner=owner, reason=text, permanent=True, transient=True,
                        uncertain=uncertain, now=now)
        _event(rec, "sending", "failed", reason=text)
        _notify_failed(svc, rec, text)
        return "failed"
    t = state.now() if now is None else now
    delay = backoff_delay(failures)
    text = f"{TRANSIENT_PREFIX}{reason}{mark}"
    state.fail_send(*rec.ref, owner=owner, reason=text, retry_at=t + delay, transient=True,
                    uncertain=uncertain, now=t)
    _event(rec, "sending", "retry_wait", reason=text, retry_in=round(delay, 3))
    return "retry_wait"


def _after_unexpected(svc: Services, rec: Record, owner: str, exc: Exception,
                      now: float | None, *, nothing_sent: bool = False) -> str:
    """A bug or a Redis outage inside the lease.  Before the fence nothing left: retry; past
    it the post may be out, so the platform's rules for an uncertain send apply (unless
    ``nothing_sent``: the fence itself failed, so the request never left).

    Redis restarting: the outcome is recorded once the server is back (within
    ``REDIS_RETRY_SECONDS``; the lease keeper renews the lease meanwhile), so the record is
    retried within seconds instead of staying ``sending`` until its lease runs out."""
    text = redact(f"{type(exc).__name__}: {exc}")[:500]

    def settle() -> str:
        current = svc.state.get_by_key(rec.key)
        if current is None or current.state != "sending" or current.lease_owner != owner:
            return "lease_lost"
        if current.send_deadline is None or nothing_sent:
            return _transient(svc, current, owner, text, uncertain=False, now=now)
        if current.repeat_safe:
            return _transient(svc, current, owner, text, uncertain=True, now=now)
        return _doubt(svc, current, owner, f"{text} {UNCERTAIN_MARK}: the post may be out",
                      now)

    try:
        return _with_redis_retry(f"settling the attempt on {rec.post}", settle)
    except Exception as again:  # Redis is gone: the lease keeper's silence settles the lease
        log.error("cannot record the outcome of %s (%s); its lease will be settled",
                  rec.post, type(again).__name__)
        return "lease_lost"


def _content_hold(svc: Services, rec: Record, post: Post, now: float
                  ) -> tuple[str, str, float | None] | None:
    """(state, reason, due) when the post must not go out automatically now."""
    reason = post.unpublishable_reason(datetime.fromtimestamp(now, UTC))
    if reason is not None:
        at = post.date.timestamp()
        return "waiting", reason, (at if at > now else None)
    age_hours = (now - post.date.timestamp()) / 3600.0
    if not rec.extra.get(NO_AGE_LIMIT) and age_hours > svc.settings.max_age_hours:
        return ("skipped", f"stale: came due {age_hours:.0f} h after its date "
                           f"(MAX_AGE_HOURS={svc.settings.max_age_hours:g})", None)
    return None


def _move(svc: Services, rec: Record, new: str, reason: str, now: float, *,
          scheduled_at: float | None = None) -> str:
    moved = svc.state.transition(*rec.ref, FREE, new, reason=reason, scheduled_at=scheduled_at,
                                 by="worker", now=now)
    if moved is None:
        return "busy"
    _event(moved, rec.state, new, reason=reason)
    if new == "failed":
        _notify_failed(svc, moved, reason)
    return new


def _title(svc: Services, rec: Record) -> str:
    """The post's title from the seen index (no file read): notices name the story."""
    try:
        info = svc.state.seen_info(svc.site_key, rec.post) or {}
    except Exception:
        return ""
    title = info.get("title")
    return title if isinstance(title, str) else ""


def _notify_failed(svc: Services, rec: Record, reason: str) -> None:
    """One notice per failure (the attempt count tells a later failure after a retry apart)."""
    svc.notify(Notice(
        kind="failed", title=_title(svc, rec), post_url=rec.post, platform=rec.platform,
        destination=rec.destination, reason=reason, record_key=rec.key,
        dedupe=f"{rec.key}|failed|{rec.attempts}|{reason}"))


def notify_in_doubt(svc: Services, records: Iterable[Record]) -> None:
    """One notice per record that just became in_doubt, with [Send again] [It went out].

    Each record reaches ``in_doubt`` through one transition won by one caller, and the notice's
    identity (record, attempt, time of the change) makes a repeated call quiet too.
    """
    for rec in records:
        svc.notify(Notice(kind="in_doubt", title=_title(svc, rec), post_url=rec.post,
                          platform=rec.platform, destination=rec.destination,
                          reason=rec.reason, record_key=rec.key,
                          dedupe=f"{rec.key}|in_doubt|{rec.attempts}|{rec.updated_at}"))
