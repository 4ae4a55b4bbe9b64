"""Plain text from post markup: the sample's broken HTML, entities, Markdown, and arbitrary junk."""

from __future__ import annotations

import re
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
