"""What goes out to a platform: the fitted teaser and the image decision, as one value.

Here, in the platforms' room, because every publisher takes it and nothing below the platforms
may import the use cases (``bot.delivery.content`` builds it: ``prepare``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.images import ImageFailure, ImageVariant
from bot.teasers import Teaser

__all__ = ["EditPlan", "PlatformTeaser", "image_json", "image_summary", "plan_edit"]


@dataclass(frozen=True, slots=True)
class PlatformTeaser:
    platform: str
    teaser: Teaser
    image: ImageVariant | ImageFailure | None
    fallback: Teaser | None = None
    """Telegram text teaser (4096 limit) to send instead when the platform refuses the photo."""
    link: str | None = None
    """The post's link as it goes out here (UTM tags included): Telegram's link preview."""
    silent: bool = False
    """Send without a notification (Telegram ``disable_notification``): quiet hours."""

    @property
    def has_photo(self) -> bool:
        return isinstance(self.image, ImageVariant)


def image_json(decision: ImageVariant | ImageFailure | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    if isinstance(decision, ImageFailure):
        return {"status": "failed", "source": decision.source, "reason": decision.reason}
    return {
        "status": "ok",
        "source": decision.source,
        "mime": decision.mime,
        "width": decision.width,
        "height": decision.height,
        "size": decision.size,
        "sha256": decision.sha256,
        "notes": list(decision.notes),
    }


def image_summary(decision: ImageVariant | ImageFailure | None) -> str:
    """One line for terminals and chat replies."""
    if decision is None:
        return "no image: text teaser with link preview"
    if isinstance(decision, ImageFailure):
        return f"image failed ({decision.reason}): text teaser with link preview"
    kb = decision.size / 1024
    notes = f"; {', '.join(decision.notes)}" if decision.notes else ""
    return f"photo {decision.width}x{decision.height} {decision.mime} {kb:.0f} KB{notes}"


@dataclass(frozen=True, slots=True)
class EditPlan:
    """Which Telegram call makes a sent message say ``item`` (``plan_edit``)."""

    method: str  # editMessageMedia | editMessageCaption | editMessageText
    kind: str  # photo | text: what the message is afterwards
    text: str  # the caption or text to send
    image: ImageVariant | None  # the photo to upload (editMessageMedia only)
    shown: str  # sha256 of the photo the message shows afterwards ("" for text)
    notes: tuple[str, ...] = ()


def plan_edit(item: PlatformTeaser, sent_kind: str, sent_image: str,
              caption: str | None) -> EditPlan:
    """Why one function: the Telegram publisher and the dry run must choose the same call
    for the same change (a new photo re-uploads, the same photo edits its caption, a text
    message edits its text, and a photo message never turns into text)."""
    image = item.image if isinstance(item.image, ImageVariant) else None
    if image is not None and (sent_kind != "photo" or sent_image != image.sha256):
        return EditPlan("editMessageMedia", "photo", item.teaser.text, image, image.sha256)
    if image is not None:
        return EditPlan("editMessageCaption", "photo", item.teaser.text, None, image.sha256)
    if sent_kind == "photo":
        notes = ("the post has no image now: the photo stays (Telegram cannot turn a photo "
                 "message into text)",)
        return EditPlan("editMessageCaption", "photo", caption if caption is not None else "",
                        None, sent_image, notes if caption is not None else ())
    return EditPlan("editMessageText", "text", item.teaser.text, None, "")
