"""Emulation of Telegram's ``parse_mode=HTML`` handling for the fake Bot API server.

The fake must accept and reject exactly what api.telegram.org does, because the product's
teaser builder is only trustworthy if an error it would get in production also appears in tests.
The parser is a byte-level transcription of TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp,
see platform-contracts A5): it walks the UTF-8 bytes so that error byte offsets match the real
server, and counts entity offsets in UTF-16 code units as the Bot API reports them.

After parsing, :func:`clean_and_trim` mirrors TDLib's ``clean_input_string`` and the trimming in
``fix_formatted_text`` (contracts A4), moving entity offsets accordingly; the length limits are
then counted in code points of the cleaned text.

Known simplifications (documented, not silently different): no automatic detection of URLs,
mentions, hashtags or bot commands in the plain text; whitespace-only entities are kept; the
``tg-time`` tag yields a ``date_time`` entity only when ``unix`` is an integer (else none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "FormattedText",
    "HtmlParseError",
    "clean_and_trim",
    "parse_html",
    "utf16_len",
]

_ALLOWED_TAGS = frozenset(
    {
        b"a", b"b", b"strong", b"i", b"em", b"s", b"strike", b"del", b"u", b"ins",
        b"tg-spoiler", b"tg-emoji", b"tg-time", b"span", b"pre", b"code", b"blockquote",
    }
)  # fmt: skip

# TDLib MessageEntity::get_type_priority: ties at the same offset and length sort by it.
_PRIORITY = {
    "mention": 50, "hashtag": 50, "bot_command": 50, "url": 50, "email": 50, "bold": 90,
    "italic": 91, "code": 20, "pre": 11, "text_link": 49, "text_mention": 49, "cashtag": 50,
    "phone_number": 50, "underline": 92, "strikethrough": 93, "blockquote": 0,
    "expandable_blockquote": 0, "spoiler": 94, "custom_emoji": 99, "date_time": 50,
}  # fmt: skip

_SPACE_BYTES = frozenset(b" \t\r\n\v\f\x00")  # td::is_space, NUL included (C string end)

# clean_input_string: removed code points (\r, U+2028..U+202E, three combining marks).
_REMOVED = frozenset({0x0D, *range(0x2028, 0x202F), 0x0333, 0x033F, 0x030A})
_TRIM = frozenset(" \t\n\v\f")


def _is_alnum(b: int) -> bool:
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122)


class HtmlParseError(ValueError):
    """A TDLib parse error; ``str(err)`` is the text after ``can't parse entities: ``."""


@dataclass
class FormattedText:
    """Plain text plus Bot API ``MessageEntity`` dicts (offsets in UTF-16 units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets and lengths."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Return (code point or 0, position after the entity) like TDLib's decode_html_entity."""

    def at(k: int) -> int:
        return data[k] if k < len(data) else 0

    end = pos + 1
    res = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF":
                res = res * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while ord("0") <= at(end) <= ord("9"):
                res = res * 10 + at(end) - ord("0")
                end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while (ord("a") <= at(end) <= ord("z")) or (ord("A") <= at(end) <= ord("Z")):
            end += 1
        name = data[pos + 1 : end]
        named = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(name)
        if named is None:
            return 0, pos
        res = named
    if at(end) == ord(";"):
        end += 1
    return res, end


def _checked_link(url: str) -> str | None:
    """Approximate LinkManager::get_checked_link: a usable URL or None (entity dropped)."""
    url = url.strip()
    if not url:
        return None
    lowered = url.lower()
    if lowered.startswith(("tg:", "ton:")):
        return url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https", "ftp"} or not parts.hostname:
        return None
    if not parts.path:
        url = (
            url[: len(parts.scheme) + 3 + len(parts.netloc)]
            + "/"
            + url[len(parts.scheme) + 3 + len(parts.netloc) :]
        )
    return url


def _link_user_id(url: str) -> int | None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "tg" or parts.netloc.lower() != "user":
        return None
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key == "id" and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def parse_html(raw: str) -> FormattedText:
    """Parse Telegram HTML into plain text and entities, raising :class:`HtmlParseError`.

    Error offsets are UTF-8 byte offsets into ``raw`` and tag names are ASCII lower-cased,
    exactly as in the Bot API error descriptions.
    """
    data = raw.encode("utf-8", "surrogatepass")
    size = len(data)

    def at(k: int) -> int:
        return data[k] if k < size else 0

    def is_space(b: int) -> bool:
        return b in _SPACE_BYTES

    def name(b: bytes) -> str:
        return b.decode("utf-8", "replace")

    out = bytearray()
    entities: list[dict[str, Any]] = []
    utf16 = 0
    has_surrogate = False
    # (tag name, attributes, utf16 offset at start, byte length of output at start)
    stack: list[tuple[bytes, dict[str, str], int, int]] = []

    i = 0
    while i < size:
        c = data[i]
        if c == 0x26:  # '&'
            code, new_i = _decode_entity(data, i)
            if code:
                utf16 += 1 + (code > 0xFFFF)
                if 0xD800 <= code <= 0xDFFF:
                    has_surrogate = True
                out += chr(code).encode("utf-8", "surrogatepass")
                i = new_i
                continue
        if c != 0x3C:  # not '<'
            if c & 0xC0 != 0x80:
                utf16 += 1 + (c >= 0xF0)
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            while not is_space(at(i)) and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].lower()
            if tag not in _ALLOWED_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{name(tag)}" at byte offset {begin}')
            attrs: dict[str, str] = {}
            while at(i) != ord(">"):
                while at(i) != 0 and is_space(at(i)):
                    i += 1
                if at(i) == ord(">"):
                    break
                attr_begin = i
                while not is_space(at(i)) and at(i) not in (ord("="), ord(">")):
                    i += 1
                attr_name = data[attr_begin:i]
                if not attr_name:
                    raise HtmlParseError(
                        f'Empty attribute name in the tag "{name(tag)}" at byte offset {begin}'
                    )
                while at(i) != 0 and is_space(at(i)):
                    i += 1
                if at(i) != ord("="):
                    if tag == b"blockquote" and attr_name.lower() == b"expandable":
                        attrs["expandable"] = "1"
                        if at(i) == 0:
                            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
                        continue
                    raise HtmlParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{name(tag)}" at byte offset {begin}'
                    )
                i += 1
                while at(i) != 0 and is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise HtmlParseError(f'Unclosed start tag "{name(tag)}" at byte offset {begin}')
                if at(i) not in (ord("'"), ord('"')):
                    token_begin = i
                    while _is_alnum(at(i)) or at(i) in b".-":
                        i += 1
                    value = data[token_begin:i].lower()
                    if not is_space(at(i)) and at(i) != ord(">"):
                        raise HtmlParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    buf = bytearray()
                    while at(i) != quote and at(i) != 0:
                        if at(i) == 0x26:
                            code, new_i = _decode_entity(data, i)
                            if code:
                                buf += chr(code).encode("utf-8", "surrogatepass")
                                i = new_i
                                continue
                        buf.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = bytes(buf)
                if at(i) == 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
                text_value = value.decode("utf-8", "replace")
                if tag == b"a" and attr_name == b"href":
                    attrs["href"] = text_value
                elif (
                    tag == b"code" and attr_name == b"class" and text_value.startswith("language-")
                ):
                    attrs["language"] = text_value[9:]
                elif tag == b"span" and attr_name == b"class" and text_value.startswith("tg-"):
                    attrs["class"] = text_value[3:]
                elif tag == b"tg-emoji" and attr_name == b"emoji-id":
                    attrs["emoji-id"] = text_value
                elif tag == b"tg-time" and attr_name in (b"unix", b"format"):
                    attrs[attr_name.decode()] = text_value
            if tag == b"span" and attrs.get("class") != "spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append((tag, attrs, utf16, len(out)))
            i += 1  # skip '>'
            continue

        # end tag
        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        while not is_space(at(i)) and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].lower()
        while is_space(at(i)) and at(i) != 0:
            i += 1
        if at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        i += 1
        tag, attrs, start, start_byte = stack[-1]
        if end_tag and end_tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{name(tag)}>", '
                f'found "</{name(end_tag)}>"'
            )
        stack.pop()
        if utf16 > start:
            _close_entity(entities, tag, attrs, start, utf16 - start, bytes(out[start_byte:]))
    if stack:
        raise HtmlParseError(
            f'Can\'t find end tag corresponding to start tag "{name(stack[-1][0])}"'
        )
    if has_surrogate:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))
    return FormattedText(out.decode("utf-8"), entities)


def _close_entity(
    entities: list[dict[str, Any]],
    tag: bytes,
    attrs: dict[str, str],
    offset: int,
    length: int,
    inner: bytes,
) -> None:
    simple = {
        b"i": "italic", b"em": "italic", b"b": "bold", b"strong": "bold",
        b"s": "strikethrough", b"strike": "strikethrough", b"del": "strikethrough",
        b"u": "underline", b"ins": "underline", b"tg-spoiler": "spoiler", b"span": "spoiler",
    }  # fmt: skip
    base = {"offset": offset, "length": length}
    if tag in simple:
        entities.append({"type": simple[tag], **base})
    elif tag == b"tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        try:
            number = int(emoji_id, 10)
        except ValueError:
            number = 0
        if number == 0 or not -(2**63) <= number < 2**63 or emoji_id.strip() != emoji_id:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", **base, "custom_emoji_id": str(number)})
    elif tag == b"tg-time":
        unix = attrs.get("unix", "")
        if unix.lstrip("-").isdigit():
            entity: dict[str, Any] = {"type": "date_time", **base, "unix_time": int(unix)}
            if attrs.get("format"):
                entity["date_time_format"] = attrs["format"]
            entities.append(entity)
    elif tag == b"a":
        url = attrs.get("href", "") or inner.decode("utf-8", "replace")
        user_id = _link_user_id(url)
        if user_id is not None:
            user = {"id": user_id, "is_bot": False, "first_name": "User"}
            entities.append({"type": "text_mention", **base, "user": user})
        else:
            checked = _checked_link(url)
            if checked:
                entities.append({"type": "text_link", **base, "url": checked})
    elif tag == b"pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", **base})
    elif tag == b"code":
        last = entities[-1] if entities else None
        language = attrs.get("language", "")
        if (
            last is not None
            and last["type"] == "pre"
            and last["offset"] == offset
            and last["length"] == length
            and language
        ):
            last["language"] = language
        else:
            entity = {"type": "code", **base}
            if language:
                entity["language"] = language  # dropped at the end unless a <pre> claims it
            entities.append(entity)
    elif tag == b"blockquote":
        kind = "expandable_blockquote" if attrs.get("expandable") else "blockquote"
        entities.append({"type": kind, **base})


def clean_and_trim(parsed: FormattedText) -> FormattedText:
    """Apply clean_input_string and trimming, keeping entities aligned (contracts A4)."""
    old = parsed.text
    # pos_map[k] = new UTF-16 offset of old UTF-16 boundary k
    pos_map: list[int] = [0]
    chars: list[str] = []
    new16 = 0
    for ch in old:
        cp = ord(ch)
        width = 2 if cp > 0xFFFF else 1
        if cp in _REMOVED:
            pos_map.extend([new16] * width)
            continue
        if cp < 0x20 and cp not in (0x09, 0x0A):
            ch = " "
        chars.append(ch)
        new16 += width
        pos_map.extend([new16 - 1, new16] if width == 2 else [new16])
    cleaned = "".join(chars)
    left = 0
    while left < len(cleaned) and cleaned[left] in _TRIM:
        left += 1
    right = len(cleaned)
    while right > left and cleaned[right - 1] in _TRIM:
        right -= 1
    text = cleaned[left:right]
    shift = left  # trimmed characters are ASCII: one UTF-16 unit each
    total = utf16_len(text)
    entities: list[dict[str, Any]] = []
    last = len(pos_map) - 1
    for entity in parsed.entities:  # explicit entities may point past the text: clip them
        start = pos_map[min(entity["offset"], last)] - shift
        end = pos_map[min(entity["offset"] + entity["length"], last)] - shift
        start, end = max(start, 0), min(end, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(text, entities)
