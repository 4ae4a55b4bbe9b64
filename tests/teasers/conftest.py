"""Helpers for teaser tests: building Posts by hand and reading the shared sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import pytest

from bot.posts import Post

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "newsdao-exaone-3.md"
SAMPLE_URL = "https://newsdao.kr/2024/08/07/exaone-3-open-source.html"


def build_post(**kw: object) -> Post:
    fields: dict[str, object] = {
        "url": "https://example.org/2024/01/02/post.html",
        "path": Path("/site/_posts/2024-01-02-post.md"),
        "rel_path": "_posts/2024-01-02-post.md",
        "title": "Title",
        "date": datetime(2024, 1, 2, tzinfo=UTC),
        "slug": "post",
    }
    fields.update(kw)
    return Post(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def make_post():
    """Factory fixture (test modules cannot import conftest under --import-mode=importlib)."""
    return build_post


@pytest.fixture(scope="session")
def sample_url() -> str:
    return SAMPLE_URL


@pytest.fixture
def sample_post() -> Post:
    fm = frontmatter.load(str(SAMPLE))
    return build_post(
        url=SAMPLE_URL,
        title=fm["title"],
        excerpt=" ".join(str(fm["excerpt"]).split()),
        categories=("기술",),
    )
