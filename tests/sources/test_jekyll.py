"""The Jekyll post reader on real site folders: good posts, every kind of bad file, the demo."""

from __future__ import annotations

import contextlib
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.sources.jekyll import (
    MAX_POST_BYTES,
    PostFileError,
    folder_categories,
    iter_post_files,
    read_post,
    scan_site,
)
from bot.sources.site import SiteConfig

if TYPE_CHECKING:
    from conftest import SiteBuilder

SAMPLE_POST = Path(__file__).resolve().parents[1] / "data" / "samples" / "newsdao-exaone-3.md"
DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"
SAMPLE_TITLE = "AI LG ‘엑사원 3.0’ 오픈소스 공개 데이터 600만건!"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- the real sample


def test_sample_post_end_to_end(site_builder: SiteBuilder) -> None:
    dest = site_builder.root / "_posts" / "2024-08-07-exaone-3-open-source.md"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLE_POST, dest)
    site = site_builder.site()

    post = read_post(site, dest)

    assert post.title == SAMPLE_TITLE
    assert post.categories == ("기술",)
    assert post.tags == ()
    assert post.excerpt.startswith("LG AI연구원이")
    assert post.excerpt.endswith("기여할 전망이다.")  # folded YAML's trailing newline is gone
    assert "  " not in post.excerpt
    assert post.image == "/assets/img/newsdao_breakingnews.jpg"
    assert post.image_alt == SAMPLE_TITLE
    assert post.slug == "exaone-3-open-source"
    assert post.date.isoformat() == "2024-08-07T00:00:00+09:00"
    assert post.url == (
        "https://news.example/%EA%B8%B0%EC%88%A0/2024/08/07/exaone-3-open-source.html"
    )
    assert post.rel_path == "_posts/2024-08-07-exaone-3-open-source.md"
    assert post.path == dest
    assert post.published and post.social
    assert post.telegram_text is None and post.x_text is None
    assert post.extra == {}
    assert post.unpublishable_reason(NOW) is None


def test_sample_without_excerpt_uses_first_prose_paragraph(site_builder: SiteBuilder) -> None:
    text = SAMPLE_POST.read_text(encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    kept = [
        ln
        for ln in head.splitlines()
        if not ln.startswith(("excerpt", "feature_text", "  LG AI연구원이"))
    ]
    path = site_builder.raw("_posts/2024-08-07-exaone.md", "\n".join(kept) + "\n---\n" + body)
    kept_head = "\n".join(kept)
    assert "기술" in kept_head and "image:" in kept_head

    post = read_post(site_builder.site(), path)

    # The image-only <p> and the <h2> are skipped; the first real paragraph is used, as text.
    assert post.excerpt.startswith("LG AI 연구원은 7일 최신 인공지능(AI)")
    assert post.excerpt.endswith("접근성을 높이고자 합니다.")
    assert "<" not in post.excerpt and "span" not in post.excerpt


# --------------------------------------------------------------------------- finding files


def test_iter_post_files_finds_what_jekyll_reads(site_builder: SiteBuilder) -> None:
    b = site_builder
    wanted = [
        b.post("2024-01-01-top.md"),
        b.post("_posts/2024/2024-01-02-nested.markdown"),
        b.post("news/tech/_posts/2024-01-03-deep.html"),
        b.post("news/_posts/2024-01-04-cat.md"),
        b.post("_posts/2024-01-05-custom-ext.mkd"),
    ]
    ignored = [
        b.post("_site/_posts/2024-01-01-built.md"),
        b.post(".git/_posts/2024-01-01-git.md"),
        b.post("node_modules/pkg/_posts/2024-01-01-npm.md"),
        b.post("vendor/bundle/_posts/2024-01-01-gem.md"),
        b.post("_drafts/_posts/2024-01-01-draft.md"),
        b.post("old/_posts/2024-01-01-excluded.md"),
        b.post("_posts/.2024-01-01-hidden.md"),
        b.post("_posts/2024-01-01-backup.md~"),
        b.post("_posts/_2024-01-01-underscore.md"),
        b.raw("_posts/photo.jpg", b"\xff\xd8\xff"),
        b.raw("_posts/notes.txt", "todo"),
        b.post("about/2024-01-01-not-in-posts.md"),
    ]
    b.configure(exclude=["old"])
    found = list(iter_post_files(b.site()))
    assert sorted(found) == sorted(wanted)
    assert not set(found) & set(ignored)


def test_iter_post_files_does_not_follow_symlinks_out_of_the_site(
    site_builder: SiteBuilder, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "_posts").mkdir(parents=True)
    (outside / "_posts" / "2024-01-01-x.md").write_text("---\ntitle: x\n---\n")
    inside = site_builder.post("2024-01-01-real.md")
    (site_builder.root / "linked").symlink_to(outside)
    assert list(iter_post_files(site_builder.site())) == [inside]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("_posts/2024-01-01-a.md", []),
        ("news/_posts/2024-01-01-a.md", ["news"]),
        ("news/tech/_posts/2024-01-01-a.md", ["news", "tech"]),
        ("news/_posts/2024/08/2024-08-01-a.md", ["news"]),  # folders below _posts are not
    ],
)
def test_folder_categories(site_builder: SiteBuilder, rel: str, expected: list[str]) -> None:
    site = site_builder.site()
    assert folder_categories(site, site.root / rel) == expected


def test_folder_categories_come_first_then_front_matter(site_builder: SiteBuilder) -> None:
    path = site_builder.post("news/tech/_posts/2024-05-01-chip.md", categories=["반도체", "tech"])
    post = read_post(site_builder.site(), path)
    assert post.categories == ("news", "tech", "반도체")
    assert (
        post.url
        == "https://news.example/news/tech/%EB%B0%98%EB%8F%84%EC%B2%B4/2024/05/01/chip.html"
    )


# --------------------------------------------------------------------------- values


def test_values_are_normalised(site_builder: SiteBuilder) -> None:
    raw = """---
title: "  속보:   삼성전자,\t실적   발표  "
date: 2024-08-25 00:15:00 +0900
categories: 경제 산업
tags: 삼성 실적 삼성
excerpt: >
  첫 줄이
  이어지고   &amp; 끝난다.
image: {path: /assets/a.jpg}
image_alt: "  대표   이미지 "
published: true
social: "no"
telegram_text: |
  첫 줄

  둘째 줄
x_text: 2024
author: 홍길동
layout: post
---
본문
"""
    path = site_builder.raw("_posts/2024-08-25-samsung.md", raw)
    post = read_post(site_builder.site(), path)
    assert post.title == "속보: 삼성전자, 실적 발표"
    assert post.date.isoformat() == "2024-08-25T00:15:00+09:00"
    assert post.categories == ("경제", "산업")
    assert post.tags == ("삼성", "실적")
    assert post.excerpt == "첫 줄이 이어지고 & 끝난다."
    assert post.image == "/assets/a.jpg"
    assert post.image_alt == "대표 이미지"
    assert post.published is True
    assert post.social is False
    assert post.unpublishable_reason(NOW) == "social: false"
    assert post.telegram_text == "첫 줄\n\n둘째 줄"
    assert post.x_text == "2024"
    assert post.extra == {"author": "홍길동", "layout": "post"}


@pytest.mark.parametrize(
    ("title_yaml", "expected"),
    [
        ("2024", "2024"),
        ("3.5", "3.5"),
        ("2024-08-07", "2024-08-07"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
    ],
)
def test_non_text_titles_become_strings(
    site_builder: SiteBuilder, title_yaml: str, expected: str
) -> None:
    path = site_builder.raw("_posts/2024-01-01-t.md", f"---\ntitle: {title_yaml}\n---\nx\n")
    assert read_post(site_builder.site(), path).title == expected


def test_singular_category_is_one_category_as_in_jekyll(site_builder: SiteBuilder) -> None:
    path = site_builder.post("2024-01-01-c.md", category="국제 뉴스", tag="속보")
    post = read_post(site_builder.site(), path)
    assert post.categories == ("국제 뉴스",)
    assert post.tags == ("속보",)


@pytest.mark.parametrize(
    ("front", "image", "alt"),
    [
        ({"image": " /assets/x.jpg "}, "/assets/x.jpg", "기본 제목"),
        ({"image": {"path": "/a.jpg", "alt": "설명"}}, "/a.jpg", "설명"),
        ({"image": {"feature": "b.png"}}, "b.png", "기본 제목"),
        ({"feature_image": "/c.webp"}, "/c.webp", "기본 제목"),
        (
            {"og_image": "https://cdn.example/d.jpg", "image_alt": "D"},
            "https://cdn.example/d.jpg",
            "D",
        ),
        ({"header": {"teaser": "/e.jpg"}}, "/e.jpg", "기본 제목"),
        ({}, None, "기본 제목"),
    ],
)
def test_image_shapes(
    site_builder: SiteBuilder, front: dict[str, object], image: str | None, alt: str
) -> None:
    post = read_post(site_builder.site(), site_builder.post("2024-01-01-i.md", front))
    assert (post.image, post.image_alt) == (image, alt)


@pytest.mark.parametrize(
    ("front", "excerpt"),
    [
        ({"excerpt": "E", "feature_text": "F", "description": "D"}, "E"),
        ({"feature_text": "F **굵게**", "description": "D"}, "F 굵게"),
        ({"description": "D"}, "D"),
        ({}, "본문 첫 문단입니다. 뉴스 내용이 이어집니다."),
        ({"excerpt": "   "}, "본문 첫 문단입니다. 뉴스 내용이 이어집니다."),
    ],
)
def test_excerpt_sources_in_order(
    site_builder: SiteBuilder, front: dict[str, object], excerpt: str
) -> None:
    post = read_post(site_builder.site(), site_builder.post("2024-01-01-e.md", front))
    assert post.excerpt == excerpt


def test_excerpt_separator_from_config(site_builder: SiteBuilder) -> None:
    site_builder.configure(excerpt_separator="<!--more-->")
    body = "첫 문단.\n\n둘째 문단.\n\n<!--more-->\n\n나머지."
    post = read_post(site_builder.site(), site_builder.post("2024-01-01-m.md", body=body))
    assert post.excerpt == "첫 문단. 둘째 문단."


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ({"published": False}, "published: false"),
        ({"published": "false"}, "published: false"),
        ({"social": False}, "social: false"),
        ({"date": "2030-05-01 09:00"}, "scheduled for 2030-05-01T09:00:00+09:00"),
        ({}, None),
    ],
)
def test_publishability(
    site_builder: SiteBuilder, front: dict[str, object], reason: str | None
) -> None:
    post = read_post(site_builder.site(), site_builder.post("2024-01-01-p.md", front))
    assert post.unpublishable_reason(NOW) == reason


def test_front_matter_date_and_permalink(site_builder: SiteBuilder) -> None:
    site_builder.configure(baseurl="/blog")
    path = site_builder.post(
        "2024-01-01-x.md", date="2024-03-05T23:30:00Z", slug="my-slug", permalink="/:year/:slug/"
    )
    post = read_post(site_builder.site(), path)
    # 23:30 UTC is the next day in Seoul, and the URL uses the site-zone date.
    assert post.date.isoformat() == "2024-03-06T08:30:00+09:00"
    assert post.slug == "my-slug"
    assert post.url == "https://news.example/blog/2024/my-slug/"


def test_default_date_permalink_style(site_builder: SiteBuilder) -> None:
    site_builder.configure(permalink="date", timezone="UTC")
    post = read_post(site_builder.site(), site_builder.post("2024-02-09-hello-world.md"))
    assert post.url == "https://news.example/2024/02/09/hello-world.html"
    assert post.date == datetime(2024, 2, 9, tzinfo=UTC)


def test_toml_front_matter(site_builder: SiteBuilder) -> None:
    raw = """+++
title = "TOML로 쓴 기사"
date = 2024-04-01T10:00:00
categories = ["경제"]
tags = ["toml", "hugo"]
description = "Hugo에서 옮겨 온 기사."
[image]
path = "/assets/t.jpg"
+++

본문.
"""
    post = read_post(site_builder.site(), site_builder.raw("_posts/2024-04-01-toml.md", raw))
    assert post.title == "TOML로 쓴 기사"
    assert post.date.isoformat() == "2024-04-01T10:00:00+09:00"  # local time = site zone
    assert post.categories == ("경제",)
    assert post.tags == ("toml", "hugo")
    assert post.excerpt == "Hugo에서 옮겨 온 기사."
    assert post.image == "/assets/t.jpg"


def test_crlf_and_bom_are_fine(site_builder: SiteBuilder) -> None:
    raw = "\ufeff---\r\ntitle: 윈도우에서 저장\r\n---\r\n\r\n본문입니다.\r\n"
    post = read_post(site_builder.site(), site_builder.raw("_posts/2024-01-01-w.md", raw))
    assert (post.title, post.excerpt) == ("윈도우에서 저장", "본문입니다.")


def test_empty_front_matter_is_no_title(site_builder: SiteBuilder) -> None:
    path = site_builder.raw("_posts/2024-01-01-e.md", "---\n---\nbody\n")
    with pytest.raises(PostFileError, match="no title"):
        read_post(site_builder.site(), path)


# --------------------------------------------------------------------------- bad files


BAD_FILES: list[tuple[str, bytes | str, str, int | None]] = [
    (
        "2024-01-20-pyobj.md",
        "---\ntitle: !!python/object:os.system x\n---\n",
        "could not determine a constructor for the tag",
        2,
    ),
    (
        "2024-01-21-bin.md",
        "---\ntitle: !!binary aGk=\n---\n",
        "'title' must be text, not binary",
        None,
    ),
    ("2024-01-22-tags.md", "---\ntitle: x\ntags: {a: 1}\n---\n", "'tags' must be text", None),
    ("2024-01-23-fence.md", "--- title: x\n---\n", "first line must be exactly '---'", 1),
    ("2024-01-24-deep.md", "---\ntitle: x\nd: " + "[" * 50_000 + "\n---\n", "nesting depth", 3),
    (
        "2024-01-25-cats.md",
        "---\ntitle: x\ncategories: {a: 1}\n---\n",
        "'categories' must be",
        None,
    ),
    (
        "2024-02-01-yaml.md",
        "---\ntitle: 속보: 코스피 급락\ndate: 2024-02-01\n---\n본문\n",
        "not valid YAML: mapping values are not allowed in this context (a value containing ': ' "
        "must be quoted",
        2,
    ),
    (
        "2024-02-02-quote.md",
        '---\ncategories: [경제]\ntitle: "끝나지 않은 따옴표\nimage: /a.jpg\n---\n',
        "while scanning a quoted scalar (from line 3)",
        5,
    ),
    (
        "2024-02-03-tab.md",
        "---\ntitle: x\n\tdate: 2024-01-01\n---\n",
        "found a tab character that violates indentation (use spaces, not tabs)",
        3,
    ),
    (
        "2024-02-04-euckr.md",
        "---\ntitle: 한글 제목\n---\n".encode("cp949"),
        "not valid UTF-8 at byte 11 (line 2, column 8",
        2,
    ),
    ("2024-02-05-empty.md", b"", "empty file", None),
    ("2024-02-06-blank.md", b"\n  \n\t\n", "empty file", None),
    ("2024-02-07-binary.md", b"---\ntitle: x\n---\n\x89PNG\x00\x00", "binary file (NUL byte", 4),
    ("2024-02-08-utf16.md", "---\ntitle: x\n---\n".encode("utf-16"), "UTF-16", None),
    ("2024-02-09-nofm.md", "제목 없이 본문만 있는 파일\n", "no front matter", None),
    ("2024-02-10-late.md", "\n\n---\ntitle: x\n---\n", "must start on the very first line", 3),
    ("2024-02-11-unclosed.md", "---\ntitle: x\n본문\n", "never closed", 1),
    ("2024-02-12-list.md", "---\n- a\n- b\n---\n", "found a list", 2),
    ("2024-02-13-scalar.md", "---\njust text\n---\n", "must be 'key: value' lines", 2),
    ("2024-02-14-notitle.md", "---\ndate: 2024-02-14\n---\n본문\n", "no title", None),
    ("2024-02-15-blanktitle.md", "---\ntitle: '   '\n---\n", "no title", None),
    (
        "2024-02-16-listtitle.md",
        "---\ntitle: [a, b]\n---\n",
        "'title' must be text, not a list",
        None,
    ),
    (
        "2024-02-17-baddate.md",
        "---\ntitle: x\ndate: 어제 저녁\n---\n",
        'invalid date "어제 저녁"',
        None,
    ),
    ("2024-02-18-nodate.md", "---\ntitle: x\ndate: 2024-13-45\n---\n", "impossible date", 3),
    (
        "breaking-news.md",
        "---\ntitle: x\ndate: 2024-02-19\n---\n",
        "file name must start with",
        None,
    ),
    ("2024-02-20-toml.md", '+++\ntitle = "x\n+++\n', "front matter is not valid TOML", 2),
    (
        "2024-02-21-perma.md",
        "---\ntitle: x\npermalink: /:nope/\n---\n",
        "unknown placeholder",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "reason", "line"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_is_reported_with_reason_and_line(
    site_builder: SiteBuilder, name: str, content: bytes | str, reason: str, line: int | None
) -> None:
    path = site_builder.raw(f"_posts/{name}", content)
    with pytest.raises(PostFileError) as caught:
        read_post(site_builder.site(), path)
    assert reason in caught.value.reason
    assert caught.value.line == line
    assert str(caught.value).endswith(caught.value.reason)


def test_euc_kr_file_gets_a_hint(site_builder: SiteBuilder) -> None:
    path = site_builder.raw(
        "_posts/2024-01-01-k.md", "---\ntitle: 한글 제목\n---\n".encode("cp949")
    )
    with pytest.raises(PostFileError, match="EUC-KR/CP949"):
        read_post(site_builder.site(), path)


def test_oversized_file_is_rejected_from_its_size(site_builder: SiteBuilder) -> None:
    path = site_builder.root / "_posts" / "2024-01-01-huge.md"
    path.parent.mkdir(parents=True)
    with path.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.write(b"---\ntitle: x\n---\n")
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(PostFileError, match=r"50\.0 MB, over the 5 MB limit"):
        read_post(site_builder.site(), path)


def test_file_just_under_the_cap_is_read(site_builder: SiteBuilder) -> None:
    head = "---\ntitle: 긴 기사\n---\n\n첫 문단.\n\n"
    body = "x" * (MAX_POST_BYTES - len(head.encode()) - 1)
    post = read_post(
        site_builder.site(), site_builder.raw("_posts/2024-01-01-long.md", head + body)
    )
    assert post.excerpt == "첫 문단."


def test_scan_reports_every_bad_file_and_loads_the_rest(site_builder: SiteBuilder) -> None:
    good = [
        site_builder.post("2024-03-01-good-one.md", title="좋은 기사 1"),
        site_builder.post("tech/_posts/2024-03-02-good-two.md", title="좋은 기사 2"),
        site_builder.post("_posts/2024/2024-03-03-good-three.md", title="Good three"),
    ]
    for name, content, _, _ in BAD_FILES:
        site_builder.raw(f"_posts/{name}", content)
    result = scan_site(site_builder.site())

    assert sorted(p.path for p in result.posts) == sorted(good)
    assert len(result.bad) == len(BAD_FILES)
    by_name = {b.path.name: b for b in result.bad}
    for name, _, reason, line in BAD_FILES:
        bad = by_name[name]
        assert reason in bad.reason
        assert bad.line == line
        assert bad.rel_path == f"_posts/{name}"
        assert str(bad).startswith(f"_posts/{name}{f':{line}' if line else ''}: ")


def test_scan_reports_two_files_with_the_same_url(site_builder: SiteBuilder) -> None:
    site_builder.post("2024-03-01-same.md", title="first")
    site_builder.post("_posts/archive/2024-03-01-same.md", title="second")
    result = scan_site(site_builder.site())
    assert [p.title for p in result.posts] == ["first"]
    assert len(result.bad) == 1
    assert result.bad[0].rel_path == "_posts/archive/2024-03-01-same.md"
    assert "same URL as _posts/2024-03-01-same.md" in result.bad[0].reason


# --------------------------------------------------------------------------- the demo site


def test_demo_site_scans_clean_with_expected_reasons() -> None:
    site = SiteConfig.load(DEMO_SITE)
    result = scan_site(site)
    assert result.bad == []
    reasons = {p.rel_path: p.unpublishable_reason(NOW) for p in result.posts}
    # The quick start invites users to drop posts into the demo site: judge the bundled ones.
    expected = {
        "_posts/2024-08-07-exaone-3-open-source.md": None,
        "_posts/2024-09-10-bok-base-rate-en.md": None,
        "_posts/2024-10-02-kospi-rebound.md": None,
        "_posts/2024-11-20-semiconductor-export-draft.md": "published: false",
        "_posts/2024-12-03-newsdao-notice.md": "social: false",
        "_posts/2030-01-01-new-year-2030-preview.md": "scheduled for 2030-01-01T00:00:00+09:00",
        "tech/_posts/2024-09-02-samsung-hbm4-supply.md": None,
    }
    assert {k: v for k, v in reasons.items() if k in expected} == expected
    posts = {p.slug: p for p in result.posts}
    sample = posts["exaone-3-open-source"]
    assert sample.path.read_bytes() == SAMPLE_POST.read_bytes()
    assert sample.title == SAMPLE_TITLE
    assert (
        sample.url == "https://newsdao.kr/%EA%B8%B0%EC%88%A0/2024/08/07/exaone-3-open-source.html"
    )
    assert posts["kospi-rebound"].image is None
    assert posts["samsung-hbm4-supply"].categories == ("tech", "반도체")
    for post in result.posts:
        assert post.excerpt and "<" not in post.excerpt
        if post.image is not None:
            assert post.image.startswith("/assets/img/")
            assert (DEMO_SITE / post.image.lstrip("/")).is_file()


def test_demo_site_is_small_and_its_images_are_real_jpegs() -> None:
    from PIL import Image

    total = sum(p.stat().st_size for p in DEMO_SITE.rglob("*") if p.is_file())
    assert total < 1_000_000
    with Image.open(DEMO_SITE / "assets/img/newsdao_breakingnews.jpg") as img:
        assert (img.format, img.size) == ("JPEG", (1200, 630))
        assert img.getexif().get(0x0112) == 1  # EXIF orientation present


def test_a_file_outside_the_site_has_no_folder_categories(
    site_builder: SiteBuilder, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "home" / "editor" / "_posts" / "2024-01-01-x.md"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text("---\ntitle: 밖의 파일\ncategories: [경제]\n---\n본문\n", encoding="utf-8")
    site = site_builder.site()
    assert folder_categories(site, elsewhere) == []
    with pytest.raises(PostFileError, match="not a file of the site"):
        read_post(site, elsewhere)  # one rule for every way into a post: outside is refused


def test_symlink_loop_inside_the_site_is_walked_once(site_builder: SiteBuilder) -> None:
    post = site_builder.post("news/_posts/2024-01-01-x.md")
    (site_builder.root / "news" / "again").symlink_to(site_builder.root)
    assert list(iter_post_files(site_builder.site())) == [post]


def test_collections_dir(site_builder: SiteBuilder) -> None:
    site_builder.configure(collections_dir="_content")
    path = site_builder.post("_content/_posts/2024-01-01-c.md", categories=["경제"])
    site = site_builder.site()
    assert list(iter_post_files(site)) == [path]
    assert read_post(site, path).categories == ("경제",)


def _five_mb(head: str, unit: str, tail: str = "") -> str:
    """`head`, then `unit` repeated, then `tail`: just under the 5 MB cap in UTF-8."""
    room = MAX_POST_BYTES - 100 - len((head + tail).encode())
    return head + unit * (room // len(unit.encode())) + tail


@pytest.mark.parametrize(
    "text",
    [
        _five_mb("---\ntitle: t\n---\n```\n", "para text here\n\n"),
        _five_mb("---\ntitle: t\n---\n<!--\n", "para text here\n\n"),
        _five_mb("---\ntitle: t\n---\n", "{% x "),
        _five_mb("---\ntitle: t\n---\n", "[a"),
        _five_mb("---\r\ntitle: t\r\n---\r\n", "# h\r\n\r\n"),
        _five_mb("---\ntitle: t\n", "x: y\n"),  # never closed
        _five_mb("---\ntitle: t\nexcerpt: '" + "[a" * 30_000 + "'\n---\n", "<div>"),
        _five_mb("---\ntitle: '" + "<li>x" * 12_000 + "'\nexcerpt_separator: <!--more-->\n---\n",
                 "**a** ", "<!--more-->"),
        _five_mb("+++\ntitle = 't'\n+++\n", "> ", "x"),
    ],
    ids=["unclosed fence", "unclosed comment", "liquid", "brackets", "crlf headings",
         "unclosed front matter", "big excerpt, divs", "big title, separator", "toml, quotes"],
)
def test_a_5_mb_post_of_any_shape_is_read_in_under_a_second(
    site_builder: SiteBuilder, text: str
) -> None:
    """The whole reader, file to Post (or reason), is linear and bounded (CPU time)."""
    path = site_builder.raw("_posts/2024-01-01-big.md", text)
    assert MAX_POST_BYTES - 200 < path.stat().st_size < MAX_POST_BYTES
    site = site_builder.site()
    started = time.process_time()
    with contextlib.suppress(PostFileError):
        read_post(site, path)
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize("fence", ["yaml", "toml"])
def test_front_matter_nested_past_what_templates_take_is_a_bad_file(
    site_builder: SiteBuilder, fence: str
) -> None:
    """Regression (hostile corpus): 200 nested YAML mappings or 5,000 dotted TOML tables were
    read, and `check` called the post publishable, but no teaser could ever be made of it
    (templates get the front matter only MAX_NESTING levels deep), so every send failed."""
    from bot.sources.jekyll import MAX_FRONT_MATTER_DEPTH
    from bot.teasers.view import MAX_NESTING, post_view

    assert MAX_FRONT_MATTER_DEPTH == MAX_NESTING

    def text(levels: int) -> str:  # `levels` containers, the front matter itself included
        if fence == "yaml":
            rows = "\n".join("  " * i + f"k{i}:" for i in range(levels))
            return f"---\ntitle: Deep\n{rows} leaf\n---\nBody.\n"
        return ('+++\ntitle = "Deep"\n[' + ".".join(["a"] * (levels - 1))
                + ']\nleaf = 1\n+++\nBody.\n')

    site = site_builder.site()
    fits = site_builder.raw("_posts/2024-01-01-fits.md", text(MAX_NESTING))
    post = read_post(site, fits)
    post_view(post)  # what a template gets: no error
    deep = site_builder.raw("_posts/2024-01-02-deep.md", text(MAX_NESTING + 1))
    with pytest.raises(PostFileError, match="nested deeper than 100 levels"):
        read_post(site, deep)
