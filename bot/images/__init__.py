"""Feature images: resolve a post's `image` safely and make an upload each platform accepts.

Import from here; the submodules are implementation detail:
`fetch` (site files and guarded HTTP), `netguard` (address policy at connect time),
`deadline` (one time limit for a whole download), `inflate` (bounded Content-Encoding),
`process` (Pillow pipeline), `cache` (content-addressed variant store), `resolver` (the API).
"""

from bot.images.cache import PIPELINE_VERSION
from bot.images.model import (
    PLATFORM_LIMITS,
    ImageError,
    ImageFailure,
    ImageVariant,
    PlatformLimits,
)
from bot.images.resolver import ImageResolver

__all__ = [
    "PIPELINE_VERSION",
    "PLATFORM_LIMITS",
    "ImageError",
    "ImageFailure",
    "ImageResolver",
    "ImageVariant",
    "PlatformLimits",
]
