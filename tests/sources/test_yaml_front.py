"""Front matter read with bounds: aliases, merge keys, self-reference, nesting, size.

Regression: a 500-byte post with nested YAML aliases in `date:` or `categories:` made the reader
build a multi-gigabyte error string (1.4 GB peak at 457 bytes).
"""

from __future__ import annotations

import time
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from bot.sources.jekyll import MAX_FRONT_MATTER_CHARS, PostFileError, read_post, scan_site
from bot.sources.yaml_front import MAX_ALIAS_VALUES, FrontMatterTooLargeError, load_yaml

if TYPE_CHECKING:
    from conftest import SiteBuilder


def _bomb(levels: int, key: str) -> str:
    """`levels` lists of nine aliases of the previous one: 9**levels values from ~55*levels B."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "---\ntitle: t\n" + "\n".join(lines) + f"\n{key}: *a{levels - 1}\n---\nbody\n"


@pytest.mark.parametrize("key", ["date", "categories", "tags", "title", "permalink", "extra"])
def test_a_small_alias_bomb_is_a_bad_file_with_a_short_reason(
    site_builder: SiteBuilder, key: str
) -> None:
    """Six levels (531,441 values from 330 bytes): before, `date:` gave a 300 KB reason and
    `categories:` a post whose URL held half a million categories."""
    path = site_builder.raw("_posts/2024-01-01-bomb.md", _bomb(6, key))
    with pytest.raises(PostFileError) as bad:
        read_post(site_builder.site(), path)
    assert "aliases (*name) expand to more than 10,000 extra values" in bad.value.reason
    assert len(str(bad.value)) < 200


@pytest.mark.parametrize("key", ["date", "categories", "extra"])
def test_the_500_byte_bomb_costs_a_millisecond_and_no_memory(
    site_builder: SiteBuilder, key: str
) -> None:
    text = _bomb(9, key)
    assert len(text.encode()) <= 520
    path = site_builder.raw("_posts/2024-01-01-bomb.md", text)
    site = site_builder.site()
    tracemalloc.start()
    started = time.process_time()
    try:
        result = scan_site(site)
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [bad] = result.bad
    assert bad.path == path and len(bad.reason) < 200
    assert elapsed < 0.5 and peak < 5_000_000


@pytest.mark.parametrize(
    "front",
    [
        # merge keys doubling at every level
        "a: &a {x: 1, y: 2, z: 3}\n"
        + "".join(
            f"m{i}: &m{i} {{<<: [*{'a' if i == 0 else f'm{i - 1}'}, "
            f"*{'a' if i == 0 else f'm{i - 1}'}], k{i}: 1}}\n"
            for i in range(30)
        ),
        # one list named 1,200 times in a mapping
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: {"
        + ", ".join(f"k{i}: *a" for i in range(1200))
        + "}\n",
    ],
    ids=["merge keys", "wide aliases"],
)
def test_merge_keys_and_wide_aliases_are_bounded_too(site_builder: SiteBuilder, front: str) -> None:
    path = site_builder.raw("_posts/2024-01-01-m.md", f"---\ntitle: t\n{front}---\nbody\n")
    with pytest.raises(PostFileError, match="aliases"):
        read_post(site_builder.site(), path)


@pytest.mark.parametrize("front", ["x: &a [*a]", "x: &a {k: *a}", "x: &a [1, [2, *a]]"])
def test_a_value_holding_itself_is_refused(front: str) -> None:
    with pytest.raises(FrontMatterTooLargeError, match="refers to itself"):
        load_yaml(f"title: t\n{front}\n")


def test_ordinary_anchors_and_merge_keys_still_work(site_builder: SiteBuilder) -> None:
    front = (
        "---\ntitle: 앵커\ntags: &t [경제, 증시]\ncategories: *t\n"
        "defaults: &d {layout: post, author: 기자}\nmeta: {<<: *d, author: 편집}\n---\n본문\n"
    )
    post = read_post(site_builder.site(), site_builder.raw("_posts/2024-01-01-a.md", front))
    assert post.tags == ("경제", "증시") and post.categories == ("경제", "증시")
    assert post.extra["meta"] == {"layout": "post", "author": "편집"}


def test_aliases_adding_just_under_the_bound_are_fine() -> None:
    values = ", ".join(["x"] * 100)
    n = MAX_ALIAS_VALUES // 101 - 1
    text = f"title: t\na: &a [{values}]\nb: [" + ", ".join(["*a"] * n) + "]\n"
    assert len(load_yaml(text)["b"]) == n  # type: ignore[index]


def test_front_matter_over_the_size_limit_is_bad_before_it_is_parsed(
    site_builder: SiteBuilder,
) -> None:
    """Parsing is linear but slow per value: 5 MB of `[1,1,1...]` took libyaml 15 s, 900 MB."""
    values = ",".join(["1"] * (MAX_FRONT_MATTER_CHARS // 2 + 10))
    path = site_builder.raw("_posts/2024-01-01-big.md", f"---\ntitle: t\nx: [{values}]\n---\n")
    started = time.process_time()
    with pytest.raises(PostFileError, match=r"front matter is 64 KB, over the 64 KB limit"):
        read_post(site_builder.site(), path)
    assert time.process_time() - started < 0.1


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("x: " + "[" * 5000 + "]" * 5000, "exceeded maximum nesting depth"),
        ("date: !!timestamp 'not a date at all'", "not a date"),
        ("x: " + "9" * 5000, "Exceeds the limit (4300 digits)"),
        ("y: *" + "a" * 20_000, "found undefined alias"),
    ],
    ids=["deep nesting", "bad timestamp tag", "huge integer", "long undefined alias"],
)
def test_odd_yaml_is_a_bad_file_with_a_short_reason(
    site_builder: SiteBuilder, front: str, reason: str
) -> None:
    path = site_builder.raw("_posts/2024-01-01-odd.md", f"---\ntitle: t\n{front}\n---\n")
    with pytest.raises(PostFileError) as bad:
        read_post(site_builder.site(), path)
    assert reason in bad.value.reason and len(bad.value.reason) <= 300
    assert "please report it" not in bad.value.reason


@pytest.mark.parametrize(
    "front",
    [
        'x = ' + "[" * 5000 + "]" * 5000,
        'x = ' + "{a=" * 3000 + "1" + "}" * 3000,
        "x = " + "9" * 5000,
    ],
    ids=["deep arrays", "deep tables", "huge integer"],
)
def test_odd_toml_is_a_bad_file_with_a_reason(site_builder: SiteBuilder, front: str) -> None:
    """Regression: RecursionError (and ValueError) escaped the reader from TOML front matter."""
    path = site_builder.raw("_posts/2024-01-01-t.md", f'+++\ntitle = "t"\n{front}\n+++\n')
    with pytest.raises(PostFileError, match="front matter is not valid TOML") as bad:
        read_post(site_builder.site(), path)
    assert len(bad.value.reason) <= 300
