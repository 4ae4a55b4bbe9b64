"""find_post: whatever an editor types becomes one post or one clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions.lookup import PostLookupError, find_post
from bot.sources.site import SiteConfig

DEMO = Path(__file__).resolve().parents[2] / "examples" / "site"
SITE = SiteConfig.load(DEMO)


@pytest.mark.parametrize(
    "ref",
    [
        "exaone-3-open-source",
        "2024-08-07-exaone-3-open-source.md",
        "_posts/2024-08-07-exaone-3-open-source.md",
        "https://newsdao.kr/%EA%B8%B0%EC%88%A0/2024/08/07/exaone-3-open-source.html",
        "https://newsdao.kr/기술/2024/08/07/exaone-3-open-source",
    ],
)
def test_every_way_of_naming_the_sample_finds_it(ref: str) -> None:
    assert find_post(SITE, ref).slug == "exaone-3-open-source"


@pytest.mark.parametrize(
    "ref",
    ["../../etc/passwd", "/etc/passwd", "가" * 100, "가" * 100 + "/x", "x" * 10_000, "a\x00b", ""],
)
def test_hostile_or_odd_references_are_refused_cleanly(ref: str) -> None:
    with pytest.raises(PostLookupError):
        find_post(SITE, ref)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_post_or_a_lookup_error(ref: str) -> None:
    try:
        post = find_post(SITE, ref)
    except PostLookupError:
        return
    assert post.path.resolve().is_relative_to(DEMO.resolve())
