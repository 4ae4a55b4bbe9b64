"""`PostFileError` and the helpers that keep its reasons short.

A reason travels far: `newsbot check`, a log line per bad file, a notice in the editors' chat, a
record in Redis. It quotes the file to say what is wrong, and the file is hostile: a 500-byte
post with nested YAML aliases expands to a value whose text is gigabytes. So a value is never
turned into text whole (`str()` of such a value is the attack); it is quoted through `shown`,
which looks at a bounded part of it, and a reason as a whole is clipped as a last resort.
"""

from __future__ import annotations

import reprlib

__all__ = ["MAX_REASON_CHARS", "PostFileError", "clip", "shown"]

MAX_REASON_CHARS = 500
"""Longest reason kept: the advice at its end matters more than a long quote in it."""
SHOWN_CHARS = 80
"""Longest quote of a value inside a reason (enough to recognise a title or a date)."""


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` cut to at most `limit` characters, marked with '…' where it was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


class _Repr(reprlib.Repr):
    """reprlib looks at a few items of each container and a few levels only: bounded work."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxdict = 4
        self.maxstring = SHOWN_CHARS
        self.maxother = SHOWN_CHARS
        self.maxlong = 40


_REPR = _Repr()


def shown(value: object) -> str:
    """A value as a reason may quote it: text as written (clipped), anything else a short repr."""
    if isinstance(value, str):
        return clip(value)
    try:
        return clip(_REPR.repr(value))
    except Exception:  # a repr that fails must not replace the reason being written
        return type(value).__name__


class PostFileError(Exception):
    """This file cannot be a post; `reason` says why in words an editor can act on."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        reason = clip(reason, MAX_REASON_CHARS)
        super().__init__(reason, line)
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason
