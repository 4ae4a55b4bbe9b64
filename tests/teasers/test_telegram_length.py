"""Telegram visible length and HTML validity, per TDLib's parse_html and cleaning (A4, A5)."""

from __future__ import annotations

import pytest

from bot.teasers import telegram_visible_length
from bot.teasers.telegram_length import TelegramHTMLError, parse_telegram_html


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ("<b>A &amp; B</b>", "A & B"),
        ("&lt;script&gt; &quot;q&quot; &#39;s&#39; &#x41;", "<script> \"q\" 's' A"),
        ("&nbsp;&hellip; a & b > c", "&nbsp;&hellip; a & b > c"),
        ('<a href="https://e.org/?a=1&amp;b=2">자세히 보기</a>', "자세히 보기"),
        ("  \n<i>x</i>\r\n \n", "x"),
        ("a\rb\tc\x00d\u2028e", "ab c de"),
        ("<b> x</b>", " x"),
        ("<blockquote expandable>q</blockquote>", "q"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("<B>upper</B>", "upper"),
    ],
)
def test_visible_text(html: str, visible: str) -> None:
    assert parse_telegram_html(html).text == visible
    assert telegram_visible_length(html) == len(visible)


def test_astral_emoji_counts_one_code_point_two_utf16_units() -> None:
    parsed = parse_telegram_html("😀" * 3)
    assert (parsed.length, parsed.utf16_length) == (3, 6)


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ("가 <</b>", 'Unsupported start tag "</b" at byte offset 4'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
    ],
)
def test_rejected_like_tdlib(html: str, message: str) -> None:
    with pytest.raises(TelegramHTMLError) as err:
        parse_telegram_html(html)
    assert str(err.value) == message
