"""Value types shared by the image pipeline and its callers.

They are plain frozen dataclasses so a worker can log, pickle or compare them without touching
Pillow, and so an editor-facing report can show `notes`/`reason` verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ImageError(Exception):
    """A feature image cannot be used; `reason` is one line an editor can act on.

    Reasons never contain credentials: URLs are shown without userinfo and query string.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageVariant:
    platform: str
    path: Path
    mime: str
    width: int
    height: int
    size: int
    source: str
    sha256: str
    notes: tuple[str, ...]

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True, slots=True)
class ImageFailure:
    platform: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """What a platform accepts for a photo, as the publisher uploads it.

    `formats` are Pillow format names. `max_dimension_sum` / `max_ratio` are None where the
    platform documents no such limit.
    """

    label: str
    max_bytes: int
    formats: frozenset[str]
    max_dimension_sum: int | None = None
    max_ratio: float | None = None


# Telegram: multipart photo upload <= 10 MB (PTB FileSizeLimit.PHOTOSIZE_UPLOAD = 10_000_000),
# width + height <= 10000, ratio <= 20 (platform-contracts.md A3). X: images <= 5 MB in
# JPG/PNG/GIF/WEBP (B4). Decimal megabytes are the conservative reading of both.
PLATFORM_LIMITS: dict[str, PlatformLimits] = {
    "telegram": PlatformLimits(
        label="Telegram",
        max_bytes=10_000_000,
        formats=frozenset({"JPEG", "PNG"}),
        max_dimension_sum=10_000,
        max_ratio=20.0,
    ),
    "x": PlatformLimits(
        label="X",
        max_bytes=5_000_000,
        formats=frozenset({"JPEG", "PNG", "WEBP", "GIF"}),
    ),
}

MIME_BY_FORMAT: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
EXT_BY_FORMAT: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
