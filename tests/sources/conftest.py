"""A builder for real Jekyll site folders in a temp dir: `_config.yml`, posts with real front
matter, category folders, and deliberately broken files written byte for byte."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from bot.sources.site import SiteConfig


class SiteBuilder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config: dict[str, object] = {
            "title": "Test News",
            "url": "https://news.example",
            "timezone": "Asia/Seoul",
            "permalink": "/:categories/:year/:month/:day/:title:output_ext",
        }
        root.mkdir(parents=True, exist_ok=True)

    def configure(self, **values: object) -> SiteBuilder:
        self.config.update(values)
        return self

    def raw(self, rel: str, content: bytes | str) -> Path:
        """Write a file exactly as given (for broken files)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def post(
        self,
        rel: str,
        front: Mapping[str, object] | None = None,
        body: str = "본문 첫 문단입니다. 뉴스 내용이 이어집니다.\n",
        **more: object,
    ) -> Path:
        """A post as an editor writes it: YAML front matter between `---` lines, then the body."""
        data = {"title": "기본 제목", **(front or {}), **more}
        fm = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        if "/" not in rel:
            rel = f"_posts/{rel}"
        return self.raw(rel, f"---\n{fm}---\n\n{body}")

    def site(self) -> SiteConfig:
        (self.root / "_config.yml").write_text(
            yaml.safe_dump(self.config, allow_unicode=True), encoding="utf-8"
        )
        return SiteConfig.load(self.root)


@pytest.fixture
def site_builder(tmp_path: Path) -> SiteBuilder:
    return SiteBuilder(tmp_path / "site")
