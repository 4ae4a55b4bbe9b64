"""Plain text from post markup: the sample's broken HTML, entities, Markdown, and arbitrary junk."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.text import first_paragraph, html_to_text, plain_text

SAMPLE_POST = Path(__file__).resolve().parents[1] / "data" / "samples" / "newsdao-exaone-3.md"
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")


def _sample_body() -> str:
    return SAMPLE_POST.read_text(encoding="utf-8").split("\n---\n", 1)[1]


def test_sample_first_paragraph_is_the_first_prose_paragraph() -> None:
    text = first_paragraph(_sample_body())
    assert text.startswith(
        "LG AI 연구원은 7일 최신 인공지능(AI) 거대언어모델(LLM)인 ‘엑사원(EXAONE) 3.0’"
    )
    assert text.endswith("인공지능의 다양성과 접근성을 높이고자 합니다.")
    assert "  " not in text and "\n" not in text


def test_sample_plain_text_survives_the_broken_tag_and_entities() -> None:
    text = plain_text(_sample_body())
    # `S<ostyle="color: #1a5490;">QL(...)` is a broken tag: the letters around it join up.
    assert "SQL(구조화된 질의 언어) 쿼리를 자동으로 생성해" in text
    assert "ostyle" not in text and "color" not in text and "data-ke-size" not in text
    assert "&nbsp;" not in text and "\xa0" not in text
    assert text.endswith("실시간 뉴스 속보는, https://newsdao.kr")
    assert "엑사원 3.0의 성능 및 특징" in text  # headings are text too
    assert not TAG_LIKE.search(text)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("Tom &amp; Jerry&nbsp;&nbsp;show &lt;3", "Tom & Jerry show <3"),
        ("**굵게** 그리고 _기울임_ [링크](https://x.kr)", "굵게 그리고 기울임 링크"),
        ("1987. 민주화 항쟁", "1987. 민주화 항쟁"),
        ("영화 <기생충> 아카데미 수상", "영화 <기생충> 아카데미 수상"),
        ("first\n\n\nsecond   line\tend", "first second line end"),
        ('<p>a<br>b</p><div>c</div><script>alert("x")</script><style>p{}</style>', "a b c"),
        ("<!-- 편집 메모 -->보이는 글", "보이는 글"),
        ("{% include ad.html %}광고 뒤 {{ page.title }} 본문", "광고 뒤 본문"),
        ("{% raw %}원문{% endraw %} 그대로", "원문 그대로"),
        ("Use the `<img>` element", "Use the \u2039img> element"),
        ("a <b c", "a \u2039b c"),
        ("첫 문단\n{: .lead}", "첫 문단"),
        ("zero\u200bwidth\ufeff space", "zerowidth space"),
        ("", ""),
    ],
)
def test_plain_text(markup: str, expected: str) -> None:
    assert plain_text(markup) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("# 제목\n\n![사진](/a.jpg)\n\n첫 문단 **입니다**.\n\n둘째 문단.", "첫 문단 입니다."),
        ("<p><img src='/a.jpg'></p>\n<p>&nbsp;</p>\n<p>HTML 문단</p>", "HTML 문단"),
        ("- 목록은\n- 문단이 아니다\n\n진짜 문단", "진짜 문단"),
        ("```\ncode block\n```\n\n    indented code\n\n> 인용된 문단", "인용된 문단"),
        ("<figure><img src=x><figcaption>캡션</figcaption></figure>\n\n본문", "본문"),
        ("<div>div 안의 글</div>", "div 안의 글"),
        ("## 제목만\n\n<hr>\n\n![](/only.jpg)", ""),
        ("", ""),
        ("Setext 제목\n===\n\n내용\n이어짐", "내용 이어짐"),
        ("<!-- 편집 메모\n\n여러 줄 -->\n\n본문 시작", "본문 시작"),
        ("<!-- 메모 -->\n주석 뒤 같은 블록", "주석 뒤 같은 블록"),
        ("```python\nx = 1\n\n\ny = 2\n```\n\n코드 뒤 문단", "코드 뒤 문단"),
        ("<pre>\n코드\n\n코드\n</pre>\n\n프리 뒤", "프리 뒤"),
        ("- 항목\n\n  항목의 둘째 문단\n\n본문", "본문"),
        ("<img src='/a.jpg'>\n\n이미지 뒤", "이미지 뒤"),
        ("<P CLASS=x>대문자 태그</P>", "대문자 태그"),
    ],
)
def test_first_paragraph(body: str, expected: str) -> None:
    assert first_paragraph(body) == expected


def test_first_paragraph_after_a_long_preamble() -> None:
    """The paragraph is found even when it comes after many KB of headings and images."""
    preamble = "".join(f"## 소제목 {i}\n\n![사진 {i}](/img/{i}.jpg)\n\n" for i in range(2000))
    body = preamble + "드디어 나온 첫 문단.\n\n" + "뒤 문단.\n\n" * 1000
    assert len(preamble) > 50_000
    assert first_paragraph(body) == "드디어 나온 첫 문단."


def test_first_paragraph_cut_does_not_split_a_paragraph() -> None:
    long_para = " ".join(["문장입니다."] * 2000)  # one paragraph longer than the first chunk
    assert first_paragraph(long_para + "\n\n다음") == long_para


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("2*3*4 공식", "2*3*4 공식"),  # no Markdown in titles
        ("# 1위 탈환", "# 1위 탈환"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("<em>강조</em> 제목", "강조 제목"),
        ("  여러   공백\n제목 ", "여러 공백 제목"),
        ("<기생충> 수상", "<기생충> 수상"),
    ],
)
def test_html_to_text_for_titles(title: str, expected: str) -> None:
    assert html_to_text(title) == expected


_markupish = st.lists(
    st.one_of(
        st.text(),
        st.sampled_from(
            [
                "<",
                ">",
                "</",
                "<p>",
                "</p>",
                "<b",
                "<!--",
                "-->",
                "<![CDATA[",
                "<?",
                "&",
                "&amp;",
                "&#x",
                "&nbsp;",
                "<script>",
                "</script>",
                "<style>",
                "`",
                "```",
                "\n\n",
                "# ",
                "- ",
                "1. ",
                "**",
                "[",
                "](",
                "{%",
                "%}",
                "{{",
                "}}",
                "{:",
                "}",
                "<a href='",
                '"',
                "<img",
                "/>",
                '<ostyle="color: #1a5490;">',
                "\x00",
                "\r",
                "<svg>",
                "<textarea>",
            ]
        ),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_markupish)
def test_plain_text_never_raises_nor_returns_tag_like_markup(markup: str) -> None:
    for fn in (plain_text, first_paragraph, html_to_text):
        out = fn(markup)
        assert isinstance(out, str)
        assert not TAG_LIKE.search(out), (fn.__name__, out)
        assert out == out.strip() and "  " not in out and "\n" not in out


# --------------------------------------------------------------------------- hostile bodies

_REFERENCE = Path(__file__).with_name("reference_text.py")
_spec = importlib.util.spec_from_file_location("newsbot_reference_text", _REFERENCE)
assert _spec is not None and _spec.loader is not None
reference = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(reference)

FIVE_MB = 5 * 1024 * 1024


def _fill(unit: str, head: str = "", tail: str = "") -> str:
    return head + unit * ((FIVE_MB - len(head) - len(tail)) // len(unit)) + tail


HOSTILE_BODIES = {
    "unclosed fence": _fill("para text here\n\n", "```\n"),
    "unclosed tilde fence": _fill("para\n\n", "~~~~\n"),
    "unclosed comment": _fill("para text here\n\n", "<!--\n"),
    "unclosed script": _fill("para\n\n", "<script>\n"),
    "unclosed CDATA": _fill("para\n\n", "<![CDATA[\n"),
    "many blank-line paragraphs of headings": _fill("# heading\n\n"),
    "many image paragraphs": _fill("![](a.png)\n\n"),
    "many spacer paragraphs": _fill("&nbsp;\n\n"),
    "many list paragraphs": _fill("1. x\n\n"),
    "many invisible paragraphs": _fill("\u200b\n\n"),
    "one huge line": _fill("word "),
    "one huge line of brackets": _fill("[a"),
    "one huge line of emphasis": _fill("**a _b "),
    "one huge table": _fill("| x | y |\n", "| a | b |\n|---|---|\n"),
    "deep nested list": _fill("- ", tail="x"),
    "deep nested quote": _fill(">", tail=" x"),
    "deep nested divs": _fill("<div>", "<div>\n"),
    "nested divs then stray ends": "<div>\n" + "<div>" * (FIVE_MB // 10) + "</p>" * (FIVE_MB // 8),
    "many raw tags": _fill("{% raw %}x{% endraw %} "),
    "many unclosed liquid tags": _fill("{% x "),
    "many unclosed liquid outputs": _fill("{{ x "),
    "many unclosed liquid comments": _fill("{% comment %} "),
    "many HTML tags": _fill("<span>x</span>"),
    "unclosed comments in an HTML block": _fill("<!-- x >", "<div>\n"),
    "unclosed CDATA in an HTML block": _fill("<![CDATA[ x ]>", "<div>\n"),
    "unclosed tags in an HTML block": _fill("<a b", "<div>\n"),
    "unclosed comments in a paragraph": "<p>" + _fill("<!-- "),
    "many list items in an HTML block": _fill("<li>x", "<div><ol>\n"),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_5_mb_body_of_any_shape_is_read_in_under_a_second(body: str) -> None:
    """Regression: an unclosed fence (or `<!--`, or Liquid tag) before many paragraphs made the
    first-paragraph search quadratic (120 KB: 62 s; 5 MB: about 30 hours per rescan). Linear
    code reads any of these in well under 0.5 s; the bound separates it from quadratic by
    orders of magnitude (CPU time of this process, so other tests running do not count)."""
    for fn in (first_paragraph, plain_text, html_to_text):
        started = time.process_time()
        out = fn(body)
        elapsed = time.process_time() - started
        assert elapsed < 1.0, (fn.__name__, elapsed)
        assert isinstance(out, str) and not TAG_LIKE.search(out)


# Ordinary posts, built from the blocks news posts are made of.
_words = st.lists(
    st.sampled_from(
        ["코스피가", "반등했다", "한국은행은", "기준금리를", "동결했다", "The", "index", "rose",
         "2.5%", "AI", "(속보)", "‘엑사원’", "3.0", "news", "오늘", "1987.", "e.g.", "—", "!"]
    ),
    min_size=1,
    max_size=12,
).map(" ".join)
_inline = st.one_of(
    _words,
    _words.map(lambda w: f"**{w}**"),
    _words.map(lambda w: f"_{w}_"),
    _words.map(lambda w: f"[{w}](https://news.example/a)"),
    _words.map(lambda w: f"`{w}`"),
    _words.map(lambda w: f"<b>{w}</b>"),
    _words.map(lambda w: f"{w} &amp; {w}"),
    _words.map(lambda w: f"{w}&nbsp;{w}"),
    _words.map(lambda w: f"<span style=\"color: #1a5490;\">{w}</span>"),
    _words.map(lambda w: f"{w} {{{{ page.title }}}} {{% include ad.html %}}"),
    _words.map(lambda w: f"{{% raw %}}{w}{{% endraw %}}"),
)
_paragraph = st.lists(_inline, min_size=1, max_size=4).map(" ".join)
_block = st.one_of(
    _paragraph,
    st.tuples(_paragraph, _paragraph).map("\n".join),
    st.tuples(st.integers(1, 6), _words).map(lambda t: "#" * t[0] + " " + t[1]),
    _words.map(lambda w: f"{w}\n===="),
    _words.map(lambda w: f"![{w}](/assets/img/a.jpg)"),
    _words.map(lambda w: f"![{w}](/assets/img/a.jpg \"{w}\")\n![b](/b.png)"),
    st.lists(_words, min_size=1, max_size=3).map(lambda ws: "\n".join(f"- {w}" for w in ws)),
    st.lists(_words, min_size=1, max_size=3).map(
        lambda ws: "\n".join(f"{i}. {w}" for i, w in enumerate(ws, 1))),
    _words.map(lambda w: f"  {w}"),
    _words.map(lambda w: f"> {w}"),
    _words.map(lambda w: f"    {w}"),
    st.tuples(_words, _words).map(lambda t: f"```\n{t[0]}\n\n{t[1]}\n```"),
    st.tuples(_words, _words).map(lambda t: f"```python\n{t[0]}\n```\n{t[1]}"),
    st.tuples(_words, _words).map(lambda t: f"<!-- {t[0]}\n\n{t[1]} -->"),
    st.tuples(_words, _words).map(lambda t: f"<!-- {t[0]} -->\n{t[1]}"),
    _words.map(lambda w: f"<pre>\n{w}\n\n{w}\n</pre>"),
    _words.map(lambda w: f"<p>{w}</p>"),
    _words.map(lambda w: f"<p><img src='/a.jpg'></p>\n<p>&nbsp;</p>\n<p>{w}</p>"),
    _words.map(lambda w: f"<figure><img src='/a.jpg'><figcaption>{w}</figcaption></figure>"),
    _words.map(lambda w: f"<div>\n<h2>{w}</h2>\n</div>"),
    _words.map(lambda w: f"{{% comment %}}\n{w}\n\n{w}\n{{% endcomment %}}"),
    _words.map(lambda w: f"{w}\n{{: .lead}}"),
    _words.map(lambda w: f"| {w} | b |\n|---|---|\n| c | d |"),
    st.sampled_from(["&nbsp;", "***", "<br>", "{:toc}", "\u200b"]),
)
_ordinary_body = st.tuples(
    st.lists(_block, max_size=8), st.sampled_from(["\n\n", "\n\n\n", "\r\n\r\n"])
).map(lambda t: t[1].join(t[0]))


@settings(max_examples=400, deadline=None)
@given(_ordinary_body)
def test_on_ordinary_posts_the_excerpt_is_what_it_always_was(body: str) -> None:
    assert first_paragraph(body) == reference.first_paragraph(body)
    assert plain_text(body) == reference.plain_text(body)


@settings(max_examples=200, deadline=None)
@given(_paragraph)
def test_on_ordinary_titles_the_text_is_what_it_always_was(title: str) -> None:
    assert html_to_text(title) == reference.html_to_text(title)


_tag_name = st.sampled_from(["p", "img", "br", "div", "span", "a", "h2", "figure", "script",
                             "style", "table", "td", "x-custom", "P", "IMG"])
_attr_text = st.text(st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)),
                     max_size=20)
_space = st.text(st.sampled_from(" \t\n\r\f\v\xa0\u3000\u2028"), max_size=3)


@st.composite
def _tags_only(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        name = draw(_tag_name)
        kind = draw(st.sampled_from(["open", "close", "self"]))
        attrs = draw(_attr_text)
        tag = {"open": f"<{name} {attrs}>", "close": f"</{name}>",
               "self": f"<{name} {attrs}/>"}[kind]
        parts.append(draw(_space) + tag)
    return "".join(parts) + draw(_space)


@settings(max_examples=300, deadline=None)
@given(_tags_only(), st.text(max_size=40))
def test_a_block_of_tags_alone_is_no_lead_as_the_parser_finds(tags: str, lead: str) -> None:
    """The shortcut for markup of tags alone gives what parsing it gives: no prose, so the
    first paragraph comes from the next block, exactly as the parser would have it."""
    from bot.sources import text

    assert text._TAGS_ONLY.fullmatch(tags)
    parsed = [b for b in text._html_blocks(tags, stop_at_prose=True) if b.prose
              and text._is_prose(b.text)]
    assert parsed == []
    body = f"{tags}\n\n{lead}\n"
    shortcut = first_paragraph(body)
    real = text._TAGS_ONLY
    try:
        text._TAGS_ONLY = re.compile(r"(?!)")  # never matches: every block is parsed
        assert first_paragraph(body) == shortcut
    finally:
        text._TAGS_ONLY = real
