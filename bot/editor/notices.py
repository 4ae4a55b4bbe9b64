"""How a notice event reads in the editors' chat: its message(s), its buttons, or a digest.

Why the desk renders and not the producer: the message is built when it is sent, from the event
and the site as they are then.  An approval preview is the post's preview at send time; if the
post changed since the event was queued (its fingerprint moved), that event is superseded (the
edit queued its own), so an editor never approves something other than what they saw.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.actions.lookup import PostLookupError, find_post
from bot.delivery.notify import Notice

from .callbacks import CallbackSigner
from .i18n import t
from .preview import OutMessage, fingerprint, prepare_both, preview_messages
from .render import PAGE_BUDGET, esc, link

__all__ = ["NoticeRenderer", "Part", "RenderError", "SupersededError"]

# How long a detail (a bad file's reason) may be in a digest, longest first: the longest at which
# every pending notice fits one message is used.
DETAIL_STEPS = (300, 150, 80, 40)
_TAG = re.compile(r"<[^>]*>")


class RenderError(Exception):
    """This notice cannot be shown any more (its post is gone): give it up."""


class SupersededError(RenderError):
    """An approval event for content that has changed since: a newer event stands for it."""


@dataclass(frozen=True, slots=True)
class Part:
    """One Telegram message of a notice; ``count`` is how many parts the notice has."""

    message: OutMessage
    markup: dict[str, Any] | None
    count: int


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                for row in rows]}


class NoticeRenderer:
    """Builds notice messages in the bot language; buttons are signed as the bot's own."""

    def __init__(self, language: str, signer: CallbackSigner, services: Any = None, *,
                 budget: int = PAGE_BUDGET) -> None:
        self.language = language
        self.signer = signer
        self.services = services
        self.budget = budget

    # ------------------------------------------------------------------ pieces
    def _where(self, notice: Notice) -> str:
        return f"{esc(notice.platform)} {esc(notice.destination, 80)}".strip()

    def _title(self, notice: Notice) -> str:
        label = notice.title or notice.post_url
        return link(notice.post_url, label) if notice.post_url else esc(label, 200)

    def _button(self, label_key: str, action: str, target: str, **options: Any
                ) -> tuple[str, str]:
        return (t(self.language, label_key), self.signer.issue(action, target, **options))

    # ------------------------------------------------------------------ one notice
    def render(self, notice: Notice, part: int = 0) -> Part:
        """Message number ``part`` of ``notice`` (approvals have two: the post, then details)."""
        lang = self.language
        title = self._title(notice)
        if notice.kind == "approval":
            return self._approval(notice, part)
        markup = None
        if notice.kind == "published":
            links = "\n".join(link(u, u) for u in notice.links) or esc(notice.text)
            text = t(lang, "n_published", title=title, links=links)
        elif notice.kind == "failed":
            text = t(lang, "n_failed", title=title, where=self._where(notice),
                     reason=esc(notice.reason, 600))
            # k: the record this notice is about; the button retries that one only.
            markup = keyboard([[self._button("b_retry", "retry", notice.post_url,
                                             k=notice.record_key)]])
        elif notice.kind == "in_doubt":
            text = t(lang, "n_in_doubt", title=title, where=self._where(notice))
            group = self.signer.new_group()  # one decision: either button uses both
            markup = keyboard([[
                self._button("b_send_again", "resend", notice.post_url, group=group,
                             k=notice.record_key),
                self._button("b_went_out", "marksent", notice.post_url, group=group,
                             k=notice.record_key),
            ]])
        elif notice.kind == "retraction":
            text = t(lang, "n_retraction", title=title, reason=esc(notice.reason, 100),
                     details=esc(notice.text, 1500))
            group = self.signer.new_group()  # one decision: either button uses both
            markup = keyboard([[
                self._button("b_delete", "retract", notice.post_url, group=group),
                self._button("b_keep", "keeppost", notice.post_url, group=group),
            ]])
        elif notice.kind == "health":
            # a destination became unhealthy (reason given) or healthy again (no reason)
            if notice.reason:
                text = t(lang, "n_unhealthy", where=self._where(notice),
                         reason=esc(notice.reason, 600))
            else:
                text = t(lang, "n_healthy", where=self._where(notice))
        elif notice.kind == "not_live":
            # WAIT_FOR_LIVE: the page never came up (bot/delivery/live.py)
            text = t(lang, "n_not_live", title=title, url=esc(notice.post_url, 500),
                     reason=esc(notice.reason, 600))
        elif notice.kind == "bad_file":
            text = t(lang, "n_bad_file", file=esc(notice.file, 300),
                     reason=esc(notice.reason, 600))
        else:
            body = esc(notice.text, 3000)
            if notice.post_url:
                body = f"{title}\n{body}"
            text = t(lang, "n_generic", text=body)
        return Part(OutMessage(text=text), markup, 1)

    def _approval(self, notice: Notice, part: int) -> Part:
        svc = self.services
        if svc is None:
            raise RenderError("no site to preview from")
        post = None
        by_url = getattr(svc, "find_post_by_url", None)
        if callable(by_url):
            post = by_url(notice.post_url)
        if post is None:
            try:
                post = find_post(svc.tools.site, notice.post_url)
            except PostLookupError as exc:
                raise RenderError(str(exc)) from None
        tg, x = prepare_both(svc.tools, post)
        current = fingerprint([tg, x])
        if notice.fingerprint and current != notice.fingerprint:
            raise SupersededError("the post changed after this approval was asked")
        messages = preview_messages(self.language, post, tg, x,
                                    getattr(getattr(svc, "settings", None), "x_prices", None))
        part = max(0, min(part, len(messages) - 1))
        if part < len(messages) - 1:
            return Part(messages[part], None, len(messages))
        last = messages[-1]
        head = t(self.language, "n_approval", title=self._title(notice), details="")
        group = self.signer.new_group()  # publish or skip: either button uses both
        markup = keyboard([[
            self._button("b_publish", "approve", notice.post_url, group=group, fp=current),
            self._button("b_skip", "askip", notice.post_url, group=group),
        ]])
        return Part(OutMessage(head + "\n" + last.text, photo=last.photo,
                               filename=last.filename), markup, len(messages))

    # ------------------------------------------------------------------ digests
    def _line(self, notice: Notice, detail: int) -> str:
        if notice.kind == "bad_file":
            reason = f": {esc(notice.reason, detail)}" if detail else ""
            return f"• {esc(notice.file, 200)}{reason}"
        if notice.kind == "published":
            links = " ".join(link(u, notice.platform or "link") for u in notice.links[:3])
            return f"• {self._title(notice)} {esc(notice.platform)} {links or esc(notice.text)}"
        body = esc(notice.text, max(detail, 40))
        return f"• {self._title(notice)} {body}" if notice.post_url else f"• {body}"

    def digest(self, notices: Sequence[Notice]) -> tuple[OutMessage, int]:
        """One message listing the first notices that fit (at least one); (message, how many).

        Details (a bad file's reason) are shortened until every pending notice fits one
        message, down to ``DETAIL_STEPS[-1]`` characters (``newsbot check`` has them in full);
        beyond that the caller sends the rest in further digests.  Every message stays within
        Telegram's 4096 characters (the HTML budget is a safe upper bound of the parsed text).
        """
        if not notices:
            raise ValueError("an empty digest")
        kind = notices[0].kind
        head_key = {"bad_file": "n_bad_files", "published": "n_published_many"}.get(
            kind, "n_generic_many")
        footer = t(self.language, "n_bad_files_foot") if kind == "bad_file" else ""
        budget = self.budget - 60 - len(footer)  # the header, whose count comes last
        for detail in DETAIL_STEPS:
            lines = self._fit([self._line(n, detail) for n in notices], budget)
            if len(lines) == len(notices):
                break
        head = t(self.language, head_key, count=len(lines))
        return OutMessage("\n".join([head, *lines, *([footer] if footer else [])])), len(lines)

    def _fit(self, lines: list[str], budget: int) -> list[str]:
        out: list[str] = []
        size = 0
        for line in lines:
            if len(line) > budget // 2:  # escaping grew it: shown as plain text, shorter
                line = esc(html.unescape(_TAG.sub("", line)), budget // 8)
            if out and size + len(line) + 1 > budget:
                break
            out.append(line)
            size += len(line) + 1
        return out
