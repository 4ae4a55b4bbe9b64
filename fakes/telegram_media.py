"""Photo checks and PhotoSize generation for the fake Telegram server.

Kept apart from the HTTP code because the rules (contracts A3 "sendPhoto") are the part most
likely to be tuned: the 10 MB upload / 5 MB URL limits, width + height <= 10000, ratio <= 20.
Pillow is optional: without it uploads are accepted with unknown dimensions, which is how the
fake degrades rather than rejecting valid images.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

UPLOAD_LIMIT = 10_000_000  # telegram.constants.FileSizeLimit.PHOTOSIZE_UPLOAD
URL_LIMIT = 5 * 1024 * 1024
MAX_SIDE_SUM = 10_000
MAX_RATIO = 20.0
# Telegram stores a photo as several JPEG sizes; 's'/'m'/'x'/'y'/'w' boxes of these sides.
SIZE_STEPS = (90, 320, 800, 1280, 2560)


class PhotoError(ValueError):
    """Carries the full Bot API description and HTTP status of a rejected photo."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str | None


def inspect_image(data: bytes) -> ImageInfo | None:
    """Decode the image header, raising PhotoError for what Telegram would refuse."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a project dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
            fmt = image.format
    except Exception as exc:  # Pillow raises many types for garbage input
        raise PhotoError(400, "Bad Request: IMAGE_PROCESS_FAILED") from exc
    if width <= 0 or height <= 0:
        raise PhotoError(400, "Bad Request: IMAGE_PROCESS_FAILED")
    if width + height > MAX_SIDE_SUM or max(width, height) / min(width, height) > MAX_RATIO:
        raise PhotoError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    return ImageInfo(width, height, fmt)


def photo_sizes(width: int, height: int, total_bytes: int) -> list[tuple[int, int, int]]:
    """(width, height, estimated file_size) for each stored size, smallest first."""
    sizes: list[tuple[int, int, int]] = []
    longest = max(width, height)
    for step in SIZE_STEPS:
        if longest > step:
            scale = step / longest
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            estimate = max(1, int(total_bytes * (w * h) / (width * height)))
            sizes.append((w, h, estimate))
        else:
            sizes.append((width, height, total_bytes))
            break
    return sizes
