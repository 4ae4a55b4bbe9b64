"""A fake Telegram Bot API server on 127.0.0.1 for tests and local runs.

The real python-telegram-bot client talks to it unchanged (``base_url=fake.base_url + "/bot"``),
so delivery code is exercised through real HTTP, real error statuses and the real error texts of
platform-contracts part A. Everything is stdlib: a ``ThreadingHTTPServer`` in a daemon thread and
one re-entrant lock around the state, so tests may call it from any thread.

Deliberate deviations from api.telegram.org (kept small and listed so tests can rely on them):

* ``parse_mode`` Markdown / MarkdownV2 are accepted but not parsed (text is stored verbatim).
* Rate limits (``enforce_rate_limits``) apply to ``sendMessage``/``sendPhoto`` only: per chat a
  token bucket of ``chat_burst`` messages refilled one per ``1 s * time_scale``; per group or
  channel at most 20 accepted sends per ``60 s * time_scale``; overall 30 per ``1 s * time_scale``.
  ``retry_after`` is ``max(1, ceil(remaining real seconds))``.
* The server-side "same offset within 3 s forces timeout 3" rule of getUpdates is not emulated.
* A ``delay_next`` request is processed after the delay even if the client gave up, which is how
  a real timeout can still lead to a delivered message.
* URL photos are fetched only from URLs registered with :meth:`FakeTelegram.add_url`; any other
  URL fails with ``Bad Request: failed to get HTTP URL content``.
* Photo uploads over 10 000 000 bytes (PTB's ``PHOTOSIZE_UPLOAD``) get 413 ``Request Entity Too
  Large``; bodies over 50 MiB likewise.
* Edits and deletions are not rate limited; explicit ``entities`` past the text are clipped.
* Error texts not fixed by the contracts are best guesses: setMyCommands (``BOT_COMMAND_INVALID``,
  ``BOT_COMMAND_DESCRIPTION_INVALID``, ``BOT_COMMANDS_TOO_MUCH``), answerCallbackQuery text over
  200 characters (``message is too long``), getChatMember for unknown users (``user not found``).

Fault injection: ``fail_next`` (canned error), ``delay_next`` (slow answer), ``drop_next``
(connection closed without an answer, optionally after the call took effect), and
``set_fault_plan`` (a seeded share of the send calls answered with 429, 500, 502, a reset, a hang
or a drop after processing; ``fakes.faults``). ``rate_watch`` keeps every 429 answered and
the requests to the same chat that arrived before its ``retry_after`` had passed. Every request is
journaled as a :class:`Call`; ``Call.client_gone`` marks answers the client never read (e.g. the
long poll PTB cancels on shutdown, which the fake answers with the 409 a newer poll causes).

Run standalone: ``python -m fakes.telegram --port 8081``; it prints the base URL only. The
token never appears in its output: the access log is replaced by method names at DEBUG level.
"""

from __future__ import annotations

import argparse
import contextlib
import email.message
import itertools
import json
import logging
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fakes.faults import FAULT_KINDS, Fault, FaultPlan, RateWatch, peer_closed
from fakes.telegram_methods import BotApiMethods
from fakes.telegram_models import ApiError, Call, ChatState, StoredFile, StoredMessage

__all__ = ["ApiError", "Call", "FakeTelegram", "StoredMessage", "main"]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:TEST-fake-token-not-real"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
MAX_BODY = 52_428_800  # above this the request body is refused with 413, like the real proxy


@dataclass
class _Canned:
    kind: str  # "fail" | "delay" | "drop" | "reset"
    status: int = 500
    description: str | None = None
    retry_after: int | None = None
    seconds: float = 0.0
    after_processing: bool = False


_CANONICAL = {
    name.lower(): name
    for name in (
        "getMe", "sendMessage", "sendPhoto", "editMessageText", "editMessageCaption",
        "editMessageMedia",
        "deleteMessage", "pinChatMessage", "unpinChatMessage",
        "getUpdates", "deleteWebhook", "setWebhook", "getWebhookInfo",
        "setMyCommands", "getMyCommands", "deleteMyCommands", "answerCallbackQuery", "getChat",
        "getChatMember", "getChatAdministrators", "sendChatAction", "getFile", "logOut", "close",
    )
}  # fmt: skip

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: fake failure",
    401: "Unauthorized",
    403: "Forbidden: fake failure",
    404: "Not Found",
    409: "Conflict: fake failure",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body are separate writes: avoid 40 ms stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """The default access log prints the request path, which contains the token."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeTelegram


class FakeTelegram(BotApiMethods):
    """The fake server plus the inspection and fault-injection API tests use."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        enforce_rate_limits: bool = True,
        chat_burst: int = 1,
        bot_username: str = "newsbot_fake_bot",
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.enforce_rate_limits = enforce_rate_limits
        self.chat_burst = max(1, chat_burst)
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_username = bot_username
        self.journal: list[Call] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._chats: dict[int, ChatState] = {}
        self._usernames: dict[str, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._urls: dict[str, tuple[bytes, str]] = {}
        self._paths: dict[str, bytes] = {}  # getFile file_path -> bytes
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._waiting_polls = 0
        self._allowed_updates: list[str] = []
        self._webhook_url = ""
        self._commands: dict[str, list[dict[str, str]]] = {}
        self._callbacks: dict[str, bool] = {}  # id -> answered
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self._canned: dict[str, deque[_Canned]] = {}
        self.fault_plan: FaultPlan | None = None
        self._fault_methods: frozenset[str] = frozenset()
        self.rate_watch = RateWatch()
        self._global_sends: deque[float] = deque()
        self._counter = itertools.count(1)
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeTelegram:
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._stopping = False
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="fake-telegram",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """What to pass as PTB's ``base_url`` (it appends the token)."""
        return self.base_url + "/bot"

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # ------------------------------------------------------------------ test API
    def calls(self, method: str) -> list[Call]:
        wanted = method.lower()
        with self._lock:
            return [c for c in self.journal if c.method.lower() == wanted]

    @property
    def waiting_polls(self) -> int:
        """getUpdates requests parked in a long poll right now (lets tests sync with pollers)."""
        with self._lock:
            return self._waiting_polls

    @property
    def count_429(self) -> int:
        with self._lock:
            return sum(1 for c in self.journal if c.status == 429)

    def add_chat(
        self,
        chat_id: int,
        username: str | None = None,
        type: str = "channel",
        bot_is_admin: bool = True,
        bot_is_member: bool = True,
        *,
        title: str | None = None,
        first_name: str | None = None,
    ) -> None:
        """Register (or update) a chat; a private chat's id is the user's id."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = ChatState(chat_id, type, None, None, bot_is_admin, bot_is_member)
                chat.tokens = float(self.chat_burst)
                self._chats[chat_id] = chat
            if chat.username:
                self._usernames.pop(chat.username.lower(), None)
            chat.type, chat.bot_is_admin, chat.bot_is_member = type, bot_is_admin, bot_is_member
            chat.username = username.lstrip("@") if username else None
            chat.title = title or (None if type == "private" else f"Chat {chat_id}")
            chat.first_name = first_name or chat.first_name
            if chat.username:
                self._usernames[chat.username.lower()] = chat_id

    def channel_posts(
        self, chat: int | str, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages the bot sent to ``chat`` (id or ``@username``), oldest first."""
        with self._lock:
            target = self._find_chat(chat)
            if target is None:
                return []
            return [
                m
                for _, m in sorted(target.messages.items())
                if m.kind != "incoming" and (include_deleted or not m.deleted)
            ]

    def edit_history(self, chat: int | str, message_id: int) -> list[dict[str, Any]]:
        """The accepted edits of one message, oldest first (copies)."""
        with self._lock:
            target = self._find_chat(chat)
            stored = target.messages.get(message_id) if target is not None else None
            return [dict(e) for e in stored.edits] if stored is not None else []

    def all_edits(self, chat: int | str) -> list[dict[str, Any]]:
        """Every accepted edit in ``chat``, in the order they were made (with message_id)."""
        with self._lock:
            target = self._find_chat(chat)
            if target is None:
                return []
            out = [dict(e, message_id=m.message_id) for m in target.messages.values()
                   for e in m.edits]
        return sorted(out, key=lambda e: e["seq"])

    def make_uneditable(self, chat: int | str, message_id: int) -> None:
        """Telegram answers "message can't be edited" for this message from now on."""
        with self._lock:
            target = self._find_chat(chat)
            assert target is not None, f"unknown chat {chat!r}"
            target.messages[message_id].editable = False

    def age_message(self, chat: int | str, message_id: int, seconds: float) -> None:
        """Pretend the message was sent ``seconds`` ago (the 48-hour delete limit)."""
        with self._lock:
            target = self._find_chat(chat)
            assert target is not None, f"unknown chat {chat!r}"
            target.messages[message_id].date = int(time.time() - seconds)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with this error instead of running it."""
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
                retry_after = retry_after or 1
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error")
        canned = _Canned("fail", status=status, description=description, retry_after=retry_after)
        self._queue(method, canned, count)

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Sleep ``seconds`` (real time) before handling the next calls; the call still runs."""
        self._queue(method, _Canned("delay", seconds=seconds), count)

    def drop_next(self, method: str, count: int = 1, *, after_processing: bool = False) -> None:
        """Close the connection without an answer; optionally after the call took effect."""
        self._queue(method, _Canned("drop", after_processing=after_processing), count)

    def set_fault_plan(
        self,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        *,
        methods: tuple[str, ...] = ("sendMessage", "sendPhoto"),
        retry_after: tuple[int, int] = (1, 5),
        hang_seconds: float = 25.0,
        limits: dict[str, int] | None = None,
    ) -> FaultPlan:
        """Answer a share ``rate`` of the calls of ``methods`` with random faults (see
        ``fakes.faults``); canned answers (``fail_next``...) still come first."""
        plan = FaultPlan(rate, kinds, seed, retry_after=retry_after, hang_seconds=hang_seconds,
                         limits=limits)
        with self._lock:
            self.fault_plan = plan
            self._fault_methods = frozenset(m.lower() for m in methods)
        return plan

    def clear_fault_plan(self) -> None:
        with self._lock:
            self.fault_plan = None

    def set_bot_rights(self, chat: int | str, status: str = "administrator", *,
                       can_post_messages: bool = True) -> None:
        """What an owner does to the bot in ``chat`` (id or ``@username``): ``administrator``
        (with or without ``can_post_messages``), ``member`` (demoted), ``left`` (removed) or
        ``kicked`` (banned).  getChatMember then answers with the matching ChatMember shape and
        sends meet the real refusals (400 need administrator rights, 403 not a member / was
        kicked)."""
        if status not in ("administrator", "member", "left", "kicked"):
            raise ValueError(f"unknown member status {status!r}")
        with self._lock:
            state = self._find_chat(chat)
            if state is None:
                raise KeyError(f"no chat {chat!r}")
            state.bot_is_admin = status == "administrator"
            state.bot_can_post = status == "administrator" and can_post_messages
            state.bot_is_member = status in ("administrator", "member")
            state.bot_is_banned = status == "kicked"

    def set_pin_right(self, chat: int | str, allowed: bool) -> None:
        """Grant or take the bot's right to pin in ``chat`` (can_edit_messages in a channel):
        without it pinChatMessage/unpinChatMessage answer 400 "not enough rights to manage
        pinned messages in the chat", as Telegram does."""
        with self._lock:
            state = self._find_chat(chat)
            if state is None:
                raise KeyError(f"no chat {chat!r}")
            state.bot_can_pin = allowed

    def pinned(self, chat: int | str) -> list[int]:
        """Ids of the messages pinned in ``chat`` now, oldest first."""
        with self._lock:
            state = self._find_chat(chat)
            if state is None:
                return []
            return sorted(m.message_id for m in state.messages.values()
                          if m.pinned and not m.deleted)

    def demote_bot(self, chat: int | str, to: str = "member") -> None:
        """The bot loses its right to post in ``chat``: ``member`` (demoted), ``no_post`` (still
        an administrator, without can_post_messages), ``left`` or ``kicked``."""
        if to == "no_post":
            self.set_bot_rights(chat, "administrator", can_post_messages=False)
        else:
            self.set_bot_rights(chat, to)

    def restore_bot(self, chat: int | str) -> None:
        """The bot is an administrator allowed to post in ``chat`` again."""
        self.set_bot_rights(chat, "administrator", can_post_messages=True)

    def revoke_token(self) -> str:
        """@BotFather's /revoke: every call with the old token gets 401 Unauthorized from now
        on (a long poll already waiting ends as usual); returns the new token."""
        with self._lock:
            bot_id = self.token.split(":", 1)[0]
            self.token = f"{bot_id}:TEST-fake-token-revoked-{next(self._counter):09d}"
            return self.token

    def add_url(self, url: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """Make ``url`` downloadable for sendPhoto(photo=url)."""
        with self._lock:
            self._urls[url] = (data, content_type)

    def _queue(self, method: str, canned: _Canned, count: int) -> None:
        with self._lock:
            queue = self._canned.setdefault(method.lower(), deque())
            queue.extend(canned for _ in range(count))

    def _take_canned(self, method: str) -> _Canned | None:
        with self._lock:
            queue = self._canned.get(method)
            if queue:
                return queue.popleft()
            plan = self.fault_plan if method in self._fault_methods else None
        fault = plan.draw(method) if plan is not None else None
        return _canned_for(fault) if fault is not None else None

    # updates ------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an Update for getUpdates; assigns ``update_id`` when absent."""
        with self._cond:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._learn_from_update(update)
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def make_message_update(
        self,
        user_id: int,
        chat_id: int | None = None,
        text: str = "",
        *,
        first_name: str = "Editor",
        username: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """An Update with a user's message; ``/command`` text gets its bot_command entity."""
        chat_id = user_id if chat_id is None else chat_id
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                self.add_chat(
                    chat_id, username if chat_id == user_id else None,
                    type="private" if chat_id == user_id else "supergroup",
                    first_name=first_name,
                )  # fmt: skip
                chat = self._chats[chat_id]
            message_id = chat.next_message_id
            chat.next_message_id += 1
            chat_dict = chat.as_dict()
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()) if date is None else date,
            "chat": chat_dict,
            "from": user,
            "text": text,
        }
        match = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?", text)
        if match:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        return {"message": message}

    def make_callback_update(
        self,
        user_id: int,
        data: str,
        message: dict[str, Any] | None = None,
        *,
        first_name: str = "Editor",
        callback_id: str | None = None,
    ) -> dict[str, Any]:
        """An Update with a callback query (inline button press) on ``message``."""
        query: dict[str, Any] = {
            "id": callback_id or f"{user_id}{next(self._counter):06d}",
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "chat_instance": f"-{user_id}",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        return {"callback_query": query}

    def _learn_from_update(self, update: dict[str, Any]) -> None:
        """Editors' private chats become known once they have written, as on Telegram."""
        message = update.get("message") or update.get("edited_message")
        if message:
            chat = message.get("chat", {})
            if chat.get("type") == "private" and chat.get("id") not in self._chats:
                self.add_chat(
                    chat["id"], chat.get("username"), type="private",
                    first_name=chat.get("first_name"),
                )  # fmt: skip
        query = update.get("callback_query")
        if query:
            self._callbacks[str(query["id"])] = False
            user = query.get("from", {})
            if user.get("id") is not None and user["id"] not in self._chats:
                self.add_chat(user["id"], user.get("username"), type="private",
                              first_name=user.get("first_name"))  # fmt: skip

    # ------------------------------------------------------------------ HTTP plumbing
    def _handle(self, handler: _Handler) -> None:
        try:
            self._dispatch(handler)
        except Exception:  # a fake bug must surface as a 500, not as a hung client
            log.exception("fake telegram: internal error")
            err = ApiError(500, "Internal Server Error: fake server bug")
            self._reply_error(handler, err)
            handler.close_connection = True

    def _dispatch(self, handler: _Handler) -> None:
        started = time.time()
        http_method = handler.command
        try:
            body = self._read_body(handler)
        except ApiError as err:
            self._reply_error(handler, err)
            handler.close_connection = True
            return
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        if path.startswith("/file/bot"):
            self._serve_file(handler, path[len("/file/bot") :])
            return
        if not path.startswith("/bot"):
            self._reply_error(handler, ApiError(404, "Not Found"))
            return
        token, _, rest = path[4:].partition("/")
        if rest.startswith("test/"):
            rest = rest[5:]
        method_lower = rest.lower()
        method = _CANONICAL.get(method_lower, rest)
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}

        def record(status: int, response: dict[str, Any] | None) -> None:
            gone = status != 0 and peer_closed(handler.connection)
            call = Call(method, params, files, status, response, started, http_method, gone)
            with self._lock:
                self.journal.append(call)

        try:
            self._check_token(token)
            impl = getattr(self, f"_m_{method_lower}", None) if method_lower else None
            if impl is None or method_lower not in _CANONICAL:
                raise ApiError(404, "Not Found: method not found")
            params.update(parse_qsl(parts.query, keep_blank_values=True))
            self._parse_body(handler.headers.get("Content-Type", ""), body, params, files)
            log.debug("fake telegram: %s", method)
            self.rate_watch.arrived(self._watch_key(params), started)
            canned = self._take_canned(method_lower)
            if canned is not None and canned.kind == "delay":
                time.sleep(canned.seconds)
                canned = None
            if canned is not None and canned.kind == "drop" and not canned.after_processing:
                record(0, None)
                self._drop(handler)
                return
            if canned is not None and canned.kind == "reset":
                record(0, None)
                self._reset(handler)
                return
            if canned is not None and canned.kind == "fail":
                raise ApiError(canned.status, canned.description or "", canned.retry_after)
            result, description = impl(params, files)
            if canned is not None and canned.kind == "drop":
                record(0, None)
                self._drop(handler)
                return
            payload: dict[str, Any] = {"ok": True, "result": result}
            if description:
                payload["description"] = description
            record(200, payload)
            self._send_json(handler, 200, payload)
        except ApiError as err:
            payload = self._error_payload(err)
            record(err.status, payload)
            key = self._watch_key(params)
            if err.status == 429 and err.retry_after is not None:
                self.rate_watch.answered_429(key, time.time() + err.retry_after,
                                             read=not peer_closed(handler.connection))
            self._send_json(handler, err.status, payload, err.retry_after)

    def _watch_key(self, params: dict[str, Any]) -> tuple[str, int | str]:
        """What a 429 holds back: ("chat", id) for a request that names a chat (Telegram's
        flood control is per chat), else ("bot", "*") (getMe and the like)."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            return ("bot", "*")
        with self._lock:
            chat = self._find_chat(str(raw))
        return ("chat", chat.id if chat is not None else str(raw))

    def _check_token(self, token: str) -> None:
        if token != self.token:
            if _TOKEN_RE.match(token):
                raise ApiError(401, "Unauthorized")
            raise ApiError(401, "Unauthorized: invalid token specified")

    def _serve_file(self, handler: _Handler, rest: str) -> None:
        """``/file/bot<token>/<file_path>`` as returned by getFile."""
        token, _, file_path = rest.partition("/")
        try:
            self._check_token(token)
        except ApiError as err:
            self._reply_error(handler, err)
            return
        with self._lock:
            data = self._paths.get(file_path)
        if data is None:
            self._reply_error(handler, ApiError(404, "Not Found: file not found"))
            return
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True

    def _read_body(self, handler: _Handler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
                total += size
            body = b"".join(chunks)
        else:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
        if len(body) > MAX_BODY:
            raise ApiError(413, "Request Entity Too Large")
        return body

    @staticmethod
    def _parse_body(
        content_type: str, body: bytes, params: dict[str, Any], files: dict[str, bytes]
    ) -> None:
        if not body:
            return
        header = email.message.Message()
        header["Content-Type"] = content_type or "application/octet-stream"
        kind = header.get_content_type()
        if kind == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError(400, "Bad Request: can't parse JSON object") from exc
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            params.update(data)
        elif kind == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif kind == "multipart/form-data":
            boundary = header.get_param("boundary")
            if not isinstance(boundary, str) or not boundary:
                raise ApiError(400, "Bad Request: wrong multipart/form-data boundary")
            _parse_multipart(body, boundary.encode("latin-1"), params, files)

    def _error_payload(self, err: ApiError) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": err.status,
            "description": err.description,
        }
        if err.retry_after is not None:
            payload["parameters"] = {"retry_after": err.retry_after}
        return payload

    def _reply_error(self, handler: _Handler, err: ApiError) -> None:
        self._send_json(handler, err.status, self._error_payload(err), err.retry_after)

    @staticmethod
    def _send_json(
        handler: _Handler, status: int, payload: dict[str, Any], retry_after: int | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            if retry_after is not None:
                handler.send_header("Retry-After", str(retry_after))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the client gave up (e.g. after its timeout)
            handler.close_connection = True

    @staticmethod
    def _drop(handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _reset(handler: _Handler) -> None:
        """Close with a TCP RST (SO_LINGER 0): the client reads ``connection reset by peer``."""
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()


def _canned_for(fault: Fault) -> _Canned:
    """A drawn fault as the canned answer ``_dispatch`` already knows how to give."""
    if fault.kind == "429":
        return _Canned("fail", status=429, retry_after=fault.retry_after,
                       description=f"Too Many Requests: retry after {fault.retry_after}")
    if fault.kind in ("500", "502"):
        status = int(fault.kind)
        return _Canned("fail", status=status, description=_DEFAULT_DESCRIPTIONS[status])
    if fault.kind == "hang":
        return _Canned("delay", seconds=fault.hang_seconds)
    if fault.kind == "drop":
        return _Canned("drop", after_processing=True)
    return _Canned("reset")


def _parse_multipart(
    body: bytes, boundary: bytes, params: dict[str, Any], files: dict[str, bytes]
) -> None:
    """Split a multipart/form-data body; parts with a filename are files."""
    delimiter = b"\r\n--" + boundary
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = email.message.Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip():
                headers[key.strip()] = value.strip()
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if headers.get_param("filename", header="content-disposition") is not None:
            files[name] = content
        else:
            params[name] = content.decode("utf-8", "replace")


def main(argv: list[str] | None = None, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted; prints the base URL (never the token)."""
    parser = argparse.ArgumentParser(prog="python -m fakes.telegram")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument(
        "--chat",
        action="append",
        default=[],
        metavar="ID[:@username]",
        help="register a channel the bot administers, e.g. --chat=-1001:@news (repeatable)",
    )
    args = parser.parse_args(argv)
    fake = FakeTelegram(
        token=args.token, host=args.host, port=args.port, time_scale=args.time_scale,
        enforce_rate_limits=not args.no_rate_limits,
    )  # fmt: skip
    for spec in args.chat:
        chat_id, _, username = spec.partition(":")
        fake.add_chat(int(chat_id), username or None)
    fake.start()
    print(fake.base_url, flush=True)
    if ready is not None:
        ready(fake.base_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
