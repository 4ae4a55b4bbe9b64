"""Data model, error texts and parameter decoding shared by the fake Telegram server modules.

Error descriptions are the exact Bot API texts of platform-contracts A2-A7; keeping them in one
place lets tests import them instead of retyping (and drifting from) the real wording.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

TEXT_LIMIT, CAPTION_LIMIT, RAW_TEXT_BYTES = 4096, 1024, 32768
LONG_POLL_MAX = 50
MAX_ENTITIES = 100
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
Result = tuple[Any, str | None]  # (result, optional success description)


class ApiError(Exception):
    """An error answer: HTTP status equals ``error_code`` (contracts A2)."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class Call:
    """One request as the fake saw it; ``status`` 0 means the connection was dropped."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    status: int
    response: dict[str, Any] | None
    time: float
    http_method: str = "POST"
    # the client had closed the connection before the answer (timed out, cancelled long poll)
    client_gone: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class StoredMessage:
    """A message the bot sent, with what Telegram made of it (after HTML parsing)."""

    chat_id: int
    message_id: int
    date: int
    kind: str  # "text" | "photo"
    text: str | None = None
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    raw: str | None = None  # text/caption exactly as sent
    photo: bytes | None = None
    photo_file_id: str | None = None
    width: int | None = None
    height: int | None = None
    link_preview_options: dict[str, Any] | None = None
    reply_markup: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    edit_date: int | None = None
    deleted: bool = False
    disable_notification: bool = False  # sent silently (the sendMessage/sendPhoto flag)
    pinned: bool = False
    editable: bool = True  # False: "message can't be edited" (a test marks it so)
    edits: list[dict[str, Any]] = field(default_factory=list)
    """One entry per accepted edit: {"method", "at", "before", "after", "photo_changed"}."""
    message: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatState:
    id: int
    type: str
    username: str | None
    title: str | None
    bot_is_admin: bool
    bot_is_member: bool
    first_name: str | None = None
    # the administrator right to post in a channel (ChatMemberAdministrator.can_post_messages)
    bot_can_post: bool = True
    # the bot was banned from the chat (ChatMemberBanned; every call answers 403 "kicked")
    bot_is_banned: bool = False
    # the administrator right that pins in a channel (can_edit_messages; can_pin_messages in groups)
    bot_can_pin: bool = True
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    # rate limiting state
    tokens: float = 0.0
    refill_at: float = 0.0
    sends: deque[float] = field(default_factory=deque)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title is not None and self.type != "private":
            out["title"] = self.title
        if self.type == "private":
            out["first_name"] = self.first_name or "User"
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class StoredFile:
    data: bytes
    width: int
    height: int
    unique_id: str


def as_str(value: Any) -> str | None:
    """Form values are strings; JSON bodies may carry numbers, bools or objects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def as_int(value: Any) -> int | None:
    text = as_str(value)
    if text is None or text.strip() == "":
        return None
    try:
        return int(text.strip())
    except ValueError:
        return 0  # the real server reads a malformed integer as 0


def truthy(value: Any) -> bool:
    text = as_str(value)
    return text is not None and text.strip().lower() in {"true", "1"}


def json_value(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"Bad Request: can't parse {what} JSON object") from exc


def json_list(value: Any, what: str) -> list[Any]:
    if value in (None, ""):
        return []
    parsed = json_value(value, what)
    if not isinstance(parsed, list):
        raise ApiError(400, f"Bad Request: can't parse {what} JSON object")
    return parsed


def json_obj(value: Any, what: str) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    parsed = json_value(value, what)
    if not isinstance(parsed, dict):
        raise ApiError(400, f"Bad Request: object expected as {what}")
    return parsed


def parse_entities(value: Any) -> list[dict[str, Any]]:
    """Explicit ``entities``/``caption_entities`` (used when there is no parse_mode)."""
    result = []
    for item in json_list(value, "entities"):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("type"), str)
            and isinstance(item.get("offset"), int)
            and isinstance(item.get("length"), int)
        ):
            raise ApiError(400, "Bad Request: can't parse MessageEntity JSON object")
        if item["offset"] >= 0 and item["length"] > 0:
            result.append(dict(item))
    return result


def link_preview(params: dict[str, Any]) -> dict[str, Any] | None:
    """link_preview_options wins; the legacy flag still works (contracts A6)."""
    raw = params.get("link_preview_options")
    if raw not in (None, ""):
        return json_obj(raw, "link preview options")
    if truthy(params.get("disable_web_page_preview")):
        return {"is_disabled": True}
    return None
