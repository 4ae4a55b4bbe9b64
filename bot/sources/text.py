"""Post bodies and front-matter values reduced to plain text for teasers.

Real posts are pasted from blog editors: raw HTML inside Markdown, inline styles, broken tags
(`S<ostyle="color: #1a5490;">QL`), `&nbsp;` paragraphs, Liquid and kramdown markers. A teaser
must never show any of that, and a bad tag must never stop a post from going out, so everything
here is tolerant: Markdown goes through markdown-it, HTML through the stdlib `HTMLParser` (which
never refuses input), and whatever still looks like a tag afterwards is defused.

Everything here is also linear, and bounded: a post body is up to 5 MB of hostile text, and
every rescan reads it again. An excerpt only needs the start of a post, so at most
`MAX_MARKUP_CHARS` of markup and `MAX_BLOCKS` blocks are looked at, and markdown-it and
HTMLParser (not linear on every input) work within a `_Budget`; what scans text (Liquid tags,
fences and HTML blocks that never close, HTMLParser's search for the end of a comment) never
goes back over what it has passed.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from itertools import islice

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

MAX_MARKUP_CHARS = 128 * 1024
"""Most of a body (or value) looked at: a lead comes after a few headings and images, not after
128 KB of them; everything done to these characters is linear."""
MAX_BLOCKS = 10_000
"""Most blank-line-separated blocks looked at for the first paragraph."""
MAX_MARKDOWN_CHARS = 16 * 1024
"""Most characters markdown-it renders for one excerpt: it costs up to 10 µs a character, and a
lead paragraph is a few hundred (the longest teaser, a Telegram message, shows 4,096)."""
MAX_HTML_EVENTS = 10_000
"""Most tags and text pieces HTMLParser reports for one excerpt (a few µs each)."""
_CALL_COST = 256
"""A markdown-it call, counted in characters of the Markdown budget (its fixed cost)."""

# Jekyll runs Liquid before Markdown; we cannot evaluate it, so its markers are dropped. Comment
# and highlight blocks go entirely (not prose); `raw` keeps its text. Matched by hand in one pass
# (`_drop_liquid_blocks`, `_drop_liquid_tags`): the regexes used before, lazy `.*?` from each
# `{%` or `{{` to its end, went on to the end of the text from every unclosed one (quadratic).
_LIQUID_BLOCK_OPEN = re.compile(r"\{%-?\s*(comment|highlight)\b", re.IGNORECASE)
_LIQUID_BLOCK_END = {
    name: re.compile(rf"\{{%-?\s*end{name}\s*-?%\}}", re.IGNORECASE)
    for name in ("comment", "highlight")
}
_LIQUID_RAW = re.compile(r"\{%-?\s*(end)?raw\s*-?%\}")
# kramdown attribute lists / extensions: `{: .lead}`, `{:toc}`, `{::options ... /}`.
_KRAMDOWN = re.compile(r"\{::?[^{}\n]*\}")
# What an HTML or Markdown consumer would read as the start of a tag or comment.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
# HTMLParser's closers for comments and marked sections (see `_Extractor.parse_comment`).
_COMMENT_CLOSE = re.compile(r"--\s*>")
_CDATA_CLOSE = re.compile(r"]\s*]\s*>")
_MS_CLOSE = re.compile(r"]\s*>")
_DECL_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*")
_CDATA_SECTIONS = frozenset({"temp", "cdata", "ignore", "include", "rcdata"})
_MS_SECTIONS = frozenset({"if", "else", "endif"})
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ALNUM = re.compile(r"[^\W_]")  # what `_is_prose` looks for (str.isalnum)
# A heading line, or only images, render to no prose (no `<` or `&` that could add any).
_ATX_LINE = re.compile(r" {0,3}#{1,6}(?:[ \t][^\n<&]*)?")
_IMAGES_ONLY = re.compile(
    r'(?:[ \t\n]*!\[[^][\n<&\\]*\]\([^()\s<&\\]*(?:[ \t]+"[^"\n<&\\]*")?\))+[ \t\n]*'
)
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

    def __init__(self, *, stop_at_prose: bool = False, budget: _Budget | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.stop_at_prose = stop_at_prose
        self.budget = budget if budget is not None else _Budget()
        self.blocks: list[_Block] = []
        self._buf: list[str] = []
        self._stack: list[str] = []
        # Counts of what is on the stack, so a 100,000-deep `<div>` nest costs nothing per tag.
        self._open: Counter[str] = Counter()
        self._not_prose = 0
        self._skip = 0
        self._ol: list[int] = []
        self._closers: tuple[str, int, int, int] | None = None

    def _push(self, tag: str) -> None:
        self._stack.append(tag)
        self._open[tag] += 1
        self._not_prose += tag in _NOT_PROSE

    def _pop(self) -> str:
        tag = self._stack.pop()
        self._open[tag] -= 1
        self._not_prose -= tag in _NOT_PROSE
        return tag

    def _flush(self) -> None:
        if not self._buf:
            return
        text = _collapse("".join(self._buf))
        self._buf.clear()
        if text:
            prose = not self._not_prose
            self.blocks.append(_Block(text, prose))
            if self.stop_at_prose and prose and _is_prose(text):
                raise _FoundProse

    def _spend(self) -> None:
        self.budget.events -= 1
        if self.budget.events < 0:
            raise _OutOfBudget

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._spend()
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
                    self._pop()
                self._push(tag)
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
        self._spend()
        if tag in _SKIP_CONTENT:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip or tag not in _BLOCK or not self._open[tag]:
            return
        self._flush()
        while self._stack:
            popped = self._pop()
            if popped == "ol" and self._ol:
                self._ol.pop()
            if popped == tag:
                break

    def handle_data(self, data: str) -> None:
        self._spend()
        if not self._skip:
            self._buf.append(data)

    # HTMLParser looks for the end of a comment (or `<![CDATA[` section) from where it starts to
    # the end of the text, and when there is none reads the `<` as text and looks again from the
    # next one: 50 KB of `<!--` took seconds. Where the last possible end is known, a start
    # after it fails at once, exactly as the search would.
    def _last_closers(self) -> tuple[int, int, int]:
        raw = self.rawdata
        if self._closers is None or self._closers[0] is not raw:
            self._closers = (
                raw,
                _last_start(_COMMENT_CLOSE, raw),
                _last_start(_CDATA_CLOSE, raw),
                _last_start(_MS_CLOSE, raw),
            )
        return self._closers[1:]

    def parse_comment(self, i: int, report: int = 1) -> int:
        if i + 4 > self._last_closers()[0]:
            return -1
        return super().parse_comment(i, report)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        name = _DECL_NAME.match(self.rawdata, i + 3)
        if name is not None:
            _, cdata, ms = self._last_closers()
            word = name.group().lower()
            if (word in _CDATA_SECTIONS and i + 3 > cdata) or (word in _MS_SECTIONS and i + 3 > ms):
                return -1
        return super().parse_marked_section(i, report)

    def finish(self) -> None:
        try:
            self.close()
        except (_FoundProse, _OutOfBudget):
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


class _OutOfBudget(Exception):
    """Stops parsing when the `_Budget` is spent: the text so far is what there is."""


def _defuse(text: str) -> str:
    """Literal text that still reads as a tag (`the <img> element`) gets a look-alike bracket."""
    return _TAG_START.sub("\u2039", text)


def _last_start(pattern: re.Pattern[str], text: str) -> int:
    """Where the last match of `pattern` starts (-1: none); matches of the closers used here
    cannot overlap, so the last one found is the last one there is."""
    last = -1
    for m in pattern.finditer(text):
        last = m.start()
    return last


def _escape_open_tail(markup: str) -> str:
    """After the last `>` no tag can end, so each `<` there is text: say so with `&lt;`.

    HTMLParser would look for the missing `>` from every such `<` to the end (quadratic) before
    reading it as text anyway.
    """
    tail = markup.rfind(">") + 1
    if markup.find("<", tail) < 0:
        return markup
    return markup[:tail] + markup[tail:].replace("<", "&lt;")


def _html_blocks(
    markup: str, *, stop_at_prose: bool = False, budget: _Budget | None = None
) -> list[_Block]:
    markup = _escape_open_tail(markup)
    parser = _Extractor(stop_at_prose=stop_at_prose, budget=budget)
    try:
        parser.feed(markup)
        parser.finish()
    except _FoundProse:
        pass
    except _OutOfBudget:
        parser.stop_at_prose = False
        parser._flush()  # the text read so far
    except Exception:  # pragma: no cover - defensive; HTMLParser treats junk as data
        return [_Block(_collapse(html.unescape(markup)), True)]
    return parser.blocks


def _strip_templating(markup: str) -> str:
    if "{" not in markup:
        return markup
    markup = _drop_liquid_blocks(markup)
    markup = _LIQUID_RAW.sub("", markup)
    markup = _drop_liquid_tags(markup)
    return _KRAMDOWN.sub(" ", markup)


def _drop_liquid_blocks(markup: str) -> str:
    """`{% comment %}...{% endcomment %}` and `{% highlight %}` blocks replaced by a space.

    Once a kind of block has no end after some opener, no later opener of that kind can have
    one either, so it is not searched for again: one pass, whatever the text.
    """
    out: list[str] = []
    copied = start = 0
    hopeless: set[str] = set()
    while (m := _LIQUID_BLOCK_OPEN.search(markup, start)) is not None:
        start = m.start() + 1
        name = m.group(1).lower()
        if name in hopeless:
            continue
        tag_end = markup.find("%}", m.end())
        if tag_end < 0:
            break  # no `%}` anywhere after: no block can start from here on
        end = _LIQUID_BLOCK_END[name].search(markup, tag_end + 2)
        if end is None:
            hopeless.add(name)
            continue
        out += (markup[copied : m.start()], " ")
        copied = start = end.end()
    out.append(markup[copied:])
    return "".join(out)


def _drop_liquid_tags(markup: str) -> str:
    """Each `{% ... %}` and `{{ ... }}` (shortest, as written) replaced by a space, in one pass."""
    out: list[str] = []
    copied = 0
    unclosed: set[str] = set()  # closers that appear nowhere further on
    i = markup.find("{")
    while 0 <= i < len(markup) - 1:
        second = markup[i + 1]
        closer = "%}" if second == "%" else "}}" if second == "{" else ""
        if closer and closer not in unclosed:
            j = markup.find(closer, i + 2)
            if j >= 0:
                out += (markup[copied:i], " ")
                copied = j + 2
                i = markup.find("{", copied)
                continue
            unclosed.add(closer)
        i = markup.find("{", i + 1)
    out.append(markup[copied:])
    return "".join(out)


def _head(markup: str, limit: int = MAX_MARKUP_CHARS) -> str:
    """At most `limit` characters of `markup`, cut at a blank line (else a line end) when there
    is one in the second half: the start of a post is where its first paragraph is."""
    if len(markup) <= limit:
        return markup
    for sep in ("\n\n", "\n"):
        cut = markup.rfind(sep, limit // 2, limit)
        if cut >= 0:
            return markup[:cut]
    return markup[:limit]


@dataclass(slots=True)
class _Budget:
    """What one excerpt or value may still cost: markdown-it is slow per character (up to
    10 µs), HTMLParser per tag or text piece it reports, and neither is linear on every input."""

    markdown: int = MAX_MARKDOWN_CHARS
    events: int = MAX_HTML_EVENTS

    def render(self, markup: str) -> str:
        """`markup` as HTML, cut to what is left of the Markdown budget."""
        markup = _head(markup, max(self.markdown, 0))
        self.markdown -= len(markup) + _CALL_COST
        return _render(markup)

    @property
    def spent(self) -> bool:
        return self.markdown <= 0 or self.events <= 0


def _render(markup: str) -> str:
    try:
        return _MD.render(markup)
    except Exception:  # pragma: no cover - markdown-it does not raise on text; be safe anyway
        return html.escape(markup)


def html_to_text(markup: str) -> str:
    """HTML only (no Markdown): for titles, where `*` or `1.` are literal characters.

    At most MAX_MARKUP_CHARS are read (a title is a line; this is about hostile files).
    """
    markup = _head(markup)
    if "<" not in markup and "&" not in markup:
        return _collapse(markup)
    blocks = _html_blocks(markup, budget=_Budget())
    return _defuse(" ".join(b.text for b in blocks))


def plain_text(markup: str) -> str:
    """Markdown/HTML to one line of plain text: tags gone, entities decoded, whitespace collapsed.

    Ordered-list numbers are kept (`1987. 민주화` stays readable); images contribute nothing
    (their alt text describes a picture, not the news). At most MAX_MARKUP_CHARS are read and
    MAX_MARKDOWN_CHARS rendered (more than any teaser shows).
    """
    markup = _head(markup)
    if not _NEEDS_PARSER.search(markup):
        return _collapse(markup)
    budget = _Budget()
    markup = _strip_templating(markup.replace("\r\n", "\n"))
    blocks = _html_blocks(budget.render(markup), budget=budget)
    return _defuse(" ".join(b.text for b in blocks))


def first_paragraph(body: str) -> str:
    """The first paragraph of real prose, as plain text ('' if there is none).

    Headings, image-only paragraphs, `&nbsp;` spacers, list items, captions and code are skipped.
    The body is taken one blank-line-separated block at a time (where a Markdown paragraph always
    ends) and parsing stops at the first paragraph: a scan of thousands of posts must not render
    every full article. Pasted-HTML blocks, the common case, skip Markdown entirely, and so do
    plain paragraphs, headings and image lines. Only the first MAX_MARKUP_CHARS and MAX_BLOCKS
    are looked at, within a `_Budget` (a lead further down is not a lead).
    """
    budget = _Budget()
    after_list = False
    blocks = _body_blocks(_strip_templating(_head(body.replace("\r\n", "\n"))))
    for kind, block, split in islice(blocks, MAX_BLOCKS):
        if kind == "code" or (after_list and block[:1] in (" ", "\t")):
            continue  # code, or a paragraph continuing a list item
        after_list = kind == "list" or (after_list and block[:1] in (" ", "\t"))
        if not _ALNUM.search(block):
            continue  # spacers, rules, punctuation: no prose in there
        if kind in ("fence", "html_long"):
            # The fenced code is skipped; an HTML block goes straight to the HTML parser. What
            # follows its last line in the same block is Markdown (old: rendered together).
            if kind == "html_long" and (found := _prose(block[:split], budget)):
                return found
            kind, block = "markdown", block[split + 1 :]
            if not _ALNUM.search(block):
                continue
        if kind == "markdown" and (quick := _quick_block(block)) is not None:
            if quick:
                return quick
            continue
        if budget.spent:
            break
        if found := _prose(block if kind == "html" else budget.render(block), budget):
            return found
    return ""


# Markup of tags alone (an image paragraph, `<p><img ...></p>`, the blog's usual first block):
# no text, so no prose, whatever the tags are; the parser is not needed to say so.
_TAGS_ONLY = re.compile(r"(?:\s*</?[A-Za-z][^<>]*>)+\s*")
_TAGS_ONLY_MAX = 2_000


def _prose(markup: str, budget: _Budget) -> str:
    if len(markup) <= _TAGS_ONLY_MAX and _TAGS_ONLY.fullmatch(markup):
        # What the parser would have spent at most: two events per tag (a start and an end
        # for `<x/>`), one per whitespace run between them.
        budget.events -= 3 * markup.count("<") + 1
        return ""
    for found in _html_blocks(markup, stop_at_prose=True, budget=budget):
        if found.prose and _is_prose(found.text):
            return _defuse(found.text)
    return ""


def _quick_block(block: str) -> str | None:
    """What a Markdown block gives without rendering it: its text when it has no markup at all,
    '' when it is only a heading line or images, None when it must be rendered."""
    if not _NEEDS_PARSER.search(block):
        return _collapse(block)  # rendered: <p>text</p>, and text with an alphanumeric is prose
    if _ATX_LINE.fullmatch(block) or _IMAGES_ONLY.fullmatch(block):
        return ""
    return None


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


def _body_blocks(body: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, split) per blank-line-separated block.

    A fenced code block ("fence") or an HTML block of types 1-5 ("html_long") runs across blank
    lines to its end line: `text[:split]` is it, `text[split + 1:]` what follows in the same
    block. Each part is searched for the end once (a line never spans two parts), so a block
    that never ends costs one pass, not one per blank line.
    """
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
            found = closer.search(block, fence.end())
            pieces = [block]
            while found is None and i < len(parts):
                pieces.append(parts[i])
                found = closer.search(parts[i])
                i += 1
            yield "fence", *_joined(pieces, found)
            continue
        if block.startswith(("    ", "\t")):
            yield "code", block, len(block)
            continue
        for opener, end in _HTML_LONG:
            if opener.match(block):
                found = end.search(block)
                pieces = [block]
                while found is None and i < len(parts):
                    pieces.append(parts[i])
                    found = end.search(parts[i])
                    i += 1
                yield "html_long", *_joined(pieces, found)
                break
        else:
            if _HTML6.match(block):
                yield "html", block, len(block)
            elif _LIST_START.match(block):
                yield "list", block, len(block)
            else:
                yield "markdown", block, len(block)


def _joined(pieces: list[str], end: re.Match[str] | None) -> tuple[str, int]:
    """The pieces as one block, and where the line holding `end` (found in the last) ends."""
    text = "\n\n".join(pieces)
    if end is None:
        return text, len(text)
    line_end = pieces[-1].find("\n", end.end())
    if line_end < 0:
        return text, len(text)
    return text, len(text) - len(pieces[-1]) + line_end
