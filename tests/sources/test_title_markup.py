"""When a title's HTML hides typed text, `check` and `preview` say so; real formatting is quiet."""

from __future__ import annotations

import time

import pytest

from bot.sources.text import html_to_text
from bot.sources.title_markup import dropped_markup_note


def note(title: str) -> str | None:
    return dropped_markup_note(title, html_to_text(title))


@pytest.mark.parametrize("title", [
    "Plain title", "<b>Bold</b> news", "<em>Big</em> day", "AT&T wins", "a < b and c > d",
    "x <3 y", "H<sub>2</sub>O", "Line<br>break", '<a href="https://e.x">Link</a> text',
])
def test_formatting_and_plain_text_say_nothing(title: str) -> None:
    assert note(title) is None


def test_an_unknown_tag_is_named_with_how_to_keep_it() -> None:
    assert note("Using <T> generics") == (
        "the title shows as 'Using generics': <T> is read as an HTML tag and dropped, as a "
        "browser would; write &lt;T&gt; to show it")
    several = note("Map<K, V> and Vec<u8>")
    assert several is not None and "<K, V>, <u8> are read as HTML tags" in several
    assert "&lt;K, V&gt;, &lt;u8&gt;" in several


def test_text_a_browser_hides_inside_known_tags_is_noticed() -> None:
    hidden = note("Use <script>alert(1)</script> safely")
    assert hidden is not None and hidden.startswith("the title shows as 'Use safely'")


@pytest.mark.parametrize("hostile", ["<a" * 60_000, "<T" + "x" * 100_000, "<" * 100_000,
                                     "<b>" * 30_000])
def test_hostile_titles_cost_little(hostile: str) -> None:
    start = time.perf_counter()
    dropped_markup_note(hostile, "shown")
    assert time.perf_counter() - start < 0.5
