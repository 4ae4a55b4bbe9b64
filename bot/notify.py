"""Notices to the editors' chat: publishes, failures, in-doubt sends, bad files, approvals.

Why synchronous and over plain httpx: notices come from Celery workers (ordinary threads, no event
loop) and must never start a long poll -- only ``newsbot bot`` polls, and a second poller would
steal its updates.  A notice is sent once: its dedupe key is claimed with ``SET NX`` in Redis
before sending (shared by every worker), and released again if the send fails, so a redelivered
task may try again.  ``notify`` never raises: a notice that cannot be sent must not fail the
publish that triggered it.

Buttons are signed with the same key the bot derives from the token (``bot.editor.callbacks``),
so a [Retry] sent by a worker is honoured by the bot process.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bot.actions.content import ContentTools, PlatformTeaser
from bot.editor.callbacks import CallbackSigner
from bot.editor.i18n import t
from bot.editor.preview import OutMessage, fingerprint, prepare_both, preview_messages
from bot.editor.render import esc, link
from bot.posts import Post
from bot.state import State

__all__ = ["BotApiSender", "Notice", "Notifier", "NotifyError", "approval_notice"]

log = logging.getLogger(__name__)

NoticeKind = Literal["published", "failed", "in_doubt", "bad_file", "approval", "generic"]
DEDUPE_SECONDS = 30 * 24 * 3600


class NotifyError(Exception):
    """The Bot API refused or could not be reached; the message never contains the token."""


class BotApiSender:
    """The few Bot API calls notices need, synchronous, one pooled httpx client."""

    def __init__(self, token: str, api_url: str = "https://api.telegram.org", *,
                 timeout: float = 15.0) -> None:
        if not token:
            raise ValueError("a bot token is required")
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._client = httpx.Client(timeout=timeout)
        self.token_for_signing = token

    def __repr__(self) -> str:
        return "BotApiSender()"

    def call(self, method: str, data: dict[str, Any],
             files: dict[str, tuple[str, bytes]] | None = None) -> Any:
        body = {k: (json.dumps(v) if isinstance(v, dict | list) else str(v))
                for k, v in data.items() if v is not None}
        try:
            answer = self._client.post(self._base + method, data=body, files=files)
        except httpx.HTTPError as exc:  # str(exc) may hold the URL, i.e. the token
            raise NotifyError(f"{method}: {type(exc).__name__}") from None
        try:
            payload = answer.json()
        except ValueError:
            raise NotifyError(f"{method}: HTTP {answer.status_code}") from None
        if not payload.get("ok"):
            raise NotifyError(f"{method}: {payload.get('description', answer.status_code)}")
        return payload.get("result")

    def send(self, chat_id: str | int, message: OutMessage,
             reply_markup: dict[str, Any] | None = None) -> Any:
        if message.photo is not None:
            return self.call(
                "sendPhoto",
                {"chat_id": chat_id, "caption": message.text, "parse_mode": "HTML",
                 "reply_markup": reply_markup},
                files={"photo": (message.filename or "photo.jpg", message.photo)},
            )
        preview = ({"url": message.link_preview_url, "prefer_large_media": True}
                   if message.link_preview_url else {"is_disabled": True})
        return self.call("sendMessage", {
            "chat_id": chat_id, "text": message.text, "parse_mode": "HTML",
            "link_preview_options": preview, "reply_markup": reply_markup,
        })

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True, slots=True)
class Notice:
    """One event for the editors.  ``dedupe`` overrides the default once-only identity."""

    kind: NoticeKind
    title: str = ""
    post_url: str = ""
    platform: str = ""
    destination: str = ""
    reason: str = ""
    links: tuple[str, ...] = ()
    file: str = ""
    text: str = ""
    record_key: str = ""
    dedupe: str = ""
    messages: tuple[OutMessage, ...] = field(default=(), compare=False)
    fingerprint: str = ""

    def identity(self) -> str:
        if self.dedupe:
            return f"{self.kind}|{self.dedupe}"
        parts = (self.kind, self.post_url, self.platform, self.destination, self.record_key,
                 self.file, self.reason, self.text, self.fingerprint, *self.links)
        return "|".join(parts)


def approval_notice(tools: ContentTools, post: Post, language: str) -> Notice:
    """The approval preview of ``post`` as it is now (a later edit gives a new fingerprint)."""
    tg, x = prepare_both(tools, post)
    return approval_notice_for(post, tg, x, language)


def approval_notice_for(post: Post, tg: PlatformTeaser, x: PlatformTeaser, language: str
                        ) -> Notice:
    return Notice(kind="approval", title=post.title, post_url=post.url,
                  messages=tuple(preview_messages(language, post, tg, x)),
                  fingerprint=fingerprint([tg, x]))


def _keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                for row in rows]}


class Notifier:
    """Sends each notice once to the editors' chat; safe to call from any thread."""

    def __init__(
        self,
        bot_sender: BotApiSender,
        editor_chat: str | int,
        state: State,
        language: str = "ko",
        *,
        signer: CallbackSigner | None = None,
        notify_published: bool = True,
    ) -> None:
        self.sender = bot_sender
        self.chat = int(editor_chat) if str(editor_chat).lstrip("-").isdigit() else editor_chat
        self.state = state
        self.language = language
        self.notify_published = notify_published
        self.signer = signer or CallbackSigner.from_token(bot_sender.token_for_signing, state)

    @classmethod
    def from_settings(cls, settings: Any, state: State) -> Notifier | None:
        """None when no bot token or no editors' chat is configured (notices are then off)."""
        token = settings.telegram_bot_token
        if token is None or not settings.telegram_editor_chat:
            return None
        sender = BotApiSender(token.get_secret_value(), settings.telegram_api_url)
        return cls(sender, settings.telegram_editor_chat, state, settings.bot_language,
                   notify_published=settings.notify_published)

    def _claim(self, notice: Notice) -> str | None:
        """The claimed digest, or None when this notice was already sent (by any process)."""
        digest = hashlib.sha256(notice.identity().encode()).hexdigest()[:32]
        return digest if self.state.claim_once("notice", digest, DEDUPE_SECONDS) else None

    def notify(self, notice: Notice) -> bool:
        """True when sent now; False when a duplicate, switched off, or the send failed."""
        if notice.kind == "published" and not self.notify_published:
            return False
        try:
            key = self._claim(notice)
        except Exception as exc:
            log.warning("notifier: cannot reach Redis (%s)", type(exc).__name__)
            return False
        if key is None:
            return False
        try:
            self._send(notice)
        except Exception as exc:
            log.warning("notifier: %s notice not sent (%s)", notice.kind, clip_reason(exc))
            try:
                self.state.release_once("notice", key)
            except Exception:
                log.debug("notifier: could not release dedupe key")
            return False
        return True

    # ------------------------------------------------------------------ building
    def _where(self, notice: Notice) -> str:
        return f"{esc(notice.platform)} {esc(notice.destination, 80)}".strip()

    def _title(self, notice: Notice) -> str:
        label = notice.title or notice.post_url
        return link(notice.post_url, label) if notice.post_url else esc(label, 200)

    def _button(self, label_key: str, action: str, target: str, **options: Any
                ) -> tuple[str, str]:
        return (t(self.language, label_key), self.signer.issue(action, target, **options))

    def _send(self, notice: Notice) -> None:
        lang, chat = self.language, self.chat
        title = self._title(notice)
        if notice.kind == "approval":
            messages = list(notice.messages)
            markup = _keyboard([[
                self._button("b_publish", "approve", notice.post_url, fp=notice.fingerprint),
                self._button("b_skip", "askip", notice.post_url),
            ]])
            for message in messages[:-1]:
                self.sender.send(chat, message)
            last = messages[-1] if messages else OutMessage(
                t(lang, "n_approval", title=title, details=""))
            self.sender.send(chat, OutMessage(
                t(lang, "n_approval", title=title, details="") + "\n" + last.text,
                photo=last.photo, filename=last.filename), markup)
            return
        markup = None
        if notice.kind == "published":
            links = "\n".join(link(u, u) for u in notice.links) or esc(notice.text)
            text = t(lang, "n_published", title=title, links=links)
        elif notice.kind == "failed":
            text = t(lang, "n_failed", title=title, where=self._where(notice),
                     reason=esc(notice.reason, 600))
            markup = _keyboard([[self._button("b_retry", "retry", notice.post_url)]])
        elif notice.kind == "in_doubt":
            text = t(lang, "n_in_doubt", title=title, where=self._where(notice))
            markup = _keyboard([[self._button("b_send_again", "resend", notice.post_url),
                                 self._button("b_went_out", "marksent", notice.post_url)]])
        elif notice.kind == "bad_file":
            text = t(lang, "n_bad_file", file=esc(notice.file, 300),
                     reason=esc(notice.reason, 600))
        else:
            body = esc(notice.text, 3000)
            if notice.post_url:
                body = f"{title}\n{body}"
            text = t(lang, "n_generic", text=body)
        self.sender.send(chat, OutMessage(text=text), markup)


def clip_reason(exc: Exception) -> str:
    text = str(exc) if isinstance(exc, NotifyError) else type(exc).__name__
    return text[:200]
