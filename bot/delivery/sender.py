"""One delivery attempt of one record: the only code that calls a publisher.

Why the order of steps matters:

* rate limits are checked *before* the lease (a record that must wait goes back to ``waiting`` on
  the schedule without costing an attempt) and the slot is taken right *after* it, so a duplicate
  task that loses the lease race never burns a send slot;
* the post is re-read from disk so the latest text goes out, and a post that became unpublishable
  (date moved forward, ``published: false``) waits again unless an editor pushed it;
* every outcome, including an exception nobody expected, ends in one state transition: a record is
  never left in ``sending`` by a live worker (a dead worker's lease expires into ``in_doubt``);
* with APPROVAL_REQUIRED nothing goes out that an editor did not push: the scan parks new posts
  as ``waiting`` (awaiting approval), and this module checks again right before the lease, so a
  record that reached the queue another way (a future date that came due, a backfill) is parked
  and previewed instead of sent;
* the editors hear about each outcome worth a human's eye (failed, published, a duplicate after
  an uncertain send) through ``svc.notify``, which never raises and sends each notice once.

Outcome words returned: sent, rate_wait, retry_wait, failed, waiting, paused, busy, missing,
not_queued.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from bot.actions.content import prepare
from bot.delivery.schedule import JITTER_SECONDS, RateSpec, backoff_delay, rate_spec
from bot.delivery.services import AWAITING_APPROVAL, Services
from bot.logs import log_event, redact
from bot.notify import Notice
from bot.platforms.base import DeliveryError, Publisher, Receipt
from bot.posts import Post
from bot.state import Record

__all__ = ["DUPLICATE_NOTE", "UNCERTAIN_MARK", "deliver"]

log = logging.getLogger(__name__)

UNCERTAIN_MARK = "[uncertain]"
TRANSIENT_PREFIX = "transient: "
DUPLICATE_NOTE = "X reported duplicate content after an uncertain send"
FREE = ("queued", "retry_wait")
SHORT_WAIT_SECONDS = 1.0
LOCK_WAIT_SECONDS = 60.0


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
    if state.is_paused():
        return "paused"

    # Cheap checks first: during a backlog most tasks only learn that they must wait.
    spec = rate_spec(svc.settings, rec.platform, rec.destination, dry_run=svc.dry_run)
    wait, current = _wait_briefly(svc, spec, current, sleep=now is None)
    if wait > 0:
        outcome = _move(svc, rec, "waiting", "rate limit", current, scheduled_at=current + wait)
        return "rate_wait" if outcome == "waiting" else outcome

    post = svc.find_post_by_url(rec.post)
    if post is None:
        return _move(svc, rec, "failed", "post file removed", current)
    if not rec.extra.get("manual"):
        held = _content_hold(post, current)
        if held is not None:
            reason, scheduled_at = held
            return _move(svc, rec, "waiting", reason, current, scheduled_at=scheduled_at)
    if svc.settings.approval_required and not editor_decided(svc, rec):
        outcome = _move(svc, rec, "waiting", AWAITING_APPROVAL, current)
        if outcome == "waiting":
            svc.request_approval(post)
        return outcome

    held_rec = state.acquire_send(*rec.ref, owner=owner, lease_seconds=svc.lease_seconds,
                                  now=current)
    if held_rec is None:
        return "paused" if state.is_paused() else "busy"
    _event(held_rec, rec.state, "sending")
    try:
        return _attempt(svc, held_rec, post, publisher, spec, owner, now)
    except Exception as exc:  # never lose a record to a bug: it goes back to retry_wait
        log.exception("unexpected error sending %s", held_rec.post)
        text = redact(f"{type(exc).__name__}: {exc}")
        return _transient(svc, held_rec, owner, text, uncertain=True, now=now)


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
        time.sleep(wait)
        current = svc.state.now()
        wait = check(spec.bucket, spec.rules, spacing=spec.spacing, now=current)
    return wait, current


def _attempt(svc: Services, rec: Record, post: Post, publisher: Publisher, spec: RateSpec,
             owner: str, now: float | None) -> str:
    state = svc.state
    item = prepare(svc.tools, post, rec.platform)
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
        started = time.monotonic()
        try:
            receipt = publisher.send(post, item)
        except DeliveryError as err:
            return _on_error(svc, rec, err, spec, owner, now)
        finally:
            took = time.monotonic() - started
        outcome = _complete(svc, rec, receipt, spec, owner, now)
        # The request reached the platform somewhere within `took` after our slot.  When that
        # is more than the rules' jitter allowance (a first send that initialises its client, a
        # slow network), keep this destination's next send from this process a full window
        # after the answer, so two requests can never land closer than the platform allows.
        if spec.rules and took > JITTER_SECONDS and now is None:
            time.sleep(min(w for _, w in spec.rules))
        return outcome
    finally:
        lock.release()


def _slot_wait(svc: Services, rec: Record, owner: str, current: float, wait: float) -> str:
    text = "rate limit: waiting for a send slot"
    svc.state.fail_send(*rec.ref, owner=owner, reason=text, permanent=False,
                        retry_at=current + wait, now=current)
    _event(rec, "sending", "retry_wait", reason=text)
    return "rate_wait"


_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _destination_lock(bucket: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(bucket, threading.Lock())


def _complete(svc: Services, rec: Record, receipt: Receipt, spec: RateSpec, owner: str,
              now: float | None) -> str:
    ok = svc.state.complete_send(*rec.ref, owner=owner, receipt_id=receipt.id,
                                 receipt_url=receipt.url or "", now=now)
    receipt_json = {"id": receipt.id, "url": receipt.url}
    if not ok:
        # Our lease was resolved by an editor meanwhile; the post is out, say so loudly.
        log.warning("send of %s to %s succeeded but the record was changed meanwhile "
                    "(receipt %s)", rec.post, rec.platform, receipt.id)
        return "sent"
    _event(rec, "sending", "sent", receipt=receipt_json, notes=list(receipt.notes) or None)
    _record_platform_quota(svc, rec, receipt, spec, now)
    svc.notify(Notice(
        kind="published", title=_title(svc, rec), post_url=rec.post, platform=rec.platform,
        destination=rec.destination, links=(receipt.url,) if receipt.url else (),
        text=f"{rec.platform}: {receipt.id}", dedupe=f"{rec.key}|sent|{receipt.id}"))
    return "sent"


def _record_platform_quota(svc: Services, rec: Record, receipt: Receipt, spec: RateSpec,
                           now: float | None) -> None:
    """X says how many posts its 24 h window has left; all workers stop when it says zero."""
    meta = receipt.meta or {}
    remaining = meta.get("user_24h_remaining")
    if rec.platform != "x" or not isinstance(remaining, int):
        return
    limit = meta.get("user_24h_limit")
    reset = meta.get("user_24h_reset")
    daily = svc.settings.x_daily_limit or (limit if isinstance(limit, int) else remaining)
    svc.limiter.daily_counter(spec.bucket, int(daily), remaining,
                              float(reset) if isinstance(reset, int | float) else None, now=now)


def _on_error(svc: Services, rec: Record, err: DeliveryError, spec: RateSpec, owner: str,
              now: float | None) -> str:
    state = svc.state
    reason = redact(err.reason)
    if err.kind == "rate_limited":
        after = float(err.retry_after) if err.retry_after is not None else 60.0
        t = state.now() if now is None else now
        svc.limiter.block_until(spec.bucket, t + after, now=t)
        text = f"rate limited: {reason}"
        state.fail_send(*rec.ref, owner=owner, reason=text, permanent=False,
                        retry_at=t + after, now=t)
        _event(rec, "sending", "retry_wait", reason=text, retry_after=after)
        return "retry_wait"
    if err.kind == "transient":
        return _transient(svc, rec, owner, reason, uncertain=err.uncertain, now=now)
    if err.kind == "duplicate" and _was_uncertain(svc, rec):
        receipt_id = f"unknown: {DUPLICATE_NOTE}"
        if state.complete_send(*rec.ref, owner=owner, receipt_id=receipt_id, now=now):
            _event(rec, "sending", "sent", reason=DUPLICATE_NOTE,
                   receipt={"id": receipt_id, "url": None})
            svc.notify(Notice(
                kind="published", title=_title(svc, rec), post_url=rec.post,
                platform=rec.platform, destination=rec.destination,
                text=f"{rec.platform}: {DUPLICATE_NOTE}",
                dedupe=f"{rec.key}|duplicate|{rec.attempts}"))
        return "sent"
    state.fail_send(*rec.ref, owner=owner, reason=reason, permanent=True, now=now)
    _event(rec, "sending", "failed", reason=reason)
    _notify_failed(svc, rec, reason)
    return "failed"


def _history(svc: Services, rec: Record) -> list[dict[str, object]]:
    return svc.state.history(*rec.ref)


def _was_uncertain(svc: Services, rec: Record) -> bool:
    """An earlier attempt of this record may have reached the platform."""
    for entry in _history(svc, rec):
        if entry.get("to") == "in_doubt" or UNCERTAIN_MARK in str(entry.get("reason", "")):
            return True
    return False


def _transient_failures(svc: Services, rec: Record) -> int:
    """Earlier transient failures (rate-limit waits do not count toward MAX_ATTEMPTS)."""
    return sum(
        1 for e in _history(svc, rec)
        if e.get("from") == "sending" and str(e.get("reason", "")).startswith(TRANSIENT_PREFIX)
    )


def _transient(svc: Services, rec: Record, owner: str, reason: str, *, uncertain: bool,
               now: float | None) -> str:
    state = svc.state
    failures = _transient_failures(svc, rec) + 1
    mark = f" {UNCERTAIN_MARK}" if uncertain else ""
    if failures >= svc.settings.max_attempts:
        text = f"gave up after {failures} attempts: {reason}{mark}"
        state.fail_send(*rec.ref, owner=owner, reason=text, permanent=True, now=now)
        _event(rec, "sending", "failed", reason=text)
        _notify_failed(svc, rec, text)
        return "failed"
    t = state.now() if now is None else now
    delay = backoff_delay(failures)
    text = f"{TRANSIENT_PREFIX}{reason}{mark}"
    state.fail_send(*rec.ref, owner=owner, reason=text, permanent=False, retry_at=t + delay,
                    now=t)
    _event(rec, "sending", "retry_wait", reason=text, retry_in=round(delay, 3))
    return "retry_wait"


def _content_hold(post: Post, now: float) -> tuple[str, float | None] | None:
    reason = post.unpublishable_reason(datetime.fromtimestamp(now, UTC))
    if reason is None:
        return None
    at = post.date.timestamp()
    return reason, (at if at > now else None)


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


PLANNERS = ("scan", "backfill")


def editor_decided(svc: Services, rec: Record) -> bool:
    """An editor pushed this record (``manual``) or moved it (retry, resend, force) since the
    scan last planned it: under APPROVAL_REQUIRED that is the approval.

    The history is read newest first, past the worker's own bounces (rate waits, transient
    retries, the schedule's promotions), so an approved record that had to wait for a send slot
    is not held again; a later scan decision (the file was edited) needs a new approval.
    """
    if rec.extra.get("manual"):
        return True
    for entry in reversed(svc.state.history(*rec.ref)):
        if str(entry.get("reason", "")).startswith("editor "):
            return True
        if entry.get("by") in PLANNERS:
            return False
    return False


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
