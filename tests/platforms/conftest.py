"""Shared by the publisher tests: a small real site with a real JPEG, and the content tools."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from bot.delivery.content import ContentTools
from bot.images import ImageResolver
from bot.sources.site import SiteConfig
from bot.teasers import TeaserRenderer


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContentTools]:
    site = tmp_path_factory.mktemp("site")
    (site / "_config.yml").write_text("url: https://news.example\ntimezone: UTC\n")
    (site / "assets").mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (800, 450), (20, 110, 190)).save(buf, "JPEG", quality=85)
    (site / "assets" / "feature.jpg").write_bytes(buf.getvalue())
    config = SiteConfig.load(site)
    images = ImageResolver(
        site_dir=site, site_url=config.url, cache_dir=tmp_path_factory.mktemp("cache")
    )
    yield ContentTools(site=config, renderer=TeaserRenderer(), images=images)
    images.close()
