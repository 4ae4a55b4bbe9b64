"""The editors' commands and buttons: thin async wrappers over the shared actions.

Every handler does the same four things: check the user is an editor, check the argument is
sane data, call the action from ``bot.actions`` in a worker thread (the actions are synchronous
and may scan the site), and format its report with ``render``.  The terminal and Telegram thus
cannot disagree, and the event loop stays free to answer other editors meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.actions import decide, pausing, publish, status
from bot.actions.audit import audit_entries
from bot.actions.lookup import PostLookupError, find_post
from bot.delivery import corrections
from bot.delivery.notify import Notifier, approval_notice_for
from bot.escaping import escape_controls
from bot.platforms import PLATFORMS
from bot.sources.jekyll import PostFileError, iter_post_files, read_post
from bot.state.store import REFUSAL_AUDIT_LIMIT

from . import render
from .auth import EditorAuth, RefusalGate
from .callbacks import CallbackError, CallbackSigner, Payload
from .i18n import t
from .preview import OutMessage, fingerprint, prepare_both, preview_messages

__all__ = ["MAX_ARGUMENT", "EditorDesk"]

log = logging.getLogger(__name__)

MAX_ARGUMENT = 512  # longest reference an editor can mean (slugs, URLs, file names)
OLD_BUTTON = ("this older button does not say which platform it is for; use newsbot resolve "
              "or newsbot retry with --platform")
PAGE_TTL = 24 * 3600.0
LIST_LIMIT = 200
Handler = Callable[["EditorDesk", Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


class ArgumentError(Exception):
    """The editor's argument is unusable; the message is one escaped line, ``why`` the short
    reason the audit trail records."""

    def __init__(self, message: str, why: str = "unusable argument") -> None:
        super().__init__(message)
        self.why = why


def editors_only(fn: Handler) -> Handler:
    """Auth gate plus the one-line answer for anything unexpected."""

    @functools.wraps(fn)
    async def wrapper(self: EditorDesk, update: Update, context: ContextTypes.DEFAULT_TYPE
                      ) -> None:
        user = update.effective_user
        message = update.effective_message
        # A message sent on behalf of a chat (an anonymous admin, a channel) or by a bot names
        # no person: it is never an editor's, whatever getChatMember says of the bot account.
        on_behalf = message is not None and message.sender_chat is not None
        if (user is None or user.is_bot or on_behalf
                or not await self.auth.is_editor(user.id)):
            await self.refuse(update)
            return
        try:
            await fn(self, update, context)
        except ArgumentError as exc:
            await self.audit_refusal(update, exc.why)
            await self.say(update, str(exc))
        except Exception as exc:
            log.exception("editor bot: %s failed", fn.__name__)
            await self.say(update, t(self.language, "error", action=fn.__name__.strip("_"),
                                     reason=type(exc).__name__))

    return wrapper


class EditorDesk:
    """All handlers, sharing the services, signer, auth and language."""

    def __init__(
        self,
        services: Any,
        *,
        signer: CallbackSigner,
        auth: EditorAuth,
        refusals: RefusalGate,
        language: str,
        enqueue: Callable[[str], None],
        notifier: Notifier | None = None,
    ) -> None:
        self.svc = services
        self.signer = signer
        self.auth = auth
        self.refusals = refusals
        self.language = language
        self.enqueue = enqueue
        self.notifier = notifier

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def who(update: Update) -> str:
        user = update.effective_user
        return f"tg:{user.id}" if user else "tg:unknown"

    @staticmethod
    def requester(update: Update) -> str:
        """Who asked, for the audit of a refusal: the user, or the chat a message speaks for."""
        message = update.effective_message
        sender_chat = message.sender_chat if message is not None else None
        if sender_chat is not None and update.callback_query is None:
            return f"chat:{sender_chat.id}"
        return EditorDesk.who(update)

    async def audit_refusal(self, update: Update, why: str) -> int:
        """One audit entry per refused attempt (bounded per requester: ``State.audit_refusal``);
        returns how many refusals this requester's current flood has had (0: not audited).

        ``target`` is the command or ``button``; ``what`` the first 40 characters of the text
        or button data, control characters escaped.  A Redis failure must not turn a refusal
        into an error reply: it is logged instead.
        """
        query = update.callback_query
        message = update.effective_message
        text = (query.data if query else (message.text or message.caption
                                          if message is not None else "")) or ""
        target = "button" if query else (text.split(maxsplit=1)[0][:40] if text.strip()
                                         else "message")
        chat = update.effective_chat
        result = {"why": why, "chat": chat.id if chat is not None else None,
                  "what": escape_controls(text[:40])}
        try:
            _, count = await asyncio.to_thread(self.svc.state.audit_refusal,
                                               self.requester(update), escape_controls(target),
                                               result)
        except Exception as exc:
            log.warning("editor bot: could not audit a refusal (%s)", type(exc).__name__)
            return 0
        return count

    async def refuse(self, update: Update) -> None:
        """Turn a non-editor away: audited; one polite answer per window (see ``RefusalGate``);
        silence for a chat speaking as itself (there is no one to answer) and for a requester
        past ``REFUSAL_AUDIT_LIMIT`` refusals in a row (a flood: each answer, even a press's
        empty one, would be one more API call the flood makes the bot spend)."""
        user = update.effective_user
        message = update.effective_message
        on_behalf = message is not None and message.sender_chat is not None
        user_id = user.id if user is not None and not on_behalf else None
        query = update.callback_query
        what = query.data if query else (message.text if message else "")
        count = await self.audit_refusal(update, "not an editor")
        if count > REFUSAL_AUDIT_LIMIT:
            log.debug("editor bot: refusal %d in a row of %s, not answered", count,
                      self.requester(update))
            return
        answer = await asyncio.to_thread(self.refusals.should_answer, user_id, what or "")
        if query is not None:
            text = t(self.language, "refused_short") if answer else None
            await _quiet(query.answer(text))
            return
        if answer and update.effective_chat is not None:
            await update.effective_chat.send_message(
                t(self.language, "refused", user_id=int(user_id or 0)), parse_mode=ParseMode.HTML)

    async def say(self, update: Update, text: str,
                  markup: InlineKeyboardMarkup | None = None) -> Message | None:
        chat = update.effective_chat
        if chat is None:
            return None
        return await chat.send_message(
            text, parse_mode=ParseMode.HTML, reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True))

    async def say_pages(self, update: Update, view: str, pages: Sequence[str], page: int = 0,
                        extra: InlineKeyboardMarkup | None = None) -> None:
        await self.say(update, pages[page], self.nav(view, page, len(pages)))

    def nav(self, view: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
        if pages <= 1:
            return None
        row = []
        if page > 0:
            row.append(InlineKeyboardButton("◀", callback_data=self.signer.issue(
                "page", view, ttl=PAGE_TTL, single_use=False, p=page - 1)))
        row.append(InlineKeyboardButton(t(self.language, "page", page=page + 1, pages=pages),
                                        callback_data=self.signer.issue(
                                            "page", view, ttl=PAGE_TTL, single_use=False,
                                            p=page)))
        if page < pages - 1:
            row.append(InlineKeyboardButton("▶", callback_data=self.signer.issue(
                "page", view, ttl=PAGE_TTL, single_use=False, p=page + 1)))
        return InlineKeyboardMarkup([row])

    def button(self, label_key: str, action: str, target: str, **options: Any
               ) -> InlineKeyboardButton:
        return InlineKeyboardButton(t(self.language, label_key),
                                    callback_data=self.signer.issue(action, target, **options))

    def argument(self, update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str,
                 *, required: bool = True) -> list[str]:
        """The command's words; refuses oversized or binary arguments before any lookup."""
        message = update.effective_message
        raw = (message.text or "") if message else ""
        _, _, rest = raw.partition(" ")
        if len(rest) > MAX_ARGUMENT:
            raise ArgumentError(t(self.language, "too_long", length=len(rest),
                                  limit=MAX_ARGUMENT), "argument too long")
        if "\x00" in rest:
            raise ArgumentError(t(self.language, "cannot", action="read",
                                  reason="argument is not text"), "argument is not text")
        words = list(context.args or [])
        for word in words:  # a file name component over 255 bytes makes stat() raise OSError
            if len(word.encode()) > 255 and not word.startswith(("http://", "https://")):
                raise ArgumentError(self.cannot(usage.split()[0].lstrip("/"),
                                                "no post has a name that long"),
                                    "argument too long")
        if required and not words:
            raise ArgumentError(t(self.language, "usage", usage=render.esc(usage)),
                                "no argument")
        return words

    def cannot(self, action: str, reason: str) -> str:
        return t(self.language, "cannot", action=action, reason=render.esc(reason, 300))

    # ------------------------------------------------------------------ commands
    @editors_only
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.say(update, t(self.language, "help"))

    @editors_only
    async def preview(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ref = " ".join(self.argument(update, context, "/preview <slug|URL|file>"))

        def build() -> list[OutMessage]:
            post = find_post(self.svc.tools.site, quick_ref(self.svc, ref))
            tg, x = prepare_both(self.svc.tools, post)
            return preview_messages(self.language, post, tg, x,
                                    getattr(self.svc.settings, "x_prices", None))

        try:
            messages = await asyncio.to_thread(build)
        except PostLookupError as exc:
            await self.audit_refusal(update, "no such post")
            await self.say(update, self.cannot("preview", str(exc)))
            return
        chat = update.effective_chat
        assert chat is not None
        for message in messages:
            await send_out(chat.get_bot(), chat.id, message)

    @editors_only
    async def push(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        words = self.argument(update, context, "/push <slug|URL> [telegram|x|all] [force]")
        platforms, force, ref = parse_push(words)
        if not ref:
            raise ArgumentError(t(self.language, "usage",
                                  usage=render.esc("/push <slug|URL> [telegram|x|all] [force]")),
                                "no argument")
        if force:
            await self._ask_force(update, ref, platforms)
            return
        await self._push(update, ref, platforms, force=False, confirm_paused=False)

    @editors_only
    async def edit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/edit <post>``: push the post's current text to its sent Telegram message(s)."""
        ref = " ".join(self.argument(update, context, "/edit <slug|URL>"))

        def run() -> tuple[str, list[str]]:
            post = find_post(self.svc.tools.site, quick_ref(self.svc, ref))
            return post.title, corrections.push_edit(self.svc, post, self.who(update),
                                                     self.enqueue)

        try:
            title, lines = await asyncio.to_thread(run)
        except PostLookupError as exc:
            await self.audit_refusal(update, "no such post")
            await self.say(update, self.cannot("edit", str(exc)))
            return
        await self.say(update, t(self.language, "edit_head", title=render.esc(title, 200))
                       + "\n" + "\n".join(f"• {render.esc(line, 300)}" for line in lines))

    async def _ask_force(self, update: Update, ref: str, platforms: tuple[str, ...]) -> None:
        def look() -> tuple[str, str, list[Any]]:
            post = find_post(self.svc.tools.site, quick_ref(self.svc, ref))
            return post.url, post.title, self.svc.state.records(post_url=post.url)

        try:
            url, title, records = await asyncio.to_thread(look)
        except PostLookupError as exc:
            await self.audit_refusal(update, "no such post")
            await self.say(update, self.cannot("push", str(exc)))
            return
        lines = [f"• {render.esc(r.platform)} {render.esc(r.state)} {render.link(r.receipt_url)}"
                 for r in records if r.platform in platforms]
        text = t(self.language, "force_ask", title=render.esc(title, 200),
                 lines="\n".join(lines) or t(self.language, "never_sent"))
        markup = InlineKeyboardMarkup([[self.button("force_button", "force", url,
                                                    pl=list(platforms))]])
        await self.say(update, text, markup)

    async def _push(self, update: Update, ref: str, platforms: Sequence[str], *, force: bool,
                    confirm_paused: bool) -> None:
        report = await asyncio.to_thread(
            lambda: publish.push(self.svc, quick_ref(self.svc, ref), who=self.who(update),
                                 enqueue=self.enqueue, platforms=tuple(platforms), force=force,
                                 confirm_paused=confirm_paused))
        if not report.ok and report.needs_confirmation:
            markup = InlineKeyboardMarkup([[self.button(
                "paused_button", "pushp", report.post or ref, pl=list(platforms), f=force)]])
            await self.say(update, t(self.language, "paused_ask",
                                     title=render.esc(report.title or ref, 200)), markup)
            return
        await self._report(update, "push", "push_head", report)

    async def _report(self, update: Update, action: str, head: str, report: Any) -> None:
        if not report.ok and not report.outcomes:
            await self.say(update, self.cannot(action, report.error or "failed"))
            return
        pages = render.paginate(render.delivery_lines(self.language, head, report))
        for page in pages:
            await self.say(update, page)

    @editors_only
    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        pages = await asyncio.to_thread(self.view_pages, "status")
        await self.say_pages(update, "status", pages)

    @editors_only
    async def failed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        pages = await asyncio.to_thread(self.view_pages, "failed")
        await self.say_pages(update, "failed", pages)

    @editors_only
    async def audit(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        pages = await asyncio.to_thread(self.view_pages, "audit")
        await self.say_pages(update, "audit", pages)

    def view_pages(self, view: str) -> list[str]:
        """The pages of a list view, recomputed on every request (pages show current facts)."""
        state = self.svc.state
        if view == "status":
            report = status.status(self.svc)
            troubles = [*state.records(state="failed"), *state.records(state="in_doubt")]
            header, lines = render.status_lines(self.language, report, troubles[:LIST_LIMIT])
        elif view == "failed":
            records = state.records(state="failed")[:LIST_LIMIT]
            header, lines = render.failed_lines(self.language, records)
        elif view == "audit":
            header, lines = render.audit_lines(self.language, audit_entries(self.svc, 100))
        else:
            raise ValueError(view)
        return render.paginate(lines, header)

    @editors_only
    async def retry(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ref = " ".join(self.argument(update, context, "/retry <slug|URL>"))
        report = await asyncio.to_thread(
            lambda: decide.retry(self.svc, quick_ref(self.svc, ref), who=self.who(update),
                                 enqueue=self.enqueue))
        await self._report(update, "retry", "retry_head", report)

    @editors_only
    async def skip(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ref = " ".join(self.argument(update, context, "/skip <slug|URL>"))
        report = await asyncio.to_thread(
            lambda: decide.skip(self.svc, quick_ref(self.svc, ref), who=self.who(update)))
        await self._report(update, "skip", "skip_head", report)

    @editors_only
    async def pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        reason = " ".join(self.argument(update, context, "/pause [reason]", required=False))
        report = await asyncio.to_thread(pausing.pause, self.svc, self.who(update), reason)
        key = "paused" if report.changed else "paused_already"
        await self.say(update, t(self.language, key, who=render.esc(report.who)))

    @editors_only
    async def resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.argument(update, context, "/resume", required=False)
        report = await asyncio.to_thread(pausing.resume, self.svc, self.who(update),
                                         self.enqueue)
        key = "resumed" if report.changed else "resumed_already"
        await self.say(update, t(self.language, key, count=len(report.requeued)))

    @editors_only
    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.say(update, t(self.language, "help"))

    # ------------------------------------------------------------------ buttons
    @editors_only
    async def button_pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        try:
            payload = await asyncio.to_thread(self._claim, query.data)
        except CallbackError as exc:
            key = "cb_used" if exc.code == "used" else "cb_invalid"
            log.warning("editor bot: %s callback from user %s", exc.code, self.who(update))
            await self.audit_refusal(update, f"{exc.code} button")
            await _quiet(query.answer(t(self.language, key)))
            return
        if payload.action == "page":
            await self._page(update, payload)
            return
        await _quiet(query.answer(t(self.language, "cb_done")))
        await _quiet(self._close_buttons(update))
        handler = self._button_actions.get(payload.action)
        if handler is None:
            await self.say(update, self.cannot(payload.action, "unknown button"))
            return
        await handler(self, update, payload)

    async def _close_buttons(self, update: Update) -> None:
        """Replace the pressed message's buttons by who handled it, so nobody presses twice."""
        query = update.callback_query
        message = query.message if query else None
        if query is None or not isinstance(message, Message):
            return
        note = f"\n\n✔ {render.esc(self.who(update))}"
        if message.text is not None:
            await query.edit_message_text(
                message.text_html + note, parse_mode=ParseMode.HTML, reply_markup=None,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        elif message.caption is not None:
            await query.edit_message_caption(message.caption_html + note,
                                             parse_mode=ParseMode.HTML, reply_markup=None)

    def _claim(self, data: str | None) -> Payload:
        payload = self.signer.peek(data)
        return self.signer.consume(data) if payload.single_use else payload

    async def _page(self, update: Update, payload: Payload) -> None:
        query = update.callback_query
        assert query is not None
        await _quiet(query.answer())
        pages = await asyncio.to_thread(self.view_pages, payload.target)
        page = max(0, min(int(payload.options.get("p", 0)), len(pages) - 1))
        try:
            await query.edit_message_text(
                pages[page], parse_mode=ParseMode.HTML,
                reply_markup=self.nav(payload.target, page, len(pages)),
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:  # "message is not modified": same page pressed again
            if "not modified" not in str(exc).lower():
                raise

    async def _b_force(self, update: Update, payload: Payload) -> None:
        await self._push(update, payload.target, _platforms(payload), force=True,
                         confirm_paused=False)

    async def _b_push_paused(self, update: Update, payload: Payload) -> None:
        await self._push(update, payload.target, _platforms(payload),
                         force=bool(payload.options.get("f")), confirm_paused=True)

    async def _b_approve(self, update: Update, payload: Payload) -> None:
        who = self.who(update)

        def check() -> tuple[bool, Any]:
            post = find_post(self.svc.tools.site, quick_ref(self.svc, payload.target))
            tg, x = prepare_both(self.svc.tools, post)
            if fingerprint([tg, x]) != payload.options.get("fp"):
                return False, approval_notice_for(post, tg, x)
            # what the editor saw, per platform: the sender sends only that
            return True, {"telegram": fingerprint([tg]), "x": fingerprint([x])}

        try:
            same, value = await asyncio.to_thread(check)
        except PostLookupError as exc:
            self.svc.state.audit(who, "approve", payload.target, {"error": str(exc)})
            await self.say(update, self.cannot("approve", str(exc)))
            return
        if not same:
            await asyncio.to_thread(self.svc.state.audit, who, "approve", payload.target,
                                    {"refused": "changed since preview"})
            if self.notifier is not None:
                await asyncio.to_thread(self.notifier.notify, value)
            await self.say(update, t(self.language, "approve_changed"))
            return
        report = await asyncio.to_thread(
            publish.push, self.svc, payload.target, who=who, enqueue=self.enqueue,
            confirm_paused=True, approved=value)
        await asyncio.to_thread(self.svc.state.audit, who, "approve", payload.target,
                                {o.platform: o.result for o in report.outcomes}
                                if report.ok else {"error": report.error})
        await self.say(update, t(self.language, "approved", who=render.esc(who)))
        await self._report(update, "approve", "push_head", report)

    async def _b_skip(self, update: Update, payload: Payload) -> None:
        report = await asyncio.to_thread(decide.skip, self.svc, payload.target,
                                         who=self.who(update))
        await self._report(update, "skip", "skip_head", report)

    async def _b_retry(self, update: Update, payload: Payload) -> None:
        key = await asyncio.to_thread(self._record_of, payload, ("failed", "retry_wait"))
        if key is None:
            await self.say(update, self.cannot("retry", OLD_BUTTON))
            return
        report = await asyncio.to_thread(decide.retry, self.svc, payload.target,
                                         who=self.who(update), enqueue=self.enqueue,
                                         record_key=key or None)
        await self._report(update, "retry", "retry_head", report)

    async def _b_resolve(self, update: Update, payload: Payload) -> None:
        action = "resend" if payload.action == "resend" else "mark_sent"
        key = await asyncio.to_thread(self._record_of, payload, ("in_doubt",))
        if key is None:
            await self.say(update, self.cannot(action, OLD_BUTTON))
            return
        report = await asyncio.to_thread(decide.resolve, self.svc, payload.target,
                                         action=action, who=self.who(update),
                                         enqueue=self.enqueue, record_key=key or None)
        await self._report(update, action, "resolve_head", report)

    def _record_of(self, payload: Payload, states: Sequence[str]) -> str | None:
        """The record a notice's button acts on: the one it was shown for (``k``).

        Buttons sent before they carried ``k`` name only the post; they still act when the post
        has exactly one record they could mean, never on several (that was how [It went out] on
        the Telegram notice also marked the X post as sent).
        """
        key = payload.options.get("k")
        if isinstance(key, str) and key:
            return key
        candidates = [r.key for r in self.svc.state.records(post_url=payload.target)
                      if r.state in states]
        if not candidates:
            return ""  # nothing it could act on: the action says so
        return candidates[0] if len(candidates) == 1 else None

    async def _b_retract(self, update: Update, payload: Payload) -> None:
        """[Delete] on a retraction notice: delete every sent message of the post."""
        report = await asyncio.to_thread(corrections.retract, self.svc, payload.target,
                                         self.who(update))
        lines = "\n".join(render.esc(line, 300) for line in report.lines)
        await self.say(update, t(self.language, "retract_head") + "\n" + (
            lines or t(self.language, "none")))

    async def _b_keep(self, update: Update, payload: Payload) -> None:
        who = self.who(update)
        await asyncio.to_thread(self.svc.state.audit, who, "retraction_kept", payload.target,
                                {"post": payload.target})
        await self.say(update, t(self.language, "kept_by", who=render.esc(who)))

    _button_actions: ClassVar[dict[str, Callable[[EditorDesk, Update, Payload],
                                                 Awaitable[None]]]] = {
        "force": _b_force,
        "pushp": _b_push_paused,
        "approve": _b_approve,
        "askip": _b_skip,
        "retry": _b_retry,
        "resend": _b_resolve,
        "marksent": _b_resolve,
        "retract": _b_retract,
        "keeppost": _b_keep,
    }


# ---------------------------------------------------------------------- helpers
def parse_push(words: Sequence[str]) -> tuple[tuple[str, ...], bool, str]:
    """(platforms, force, ref) from `/push <ref> [telegram|x|all] [force]` (options at the end)."""
    rest = list(words)
    platforms: list[str] = []
    force = False
    while len(rest) > 1 and rest[-1].lower() in ("telegram", "x", "all", "force"):
        word = rest.pop().lower()
        if word == "force":
            force = True
        elif word == "all":
            platforms.extend(PLATFORMS)
        else:
            platforms.append(word)
    chosen = tuple(p for p in PLATFORMS if p in platforms) or PLATFORMS
    return chosen, force, " ".join(rest)


def quick_ref(svc: Any, ref: str) -> str:
    """The post file's path for ``ref`` when one file obviously matches, else ``ref`` unchanged.

    Why: ``find_post`` resolves a slug or URL by parsing every post of the site, which costs
    seconds on a blog with thousands of posts; an editor typing ``/push kospi-rebound`` means the
    one file named ``<date>-kospi-rebound.md``, and a URL the bot has seen is in the seen index.
    Anything less certain goes the full way (ambiguity is then reported as usual).
    """
    ref = ref.strip()
    site = svc.tools.site
    if ref.startswith(("http://", "https://")):
        by_url = getattr(svc, "find_post_by_url", None)
        post = by_url(ref) if callable(by_url) else None
        return post.rel_path if post is not None else ref
    if not ref or "/" in ref or "\\" in ref or ref.startswith("."):
        return ref
    stem = ref.rsplit(".", 1)[0] if ref.endswith((".md", ".markdown", ".html")) else ref
    found = [path for path in iter_post_files(site)
             if path.name == ref or path.stem == stem or path.stem.endswith("-" + ref)]
    if len(found) != 1:
        return ref
    try:
        post = read_post(site, found[0])
    except PostFileError:
        return ref
    if post.slug == ref or found[0].name == ref or found[0].stem == stem:
        return post.rel_path
    return ref


def _platforms(payload: Payload) -> tuple[str, ...]:
    wanted = payload.options.get("pl") or list(PLATFORMS)
    return tuple(p for p in PLATFORMS if p in wanted)


async def _quiet(call: Awaitable[Any]) -> None:
    """Answer/edit calls whose failure (an old query, an unchanged markup) changes nothing."""
    try:
        await call
    except TelegramError as exc:
        log.debug("editor bot: ignored %s", exc)


async def send_out(bot: Any, chat_id: int | str, message: OutMessage,
                   markup: InlineKeyboardMarkup | None = None) -> Message:
    """Send an OutMessage exactly as the channel publisher would."""
    if message.photo is not None:
        return await bot.send_photo(chat_id=chat_id, photo=message.photo, caption=message.text,
                                    parse_mode=ParseMode.HTML, filename=message.filename,
                                    reply_markup=markup)
    preview = (LinkPreviewOptions(url=message.link_preview_url, prefer_large_media=True)
               if message.link_preview_url else LinkPreviewOptions(is_disabled=True))
    return await bot.send_message(chat_id=chat_id, text=message.text, parse_mode=ParseMode.HTML,
                                  link_preview_options=preview, reply_markup=markup)
