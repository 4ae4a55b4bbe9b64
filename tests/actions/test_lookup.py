"""find_post: whatever an editor types becomes one post or one clear refusal."""

from __future__ import annotations

import shutil
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


EMBARGO = "---\ntitle: EMBARGOED until Friday\ndate: 2024-01-05 09:00:00 +0900\n---\nSecret.\n"


def test_a_post_symlinked_from_outside_the_site_is_never_found(tmp_path: Path) -> None:
    """Regression: the lookup followed a symlink out of the site (the CLI's preview and push
    read it), while every scan skipped it; now all follow one rule."""
    site_dir = tmp_path / "site"
    shutil.copytree(DEMO, site_dir)
    private = tmp_path / "private"
    (private / "_posts").mkdir(parents=True)
    (private / "2024-01-05-embargo.md").write_text(EMBARGO, encoding="utf-8")
    (private / "_posts" / "2024-01-05-embargo-two.md").write_text(EMBARGO, encoding="utf-8")
    (site_dir / "_posts" / "2024-01-05-embargo.md").symlink_to(private / "2024-01-05-embargo.md")
    (site_dir / "_posts" / "private").symlink_to(private / "_posts")
    site = SiteConfig.load(site_dir)
    refs = [
        "_posts/2024-01-05-embargo.md",
        str(site_dir / "_posts" / "2024-01-05-embargo.md"),
        "2024-01-05-embargo.md",
        "_posts/private/2024-01-05-embargo-two.md",
        "embargo",
        "https://newsdao.kr/2024/01/05/embargo.html",
    ]
    for ref in refs:
        with pytest.raises(PostLookupError) as refused:
            find_post(site, ref)
        assert "EMBARGOED" not in str(refused.value)
    with pytest.raises(PostLookupError, match="outside the site folder"):
        find_post(site, "_posts/2024-01-05-embargo.md")
    assert find_post(site, "exaone-3-open-source").slug == "exaone-3-open-source"
