"""Notices to the editors' chat as events: publishes, failures, in-doubt sends, bad files,
approvals.

Why events: delivery records what happened and which choices exist (a ``Notice``); the editors'
desk renders the message and its buttons and sends it, durably and at Telegram's pace
(``bot.editor.outbox``).  The delivery core never imports the desk, and never waits on Telegram
for a notice: ``Notifier.notify`` writes the event to the Redis queue (``bot.state.notices``) in
one script run and never raises, so a notice can never fail the publish that caused it.

Each notice is queued once: its identity (the ``dedupe`` string, or every field) is claimed in
the same script that queues it, shared by every process and kept for 30 days, so a redelivered
task, a second scanner or a restart stays quiet.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from bot.state import State
from bot.state.notices import NoticeQueue

if TYPE_CHECKING:  # a quick command that only queues or reads notices skips the teaser machinery
    from bot.delivery.content import ContentTools
    from bot.platforms.outgoing import PlatformTeaser
    from bot.posts import Post

__all__ = ["BUTTON_KINDS", "Notice", "NoticeKind", "Notifier", "approval_notice",
           "approval_notice_for"]

log = logging.getLogger(__name__)

NoticeKind = Literal["published", "failed", "in_doubt", "bad_file", "approval", "generic",
                     "retraction", "health", "not_live"]
KINDS: tuple[str, ...] = ("published", "failed", "in_doubt", "bad_file", "approval", "generic",
                          "retraction", "health", "not_live")
# Notices whose message carries buttons acting on one record or post: never folded into a digest
# (nor a destination's health: an outage and its end are each a message of their own).
BUTTON_KINDS = frozenset({"failed", "in_doubt", "approval", "retraction", "health",
                          "not_live"})
DEDUPE_SECONDS = 30 * 24 * 3600
# Field sizes kept in Redis: values come from outside (file names, platform errors, titles).
_FIELD_LIMITS = {"title": 300, "post_url": 2000, "platform": 40, "destination": 200,
                 "reason": 1000, "file": 500, "text": 3000, "record_key": 64, "fingerprint": 64}
_MAX_LINKS = 10


@dataclass(frozen=True, slots=True)
class Notice:
    """One event for the editors.  ``dedupe`` overrides the default once-only identity.

    ``record_key`` names the delivery record (post x platform x destination) a failed or in-doubt
    notice is about: its buttons act on that record only.
    """

    kind: NoticeKind
    title: str = ""
    post_url: str = ""
    platform: str = ""
    destination: str = ""
    reason: str = ""
    links: tuple[str, ...] = ()
    file: str = ""
    text: str = ""
    record_key: str = ""
    dedupe: str = ""
    fingerprint: str = ""

    def identity(self) -> str:
        if self.dedupe:
            return f"{self.kind}|{self.dedupe}"
        parts = (self.kind, self.post_url, self.platform, self.destination, self.record_key,
                 self.file, self.reason, self.text, self.fingerprint, *self.links)
        return "|".join(parts)

    def digest(self) -> str:
        return hashlib.sha256(self.identity().encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        """What the queue keeps: what the message needs, clipped (``dedupe`` has done its work
        when the notice is queued: it is hashed into the once-only key, not kept)."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if name == "dedupe":
                continue
            if name == "links":
                out[name] = [str(u)[:2000] for u in value[:_MAX_LINKS]]
            else:
                out[name] = str(value)[:_FIELD_LIMITS.get(name, 300)]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        """The inverse of ``to_json``; unknown fields are ignored, an unknown kind is generic."""
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        values["links"] = tuple(str(u) for u in values.get("links") or ())
        for name in names - {"links"}:
            values[name] = str(values.get(name) or "")
        if values["kind"] not in KINDS:
            values["kind"] = "generic"
        return cls(**values)


def approval_notice(tools: ContentTools, post: Post) -> Notice:
    """The approval event of ``post`` as it is now (a later edit gives a new fingerprint)."""
    # The teaser machinery, only when an approval notice is made (see TYPE_CHECKING above).
    from bot.delivery.content import prepare

    return approval_notice_for(post, prepare(tools, post, "telegram"), prepare(tools, post, "x"))


def approval_notice_for(post: Post, tg: PlatformTeaser, x: PlatformTeaser) -> Notice:
    # As above: a process that only queues or reads notices never loads it.
    from bot.delivery.content import fingerprint

    return Notice(kind="approval", title=post.title, post_url=post.url,
                  fingerprint=fingerprint([tg, x]))


class Notifier:
    """Queues each notice once for the editors' chat; safe to call from any thread."""

    def __init__(self, state: State, *, notify_published: bool = True) -> None:
        self.state = state
        self.queue = NoticeQueue(state.client, namespace=state.namespace)
        self.notify_published = notify_published

    @classmethod
    def from_settings(cls, settings: Any, state: State) -> Notifier | None:
        """None when no bot token or no editors' chat is configured (notices are then off:
        nobody would send them)."""
        if settings.telegram_bot_token is None or not settings.telegram_editor_chat:
            return None
        return cls(state, notify_published=settings.notify_published)

    def notify(self, notice: Notice) -> bool:
        """True when queued now; False when a duplicate, switched off, or Redis is unreachable.

        Never raises: the caller is a publish, a scan or a button press that must go on.
        """
        if notice.kind == "published" and not self.notify_published:
            return False
        try:
            entry, dropped = self.queue.add(notice.digest(), {"notice": notice.to_json()},
                                            DEDUPE_SECONDS)
        except Exception as exc:
            log.warning("notifier: %s notice not queued (%s)", notice.kind, type(exc).__name__)
            return False
        if dropped:
            log.warning("notifier: the editors' notice queue is full; dropped entry %s (is the "
                        "editors' bot running?)", dropped)
        return entry is not None
