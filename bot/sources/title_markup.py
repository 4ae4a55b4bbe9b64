"""Say when a title's HTML hid what its author typed.

A title is read as HTML, as Jekyll's page and every browser read it: `Using <T> generics` shows
as `Using generics` (`<T>` is taken for an unknown tag) and `Vec<u8>` as `Vec`.  That is the
right reading (the teaser must match the page), but the author meant the characters, so `check`
and `preview` say what happened and how to keep them.  Real formatting (`<b>`, `<em>`) says
nothing: the words all stay.
"""

from __future__ import annotations

import html
import re

__all__ = ["dropped_markup_note"]

# Bounded and stopping at the next `<`: a hostile title (`<a<a<a...` with no `>`) costs linear
# time, not a scan to the end from every `<`.
_TAG = re.compile(r"</?([A-Za-z][^\s/<>]{0,64})[^<>]{0,1000}>")
MAX_TITLE_CHARS = 4096
"""Most of a title looked at (a title is a line; what follows is not worth a warning)."""
_SPACE = re.compile(r"\s+")

# HTML elements (WHATWG, plus a few obsolete ones browsers still know); anything else in angle
# brackets was meant as text.
_ELEMENT_NAMES = """
a abbr acronym address area article aside audio b base bdi bdo big blockquote body br button
canvas caption center cite code col colgroup data datalist dd del details dfn dialog div dl dt
em embed fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header hgroup hr
html i iframe img input ins kbd label legend li link main map mark menu meta meter nav noscript
object ol optgroup option output p param picture pre progress q rp rt ruby s samp script search
section select slot small source span strike strong style sub summary sup svg table tbody td
template textarea tfoot th thead time title tr track tt u ul var video wbr math
"""
_HTML_ELEMENTS = frozenset(_ELEMENT_NAMES.split())


def _letters(text: str) -> str:
    """Text without its whitespace: tags may or may not separate words (`H<sub>2</sub>O`)."""
    return _SPACE.sub("", text)


def dropped_markup_note(markup: str, shown: str) -> str | None:
    """A one-line warning when reading ``markup`` as HTML dropped typed text, else None.

    ``shown`` is the title as it is read (``bot.sources.text.html_to_text``).
    """
    if "<" not in markup:
        return None
    if len(markup) > MAX_TITLE_CHARS:
        markup, shown = markup[:MAX_TITLE_CHARS], shown[:MAX_TITLE_CHARS]
    unknown = [m.group(0) for m in _TAG.finditer(markup)
               if m.group(1).lower() not in _HTML_ELEMENTS]
    # Known tags whose content no browser shows (`<script>`, `<style>`) drop words too.
    words_kept = _letters(html.unescape(_TAG.sub("", markup))) == _letters(shown)
    if not unknown and words_kept:
        return None
    if unknown:
        tags = ", ".join(dict.fromkeys(unknown))
        keep = ", ".join(dict.fromkeys(
            t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for t in unknown))
        what = "is read as an HTML tag" if len(set(unknown)) == 1 else "are read as HTML tags"
        return (f"the title shows as {shown!r}: {tags} {what} and dropped, as a browser "
                f"would; write {keep} to show it")
    return (f"the title shows as {shown!r}: part of it is read as HTML and dropped, as a "
            "browser would; write &lt; for a < meant as text")
