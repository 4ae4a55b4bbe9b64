"""Jekyll 4.3 permalink rules; expected strings were checked against Jekyll 4.3.1 builds."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.permalink import (
    _escape_path,
    canonical_url,
    jekyll_categories,
    jekyll_slugify,
    output_ext,
    post_path,
    post_slug,
    template_for,
)

SEOUL = ZoneInfo("Asia/Seoul")
D = datetime(2024, 8, 5, 7, 8, 9, tzinfo=SEOUL)  # a Monday, ISO week 32, day 218


def path(permalink: str = "date", **kw: object) -> str:
    args: dict[str, object] = {
        "site_permalink": permalink,
        "front_permalink": None,
        "date": D,
        "title": "my-post",
        "slug": None,
        "categories": [],
        "ext": ".md",
    }
    args.update(kw)
    return post_path(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "mode", "cased", "expected"),
    [
        ("Hello, World!", "default", False, "hello-world"),
        ("  --Hello  World--  ", "default", False, "hello-world"),
        ("Hello, World!", "pretty", True, "Hello,-World!"),
        ("The _config.yml file?", "pretty", False, "the-_config.yml-file"),
        ("한글 제목: 테스트", "default", False, "한글-제목-테스트"),
        ("Café Crème", "ascii", False, "caf-cr-me"),
        ("Café Crème", "latin", False, "cafe-creme"),
        ("a  b\tc", "raw", False, "a-b-c"),
        ("Keep As Is", "none", True, "Keep As Is"),
        ("Keep As Is", "none", False, "keep as is"),
        ("C++ & Rust", "default", False, "c-rust"),
        ("C++ & Rust", "pretty", False, "c++-&-rust"),
    ],
)
def test_slugify(text: str, mode: str, cased: bool, expected: str) -> None:
    assert jekyll_slugify(text, mode, cased=cased) == expected


@given(st.text())
def test_default_slug_has_no_edge_hyphens_or_separators(text: str) -> None:
    slug = jekyll_slugify(text)
    assert not slug.startswith("-") and not slug.endswith("-")
    assert "--" not in slug and " " not in slug and "/" not in slug
    assert slug == slug.lower()


def test_styles() -> None:
    assert path("date") == "/2024/08/05/my-post.html"
    assert path("pretty") == "/2024/08/05/my-post/"
    assert path("ordinal") == "/2024/218/my-post.html"
    assert path("none") == "/my-post.html"
    assert path("weekdate") == "/2024/W32/Mon/my-post.html"
    assert template_for("Pretty") == "Pretty"  # style names are exact


def test_all_placeholders() -> None:
    pattern = (
        "/:year/:month/:day/:hour/:minute/:second/:i_day/:i_month/:short_month/:long_month/"
        ":short_year/:w_year/:week/:w_day/:short_day/:long_day/:y_day/:collection/:title:output_ext"
    )
    assert path(pattern) == (
        "/2024/08/05/07/08/09/5/8/Aug/August/24/2024/32/1/Mon/Monday/218/posts/my-post.html"
    )


def test_categories_lowercased_deduplicated_encoded() -> None:
    got = path(categories=["News", "기술", "AI Tools", "news", "ai tools"])
    assert got == "/news/%EA%B8%B0%EC%88%A0/ai%20tools/2024/08/05/my-post.html"
    got = path("/:slugified_categories/:title/", categories=["AI Tools", "기술"])
    assert got == "/ai-tools/%EA%B8%B0%EC%88%A0/my-post/"


def test_title_keeps_case_slug_lowercases() -> None:
    assert path("/:title/", title="My Post") == "/My-Post/"
    assert path("/:slug/", title="My Post") == "/my-post/"
    # A front-matter slug replaces the file-name title for both.
    assert path("/:title/:slug/", slug="Custom Slug!") == "/Custom-Slug!/custom-slug/"


def test_korean_title_is_percent_encoded() -> None:
    got = path(title="한글-제목")
    assert got == "/2024/08/05/%ED%95%9C%EA%B8%80-%EC%A0%9C%EB%AA%A9.html"
    assert unquote(got) == "/2024/08/05/한글-제목.html"


def test_front_permalink_overrides_and_may_use_placeholders() -> None:
    assert path(front_permalink="/about/me/") == "/about/me/"
    assert path(front_permalink="/news/:year/:title/") == "/news/2024/my-post/"
    # literal text of the pattern is not escaped, only placeholder values are
    got = path(front_permalink="/뉴스/:title.html", title="제목")
    assert got == "/뉴스/%EC%A0%9C%EB%AA%A9.html"
    assert path(front_permalink="") == "/"


def test_output_ext() -> None:
    assert output_ext(".md") == ".html"
    assert output_ext(".markdown") == ".html"
    assert output_ext(".html") == ".html"
    assert path("none", ext=".html") == "/my-post.html"
    assert path("/:title:output_ext", ext=".markdown") == "/my-post.html"


def test_trailing_underscore_placeholder() -> None:
    # ':title_x' is read as one (unknown) name; ':year_' falls back to ':year' + '_'
    with pytest.raises(ValueError, match="unknown placeholder"):
        path("/:title_x/")
    assert path("/:year_/:title/") == "/2024_/my-post/"


def test_unknown_placeholder_raises() -> None:
    with pytest.raises(ValueError, match=":nope"):
        path("/:nope/:title/")


def test_sanitize_dots_and_slashes() -> None:
    assert path("//:year//:title/") == "/2024/my-post/"
    assert path("/a/../:title/") == "/a/my-post/"
    assert path("/./:title/") == "/my-post/"


def test_question_and_hash_in_categories_survive_like_addressable() -> None:
    assert path("/:categories/:title/", categories=["c#"]) == "/c%23/my-post/"
    assert path("/:categories/:title/", categories=["what?"]) == "/what?/my-post/"
    assert path("/:categories/:title/", categories=["50%"]) == "/50%25/my-post/"


def test_name_and_path_need_source_path() -> None:
    got = path("/:name/", source_path="_posts/2024-08-05-My Post.md")
    assert got == "/2024-08-05-my-post/"
    got = path("/x:path/", source_path="news/_posts/2024-08-05-a.md")
    assert got == "/xnews/2024-08-05-a/"


def test_post_slug() -> None:
    assert post_slug("front", "file-title", "Title") == "front"
    assert post_slug(None, "file-title", "Title") == "file-title"
    assert post_slug(None, "", "Hello World") == "hello-world"


@pytest.mark.parametrize(
    ("url", "base", "p", "expected"),
    [
        ("https://newsdao.kr", "", "/a.html", "https://newsdao.kr/a.html"),
        ("https://newsdao.kr/", "/blog/", "/a/", "https://newsdao.kr/blog/a/"),
        ("https://x.org", "blog", "a/", "https://x.org/blog/a/"),
        ("", "/blog", "/a/", "/blog/a/"),
    ],
)
def test_canonical_url(url: str, base: str, p: str, expected: str) -> None:
    assert canonical_url(url, base, p) == expected


@pytest.mark.parametrize(
    ("rel", "front", "expected"),
    [
        ("_posts/2024-08-25-a.md", {}, []),
        ("_posts/2024/2024-08-25-a.md", {}, []),  # folders inside _posts are not categories
        ("기술/AI/_posts/2024-08-25-a.md", {}, ["기술", "AI"]),
        ("AI/_posts/2024-08-25-a.md", {"categories": "ai Robots AI"}, ["AI", "ai", "Robots"]),
        ("_posts/2024-08-25-a.md", {"categories": ["News", "AI", "News"]}, ["News", "AI"]),
        ("_posts/2024-08-25-a.md", {"category": "Deep Learning"}, ["Deep Learning"]),
        ("_posts/x.md", {"category": "Solo", "categories": ["A", "B"]}, ["A", "B", "Solo"]),
        (
            "_posts/x.md",
            {"category": ["One", "Two"], "categories": "Three"},
            ["Three", "One", "Two"],
        ),
        ("F/_posts/x.md", {"categories": None}, ["F"]),
        ("F/_posts/x.md", {"categories": [2024, True]}, ["F", "2024", "true"]),
        ("_posts/x.md", {"categories": [1, True, None]}, ["1", "true", ""]),
    ],
)
def test_jekyll_categories(rel: str, front: dict[str, object], expected: list[str]) -> None:
    assert jekyll_categories(rel, front) == expected


def test_jekyll_categories_refuses_a_mapping() -> None:
    with pytest.raises(ValueError, match="categories"):
        jekyll_categories("_posts/x.md", {"categories": {"a": 1}})


@given(st.text(alphabet=st.characters(blacklist_characters="?#\n", blacklist_categories=["Cs"])))
def test_escape_path_round_trips_and_is_ascii(text: str) -> None:
    # No newline: Jekyll's "already safe" check is line-anchored, so 'a\né' is left raw
    # (checked with Ruby: escape_path("0\n\u0080") returns it unchanged).
    if ":" in text.split("/", 1)[0]:
        return  # Addressable would read 'x:' as a URI scheme
    escaped = _escape_path(text)
    assert escaped.isascii()
    assert unquote(escaped) == text
    assert " " not in escaped
