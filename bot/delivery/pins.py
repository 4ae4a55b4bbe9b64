"""Pinning breaking posts (PIN_BREAKING) and taking the pins off again (PIN_HOURS).

Why pins never fail a send: the post is out when we pin it; a refused pin (the bot may post but
not manage pinned messages) is told to the editors once per destination and reason, and the
record stays ``sent``.  Unpins are durable (``bot.state.pins``): the tick works off the due ones,
so a restart between pin and unpin changes nothing.  A new breaking pin makes the previous one
due at once: a channel shows one breaking story at the top, not a pile of old ones.
"""

from __future__ import annotations

import logging
import time

from bot.delivery.notify import Notice
from bot.delivery.quiet import record_is_breaking
from bot.delivery.services import Services
from bot.logs import log_event, redact
from bot.platforms.base import DeliveryError, Receipt
from bot.state import Record
from bot.state.pins import PinBook

__all__ = ["RETRY_SECONDS", "after_send", "pin_book", "run_due_unpins"]

log = logging.getLogger(__name__)

#: A transient unpin failure (Telegram down, 429) is tried again this much later.
RETRY_SECONDS = 60.0


def pin_book(svc: Services) -> PinBook:
    return PinBook(svc.state.client, svc.state.namespace)


def after_send(svc: Services, rec: Record, receipt: Receipt, *, breaking: bool,
               now: float | None = None) -> str | None:
    """Pin a breaking post's Telegram message when PIN_BREAKING; never raises.

    Returns ``pinned``, ``refused`` or None (nothing to do)."""
    if rec.platform != "telegram" or not svc.settings.pin_breaking:
        return None
    if not (breaking or record_is_breaking(rec)):
        return None
    publisher = svc.publisher_for(rec.platform, rec.destination)
    pin = getattr(publisher, "pin", None)
    if pin is None or not receipt.id:
        return None
    current = time.time() if now is None else now
    try:
        pin(receipt.id)
    except DeliveryError as err:
        _refused(svc, rec.destination, "pinChatMessage", err, post_url=rec.post)
        return "refused"
    except Exception as exc:  # a bug or a closed publisher must not touch the sent record
        log.warning("pinning %s failed: %s", rec.post, type(exc).__name__)
        return "refused"
    try:
        prev = pin_book(svc).record_pin(rec.destination, receipt.id,
                                        current + svc.settings.pin_hours * 3600.0, current)
    except Exception as exc:
        log.warning("cannot schedule the unpin of %s (%s)", rec.post, type(exc).__name__)
        return "pinned"
    log_event(log, "pinned", post=rec.post, destination=rec.destination, message=receipt.id,
              previous=prev, unpin_in_hours=svc.settings.pin_hours)
    return "pinned"


def run_due_unpins(svc: Services, now: float | None = None) -> int:
    """Unpin every breaking pin whose time came (the tick calls this); returns how many."""
    current = time.time() if now is None else now
    book = pin_book(svc)
    done = 0
    for destination, message_id in book.claim_due(current):
        publisher = svc.publisher_for("telegram", destination)
        unpin = getattr(publisher, "unpin", None)
        if unpin is None:  # the destination is no longer configured: nothing to unpin with
            book.unpinned(destination, message_id)
            continue
        try:
            outcome = unpin(message_id)
        except DeliveryError as err:
            if err.kind in ("transient", "rate_limited"):
                wait = float(err.retry_after) if err.retry_after else RETRY_SECONDS
                book.reschedule(destination, message_id, current + wait)
                continue
            _refused(svc, destination, "unpinChatMessage", err)
            book.unpinned(destination, message_id)
            continue
        except Exception as exc:
            log.warning("unpinning %s in %s failed: %s", message_id, destination,
                        type(exc).__name__)
            book.reschedule(destination, message_id, current + RETRY_SECONDS)
            continue
        book.unpinned(destination, message_id)
        log_event(log, "unpinned", destination=destination, message=message_id,
                  outcome=outcome)
        done += 1
    return done


def _refused(svc: Services, destination: str, method: str, err: DeliveryError, *,
             post_url: str = "") -> None:
    reason = redact(err.reason)[:300]
    log.warning("telegram %s in %s refused: %s", method, destination, reason)
    svc.notify(Notice(
        kind="generic", platform="telegram", destination=destination, post_url=post_url,
        text=f"Breaking post: {method} refused in {destination} ({reason}). The post went "
             "out; give the bot the right to manage pinned messages (can_edit_messages) "
             "or set PIN_BREAKING=false.",
        dedupe=f"pin|{destination}|{method}|{reason}"))
