"""`bot/sources/text.py` as it was before it was made linear (commit 1526d7b): the reference the
property tests compare the new code with on ordinary posts, where the old code was right (it was
only slow, quadratic, on hostile ones). Its code is kept verbatim; only its docstring is this.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

# Jekyll runs Liquid before Markdown; we cannot evaluate it, so its markers are dropped. Comment
# and highlight blocks go entirely (not prose); `raw` keeps its text.
_LIQUID_BLOCKS = re.compile(
    r"\{%-?\s*(comment|highlight)\b.*?%\}.*?\{%-?\s*end\1\s*-?%\}", re.DOTALL | re.IGNORECASE
)
_LIQUID_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
# kramdown attribute lists / extensions: `{: .lead}`, `{:toc}`, `{::options ... /}`.
_KRAMDOWN = re.compile(r"\{::?[^{}\n]*\}")
# What an HTML or Markdown consumer would read as the start of a tag or comment.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Text without any of these cannot contain Markdown or HTML: skip both parsers (most excerpts).
_NEEDS_PARSER = re.compile(r"[<&*_`\[\]\\~|{]|^[ \t]*(?:[#>+=-]|\d{1,9}[.)])", re.MULTILINE)

_SKIP_CONTENT = frozenset(
    ["script", "style", "template", "noscript", "svg", "math", "iframe", "object", "head", "title"]
)
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "param",
    ]
)
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
# Text inside these is not "the first paragraph" of a news post (titles, captions, code, lists).
_NOT_PROSE = frozenset(
    [
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "dt",
        "dd",
        "pre",
        "figcaption",
        "caption",
        "td",
        "th",
        "nav",
        "aside",
        "header",
        "footer",
        "summary",
        "form",
    ]
)


@dataclass(slots=True)
class _Block:
    text: str
    prose: bool


class _Extractor(HTMLParser):
    """Collects text per block element; inline tags (and unknown or broken ones) vanish."""

    def __init__(self, *, stop_at_prose: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.stop_at_prose = stop_at_prose
        self.blocks: list[_Block] = []
        self._buf: list[str] = []
        self._stack: list[str] = []
        self._skip = 0
        self._ol: list[int] = []

    def _flush(self) -> None:
        if not self._buf:
            return
        text = _collapse("".join(self._buf))
        self._buf.clear()
        if text:
            prose = not any(tag in _NOT_PROSE for tag in self._stack)
            self.blocks.append(_Block(text, prose))
            if self.stop_at_prose and prose and _is_prose(text):
                raise _FoundProse

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "br":
            self._buf.append(" ")
        elif tag in _BLOCK or tag == "hr":
            self._flush()
            if tag in _BLOCK:
                # An open <p> ends where another block starts (HTML's implied end tag).
                if self._stack and self._stack[-1] == "p":
                    self._stack.pop()
                self._stack.append(tag)
            if tag == "ol":
                start = dict(attrs).get("start") or "1"
                self._ol.append(int(start) if start.isdigit() and len(start) < 10 else 1)
            elif tag == "li" and self._stack[-2:-1] == ["ol"] and self._ol:
                self._buf.append(f"{self._ol[-1]}. ")
                self._ol[-1] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            return
        if tag not in _VOID:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)
        elif not self._skip:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip or tag not in _BLOCK or tag not in self._stack:
            return
        self._flush()
        while self._stack:
            popped = self._stack.pop()
            if popped == "ol" and self._ol:
                self._ol.pop()
            if popped == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buf.append(data)

    def finish(self) -> None:
        try:
            self.close()
        except _FoundProse:
            raise
        except Exception:  # HTMLParser is tolerant, but a teaser must never fail on markup
            self._buf.clear()
        self._flush()


def _collapse(text: str) -> str:
    return " ".join(_INVISIBLE.sub("", text).split())


def _is_prose(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class _FoundProse(Exception):
    """Stops parsing once the first paragraph is known: the rest of the article is not needed."""


def _defuse(text: str) -> str:
    """Literal text that still reads as a tag (`the <img> element`) gets a look-alike bracket."""
    return _TAG_START.sub("\u2039", text)


def _html_blocks(markup: str, *, stop_at_prose: bool = False) -> list[_Block]:
    parser = _Extractor(stop_at_prose=stop_at_prose)
    try:
        parser.feed(markup)
        parser.finish()
    except _FoundProse:
        pass
    except Exception:  # pragma: no cover - defensive; HTMLParser treats junk as data
        return [_Block(_collapse(html.unescape(markup)), True)]
    return parser.blocks


def _strip_templating(markup: str) -> str:
    if "{" not in markup:
        return markup
    markup = _LIQUID_BLOCKS.sub(" ", markup)
    markup = re.sub(r"\{%-?\s*(end)?raw\s*-?%\}", "", markup)
    markup = _LIQUID_TAG.sub(" ", markup)
    return _KRAMDOWN.sub(" ", markup)


def _render(markup: str) -> str:
    try:
        return _MD.render(markup)
    except Exception:  # pragma: no cover - markdown-it does not raise on text; be safe anyway
        return html.escape(markup)


def html_to_text(markup: str) -> str:
    """HTML only (no Markdown): for titles, where `*` or `1.` are literal characters."""
    if "<" not in markup and "&" not in markup:
        return _collapse(markup)
    return _defuse(" ".join(b.text for b in _html_blocks(markup)))


def plain_text(markup: str) -> str:
    """Markdown/HTML to one line of plain text: tags gone, entities decoded, whitespace collapsed.

    Ordered-list numbers are kept (`1987. 민주화` stays readable); images contribute nothing
    (their alt text describes a picture, not the news).
    """
    if not _NEEDS_PARSER.search(markup):
        return _collapse(markup)
    markup = _strip_templating(markup.replace("\r\n", "\n"))
    blocks = _html_blocks(_render(markup))
    return _defuse(" ".join(b.text for b in blocks))


def first_paragraph(body: str) -> str:
    """The first paragraph of real prose, as plain text ('' if there is none).

    Headings, image-only paragraphs, `&nbsp;` spacers, list items, captions and code are skipped.
    The body is taken one blank-line-separated block at a time (where a Markdown paragraph always
    ends) and parsing stops at the first paragraph: a scan of thousands of posts must not render
    every full article. Pasted-HTML blocks, the common case, skip Markdown entirely.
    """
    after_list = False
    for kind, block in _body_blocks(_strip_templating(body.replace("\r\n", "\n"))):
        if kind == "code" or (after_list and block[:1] in (" ", "\t")):
            continue  # code, or a paragraph continuing a list item
        after_list = kind == "list" or (after_list and block[:1] in (" ", "\t"))
        markup = block if kind == "html" else _render(block)
        for found in _html_blocks(markup, stop_at_prose=True):
            if found.prose and _is_prose(found.text):
                return _defuse(found.text)
    return ""


# CommonMark HTML block type 6: a block-level tag at the start of a line; Markdown passes the
# whole block through untouched, so it can go straight to the HTML parser.
_HTML6 = re.compile(
    r" {0,3}</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|"
    r"dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|"
    r"h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|"
    r"optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|"
    r"track|ul)(?:[ \t>]|/>|$)",
    re.IGNORECASE,
)
# HTML block types 1-5 run to their end marker, across blank lines.
_HTML_LONG = (
    (
        re.compile(r" {0,3}<(?:script|pre|style|textarea)(?:[ \t>]|$)", re.I),
        re.compile(r"</(?:script|pre|style|textarea)>", re.I),
    ),
    (re.compile(r" {0,3}<!--"), re.compile(r"-->")),
    (re.compile(r" {0,3}<\?"), re.compile(r"\?>")),
    (re.compile(r" {0,3}<![A-Za-z]"), re.compile(r">")),
    (re.compile(r" {0,3}<!\[CDATA\["), re.compile(r"\]\]>")),
)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_START = re.compile(r" {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")


def _body_blocks(body: str) -> Iterator[tuple[str, str]]:
    """(kind, text) per blank-line-separated block; fences and long HTML blocks kept whole."""
    parts = body.split("\n\n")
    i = 0
    while i < len(parts):
        block = parts[i].strip("\n")
        i += 1
        if not block.strip():
            continue
        if fence := _FENCE.match(block):
            marker = fence.group(1)
            closer = re.compile(rf"^ {{0,3}}{marker[0]}{{{len(marker)},}}[ \t]*$", re.M)
            while not closer.search(block, fence.end()) and i < len(parts):
                block += "\n\n" + parts[i]
                i += 1
            # Text after the closing fence (same block) is rendered with it; code is skipped.
            yield "markdown", block
            continue
        if block.startswith(("    ", "\t")):
            yield "code", block
            continue
        for opener, end in _HTML_LONG:
            if opener.match(block):
                while not end.search(block) and i < len(parts):
                    block += "\n\n" + parts[i]
                    i += 1
                yield "markdown", block
                break
        else:
            if _HTML6.match(block):
                yield "html", block
            elif _LIST_START.match(block):
                yield "list", block
            else:
                yield "markdown", block
