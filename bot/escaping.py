"""Control characters from outside, made visible instead of obeyed.

A post title, an editor's message or a platform's error text can carry a newline (a forged log
line), a carriage return (overwriting what a terminal shows), an ANSI escape (colours, cursor
moves, a terminal title), a C1 control (NEL, CSI), U+2028/U+2029 (line breaks to many readers and
to `str.splitlines`) or a bidirectional override (text shown in another order than it is stored).
Logs and terminal output show each as a backslash escape (`\\n`, `\\x1b`, `\\u2028`), so one record
stays one line and what is printed is what was received.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CONTROL_CHARS", "escape_controls"]

_NOT_C0: Final = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates
#: (a regex character-class body).
CONTROL_CHARS: Final = "\x00-\x1f" + _NOT_C0
_CONTROL_RE: Final = re.compile(f"[{CONTROL_CHARS}]")
_CONTROL_BUT_NEWLINE_RE: Final = re.compile(f"[\x00-\x09\x0b-\x1f{_NOT_C0}]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character as a visible escape; other text (Hangul, emoji,
    backslashes) unchanged. `keep_newlines`: for text that is multi-line by design (a teaser
    shown in a terminal), where only the other controls are a threat."""
    pattern = _CONTROL_BUT_NEWLINE_RE if keep_newlines else _CONTROL_RE
    if not pattern.search(text):
        return text
    return pattern.sub(_escape_one, text)
