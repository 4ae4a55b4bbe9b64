"""The one small interface every platform implements, and the error classes delivery acts on.

Delivery never looks at a platform's exceptions: each publisher turns them into a
`DeliveryError` whose `kind` says what to do next. Adding a platform means one module with a
`Publisher` and one template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # annotations only: importing the teaser machinery costs a quick command
    from bot.platforms.outgoing import PlatformTeaser
    from bot.posts import Post

ErrorKind = Literal["rate_limited", "transient", "permanent", "duplicate"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the platform gave back: kept on the delivery record for links and later edits."""

    id: str
    url: str | None
    notes: tuple[str, ...] = field(default=())
    """Decisions taken while sending, e.g. 'photo refused (...): sent as text'."""
    meta: Mapping[str, object] = field(default_factory=dict)
    """Platform facts delivery uses, e.g. X's 24-hour counters (`user_24h_remaining`, ...)."""


@dataclass(frozen=True, slots=True)
class EditOutcome:
    """What a message says after an edit (corrections): kept on the record for the next one."""

    method: str
    """The platform call used, e.g. ``editMessageCaption``."""
    kind: str
    """``photo`` or ``text``: what the message is now."""
    text: str
    """The text or caption sent (HTML for Telegram)."""
    image: str = ""
    """sha256 of the photo the message shows now ("" for a text message)."""
    unchanged: bool = False
    """The platform said nothing changed (Telegram's "message is not modified"): success."""
    notes: tuple[str, ...] = field(default=())


class DeliveryError(Exception):
    """A send that did not (certainly) happen.

    kind: `rate_limited` (wait exactly `retry_after` seconds, every worker), `transient`
    (network, timeout, 5xx: back off and retry), `permanent` (the platform refused: an editor must
    act), `duplicate` (X says this text already exists: after an uncertain send, it is ours).
    `uncertain` is True when the request may have reached the platform (a timeout after the body
    was sent), which matters for deciding what a later `duplicate` means.
    `unhealthy` is True when the refusal is about the destination, not the post (the bot may not
    post in the channel, the keys were revoked, X credits are spent): the queue of that
    destination waits for the connection health check instead of failing post after post.
    """

    def __init__(
        self,
        kind: ErrorKind,
        reason: str,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
        unhealthy: bool = False,
    ) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind: ErrorKind = kind
        self.reason = reason
        self.retry_after = retry_after
        self.uncertain = uncertain
        self.unhealthy = unhealthy

    def __reduce__(self):  # keep the fields when Celery pickles the exception
        return (
            _rebuild_delivery_error,
            (self.kind, self.reason, self.retry_after, self.uncertain, self.unhealthy),
        )


def _rebuild_delivery_error(
    kind: ErrorKind, reason: str, retry_after: float | None, uncertain: bool,
    unhealthy: bool = False,
) -> DeliveryError:
    return DeliveryError(kind, reason, retry_after=retry_after, uncertain=uncertain,
                         unhealthy=unhealthy)


class Publisher(Protocol):
    platform: str
    """'telegram' | 'x': which teaser this publisher sends."""
    destination: str
    """Where it goes ('@newsdao', 'x', 'dryrun'): part of the delivery record's identity."""
    max_send_seconds: float
    """A hard bound on one ``send`` (the publisher cuts it there): the fenced lease covers it,
    so no lease can run out while a request is in flight."""
    repeat_safe: bool
    """The platform refuses an identical repeat (X's duplicate answer), so an attempt that may
    have gone out can be retried; without it (Telegram) only an editor may decide."""

    def send(self, post: Post, item: PlatformTeaser) -> Receipt:
        """Send one teaser; raise DeliveryError for anything but a certain success."""
        ...

    def close(self) -> None: ...


class Corrector(Protocol):
    """A publisher that can change or remove what it sent (``bot.delivery.corrections``).

    Both are idempotent: editing to what the message already says, or deleting what is gone,
    succeeds, so a crash mid-correction can only repeat it, never post anew.
    """

    def edit(self, post: Post, message_id: str, item: PlatformTeaser, *, sent_kind: str,
             sent_image: str, caption: str | None = None) -> EditOutcome:
        """Make message ``message_id`` say ``item``; DeliveryError as for ``send``."""
        ...

    def delete(self, message_id: str) -> str:
        """Remove it: ``deleted`` or ``already gone``; DeliveryError when refused."""
        ...
