"""Corrections and retractions of posts that already went out.

Why it is separate from sending: a sent record never goes back to the queue (identity is the
file beside the URL, and "exactly once" forbids a second post).  A correction changes the message
that is out, under the receipt's message id, and nothing else:

* the planner sees a changed file of a post whose records are ``sent`` and, with
  ``EDIT_PUBLISHED``, asks for an edit of each Telegram message (``request_edit``: the record
  joins the pending edits, ``State.edits``, and its key goes to the publish task as a send's);
* the worker (``apply_edit``, called by ``sender.deliver`` for a sent record) claims the entry,
  re-reads the post, renders the teaser exactly as a send would and compares its fingerprint with
  the one stored with the receipt: only a teaser that differs is edited.  The edit takes a slot of
  the destination's rate limiter like a send; a 429 blocks the bucket for its retry_after;
  "message is not modified" is success; "message to edit not found" / "message can't be edited"
  go to the editors with Telegram's reason.  Edits are idempotent, so a crash mid-edit can only
  repeat one (the entry's lease runs out and the tick hands it over again); no path here sends;
* X is never edited nor re-posted (an X edit needs Premium and the first hour);
* a post that is ``retracted: true`` (or ``published: false`` after publishing) is not edited:
  the editors are asked once, with buttons, whether to delete the Telegram message (Telegram
  deletes channel messages only within 48 h) and the X post (``retract``).

Every edit and delete goes to the audit stream with the text before and after.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.delivery.connection_health import edit_hold, enabled, mark_unhealthy
from bot.delivery.content import fingerprint, prepare
from bot.delivery.notify import Notice
from bot.delivery.schedule import rate_spec
from bot.delivery.services import Services
from bot.images import ImageVariant
from bot.logs import log_event, redact
from bot.platforms.base import DeliveryError, EditOutcome
from bot.platforms.outgoing import PlatformTeaser
from bot.posts import Post
from bot.state import Record

__all__ = ["DELETE_WINDOW_SECONDS", "EDIT_LEASE_SECONDS", "RetractReport", "apply_edit",
           "ask_retraction", "is_retracted", "request_edit", "request_edits", "retract",
           "sent_fields"]

log = logging.getLogger(__name__)

#: How long a worker holds an edit before another may take it (the longest edit: an upload).
EDIT_LEASE_SECONDS = 120.0
#: Waits up to this long (a rate slot, a short retry_after) are slept in the worker.
SHORT_WAIT_SECONDS = 3.0
#: Retry of an edit after a transient failure (network, 5xx): edits repeat harmlessly.
TRANSIENT_RETRY_SECONDS = 30.0
#: The longest wait between two tries of an edit that keeps failing.
MAX_RETRY_SECONDS = 3600.0
#: Telegram deletes a bot's channel messages only within 48 hours (platform-contracts A3).
DELETE_WINDOW_SECONDS = 48 * 3600.0
#: The tick hands an edit over again when it has been due this long without being taken.
STALE_GRACE_SECONDS = 5.0


def is_retracted(post: Post) -> bool:
    """``retracted: true``, or ``published: false`` on a post that already went out."""
    return bool(getattr(post, "retracted", False)) or not post.published


def sent_fields(item: PlatformTeaser, kind: str | None, fp: str) -> dict[str, str]:
    """What a sent message says, for ``State.complete_send(fields=...)``."""
    photo = kind == "photo" if kind else isinstance(item.image, ImageVariant)
    text = item.teaser.text
    if not photo and isinstance(item.image, ImageVariant) and item.fallback is not None:
        text = item.fallback.text  # the photo was refused: the text teaser went out
    image = item.image.sha256 if photo and isinstance(item.image, ImageVariant) else ""
    return {"sent_fp": fp, "sent_kind": "photo" if photo else "text", "sent_text": text,
            "sent_image": image}


# ---------------------------------------------------------------------- planner side
def request_edit(svc: Services, rec: Record, enqueue: Any) -> bool:
    """Ask for an edit of a sent record's message; False when this one cannot be edited."""
    if (rec.state != "sent" or not rec.receipt_id or rec.extra.get("deleted_at")
            or not _can_edit(svc, rec)):
        return False  # a message an editor deleted stays deleted
    svc.state.edits.want(rec.key)
    try:
        enqueue(rec.key)
    except Exception as exc:  # the tick hands a stale entry over again
        log.warning("enqueue of the edit of %s failed (%s); the tick will retry", rec.key, exc)
    return True


def request_edits(svc: Services, post: Post, records: Iterable[Record], enqueue: Any) -> int:
    """The planner's hook for a changed file of a published post (``_replan``)."""
    sent = [r for r in records if r.state == "sent" and r.receipt_id]
    if not sent:
        return 0
    if is_retracted(post):
        ask_retraction(svc, post, sent)
        return 0
    if not svc.settings.edit_published:
        return 0
    return sum(1 for rec in sent if request_edit(svc, rec, enqueue))


def _can_edit(svc: Services, rec: Record) -> bool:
    if rec.platform != "telegram":
        return False  # X: never edited, never re-posted
    return hasattr(svc.publisher_for(rec.platform, rec.destination), "edit")


# ---------------------------------------------------------------------- worker side
def apply_edit(svc: Services, record_key: str, *, owner: str = "worker",
               now: float | None = None) -> str:
    """Carry out the pending edit of a sent record; returns an outcome word: edited,
    unchanged, rate_wait, retry_wait, edit_failed, unhealthy (the channel refuses the bot: tried
    again after HEALTH_SECONDS), not_queued (nothing pending or held)."""
    edits = svc.state.edits
    claim = edits.claim(record_key, lease=EDIT_LEASE_SECONDS, now=now)
    if claim is None:
        return "not_queued"
    outcome = "not_queued"
    for _ in range(10):  # wanted again mid-edit: go again at once (bounded)
        try:
            outcome, retry_at = _edit_once(svc, record_key, owner, now)
        except Exception as exc:  # our own bug or Redis: the lease hands it over later
            log.exception("edit of %s failed unexpectedly", record_key)
            return f"error: {type(exc).__name__}"
        if retry_at is not None:
            edits.retry(record_key, claim, at=retry_at)
            return outcome
        if not edits.finish(record_key, claim, now=now):
            return outcome
        claim = edits.claim(record_key, lease=EDIT_LEASE_SECONDS, now=now)
        if claim is None:
            return outcome
    edits.retry(record_key, claim, at=svc.state.now())
    return outcome


def _edit_once(svc: Services, key: str, owner: str, now: float | None
               ) -> tuple[str, float | None]:
    state = svc.state
    rec = state.get_by_key(key)
    if rec is None or rec.state != "sent" or not rec.receipt_id:
        return "not_sent", None
    if rec.extra.get("deleted_at"):
        return "deleted", None
    publisher = svc.publisher_for(rec.platform, rec.destination)
    if publisher is None or rec.platform != "telegram" or not hasattr(publisher, "edit"):
        return "not_editable", None
    post = svc.find_post_by_url(rec.post)
    if post is None:
        return "missing", None
    if is_retracted(post):
        return "retracted", None
    item = prepare(svc.tools, post, rec.platform)
    fp = fingerprint([item])
    if fp == rec.extra.get("sent_fp"):
        return "unchanged", None
    kind = rec.extra.get("sent_kind") or _guess_kind(rec, item)
    caption = None
    if kind == "photo" and not isinstance(item.image, ImageVariant):
        caption = svc.tools.renderer.telegram(post, photo=True).text  # fitted to 1024
    # the bot may not post (or edit) there now: the edit waits for the destination's health
    held = edit_hold(svc, rec.platform, rec.destination, state.now() if now is None else now)
    if held is not None:
        return "unhealthy", held
    spec = rate_spec(svc.settings, rec.platform, rec.destination, dry_run=svc.dry_run)
    for _ in range(3):
        current = state.now() if now is None else now
        wait = svc.limiter.reserve(spec.bucket, spec.rules, spacing=spec.spacing, now=current)
        if wait > SHORT_WAIT_SECONDS * svc.settings.rate_time_scale or (wait > 0 and now):
            return "rate_wait", current + wait
        if wait > 0:
            time.sleep(wait)
            continue
        try:
            out = publisher.edit(post, rec.receipt_id, item, sent_kind=kind,  # type: ignore[attr-defined]
                                 sent_image=rec.extra.get("sent_image", ""), caption=caption)
        except DeliveryError as err:
            if err.kind == "rate_limited":
                after = float(err.retry_after or 60.0)
                svc.limiter.block_until(spec.bucket, current + after, now=current)
                if after <= SHORT_WAIT_SECONDS and now is None:
                    time.sleep(after)
                    continue
                return "rate_wait", current + after
            if err.kind == "transient":
                return _transient(svc, rec, redact(err.reason), owner, current)
            if err.unhealthy and enabled(svc):  # the channel refused, not this message
                mark_unhealthy(svc, rec.platform, rec.destination, redact(err.reason),
                               now=current)
                return "unhealthy", current + float(svc.settings.health_seconds)
            _edit_refused(svc, rec, redact(err.reason), owner)
            return "edit_failed", None
        _edited(svc, rec, out, fp, owner)
        return ("unchanged" if out.unchanged else "edited"), None
    current = state.now() if now is None else now
    return "rate_wait", current + 1.0


def _transient(svc: Services, rec: Record, reason: str, owner: str, current: float
               ) -> tuple[str, float | None]:
    """A network error or a 5xx on an edit: tried again with doubling waits (30 s, 60 s, ...,
    at most an hour); after ``MAX_ATTEMPTS`` tries the editors get the reason and the retries
    stop (a channel that keeps failing is not hammered forever; an editor's ``/edit`` starts
    a fresh count).  The count is a field of the record, so it survives a worker's death."""
    tries = _edit_failures(rec) + 1
    if tries >= svc.settings.max_attempts:
        svc.state.edits.update_sent(rec.key, rec.receipt_id or "", {"edit_failures": "0"})
        _edit_refused(svc, rec, f"{reason} (after {tries} tries)", owner)
        return "edit_failed", None
    svc.state.edits.update_sent(rec.key, rec.receipt_id or "", {"edit_failures": str(tries)})
    wait = min(TRANSIENT_RETRY_SECONDS * 2 ** (tries - 1), MAX_RETRY_SECONDS)
    log.warning("edit of %s: %s; try %d of %d, again in %.0f s", rec.post, reason, tries,
                svc.settings.max_attempts, wait)
    return "retry_wait", current + wait


def _edit_failures(rec: Record) -> int:
    try:
        return max(0, int(rec.extra.get("edit_failures") or 0))
    except ValueError:
        return 0


def _guess_kind(rec: Record, item: PlatformTeaser) -> str:
    """A record sent before corrections existed has no ``sent_kind``: a photo went out when
    the teaser has an image and the receipt does not say it went as text."""
    if any("sent as text" in n for n in rec.notes):
        return "text"
    return "photo" if isinstance(item.image, ImageVariant) else "text"


def _edited(svc: Services, rec: Record, out: EditOutcome, fp: str, owner: str) -> None:
    before = rec.extra.get("sent_text", "")
    svc.state.edits.update_sent(rec.key, rec.receipt_id or "", {
        "sent_fp": fp, "sent_kind": out.kind, "sent_text": out.text, "sent_image": out.image,
        "edit_failures": "0"})
    result = {"post": rec.post, "platform": rec.platform, "destination": rec.destination,
              "message": rec.receipt_id, "method": out.method, "unchanged": out.unchanged,
              "before": before, "after": out.text, "notes": list(out.notes)}
    svc.state.audit(owner, "edit", rec.key, result)
    log_event(log, "edited", post=rec.post, platform=rec.platform,
              destination=rec.destination, message=rec.receipt_id, method=out.method,
              unchanged=out.unchanged)
    for note in out.notes:
        svc.notify(Notice(kind="generic", title=_title(svc, rec), post_url=rec.post,
                          platform=rec.platform, destination=rec.destination,
                          text=f"edited in place: {note}",
                          dedupe=f"{rec.key}|edit-note|{fp}"))


def _edit_refused(svc: Services, rec: Record, reason: str, owner: str) -> None:
    svc.state.audit(owner, "edit_failed", rec.key, {
        "post": rec.post, "platform": rec.platform, "destination": rec.destination,
        "message": rec.receipt_id, "reason": reason,
        "before": rec.extra.get("sent_text", "")})
    log_event(log, "edit_failed", level=logging.WARNING, post=rec.post, platform=rec.platform,
              destination=rec.destination, message=rec.receipt_id, reason=reason)
    svc.notify(Notice(kind="generic", title=_title(svc, rec), post_url=rec.post,
                      platform=rec.platform, destination=rec.destination, reason=reason,
                      text=f"{rec.platform} {rec.destination}: the message was not edited: "
                           f"{reason}",
                      dedupe=f"{rec.key}|edit-failed|{reason}"))


def _title(svc: Services, rec: Record) -> str:
    info = svc.state.seen_info(svc.site_key, rec.post) or {}
    title = info.get("title")
    return title if isinstance(title, str) else ""


# ---------------------------------------------------------------------- retractions
def ask_retraction(svc: Services, post: Post, records: Iterable[Record]) -> bool:
    """Ask the editors once (per post and set of messages) whether to delete what went out."""
    sent = sorted((r for r in records if r.state == "sent" and r.receipt_id),
                  key=lambda r: r.key)
    if not sent:
        return False
    where = ", ".join(f"{r.platform} {r.destination}" for r in sent)
    ident = "|".join(f"{r.key}:{r.receipt_id}" for r in sent)
    why = "retracted: true" if getattr(post, "retracted", False) else "published: false"
    return svc.notify(Notice(
        kind="retraction", title=post.title, post_url=sent[0].post, platform=sent[0].platform,
        destination=where, reason=why, record_key=sent[0].key,
        text=_retraction_text(svc, sent), dedupe=f"retraction|{ident}"))


def _retraction_text(svc: Services, sent: list[Record]) -> str:
    now = svc.state.now()
    lines = []
    for rec in sent:
        age = now - float(rec.extra.get("sent_at") or rec.updated_at or now)
        if rec.platform == "telegram" and age > DELETE_WINDOW_SECONDS:
            lines.append(f"{rec.platform} {rec.destination}: sent {age / 3600:.0f} h ago, "
                         "Telegram no longer deletes it (48 h): delete it by hand")
        else:
            lines.append(f"{rec.platform} {rec.destination}: {rec.receipt_url or rec.receipt_id}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class RetractReport:
    """What a [Delete] press did, one line per message."""

    lines: tuple[str, ...]
    deleted: int
    refused: int


def retract(svc: Services, post_url: str, who: str) -> RetractReport:
    """Delete every sent message of ``post_url`` (an editor pressed [Delete]).

    Telegram messages older than 48 h are not attempted (Telegram refuses them): the editors are
    told to delete them by hand.  The record stays ``sent`` (nothing may post it again) and keeps
    ``deleted_at``; each delete is audited with the text that was removed.
    """
    state = svc.state
    lines: list[str] = []
    deleted = refused = 0
    for rec in state.records(post_url=post_url):
        if rec.state != "sent" or not rec.receipt_id or rec.extra.get("deleted_at"):
            continue
        where = f"{rec.platform} {rec.destination}"
        publisher = svc.publisher_for(rec.platform, rec.destination)
        now = state.now()
        age = now - float(rec.extra.get("sent_at") or rec.updated_at or now)
        if publisher is None or not hasattr(publisher, "delete"):
            reason = "this destination cannot delete"
        elif rec.platform == "telegram" and age > DELETE_WINDOW_SECONDS:
            reason = (f"sent {age / 3600:.0f} h ago: Telegram deletes channel messages only "
                      "within 48 h; delete it by hand")
        else:
            try:
                answer = publisher.delete(rec.receipt_id)  # type: ignore[attr-defined]
            except DeliveryError as err:
                reason = redact(err.reason)
            else:
                state.edits.drop(rec.key)
                state.edits.update_sent(rec.key, rec.receipt_id, {"deleted_at": repr(now)})
                state.audit(who, "delete", rec.key, {
                    "post": rec.post, "platform": rec.platform, "destination": rec.destination,
                    "message": rec.receipt_id, "answer": answer,
                    "before": rec.extra.get("sent_text", ""), "after": ""})
                log_event(log, "deleted", post=rec.post, platform=rec.platform,
                          destination=rec.destination, message=rec.receipt_id, answer=answer)
                lines.append(f"{where}: {answer}")
                deleted += 1
                continue
        state.audit(who, "delete_failed", rec.key, {
            "post": rec.post, "platform": rec.platform, "message": rec.receipt_id,
            "reason": reason})
        lines.append(f"{where}: not deleted: {reason}")
        refused += 1
    return RetractReport(tuple(lines), deleted, refused)


def push_edit(svc: Services, post: Post, who: str, enqueue: Any) -> list[str]:
    """An editor's ``/edit``: push the post's current text to every sent message.

    The stored fingerprint is cleared so the worker edits even when it believes the message is
    current (Telegram answers "not modified" if it is); X says it is not editable.
    """
    lines: list[str] = []
    for rec in svc.state.records(post_url=svc.identity_of(post)):
        where = f"{rec.platform} {rec.destination}"
        if rec.state != "sent" or not rec.receipt_id:
            lines.append(f"{where}: not sent ({rec.state}), nothing to edit")
        elif rec.platform != "telegram":
            lines.append(f"{where}: X posts cannot be edited (X_EDIT is not supported); "
                         "correct it on X by hand")
        elif not _can_edit(svc, rec):
            lines.append(f"{where}: this destination cannot edit")
        else:
            svc.state.edits.update_sent(rec.key, rec.receipt_id,
                                        {"sent_fp": "", "edit_failures": "0"})
            request_edit(svc, rec, enqueue)
            svc.state.audit(who, "edit_requested", rec.key, {"post": rec.post})
            lines.append(f"{where}: edit of message {rec.receipt_id} queued")
    return lines or ["no delivery record for this post"]
