"""Reasons stay short whatever the file holds; any failure reading one file is that file's reason.

Regression: reasons quoted front-matter values whole (a 60 KB date string went into the reason,
the log line and the editors' notice as is), and exceptions other than the reader's own (a
RecursionError, a ValueError from a 5,000-digit TOML integer) escaped and stopped the scan.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sources.errors import MAX_REASON_CHARS, PostFileError, clip, shown
from bot.sources.jekyll import MAX_URL_CHARS, read_post, scan_site

if TYPE_CHECKING:
    from conftest import SiteBuilder


def test_shown_quotes_a_bounded_part_of_any_value() -> None:
    nested: list[object] = ["x"] * 9
    for _ in range(8):  # 9**9 values if walked whole
        nested = [nested] * 9
    started = time.process_time()
    for value in (nested, {"k" * 10_000: nested}, "가" * 1_000_000, 10**4000, b"\x00" * 10**6):
        assert len(shown(value)) <= 80
    assert time.process_time() - started < 0.1
    assert shown("2024-01-01") == "2024-01-01"
    assert shown([1, 2]) == "[1, 2]"


def test_clip_marks_where_it_cut() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("abcdef", 4) == "abc…" and len(clip("x" * 1000, 300)) == 300


def test_a_reason_is_never_longer_than_the_cap() -> None:
    assert len(PostFileError("x" * 100_000).reason) == MAX_REASON_CHARS


@pytest.mark.parametrize(
    "front",
    [
        "date: '" + "2024-01-03 " * 6000 + "'",
        "date: '" + "x" * 60_000 + "'",
        "categories: {" + ", ".join(f"k{i}: v" for i in range(3000)) + "}",
        "permalink: /" + ":nope" * 5000,
        "permalink: '" + "a:" * 20_000 + "'",
    ],
    ids=["long date", "junk date", "categories mapping", "bad placeholders", "bad scheme"],
)
def test_a_reason_quoting_a_huge_value_stays_short(site_builder: SiteBuilder, front: str) -> None:
    path = site_builder.raw("_posts/2024-01-01-x.md", f"---\ntitle: t\n{front}\n---\nbody\n")
    with pytest.raises(PostFileError) as bad:
        read_post(site_builder.site(), path)
    assert len(str(bad.value)) <= 300, str(bad.value)[:400]


def test_a_url_longer_than_any_url_is_a_bad_file(site_builder: SiteBuilder) -> None:
    """The URL is the post's identity in every log line and Redis key: 60 KB of permalink is a
    paste accident, not a URL."""
    path = site_builder.raw(
        "_posts/2024-01-01-x.md", "---\ntitle: t\npermalink: /" + "a/" * 30_000 + "\n---\n"
    )
    with pytest.raises(PostFileError, match=f"over {MAX_URL_CHARS:,}"):
        read_post(site_builder.site(), path)


_front_junk = st.lists(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(
            ["\n", ": ", "- ", "[", "]", "{", "}", "&a ", "*a", "<<: ", "!!binary ", "!!timestamp ",
             "date: ", "title: ", "categories: ", "'", '"', "\t", "? ", "|\n  ", "9" * 5000,
             "[" * 2000, "= ", "+++", "---"]
        ),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(front=_front_junk, fence=st.sampled_from(["---", "+++"]))
def test_any_front_matter_gives_a_post_or_a_short_reason(
    site_builder: SiteBuilder, front: str, fence: str
) -> None:
    text = f"{fence}\ntitle: t\n{front}\n{fence}\nb\n"
    path = site_builder.raw("_posts/2024-01-01-fuzz.md", text)
    try:
        read_post(site_builder.site(), path)
    except PostFileError as exc:
        assert 0 < len(exc.reason) <= MAX_REASON_CHARS
        assert "please report it" not in exc.reason, exc.reason


def test_a_scan_reads_every_other_file_whatever_one_file_raises(site_builder: SiteBuilder) -> None:
    good = site_builder.post("2024-01-01-good.md", title="Good")
    site_builder.raw("_posts/2024-01-02-deep.md", '+++\ntitle = "t"\nx = ' + "[" * 5000 + "]" * 5000
                     + "\n+++\n")
    site_builder.raw("_posts/2024-01-03-int.md", '+++\ntitle = "t"\nx = ' + "9" * 5000 + "\n+++\n")
    result = scan_site(site_builder.site())
    assert [p.path for p in result.posts] == [good]
    reasons = {b.rel_path: b.reason for b in result.bad}
    assert "nested too deeply" in reasons["_posts/2024-01-02-deep.md"]
    assert "4300 digits" in reasons["_posts/2024-01-03-int.md"]
