"""Bot API method implementations of the fake Telegram server (contracts A3-A8).

A mixin so the HTTP plumbing in :mod:`fakes.telegram` stays small; every ``_m_<method>``
takes the decoded parameters and uploaded files and returns ``(result, description)`` or raises
:class:`ApiError` with the real status and description.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections import deque
from typing import Any

from fakes.telegram_html import FormattedText, HtmlParseError, clean_and_trim, parse_html
from fakes.telegram_media import (
    UPLOAD_LIMIT,
    URL_LIMIT,
    PhotoError,
    inspect_image,
    photo_sizes,
)
from fakes.telegram_models import (
    CAPTION_LIMIT,
    LONG_POLL_MAX,
    MAX_ENTITIES,
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_TOO_OLD,
    RAW_TEXT_BYTES,
    TEXT_LIMIT,
    WEBHOOK_CONFLICT,
    ApiError,
    ChatState,
    Result,
    StoredFile,
    StoredMessage,
    as_int,
    as_str,
    json_list,
    json_obj,
    link_preview,
    parse_entities,
    truthy,
)


class BotApiMethods:
    """State-holding mixin; :class:`fakes.telegram.FakeTelegram` creates the attributes."""

    time_scale: float
    enforce_rate_limits: bool
    chat_burst: int
    bot_id: int
    bot_username: str
    callback_answers: dict[str, dict[str, Any]]
    _lock: threading.RLock
    _cond: threading.Condition
    _chats: dict[int, ChatState]
    _usernames: dict[str, int]
    _files: dict[str, StoredFile]
    _urls: dict[str, tuple[bytes, str]]
    _paths: dict[str, bytes]
    _updates: list[dict[str, Any]]
    _poll_generation: int
    _waiting_polls: int
    _allowed_updates: list[str]
    _webhook_url: str
    _commands: dict[str, list[dict[str, str]]]
    _callbacks: dict[str, bool]
    _global_sends: deque[float]
    _counter: itertools.count[int]
    _stopping: bool

    # ------------------------------------------------------------------ helpers
    def _find_chat(self, chat: int | str) -> ChatState | None:
        if isinstance(chat, int):
            return self._chats.get(chat)
        value = str(chat).strip()
        if value.startswith("@"):
            chat_id = self._usernames.get(value[1:].lower())
            return self._chats.get(chat_id) if chat_id is not None else None
        try:
            return self._chats.get(int(value))
        except ValueError:
            return None

    def _chat_param(self, params: dict[str, Any]) -> ChatState:
        raw = as_str(params.get("chat_id"))
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._find_chat(raw)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    @staticmethod
    def _check_can_send(chat: ChatState) -> None:
        if chat.type == "private":
            if not chat.bot_is_member:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return
        kind = (
            "channel"
            if chat.type == "channel"
            else ("supergroup" if chat.type == "supergroup" else "group")
        )
        if chat.bot_is_banned:
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if not chat.bot_is_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if chat.type == "channel" and not (chat.bot_is_admin and chat.bot_can_post):
            raise ApiError(400, "Bad Request: need administrator rights in the channel chat")

    def _check_rate(self, chat: ChatState) -> None:
        """Flood control for a send; must be called with the lock held."""
        if not self.enforce_rate_limits:
            return
        now = time.monotonic()
        interval = 1.0 * self.time_scale
        waits: list[float] = []
        # per chat token bucket
        if interval > 0:
            elapsed = now - chat.refill_at
            chat.tokens = min(float(self.chat_burst), chat.tokens + elapsed / interval)
        else:
            chat.tokens = float(self.chat_burst)
        chat.refill_at = now
        if chat.tokens < 1.0:
            waits.append((1.0 - chat.tokens) * interval)
        if chat.type != "private":
            window = 60.0 * self.time_scale
            while chat.sends and chat.sends[0] <= now - window:
                chat.sends.popleft()
            if len(chat.sends) >= 20:
                waits.append(chat.sends[0] + window - now)
        window = 1.0 * self.time_scale
        while self._global_sends and self._global_sends[0] <= now - window:
            self._global_sends.popleft()
        if len(self._global_sends) >= 30:
            waits.append(self._global_sends[0] + window - now)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)

    def _commit_rate(self, chat: ChatState) -> None:
        if not self.enforce_rate_limits:
            return
        now = time.monotonic()
        chat.tokens -= 1.0
        if chat.type != "private":
            chat.sends.append(now)
        self._global_sends.append(now)

    def _formatted(
        self, params: dict[str, Any], name: str, entities_name: str, *, required: bool
    ) -> FormattedText | None:
        """Parse text/caption as the server does (contracts A4/A5); None when absent."""
        raw = as_str(params.get(name))
        if raw is None or raw == "":
            if required:
                raise ApiError(400, "Bad Request: message text is empty")
            return None
        if len(raw.encode("utf-8", "surrogatepass")) > RAW_TEXT_BYTES:
            raise ApiError(400, "Bad Request: text is too long")
        mode = (as_str(params.get("parse_mode")) or "").strip().lower()
        if mode == "html":
            try:
                parsed = parse_html(raw)
            except HtmlParseError as err:
                raise ApiError(400, f"Bad Request: can't parse entities: {err}") from err
        elif mode in ("", "markdown", "markdownv2"):
            parsed = FormattedText(raw, [] if mode else parse_entities(params.get(entities_name)))
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        cleaned = clean_and_trim(parsed)
        cleaned.entities = cleaned.entities[:MAX_ENTITIES]
        return cleaned

    @staticmethod
    def _check_length(text: FormattedText | None, *, caption: bool) -> None:
        if text is None:
            return
        if not caption and not text.text:
            raise ApiError(400, "Bad Request: text must be non-empty")
        if caption and len(text.text) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        if not caption and len(text.text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Newsbot Fake",
            "username": self.bot_username,
        }

    def _new_message(self, chat: ChatState, kind: str, params: dict[str, Any]) -> StoredMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        stored = StoredMessage(chat.id, message_id, int(time.time()), kind, params=dict(params))
        chat.messages[message_id] = stored
        return stored

    def _render(self, chat: ChatState, stored: StoredMessage) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": stored.message_id,
            "date": stored.date,
            "chat": chat.as_dict(),
        }
        if chat.type == "channel":
            msg["sender_chat"] = chat.as_dict()
        else:
            msg["from"] = self._bot_user()
        if stored.edit_date is not None:
            msg["edit_date"] = stored.edit_date
        if stored.kind == "text":
            msg["text"] = stored.text
            if stored.entities:
                msg["entities"] = stored.entities
            if stored.link_preview_options:
                msg["link_preview_options"] = stored.link_preview_options
        else:
            msg["photo"] = self._photo_sizes(stored)
            if stored.caption:
                msg["caption"] = stored.caption
                if stored.entities:
                    msg["caption_entities"] = stored.entities
            if truthy(stored.params.get("has_spoiler")):
                msg["has_media_spoiler"] = True
            if truthy(stored.params.get("show_caption_above_media")):
                msg["show_caption_above_media"] = True
        if stored.reply_markup:
            msg["reply_markup"] = stored.reply_markup
        stored.message = msg
        return msg

    def _photo_sizes(self, stored: StoredMessage) -> list[dict[str, Any]]:
        file = self._files[stored.photo_file_id or ""]
        sizes = []
        for index, (w, h, size) in enumerate(
            photo_sizes(file.width or 1, file.height or 1, len(file.data))
        ):
            file_id = f"{stored.photo_file_id}_{index}"
            unique = f"{file.unique_id}{index}"
            self._files.setdefault(file_id, StoredFile(file.data, file.width, file.height, unique))
            sizes.append(
                {"file_id": file_id, "file_unique_id": unique, "width": w, "height": h,
                 "file_size": size}
            )  # fmt: skip
        return sizes

    def _photo_source(self, params: dict[str, Any], files: dict[str, bytes]) -> StoredFile:
        """Resolve ``photo`` (upload, attach://, URL or file_id) to stored bytes."""
        if "photo" in files:
            data = files["photo"]
        else:
            value = as_str(params.get("photo"))
            if not value:
                raise ApiError(400, "Bad Request: there is no photo in the request")
            if value.startswith("attach://"):
                data = files.get(value[9:], b"")
                if not data:
                    raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            elif value.lower().startswith(("http://", "https://")):
                found = self._urls.get(value)
                if found is None:
                    raise ApiError(400, "Bad Request: failed to get HTTP URL content")
                data, content_type = found
                if len(data) > URL_LIMIT:
                    raise ApiError(400, "Bad Request: failed to get HTTP URL content")
                if not content_type.startswith("image/"):
                    raise ApiError(400, "Bad Request: wrong type of the web page content")
            else:
                known = self._files.get(value)
                if known is None:
                    raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
                return known
        if len(data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        try:
            info = inspect_image(data)
        except PhotoError as err:
            raise ApiError(err.status, err.description) from err
        number = next(self._counter)
        width, height = (info.width, info.height) if info else (0, 0)
        return StoredFile(data, width, height, f"AQADfake{number:06d}")

    # ------------------------------------------------------------------ methods

    def _m_getme(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        user = self._bot_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        return user, None

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        text = self._formatted(params, "text", "entities", required=True)
        preview = link_preview(params)
        markup = json_obj(params.get("reply_markup"), "reply markup")
        with self._lock:
            chat = self._chat_param(params)
            self._check_can_send(chat)
            self._check_length(text, caption=False)
            self._check_rate(chat)
            stored = self._new_message(chat, "text", params)
            assert text is not None
            stored.text, stored.entities = text.text, text.entities
            stored.raw = as_str(params.get("text"))
            stored.parse_mode = as_str(params.get("parse_mode"))
            stored.link_preview_options, stored.reply_markup = preview, markup
            stored.disable_notification = truthy(params.get("disable_notification"))
            self._commit_rate(chat)
            return self._render(chat, stored), None

    def _m_sendphoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        caption = self._formatted(params, "caption", "caption_entities", required=False)
        markup = json_obj(params.get("reply_markup"), "reply markup")
        with self._lock:
            chat = self._chat_param(params)
            self._check_can_send(chat)
            file = self._photo_source(params, files)
            self._check_length(caption, caption=True)
            self._check_rate(chat)
            stored = self._new_message(chat, "photo", params)
            file_id = f"AgACAgfake{next(self._counter):08d}"
            self._files[file_id] = file
            stored.photo, stored.photo_file_id = file.data, file_id
            stored.width, stored.height = file.width, file.height
            if caption is not None:
                stored.caption, stored.entities = caption.text, caption.entities
            stored.raw = as_str(params.get("caption"))
            stored.parse_mode = as_str(params.get("parse_mode"))
            stored.reply_markup = markup
            stored.disable_notification = truthy(params.get("disable_notification"))
            self._commit_rate(chat)
            return self._render(chat, stored), None

    def _edit_target(self, params: dict[str, Any]) -> tuple[ChatState, StoredMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat_param(params)
        message_id = as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted or stored.kind == "incoming":
            raise ApiError(400, "Bad Request: message to edit not found")
        self._check_can_send(chat)
        if not stored.editable:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, stored

    def _check_edit_rate(self, chat: ChatState) -> None:
        """Edits in a channel count toward its flood control like sends (A8); edits of the
        editors' notices in private chats are left free, as the desk's tests expect."""
        if chat.type == "channel":
            self._check_rate(chat)

    def _commit_edit(self, chat: ChatState, stored: StoredMessage, method: str,
                     before: str | None, *, photo_changed: bool = False) -> None:
        if chat.type == "channel":
            self._commit_rate(chat)
        stored.edit_date = int(time.time())
        stored.edits.append({
            "method": method, "at": time.time(), "seq": next(self._counter),
            "before": before, "after": stored.text if stored.kind == "text" else stored.caption,
            "photo_changed": photo_changed,
        })

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        text = self._formatted(params, "text", "entities", required=True)
        preview = link_preview(params)
        markup = json_obj(params.get("reply_markup"), "reply markup")
        with self._lock:
            chat, stored = self._edit_target(params)
            self._check_length(text, caption=False)
            assert text is not None
            if stored.kind != "text":
                raise ApiError(400, "Bad Request: there is no text in the message to edit")
            if (text.text, text.entities, markup) == (
                stored.text, stored.entities, stored.reply_markup
            ):  # fmt: skip
                raise ApiError(400, NOT_MODIFIED)
            self._check_edit_rate(chat)
            before = stored.text
            stored.text, stored.entities, stored.reply_markup = text.text, text.entities, markup
            stored.raw = as_str(params.get("text"))
            stored.parse_mode = as_str(params.get("parse_mode"))
            stored.link_preview_options = preview
            self._commit_edit(chat, stored, "editMessageText", before)
            return self._render(chat, stored), None

    def _m_editmessagecaption(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        caption = self._formatted(params, "caption", "caption_entities", required=False)
        markup = json_obj(params.get("reply_markup"), "reply markup")
        with self._lock:
            chat, stored = self._edit_target(params)
            self._check_length(caption, caption=True)
            if stored.kind != "photo":
                raise ApiError(400, "Bad Request: there is no caption in the message to edit")
            new_text = caption.text if caption else None
            new_entities = caption.entities if caption else []
            if (new_text or None, new_entities, markup) == (
                stored.caption or None, stored.entities, stored.reply_markup
            ):  # fmt: skip
                raise ApiError(400, NOT_MODIFIED)
            self._check_edit_rate(chat)
            before = stored.caption
            stored.caption, stored.entities, stored.reply_markup = new_text, new_entities, markup
            stored.raw = as_str(params.get("caption"))
            stored.parse_mode = as_str(params.get("parse_mode"))
            self._commit_edit(chat, stored, "editMessageCaption", before)
            return self._render(chat, stored), None

    def _m_editmessagemedia(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        """A new photo (and caption) for a photo or text message; the message id stays.

        Only ``type: photo`` is modelled (newsbot's only media).  The caption is the media
        object's, with its own parse_mode, and keeps the 1024 limit (A4).
        """
        media = json_obj(params.get("media"), "InputMedia")
        if not media or not media.get("media"):
            raise ApiError(400, "Bad Request: can't parse InputMedia: Media is not specified")
        if media.get("type") != "photo":
            raise ApiError(400, "Bad Request: can't parse InputMedia: unsupported media type")
        caption = self._formatted(media, "caption", "caption_entities", required=False)
        markup = json_obj(params.get("reply_markup"), "reply markup")
        with self._lock:
            chat, stored = self._edit_target(params)
            self._check_length(caption, caption=True)
            file = self._photo_source({"photo": media.get("media")}, files)
            new_text = caption.text if caption else None
            new_entities = caption.entities if caption else []
            if stored.kind == "photo" and (file.data, new_text or None, new_entities, markup) == (
                stored.photo, stored.caption or None, stored.entities, stored.reply_markup
            ):  # fmt: skip
                raise ApiError(400, NOT_MODIFIED)
            self._check_edit_rate(chat)
            before = stored.text if stored.kind == "text" else stored.caption
            changed = stored.photo != file.data
            file_id = f"AgACAgfake{next(self._counter):08d}"
            self._files[file_id] = file
            stored.kind, stored.text, stored.link_preview_options = "photo", None, None
            stored.photo, stored.photo_file_id = file.data, file_id
            stored.width, stored.height = file.width, file.height
            stored.caption, stored.entities, stored.reply_markup = new_text, new_entities, markup
            stored.raw = as_str(media.get("caption"))
            stored.parse_mode = as_str(media.get("parse_mode"))
            self._commit_edit(chat, stored, "editMessageMedia", before, photo_changed=changed)
            return self._render(chat, stored), None

    def _m_deletemessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            chat = self._chat_param(params)
            message_id = as_int(params.get("message_id"))
            if message_id is None:
                raise ApiError(400, "Bad Request: message identifier is not specified")
            self._check_can_send(chat)
            stored = chat.messages.get(message_id)
            if stored is None or stored.deleted:
                raise ApiError(400, "Bad Request: message to delete not found")
            if time.time() - stored.date > 48 * 3600:
                raise ApiError(400, "Bad Request: message can't be deleted")
            stored.deleted = True
            return True, None

    def _pin_target(self, params: dict[str, Any], *, required: bool
                    ) -> tuple[ChatState, int | None]:
        chat = self._chat_param(params)
        message_id = as_int(params.get("message_id"))
        if required and message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        if chat.type == "private" or chat.bot_is_banned or not chat.bot_is_member:
            self._check_can_send(chat)  # blocked, kicked, not a member: the same 403s
        # A channel pins with can_edit_messages, not can_post_messages (checked on its own).
        if chat.type != "private" and not (chat.bot_is_admin and chat.bot_can_pin):
            raise ApiError(400, "Bad Request: not enough rights to manage pinned messages "
                                "in the chat")
        return chat, message_id

    def _m_pinchatmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            chat, message_id = self._pin_target(params, required=True)
            stored = chat.messages.get(message_id or 0)
            if stored is None or stored.deleted:
                raise ApiError(400, "Bad Request: message to pin not found")
            stored.pinned = True
            return True, None

    def _m_unpinchatmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        """Without message_id: the most recent pinned message (the real API's rule)."""
        with self._lock:
            chat, message_id = self._pin_target(params, required=False)
            if message_id is None:
                pinned = [m for m in chat.messages.values() if m.pinned and not m.deleted]
                if not pinned:
                    raise ApiError(400, "Bad Request: message to unpin not found")
                stored = max(pinned, key=lambda m: m.message_id)
            else:
                stored = chat.messages.get(message_id)
                if stored is None or stored.deleted:
                    raise ApiError(400, "Bad Request: message to unpin not found")
            stored.pinned = False
            return True, None

    def _m_getupdates(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        offset = as_int(params.get("offset")) or 0
        limit = min(100, max(1, as_int(params.get("limit")) or 100))
        timeout = min(LONG_POLL_MAX, max(0, as_int(params.get("timeout")) or 0))
        allowed = params.get("allowed_updates")
        with self._cond:
            if self._webhook_url:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if allowed not in (None, ""):
                parsed = json_list(allowed, "allowed updates")
                self._allowed_updates = [str(x) for x in parsed]
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            deadline = time.monotonic() + timeout * self.time_scale
            while True:
                if generation != self._poll_generation:
                    raise ApiError(409, POLL_CONFLICT)
                if self._allowed_updates:
                    self._updates = [u for u in self._updates if self._is_allowed(u)]
                if self._updates or self._stopping:
                    return list(self._updates[:limit]), None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return [], None
                self._waiting_polls += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting_polls -= 1

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kinds = [k for k in update if k != "update_id"]
        return any(k in self._allowed_updates for k in kinds) or not kinds

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._cond:
            if truthy(params.get("drop_pending_updates")):
                self._updates.clear()
            had = bool(self._webhook_url)
            self._webhook_url = ""
            return True, ("Webhook was deleted" if had else "Webhook is already deleted")

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._cond:
            self._webhook_url = as_str(params.get("url")) or ""
            self._poll_generation += 1
            self._cond.notify_all()
            return True, ("Webhook was set" if self._webhook_url else "Webhook was deleted")

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            info = {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            return info, None

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> str:
        scope = params.get("scope")
        if isinstance(scope, str) and scope:
            try:
                scope = json.loads(scope)
            except json.JSONDecodeError as exc:
                raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object") from exc
        scope = scope or {"type": "default"}
        lang = as_str(params.get("language_code")) or ""
        return json.dumps(scope, sort_keys=True) + "|" + lang

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        raw = params.get("commands")
        if raw in (None, ""):
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        commands = json_list(raw, "commands")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        clean: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(item.get("command", "")).strip().lstrip("/")
            description = str(item.get("description", "")).strip()
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        with self._lock:
            self._commands[self._commands_key(params)] = clean
        return True, None

    def _m_getmycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            return list(self._commands.get(self._commands_key(params), [])), None

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            self._commands.pop(self._commands_key(params), None)
        return True, None

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        query_id = as_str(params.get("callback_query_id")) or ""
        text = as_str(params.get("text")) or ""
        with self._lock:
            if self._callbacks.get(query_id) is not False:
                raise ApiError(400, QUERY_TOO_OLD)
            if len(text) > 200:
                raise ApiError(400, "Bad Request: message is too long")
            self._callbacks[query_id] = True
            self.callback_answers[query_id] = dict(params)
        return True, None

    def _m_getchat(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            chat = self._chat_param(params)
            info = chat.as_dict() | {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                    "premium_subscription": False, "gifts_from_channels": False,
                },
            }  # fmt: skip
            return info, None

    def _member(self, chat: ChatState, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            user = self._bot_user()
            if chat.bot_is_member and chat.bot_is_admin and chat.type != "private":
                rights = dict.fromkeys(
                    ("can_manage_chat", "can_delete_messages", "can_invite_users",
                     "can_post_messages", "can_edit_messages", "can_change_info"), True,
                ) | {"can_post_messages": chat.bot_can_post,
                     "can_edit_messages": chat.bot_can_pin} | dict.fromkeys(
                    ("can_be_edited", "is_anonymous", "can_manage_video_chats",
                     "can_restrict_members", "can_promote_members", "can_post_stories",
                     "can_edit_stories", "can_delete_stories"), False,
                )  # fmt: skip
                return {"status": "administrator", "user": user, **rights}
            return {"status": "member" if chat.bot_is_member else "left", "user": user}
        known = self._chats.get(user_id)
        if (chat.type == "private" and user_id == chat.id) or known is not None:
            first = known.first_name if known else None
            return {
                "status": "member",
                "user": {"id": user_id, "is_bot": False, "first_name": first or "User"},
            }
        raise ApiError(400, "Bad Request: user not found")

    def _m_getchatmember(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            chat = self._chat_param(params)
            if chat.bot_is_banned and chat.type != "private":
                # the Bot API server refuses any call on a chat the bot was banned from
                # [TGSRV check_chat_access]
                kind = "channel" if chat.type == "channel" else "supergroup"
                raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
            user_id = as_int(params.get("user_id"))
            if user_id is None:
                raise ApiError(400, "Bad Request: user not found")
            return self._member(chat, user_id), None

    def _m_getchatadministrators(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        with self._lock:
            chat = self._chat_param(params)
            if chat.type == "private":
                raise ApiError(400, "Bad Request: there are no administrators in the private chat")
            admins = []
            if chat.bot_is_admin and chat.bot_is_member:
                admins.append(self._member(chat, self.bot_id))
            return admins, None

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        if not as_str(params.get("action")):
            raise ApiError(400, "Bad Request: action is empty")
        with self._lock:
            chat = self._chat_param(params)
            self._check_can_send(chat)
        return True, None

    def _m_getfile(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        file_id = as_str(params.get("file_id")) or ""
        with self._lock:
            file = self._files.get(file_id)
            if file is None:
                raise ApiError(400, "Bad Request: invalid file_id")
            file_path = f"photos/{file.unique_id}.jpg"
            self._paths[file_path] = file.data
            return {
                "file_id": file_id,
                "file_unique_id": file.unique_id,
                "file_size": len(file.data),
                "file_path": file_path,
            }, None

    def _m_logout(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        return True, None

    def _m_close(self, params: dict[str, Any], files: dict[str, bytes]) -> Result:
        return True, None
