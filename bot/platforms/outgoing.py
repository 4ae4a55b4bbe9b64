"""What goes out to a platform: the fitted teaser and the image decision, as one value.

Here, in the platforms' room, because every publisher takes it and nothing below the platforms
may import the use cases (``bot.delivery.content`` builds it: ``prepare``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.images import ImageFailure, ImageVariant
from bot.teasers import Teaser

__all__ = ["PlatformTeaser", "image_json", "image_summary"]


@dataclass(frozen=True, slots=True)
class PlatformTeaser:
    platform: str
    teaser: Teaser
    image: ImageVariant | ImageFailure | None
    fallback: Teaser | None = None
    """Telegram text teaser (4096 limit) to send instead when the platform refuses the photo."""
    link: str | None = None
    """The post's link as it goes out here (UTM tags included): Telegram's link preview."""

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
