"""Dry run: what would have been sent (and edited), one JSON line each in `data_dir/outbox.jsonl`.

Several worker processes may append at once. Each record is written with a single `write` on an
`O_APPEND` descriptor under an exclusive `flock`, so lines never interleave even past the pipe
atomicity size, and a reader never sees half a record.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from bot.platforms.base import DeliveryError, EditOutcome, Receipt
from bot.platforms.outgoing import PlatformTeaser, image_json, plan_edit
from bot.posts import Post

log = logging.getLogger(__name__)

OUTBOX_NAME = "outbox.jsonl"


class DryRunPublisher:
    """Records teasers instead of sending them; never fails for platform reasons."""

    destination = "dryrun"
    dry_run = True
    max_send_seconds = 10.0  # one local append
    repeat_safe = False  # the outbox would show a repeat: the dry run judges like Telegram

    def __init__(self, platform: str, data_dir: Path, *,
                 prices: Mapping[str, float] | None = None) -> None:
        self.platform = platform
        self.path = Path(data_dir) / OUTBOX_NAME
        # X_PRICES: an X line says what the post would have cost, so a trial shows the bill.
        self.prices = dict(prices) if prices is not None else None

    def __repr__(self) -> str:
        return f"DryRunPublisher(platform={self.platform!r}, path={str(self.path)!r})"

    def send(self, post: Post, item: PlatformTeaser) -> Receipt:
        receipt_id = f"dryrun-{uuid.uuid4().hex[:12]}"
        teaser = item.teaser
        record = {
            "at": _now(),
            "platform": self.platform,
            "destination": self.destination,
            "post": post.url,
            "title": post.title,
            "text": teaser.text,
            "parse_mode": teaser.parse_mode,
            "length": teaser.length,
            "limit": teaser.limit,
            "image": image_json(item.image),
            "id": receipt_id,
        }
        if item.silent:  # quiet hours: Telegram would get disable_notification
            record["silent"] = True
        if self.platform == "x" and self.prices is not None:
            from bot.platforms.x_price import planned_calls, price_usd

            calls = planned_calls(item, alt_text=bool(post.image_alt.strip()))
            record["billable"] = calls
            record["price_usd"] = price_usd(calls, self.prices)
        self._append(record)
        log.info(
            "dry run: %s teaser for %s (%d/%d) written to %s",
            self.platform, post.url, teaser.length, teaser.limit, self.path,
        )  # fmt: skip
        return Receipt(id=receipt_id, url=None)

    def edit(self, post: Post, message_id: str, item: PlatformTeaser, *, sent_kind: str,
             sent_image: str, caption: str | None = None) -> EditOutcome:
        """A correction in a trial: the outbox gets an ``"action": "edit"`` line naming the
        Telegram call a live run would make (``plan_edit``, the same choice), so an editor
        can try ``EDIT_PUBLISHED`` and ``/edit`` without a channel."""
        plan = plan_edit(item, sent_kind, sent_image, caption)
        if plan.method == "editMessageCaption" and not item.has_photo and caption is None:
            raise DeliveryError("permanent", "editMessageCaption: the post has no image now "
                                             "and no caption was given")
        self._append({
            "at": _now(),
            "action": "edit",
            "platform": self.platform,
            "destination": self.destination,
            "post": post.url,
            "title": post.title,
            "message": message_id,
            "method": plan.method,
            "text": plan.text,
            "image": image_json(plan.image) if plan.image is not None else None,
            "notes": list(plan.notes),
        })
        log.info("dry run: %s edit of %s (%s) written to %s", self.platform, message_id,
                 plan.method, self.path)
        return EditOutcome(plan.method, plan.kind, plan.text, plan.shown, notes=plan.notes)

    def close(self) -> None:
        """Nothing is held open between sends."""

    def _append(self, record: dict[str, object]) -> None:
        line = (_json_line(record) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                _write_all(fd, line)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Characters str.splitlines() treats as line breaks that json.dumps leaves raw: escaped, so a
# record stays one line for any reader (Korean text itself stays readable, not \u-escaped).
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
