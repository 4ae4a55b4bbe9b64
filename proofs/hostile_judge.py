"""Verdicts of the hostile-corpus suite, each read where it cannot be argued with: the hostile
server's journal, the fakes' journals, the commands' own output files.

Why a refusal is recognised by its wording: an image value that must never be fetched can fail
in two ways, refused before any byte moved ("resolves to loopback address ..."), or after a
connection or a read ("HTTP 404 from ...", "not a readable image").  Only the first is safe, so
a failure whose reason is not one of the refusals below counts as an unsafe fetch.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .hostile_media import CANARY_SIZE

__all__ = ["REFUSALS", "Journals", "count_in", "is_refusal", "log_injection", "unsafe_decision"]

#: Reasons newsbot gives for an image it refused before reading or connecting.
REFUSALS: tuple[str, ...] = (
    "images are only fetched from public hosts",   # netguard: non-global address
    "images are not allowed",                      # file:, data:, ftp: ...
    "cannot be fetched; only http(s)",
    "carries credentials; refused",
    "redirect to a",                               # redirect to a file: URL ... refused
    "redirect without Location",
    "redirects from",                              # more than 5 redirects (a loop)
    "escapes the site folder",
    "symlink pointing outside the site folder",
    "looks like a filesystem path",
    "looks like an absolute filesystem path",
    "is a filesystem path",
    "malformed image URL",
    "image path contains",
    "cannot resolve host",                         # a name that does not resolve: no connection
    "image URL has no host",
    "is not in the site folder and no site URL",
    "site path",                                   # not a regular file (a folder, a pipe)
    "broken symlink",
)
_FORGED = "INFO bot.delivery event=state_change new=sent post=x"


def is_refusal(reason: str) -> bool:
    return any(marker in reason for marker in REFUSALS)


_URL = re.compile(r"https?://[^\s,;]+")


def unsafe_decision(image: dict[str, Any] | None, *, must_refuse: bool,
                    origin: str | None = None) -> str | None:
    """Why an image decision shows an unsafe fetch, or None.

    ``origin`` is a host that may be reached (the trusted hostile host): a failure whose reason
    names only URLs there (``download failed from <origin>/redirect/x``: the redirect itself was
    malformed) reached nothing else.
    """
    if image is None:
        return None
    if image.get("status") == "ok":
        if (image.get("width"), image.get("height")) == CANARY_SIZE:
            return "the canary image was used"
        return "fetched and used" if must_refuse else None
    reason = str(image.get("reason", ""))
    if not must_refuse or is_refusal(reason):
        return None
    urls = _URL.findall(reason)
    if origin and urls and all(u.startswith(origin + "/") for u in urls):
        return None
    return f"failed after reaching it: {reason[:120]}"


def count_in(paths: Iterable[Path], needles: dict[str, str]) -> dict[str, int]:
    """Occurrences of each needle (as is, JSON-escaped or percent-encoded) in the files."""
    forms = {name: {value, quote(value, safe=""), json.dumps(value)[1:-1]}
             for name, value in needles.items() if value}
    hits = dict.fromkeys(needles, 0)
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, values in forms.items():
            hits[name] += sum(data.count(v.encode()) for v in values)
    return hits


def log_injection(paths: Iterable[Path]) -> Counter[str]:
    """Raw control characters and forged lines in log output (stderr files): a title's ``\\n``
    or ``\\x1b`` must reach a log escaped, one record per line."""
    found: Counter[str] = Counter()
    for path in paths:
        data = path.read_bytes()
        found["raw ESC"] += data.count(b"\x1b")
        found["raw CR"] += data.count(b"\r")
        found["raw U+2028"] += data.count("\u2028".encode())
        found["forged log line"] += sum(1 for line in data.splitlines()
                                        if line.startswith(_FORGED.encode()))
    return +found


@dataclass
class Journals:
    """What the fake platforms saw: sends, refusals, and what reached the channel and X."""

    telegram_sends: int = 0
    x_creates: int = 0
    refused: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    channel_texts: list[str] = field(default_factory=list)
    x_texts: list[str] = field(default_factory=list)
    editor_messages: int = 0

    @classmethod
    def read(cls, tg: Any, x: Any, channel: str, dump: Path) -> Journals:
        out = cls()
        records: list[dict[str, Any]] = []
        for call in list(tg.journal):
            records.append({"tg": call.method, "status": call.status, "params": call.params,
                            "response": call.response})
            if call.method not in ("sendMessage", "sendPhoto", "editMessageText",
                                   "editMessageCaption"):
                continue
            out.telegram_sends += 1
            if call.status in (400, 413):
                desc = (call.response or {}).get("description", "")
                out.refused.append(f"telegram {call.method}: {desc}")
            elif call.status not in (200, 429, 0):
                out.other_errors.append(f"telegram {call.method}: HTTP {call.status}")
            if str(call.params.get("chat_id")) != channel and call.status == 200:
                out.editor_messages += 1
        for entry in list(x.journal):
            records.append({"x": f"{entry.method} {entry.path}", "status": entry.status,
                            "json": entry.json, "form": entry.form, "response": entry.response})
            if entry.method != "POST":
                continue
            if entry.path == "/2/tweets":
                out.x_creates += 1
            if entry.status in (400, 413):
                detail = (entry.response or {}).get("detail", "") if isinstance(
                    entry.response, dict) else ""
                errors = (entry.response or {}).get("errors") if isinstance(
                    entry.response, dict) else None
                message = (errors or [{}])[0].get("message", "") if errors else ""
                out.refused.append(f"x POST {entry.path}: {detail} {message}".strip())
            elif entry.status is not None and entry.status >= 400 and entry.status != 429:
                out.other_errors.append(f"x POST {entry.path}: HTTP {entry.status}")
        out.channel_texts = [html.unescape(m.raw or "") for m in tg.channel_posts(channel)]
        out.x_texts = [p.text for p in list(x.posts)]
        dump.write_text(json.dumps(records, ensure_ascii=True, default=repr), encoding="utf-8")
        return out

    def copies(self, url: str) -> tuple[int, int]:
        """How many channel messages and X posts carry ``url``."""
        pattern = re.compile(re.escape(url) + r"(?![^\s\"'<>])")
        return (sum(1 for t in self.channel_texts if pattern.search(t)),
                sum(1 for t in self.x_texts if pattern.search(t)))
