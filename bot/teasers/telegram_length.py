"""Telegram HTML parse mode, as TDLib parses and counts it (platform contracts A4, A5).

Telegram rejects a whole message for one bad tag, and its limits count the *visible* text after
parsing, so the only trustworthy measure is a re-implementation of TDLib's `parse_html` followed by
its cleaning (`fix_formatted_text`): `\\r` dropped, other C0 controls become spaces, U+2028..U+202E
and three "vertical line" combining marks removed, leading/trailing spaces and newlines trimmed.
The parser is strict in the same places TDLib is, so a template that passes here is accepted there.
"""

from __future__ import annotations

from dataclasses import dataclass

_ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "code",
        "pre",
        "blockquote",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = frozenset(" \t\n\r\v\f")
# Characters TDLib deletes while cleaning (MessageEntity.cpp fix_formatted_text / misc.cpp).
REMOVED_CHARS = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a")
# C0 controls (except \n and \r) become a space; a space is a space too.
_TO_SPACE = {c: " " for c in range(0x20) if c not in (0x0A, 0x0D)}
_CLEAN_TABLE: dict[int, str | None] = {**_TO_SPACE, **{ord(c): None for c in REMOVED_CHARS}}


class TelegramHTMLError(ValueError):
    """The text would be refused with `Bad Request: can't parse entities: <message>`."""


@dataclass(frozen=True, slots=True)
class ParsedHTML:
    text: str
    """Visible text after parsing, entity decoding, cleaning and trimming (what Telegram stores)."""

    @property
    def length(self) -> int:
        """Code points: the unit TDLib's `utf8_length` checks against the limits."""
        return len(self.text)

    @property
    def utf16_length(self) -> int:
        """UTF-16 code units: the unit of entity offsets, and what a cautious client bounds."""
        return len(self.text.encode("utf-16-le")) // 2


def _byte_offset(html: str, index: int) -> int:
    return len(html[:index].encode("utf-8", "surrogatepass"))


def _unclosed_start(html: str, start: int) -> TelegramHTMLError:
    return TelegramHTMLError(f"Unclosed start tag at byte offset {_byte_offset(html, start)}")


def _decode_entity(html: str, i: int) -> tuple[str, int]:
    """Decode the entity at html[i] == '&'; unknown ones stay literal as TDLib leaves them."""
    end = html.find(";", i + 1, i + 12)
    if end != -1:
        name = html[i + 1 : end]
        if name in _NAMED_ENTITIES:
            return _NAMED_ENTITIES[name], end + 1
        if name.startswith("#") and len(name) > 1:
            digits, base = (name[2:], 16) if name[1] in "xX" else (name[1:], 10)
            try:
                code = int(digits, base) if digits and digits.isascii() and digits.isalnum() else -1
            except ValueError:
                code = -1
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), end + 1
    return "&", i + 1


def _parse_attributes(html: str, i: int, tag: str, start: int) -> tuple[dict[str, str], int]:
    """Parse attributes up to the closing '>' of a start tag; returns them and the next index."""
    attrs: dict[str, str] = {}
    n = len(html)
    while True:
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _unclosed_start(html, start)
        if html[i] == ">":
            return attrs, i + 1
        name_start = i
        while i < n and html[i] not in _SPACE and html[i] not in "=>":
            i += 1
        name = html[name_start:i].lower()
        if not name:
            raise TelegramHTMLError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(html, i)}'
            )
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _unclosed_start(html, start)
        if html[i] != "=":
            attrs[name] = ""  # a bare attribute, e.g. <blockquote expandable>
            continue
        i += 1
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _unclosed_start(html, start)
        quote = html[i]
        if quote not in "\"'":
            token_start = i
            while i < n and (html[i].isascii() and (html[i].isalnum() or html[i] in ".-")):
                i += 1
            if i < n and html[i] not in _SPACE and html[i] != ">":
                raise TelegramHTMLError(
                    f"Unexpected end of name token at byte offset {_byte_offset(html, i)}"
                )
            attrs[name] = html[token_start:i].lower()
            continue
        i += 1
        value: list[str] = []
        while i < n and html[i] != quote:
            if html[i] == "&":
                piece, i = _decode_entity(html, i)
                value.append(piece)
            else:
                value.append(html[i])
                i += 1
        if i >= n:
            raise _unclosed_start(html, start)
        attrs[name] = "".join(value)
        i += 1


def parse_html(html: str) -> tuple[str, int]:
    """Raw visible text of Telegram HTML (before cleaning) and where the first entity starts in it.

    Raises TelegramHTMLError with TDLib's wording for anything Telegram refuses.
    """
    out: list[str] = []
    first_entity: int | None = None
    stack: list[str] = []
    n = len(html)
    i = 0
    while i < n:
        lt = html.find("<", i)
        amp = html.find("&", i, lt if lt != -1 else n)
        if amp != -1:
            out.append(html[i:amp])
            piece, i = _decode_entity(html, amp)
            out.append(piece)
            continue
        if lt == -1:
            out.append(html[i:])
            break
        out.append(html[i:lt])
        start = lt
        i = lt + 1
        if i < n and html[i] == "/":
            if not stack:
                offset = _byte_offset(html, start)
                raise TelegramHTMLError(f"Unexpected end tag at byte offset {offset}")
            while i < n and html[i] not in _SPACE and html[i] != ">":
                i += 1
            end_name = html[start + 2 : i].lower()
            while i < n and html[i] in _SPACE:
                i += 1
            if i >= n or html[i] != ">":
                offset = _byte_offset(html, start)
                raise TelegramHTMLError(f"Unclosed end tag at byte offset {offset}")
            expected = stack.pop()
            if end_name and end_name != expected:
                raise TelegramHTMLError(
                    f"Unmatched end tag at byte offset {_byte_offset(html, start)}, "
                    f'expected "</{expected}>", found "</{end_name}>"'
                )
            i += 1
            continue
        while i < n and html[i] not in _SPACE and html[i] != ">":
            i += 1
        if i >= n:
            raise _unclosed_start(html, start)
        tag = html[start + 1 : i].lower()
        if tag not in _ALLOWED_TAGS:
            raise TelegramHTMLError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(html, start)}'
            )
        attrs, i = _parse_attributes(html, i, tag, start)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            offset = _byte_offset(html, start)
            raise TelegramHTMLError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise TelegramHTMLError("Invalid custom emoji identifier specified")
        stack.append(tag)
        if first_entity is None:
            first_entity = sum(map(len, out))
    if stack:
        raise TelegramHTMLError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    text = "".join(out)
    return text, len(text) if first_entity is None else first_entity


def clean_text(text: str, first_entity: int | None = None) -> str:
    """TDLib's cleaning and trimming of parsed text (the part of the count that is not markup).

    TDLib trims trailing spaces/newlines fully but leading ones only up to the first entity, so a
    leading space inside `<b>` still counts; trimming less here would under-count.
    """
    if first_entity is None:
        first_entity = len(text)
    head = text[:first_entity].translate(_CLEAN_TABLE)
    tail = text[first_entity:].translate(_CLEAN_TABLE)
    cleaned = (head + tail).rstrip(" \n")
    lead = len(head) - len(head.lstrip(" \n"))
    return cleaned[lead:]


def parse_telegram_html(html: str) -> ParsedHTML:
    """Parse and clean like TDLib; raises TelegramHTMLError for text Telegram would refuse."""
    raw, first_entity = parse_html(html)
    return ParsedHTML(text=clean_text(raw, first_entity))


def telegram_visible_length(html_text: str) -> int:
    """Code points of the visible text, the unit of Telegram's 1024/4096 limits (A4)."""
    return parse_telegram_html(html_text).length


def telegram_utf16_length(html_text: str) -> int:
    """UTF-16 units of the visible text; never below the code point count."""
    return parse_telegram_html(html_text).utf16_length
