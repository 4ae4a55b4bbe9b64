"""Front matter ``breaking:`` read into ``Post.breaking``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.sources.jekyll import PostFileError, read_post

if TYPE_CHECKING:
    from conftest import SiteBuilder


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("yes", True), (False, False), ("no", False), (None, False), (1, True),
])
def test_breaking_flag(site_builder: SiteBuilder, value: object, expected: bool) -> None:
    front: dict[str, object] = {"title": "Quake"}
    if value is not None:
        front["breaking"] = value
    path = site_builder.post("_posts/2026-03-01-quake.md", front)
    post = read_post(site_builder.site(), path)
    assert post.breaking is expected
    assert "breaking" not in post.extra


def test_breaking_must_be_a_flag(site_builder: SiteBuilder) -> None:
    path = site_builder.post("_posts/2026-03-01-quake.md", {"title": "Q", "breaking": [1, 2]})
    with pytest.raises(PostFileError, match="breaking"):
        read_post(site_builder.site(), path)
