"""From a post to what each platform would receive: the one path used by preview and publish.

Preview and delivery both call `prepare`, so what an editor previews is byte for byte what the
channel later receives (same image decision, same fitted text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.images import ImageResolver, ImageVariant
from bot.platforms import PLATFORMS
from bot.platforms.outgoing import PlatformTeaser, image_json
from bot.posts import Post
from bot.sources.site import SiteConfig
from bot.teasers import TeaserRenderer


def load_site(settings: Settings) -> SiteConfig:
    return SiteConfig.load(settings.site_dir, site_url=settings.site_url,
                           timezone=settings.timezone)


@dataclass(frozen=True, slots=True)
class ContentTools:
    site: SiteConfig
    renderer: TeaserRenderer
    images: ImageResolver

    @classmethod
    def from_settings(cls, settings: Settings, *, site: SiteConfig | None = None) -> ContentTools:
        if site is None:
            site = load_site(settings)
        title = site.raw.get("title") if isinstance(site.raw, dict) else None
        renderer = TeaserRenderer(settings.templates_dir, hashtag_max=settings.hashtag_max,
                                  x_link_mode=settings.x_link_mode,
                                  utm_template=settings.utm_template,
                                  site_name=title if isinstance(title, str) else None)
        images = ImageResolver(
            site_dir=site.root,
            site_url=site.url,
            cache_dir=settings.image_cache_dir,
            allow_private_hosts=settings.image_allow_private_hosts,
        )
        return cls(site=site, renderer=renderer, images=images)


def prepare(tools: ContentTools, post: Post, platform: str) -> PlatformTeaser:
    """Decide the image first: whether a photo goes out decides Telegram's limit (1024 or 4096)."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; choose from {', '.join(PLATFORMS)}")
    decision = tools.images.decide(post.image, platform)
    fallback = None
    if platform == "telegram":
        photo = isinstance(decision, ImageVariant)
        teaser = tools.renderer.telegram(post, photo=photo)
        if photo:
            fallback = tools.renderer.telegram(post, photo=False)
    elif platform == "x":
        teaser = tools.renderer.x(post)
    else:  # a platform in PLATFORMS without its teaser here (docs/adding-a-platform.md)
        raise ValueError(f"no teaser is made for platform {platform!r} yet")
    return PlatformTeaser(platform=platform, teaser=teaser, image=decision, fallback=fallback,
                          link=tools.renderer.link(post, platform))


def fingerprint(items: Sequence[PlatformTeaser]) -> str:
    """Changes whenever anything that would go out changes (text or image).

    Here, not in the editors' desk, because delivery stamps approval events with it and the desk
    checks a [Publish now] against it: both sides must compute the same value.  The sender also
    compares what it is about to send with the approved fingerprint, so an edit after
    [Publish now] is previewed again instead of going out unreviewed.
    """
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.platform.encode() + b"\0" + item.teaser.text.encode() + b"\0")
        image = item.image
        digest.update((image.sha256 if isinstance(image, ImageVariant) else repr(image)).encode())
    return digest.hexdigest()[:20]


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "url": post.url,
        "title": post.title,
        "date": post.date.isoformat(),
        "categories": list(post.categories),
        "tags": list(post.tags),
        "excerpt": post.excerpt,
        "image": post.image,
        "warnings": list(post.warnings),
    }


def teaser_json(item: PlatformTeaser) -> dict[str, Any]:
    t = item.teaser
    return {
        "text": t.text,
        "parse_mode": t.parse_mode,
        "length": t.length,
        "limit": t.limit,
        "shortened": t.shortened,
        "image": image_json(item.image),
    }
