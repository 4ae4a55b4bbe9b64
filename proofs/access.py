"""Proof suite **access**: only editors act through the editors' bot, and every refusal is audited.

The stack: the fake Telegram and X, a real Redis, and ``newsbot run`` (worker, beat, watcher and
the editors' bot in one real process, ``APPROVAL_REQUIRED=true``, ``LOG_LEVEL=DEBUG``).  The
suite makes real records and real notices with buttons first, as an editor would: a post whose
channel send is dropped after Telegram took it (in doubt: [Send again] [It went out]), one whose
send is refused for good (failed: [Retry]), one skipped and one published from their approval
previews, and one still waiting for approval ([Publish now] [Skip]).  Then it attacks, each
attempt one Telegram update through the fake's getUpdates:

* **non-editors**: every command and every real button, from strangers in a private chat, in the
  editors' chat, in another group, forwarded, from an anonymous admin and as a channel post;
* **forged** button data, pressed by the editor (so the signature alone must stop it) and by
  strangers: a wrong MAC, characters flipped (each one in --long), a handle with another
  button's valid MAC, a MAC made with a wrong key, truncations, 64+ bytes, text that was not
  UTF-8, old-style data;
* **expired** buttons: every action kind, issued with the bot's own key and a short validity
  (the product's window is 7 days for action buttons, ``bot.editor.callbacks.DEFAULT_TTL``);
* **replayed** buttons: second presses, a sibling of a pressed button ([Publish now] of a
  skipped post), a [Retry] whose record was retried and sent since by ``/retry``;
* **oversized / hostile arguments**: 4096 and 10,000 characters, control characters, RTL
  overrides, a newline forging a log line, NUL, from the editor and from strangers;
* **a flood**: one stranger's commands and another's presses (300 each, 1,500 in --long)
  while the editor asks for ``/status``.

Judged per attempt, by the fakes and Redis only: nothing changed (records, pause flag, channel,
X), exactly one new audit entry by the requester (a ``refused`` entry, the running flood
tally that replaces the previous one, or the action's own entry when a stale button reached an
action that refused it), bounded in size, and the expected answer (one polite refusal per
stranger per 10 minutes, an empty answer to their next presses, silence from their sixth
refusal in a row on; silence for a chat speaking as itself; "Expired or invalid button" /
"This button was already used" or the action's own "nothing to do" for the editor).
Afterwards the editor's own actions still work, no bot message to a stranger says anything but
the refusal, no log holds a raw control character from the attacks or a forged line, and no log
or output holds a credential (``stack.leaks()``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.editor.callbacks import DEFAULT_TTL, CallbackSigner, derive_key
from bot.state import State
from bot.state.store import REFUSAL_AUDIT_LIMIT
from fakes.telegram_models import StoredMessage

from .harness import CHANNEL, EDITOR, EDITOR_CHAT, SITE_URL, Mode, Stack, now_utc, wait_until
from .harness import workdir as make_workdir
from .report import Result

SUITE = "access"
SCALE = 0.01
REFUSED_TEXT = "editors only"
INVALID = "Expired or invalid button"
USED = "This button was already used"
SILENCE = "(no answer)"
FORGED_LINE = "INFO bot.delivery event=state_change new=sent post=x"
ANONYMOUS_ADMIN = 1087968824  # GroupAnonymousBot
OTHER_GROUP = -1009990001
ATTACK_CHANNEL = -1009990002
RAW_CONTROLS = {"ESC": b"\x1b", "CR": b"\r", "NUL": b"\x00", "U+2028": "\u2028".encode(),
                "U+202E": "\u202e".encode(), "BEL": b"\x07"}
RESPONSIVE = 10.0  # seconds an editor may wait for /status behind a flood
CLASSES = ("non-editor", "forged", "expired", "replayed", "argument", "flood")


@dataclass
class Tally:
    attempts: int = 0
    refused: int = 0
    audited: int = 0
    acted: int = 0
    answered: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 8:
            self.problems.append(text)


@dataclass(frozen=True)
class Buttons:
    """The callback data of one notice's buttons, by label (kept: the fake edits in place)."""

    message: dict[str, Any]
    data: dict[str, str]


class _Suite:
    def __init__(self, work: Path, mode: Mode, result: Result) -> None:
        self.long = mode.long
        self.r = result
        self.rng = random.Random(mode.seed if mode.seed is not None else 7)
        self.stack = Stack(work, scale=SCALE, env={"APPROVAL_REQUIRED": "true",
                                                   "MAX_AGE_HOURS": "48"})
        self.stack.tg.add_chat(OTHER_GROUP, None, type="supergroup", title="Elsewhere")
        self.stack.tg.add_chat(ATTACK_CHANNEL, "attackchan", title="Attack channel")
        self.state: State = self.stack.state()
        self.tallies: dict[str, Tally] = {c: Tally() for c in CLASSES}
        self.refused_users: set[int] = set()
        self.counts: Counter[str] = Counter()  # refusals per requester (past 5: silence)
        self.stranger_chats: set[int] = {OTHER_GROUP}
        self.next_stranger = 700_000
        self.posts: dict[str, str] = {}  # slug -> URL
        self.notices: dict[str, Buttons] = {}
        self.legit_ok: list[tuple[str, bool]] = []
        self.attack_texts: list[str] = []

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.stack.close()

    def stranger(self) -> int:
        self.next_stranger += 1
        return self.next_stranger

    def snapshot(self) -> tuple[Any, ...]:
        records = tuple(sorted((r.key, r.state, r.attempts, r.receipt_id)
                               for r in self.state.records()))
        return (records, self.state.is_paused(), len(self.stack.tg.channel_posts(CHANNEL)),
                len(self.stack.x.posts))

    def last_audit_id(self) -> str:
        rows = self.state.client.xrevrange(self.state.keys.audit, count=1)
        return str(rows[0][0]) if rows else "0-0"

    def audit_since(self, last: str) -> list[dict[str, str]]:
        rows = self.state.client.xrange(self.state.keys.audit, min=f"({last}", max="+")
        return [{"id": str(i), **d} for i, d in rows]

    def editor_replies(self, chat: int) -> list[StoredMessage]:
        return self.stack.tg.channel_posts(chat)

    def push(self, update: dict[str, Any]) -> None:
        self.stack.tg.push_update(update)

    def message_update(self, user: int, chat: int | None, text: str, **extra: Any
                       ) -> dict[str, Any]:
        update = self.stack.tg.make_message_update(user, chat, text)
        update["message"].update(extra)
        return update

    def callback_update(self, user: int, data: str, message: dict[str, Any] | None
                        ) -> tuple[dict[str, Any], str]:
        update = self.stack.tg.make_callback_update(user, data, message)
        return update, str(update["callback_query"]["id"])

    # ------------------------------------------------------------------ editors' hands
    def say(self, text: str, replies: int = 1, timeout: float = 30.0) -> list[StoredMessage]:
        before = len(self.editor_replies(EDITOR_CHAT))
        self.push(self.message_update(EDITOR, EDITOR_CHAT, text))
        got = wait_until(lambda: len(self.editor_replies(EDITOR_CHAT)) >= before + replies,
                         timeout, 0.05)
        if not got:
            raise RuntimeError(f"no reply to the editor's {text[:40]!r}")
        return self.editor_replies(EDITOR_CHAT)[before:]

    def press(self, buttons: Buttons, label: str, user: int = EDITOR) -> dict[str, Any]:
        update, qid = self.callback_update(user, buttons.data[label], buttons.message)
        self.push(update)
        answer = wait_until(lambda: self.stack.tg.callback_answers.get(qid), 30, 0.05)
        if not answer:
            raise RuntimeError(f"no answer to the editor's press of {label}")
        return dict(answer)

    def record(self, slug: str, platform: str = "telegram") -> Any:
        for rec in self.state.records(post_url=self.posts[slug]):
            if rec.platform == platform:
                return rec
        return None

    def wait_state(self, slug: str, states: tuple[str, ...], timeout: float = 60.0) -> bool:
        def done() -> bool:
            rec = self.record(slug)
            return rec is not None and rec.state in states
        return bool(wait_until(done, timeout, 0.1))

    def find_notice(self, needle: str, label: str, timeout: float = 60.0) -> Buttons:
        """The newest editors'-chat message mentioning ``needle`` that has button ``label``."""
        def look() -> Buttons | None:
            for msg in reversed(self.editor_replies(EDITOR_CHAT)):
                text = msg.text or msg.caption or ""
                rows = (msg.reply_markup or {}).get("inline_keyboard", [])
                data = {b["text"]: b["callback_data"] for row in rows for b in row
                        if "callback_data" in b}
                if needle in text and label in data:
                    return Buttons(dict(msg.message), data)
            return None
        found = wait_until(look, timeout, 0.2)
        if found is None:
            raise RuntimeError(f"no notice for {needle} with [{label}]")
        return found

    # ------------------------------------------------------------------ set-up
    def setup(self) -> None:
        stack = self.stack
        self.run = stack.start("run", "run", "--concurrency", "2")
        if not wait_until(lambda: stack.tg.waiting_polls > 0, 90, 0.2):
            raise RuntimeError("the editors' bot never polled")
        # the first scan's baseline of the empty site, before any post is written
        if not wait_until(lambda: list(self.state.client.scan_iter(
                f"{self.state.namespace}:site:*:baseline")), 60, 0.2):
            raise RuntimeError("no baseline recorded")
        when = now_utc() - timedelta(minutes=2)
        for slug in ("doubt", "fail", "skipme", "sent", "legit"):
            stack.write_post(f"access-{slug}", when, title=f"Access {slug} story")
            self.posts[slug] = (f"{SITE_URL}/{when:%Y/%m/%d}/access-{slug}.html")
        for slug in self.posts:
            self.notices[slug] = self.find_notice(f"Access {slug} story", "Publish now", 90)
        real = {r.post for r in self.state.records()}
        for slug in list(self.posts):  # the product's URL for each post
            match = [u for u in real if u.rstrip("/").endswith(f"access-{slug}.html")
                     or f"access-{slug}" in u]
            if match:
                self.posts[slug] = match[0]
        stack.tg.drop_next("sendPhoto", after_processing=True)
        self.legit("approve a post (its send is dropped: in doubt)",
                   lambda: self.press(self.notices["doubt"], "Publish now")["text"] == "Done"
                   and self.wait_state("doubt", ("in_doubt",)))
        self.notices["doubt-card"] = self.find_notice("Access doubt story", "It went out")
        # a refusal of this post (a refusal of the channel itself would hold the queue as
        # unhealthy instead: README "Connection health")
        stack.tg.fail_next("sendPhoto", status=400,
                           description="Bad Request: message caption is too long")
        self.legit("approve a post (its send is refused: failed)",
                   lambda: self.press(self.notices["fail"], "Publish now")["text"] == "Done"
                   and self.wait_state("fail", ("failed",)))
        self.notices["fail-card"] = self.find_notice("Access fail story", "Retry")
        self.legit("skip a post from its approval card",
                   lambda: self.press(self.notices["skipme"], "Skip")["text"] == "Done"
                   and self.wait_state("skipme", ("skipped",)))
        self.legit("approve a post (published)",
                   lambda: self.press(self.notices["sent"], "Publish now")["text"] == "Done"
                   and self.wait_state("sent", ("sent",)))
        self.settle()

    def settle(self, quiet: float = 1.5, timeout: float = 30.0) -> None:
        """Until records, channel and X have not changed for ``quiet`` seconds (sends, notices
        and their X halves of the editor's own actions are done)."""
        last, since = self.snapshot(), time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.snapshot()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def legit(self, what: str, act: Callable[[], bool]) -> None:
        try:
            ok = bool(act())
        except RuntimeError as exc:
            ok = False
            what = f"{what} ({exc})"
        self.legit_ok.append((what, ok))

    # ------------------------------------------------------------------ one attempt
    def attempt(self, klass: str, update: dict[str, Any], *, who: str,
                answer: str | None = "any", reply_chat: int | None = None,
                reply: str | None = None, qid: str | None = None) -> None:
        """Send one attack update and judge it: no change, one audit entry, the answer.

        ``answer``: for a press, the callback answer text expected ("any": some answer; None:
        an answer without text).  ``reply_chat``/``reply``: a message expected in that chat
        containing ``reply`` (None: no message there).
        """
        tally = self.tallies[klass]
        tally.attempts += 1
        before = self.snapshot()
        last = self.last_audit_id()
        chat_before = len(self.editor_replies(reply_chat)) if reply_chat is not None else 0
        self.push(update)

        def mine() -> list[dict[str, str]]:
            return [e for e in self.audit_since(last) if e.get("who") == who]

        entries = wait_until(mine, 10, 0.02) or []
        got_answer: dict[str, Any] | None = None
        if qid is not None and answer != SILENCE:
            got_answer = wait_until(lambda: self.stack.tg.callback_answers.get(qid), 10, 0.02)
        if reply_chat is not None and reply is not None:
            wait_until(lambda: len(self.editor_replies(reply_chat)) > chat_before, 10, 0.02)
        time.sleep(0.05)  # anything the attempt set off has started by now
        entries = mine()
        acted = self.snapshot() != before
        if acted:
            tally.acted += 1
            tally.problem(f"{klass}: {who} changed something with {_short(update)}")
        if len(entries) == 1 and _bounded(entries[0]):
            tally.audited += 1
        else:
            tally.problem(f"{klass}: {len(entries)} audit entries for {_short(update)}"
                          + (f" ({_entry_size(entries[0])} chars)" if entries else ""))
        answered = True
        if qid is not None and answer == SILENCE:
            time.sleep(0.3)
            answered = qid not in self.stack.tg.callback_answers
        elif qid is not None:
            text = (got_answer or {}).get("text")
            answered = got_answer is not None and (answer == "any" or text == answer)
        if reply_chat is not None:
            new = self.editor_replies(reply_chat)[chat_before:]
            if reply is None:
                answered = answered and not new
            else:
                answered = answered and len(new) == 1 and reply in (new[0].text or "")
        if answered:
            tally.answered += 1
        else:
            tally.problem(f"{klass}: unexpected answer to {_short(update)}")
        if not acted and answered:
            tally.refused += 1

    # ------------------------------------------------------------------ attack classes
    def stranger_message(self, klass: str, text: str, *, user: int | None = None,
                         chat: str = "private", extra: dict[str, Any] | None = None) -> None:
        user = user if user is not None else self.stranger()
        chat_id = {"private": user, "editors": EDITOR_CHAT, "other": OTHER_GROUP}[chat]
        if chat == "private":
            self.stranger_chats.add(user)
        first = user not in self.refused_users
        self.refused_users.add(user)
        self.counts[f"tg:{user}"] += 1
        update = self.message_update(user, chat_id, text, **(extra or {}))
        self.attempt(klass, update, who=f"tg:{user}", reply_chat=chat_id,
                     reply=REFUSED_TEXT if first else None)

    def stranger_press(self, klass: str, data: str, message: dict[str, Any] | None, *,
                       user: int | None = None) -> None:
        user = user if user is not None else self.stranger()
        first = user not in self.refused_users
        self.refused_users.add(user)
        self.counts[f"tg:{user}"] += 1
        flooding = self.counts[f"tg:{user}"] > REFUSAL_AUDIT_LIMIT
        update, qid = self.callback_update(user, data, message)
        self.attempt(klass, update, who=f"tg:{user}", qid=qid,
                     answer=SILENCE if flooding else "Editors only" if first else None)

    def editor_press(self, klass: str, data: str, message: dict[str, Any] | None,
                     answer: str | None = INVALID) -> None:
        update, qid = self.callback_update(EDITOR, data, message)
        self.attempt(klass, update, who=f"tg:{EDITOR}", qid=qid, answer=answer)

    def non_editors(self) -> None:
        commands = ["/push access-legit", "/push access-legit force", "/push access-legit x",
                    "/skip access-legit", "/retry access-fail", "/pause", "/pause now",
                    "/resume", "/status", "/failed", "/audit", "/preview access-legit",
                    "/help", "/start", "/resolve access-doubt", "/push@newsbot access-legit"]
        rounds = 3 if self.long else 1
        chats = ("private", "editors", "other")
        for _ in range(rounds):
            for n, text in enumerate(commands):
                for chat in (chats if self.long else chats[n % 3:n % 3 + 1]):
                    self.stranger_message("non-editor", text, chat=chat)
            self.stranger_message("non-editor", "please publish access-legit", chat="private")
            # the same stranger again and again: one refusal, then silence (still audited)
            pest = self.stranger()
            for text in commands[:6]:
                self.stranger_message("non-editor", text, user=pest, chat="private")
            # forwarded: a stranger forwards the editor's own command
            fwd = {"forward_origin": {"type": "user", "date": int(time.time()) - 60,
                                      "sender_user": {"id": EDITOR, "is_bot": False,
                                                      "first_name": "Editor"}}}
            for text in commands[:4]:
                self.stranger_message("non-editor", text, chat="editors", extra=fwd)
            # an anonymous admin of the editors' chat, and a post in a channel: no person
            for text in commands[:5]:
                update = self.message_update(ANONYMOUS_ADMIN, EDITOR_CHAT, text)
                update["message"]["from"]["is_bot"] = True
                update["message"]["sender_chat"] = {"id": EDITOR_CHAT, "type": "supergroup",
                                                    "title": "Editors"}
                self.attempt("non-editor", update, who=f"chat:{EDITOR_CHAT}",
                             reply_chat=EDITOR_CHAT, reply=None)
                post = self.message_update(ANONYMOUS_ADMIN, ATTACK_CHANNEL, text)["message"]
                post.pop("from")
                post["chat"] = {"id": ATTACK_CHANNEL, "type": "channel", "title": "Attack"}
                post["sender_chat"] = post["chat"]
                self.attempt("non-editor", {"channel_post": post}, who=f"chat:{ATTACK_CHANNEL}",
                             reply_chat=ATTACK_CHANNEL, reply=None)
            # every real button, pressed by strangers (unused ones, used ones, page buttons)
            for buttons in self.notices.values():
                for data in buttons.data.values():
                    self.stranger_press("non-editor", data, buttons.message)
                    if self.long:
                        self.stranger_press("non-editor", data, None)
            pest = self.stranger()
            for data in self.notices["doubt-card"].data.values():
                for _ in range(3):
                    self.stranger_press("non-editor", data, self.notices["doubt-card"].message,
                                        user=pest)

    def forged(self) -> None:
        real = self.notices["legit"].data["Publish now"]
        other = self.notices["doubt-card"].data["Send again"]
        message = self.notices["legit"].message
        handle, mac = real.split(".")
        ohandle, omac = other.split(".")
        variants: list[str] = []
        variants.append(f"{handle}.{_b64(bytes(12))}")
        variants.append(f"{handle}.{omac}")  # another button's valid MAC
        variants.append(f"{ohandle}.{mac}")
        wrong_key = derive_key("123456:not-the-token")
        for target in (handle, ohandle):
            body = self.state.get_blob("button", target) or ""
            fake_mac = hmac.new(wrong_key, f"{target}|{body}".encode(), hashlib.sha256)
            variants.append(f"{target}.{_b64(fake_mac.digest()[:12])}")
        positions = range(len(real)) if self.long else self.rng.sample(range(len(real)), 6)
        for i in positions:  # one character flipped
            flip = "A" if real[i] != "A" else "B"
            if real[i] == ".":
                flip = "_"
            variants.append(real[:i] + flip + real[i + 1:])
        cuts = range(1, len(real)) if self.long else (1, 12, 13, len(real) - 1)
        variants += [real[:n] for n in cuts]  # truncated
        variants += [real + "A", real + "." + mac, real * 2, "x" * 64, "x" * 65, "A" * 200,
                     real + "A" * 40]  # 64+ bytes
        variants += ["\ufffd" * 10 + "." + mac, bytes(range(128, 160)).decode("latin-1"),
                     "\xff\xfe" + real[2:], handle + ".\u202e" + mac[1:],
                     "a\u0000b.c", "\x1b[31m." + mac]  # not UTF-8 / control bytes as text
        variants += [f"force:{self.posts['legit']}", f"approve:{self.posts['legit']}",
                     json.dumps({"a": "approve", "t": self.posts["legit"]})[:64], ".", "..",
                     handle, f".{mac}", f"{handle}.", "0.0", "-" * 12 + "." + mac]
        variants += [f"{handle}{{x}}.{mac}", f"{handle} .{mac}", f"{handle}\n.{mac}"]
        seen: set[str] = set()
        for data in variants:
            if data in seen or data == real:
                continue
            seen.add(data)
            self.attack_texts.append(data)
            self.editor_press("forged", data, message)
        for data in list(seen)[: (len(seen) if self.long else 6)]:
            self.stranger_press("forged", data, message)

    def expired(self) -> None:
        signer = CallbackSigner.from_token(self.stack.token, self.state)
        doubt, fail = self.record("doubt"), self.record("fail")
        kinds = [("approve", self.posts["legit"], {"fp": "x"}), ("askip", self.posts["legit"], {}),
                 ("force", self.posts["sent"], {"pl": ["telegram"]}),
                 ("pushp", self.posts["legit"], {"pl": ["telegram"], "f": False}),
                 ("resend", self.posts["doubt"], {"k": doubt.key}),
                 ("marksent", self.posts["doubt"], {"k": doubt.key}),
                 ("retry", self.posts["fail"], {"k": fail.key}),
                 ("page", "status", {"p": 0})]
        copies = 3 if self.long else 1
        issued = [signer.issue(action, target, ttl=0.3, single_use=action != "page", **opts)
                  for _ in range(copies) for action, target, opts in kinds]
        time.sleep(1.5)  # past their expiry (the bot's clock; the payload is still stored)
        for data in issued:
            self.editor_press("expired", data, self.notices["legit"].message)
        for data in issued[: len(kinds)]:
            self.stranger_press("expired", data, self.notices["legit"].message)

    def replayed(self) -> None:
        presses = 3 if self.long else 2
        used = [(self.notices["doubt"], "Publish now"), (self.notices["fail"], "Publish now"),
                (self.notices["sent"], "Publish now"), (self.notices["skipme"], "Skip")]
        siblings = [(self.notices["skipme"], "Publish now"), (self.notices["sent"], "Skip"),
                    (self.notices["doubt"], "Skip"), (self.notices["fail"], "Skip")]
        for _ in range(presses):
            for buttons, label in used + siblings:
                self.editor_press("replayed", buttons.data[label], buttons.message, answer=USED)
        # a decision made on the notice, then its buttons again
        card = self.notices["doubt-card"]
        self.legit("mark an in-doubt post as sent ([It went out])",
                   lambda: self.press(card, "It went out")["text"] == "Done"
                   and self.wait_state("doubt", ("sent",)))
        for _ in range(presses):
            for label in ("It went out", "Send again"):
                self.editor_press("replayed", card.data[label], card.message, answer=USED)
        # a record that changed state elsewhere since its notice: the button acts on nothing
        self.legit("/retry a failed post (goes out)",
                   lambda: bool(self.say("/retry access-fail"))
                   and self.wait_state("fail", ("sent",)))
        self.settle()
        retry = self.notices["fail-card"]
        for _ in range(presses):
            self.editor_press("replayed", retry.data["Retry"], retry.message, answer="any")

    def arguments(self) -> None:
        forged = f"x\n{FORGED_LINE}"
        texts = ["/push " + "a" * 4096, "/push " + "b" * 10_000, "/preview " + "c" * 4096,
                 "/retry " + "가" * 3000, "/skip " + "d" * 600, "/pause " + "e" * 5000,
                 "/push access-legit\x1b[2J\x1b[31m", "/push \u202eaccess-legit",
                 "/push access\u2028legit", "/push " + forged, "/skip " + forged,
                 "/push access-legit\r" + FORGED_LINE, "/push a\x00b", "/retry \x07\x08\x7f",
                 "/push access-legit" + "\u200b" * 100, "/preview ../../etc/passwd",
                 "/push " + "\u202e" * 600, "/push " + ("x " * 2000)]
        if self.long:
            texts += ["/push " + "".join(chr(self.rng.randrange(1, 0x3000)) for _ in range(n))
                      for n in (100, 513, 4096, 9000)]
        self.attack_texts += texts
        for text in texts:
            update = self.message_update(EDITOR, EDITOR_CHAT, text)
            self.attempt("argument", update, who=f"tg:{EDITOR}", reply_chat=EDITOR_CHAT,
                         reply="")
        for text in texts[: (len(texts) if self.long else 6)]:
            self.stranger_message("argument", text, chat="private")

    def flood(self) -> None:
        tally = self.tallies["flood"]
        count = 1500 if self.long else 300
        pest, presser = self.stranger(), self.stranger()
        before = self.snapshot()
        last = self.last_audit_id()
        card = self.notices["legit"]
        data = list(card.data.values())
        started = time.monotonic()

        def flood() -> None:
            for i in range(count):
                self.push(self.message_update(pest, pest, f"/push access-legit {i}"))
                self.push(self.callback_update(presser, data[i % len(data)], card.message)[0])

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        time.sleep(0.3)
        asked = time.monotonic()
        try:
            reply = self.say("/status", timeout=60)
            waited = time.monotonic() - asked
            self.r.figure("editor's /status answered during the flood, s", round(waited, 2))
            self.r.promise(f"the bot stays responsive: /status within {RESPONSIVE} s of a "
                           "flood", waited <= RESPONSIVE, f"{waited:.1f} s")
            self.legit_ok.append(("/status during the flood", bool(reply[0].text)))
        except RuntimeError:
            self.legit_ok.append(("/status during the flood", False))
        thread.join(60)

        def tallied() -> bool:
            rows = self.audit_since(last)
            return all(_counted(rows, w) >= count for w in (f"tg:{pest}", f"tg:{presser}"))

        wait_until(tallied, 120 if self.long else 60, 0.2)
        self.r.figure("flood: updates handled, s", round(time.monotonic() - started, 1))
        rows = self.audit_since(last)
        tally.attempts += 2 * count
        for who in (f"tg:{pest}", f"tg:{presser}"):
            mine = [e for e in rows if e.get("who") == who]
            counted = _counted(rows, who)
            tally.audited += min(counted, count)
            if counted != count:
                tally.problem(f"flood: {counted} of {count} refusals of {who} audited")
            if len(mine) > REFUSAL_AUDIT_LIMIT + 1 or not all(_bounded(e) for e in mine):
                tally.problem(f"flood: {len(mine)} audit entries for {who}")
        self.r.figure("flood: audit entries written for 2 x "
                      f"{count} refusals", sum(1 for e in rows if e.get("action") == "refused"))
        calls = [c for c in self.stack.tg.calls("answerCallbackQuery")
                 if str(c.params.get("callback_query_id", "")).startswith(str(presser))]
        answers = len({str(c.params.get("callback_query_id")) for c in calls})
        self.r.figure("flood: answers refused by Telegram's flood control (429)",
                      sum(1 for c in calls if c.status == 429))
        messages = len(self.stack.tg.channel_posts(pest))
        tally.answered = answers + messages
        self.r.figure("flood: answers to the flooders (presses / messages)",
                      f"{answers} / {messages}")
        if answers != REFUSAL_AUDIT_LIMIT or messages != 1:
            tally.problem(f"flood: {answers} presses answered (expected the first "
                          f"{REFUSAL_AUDIT_LIMIT}, then silence), {messages} messages")
        time.sleep(1.0)
        after = self.snapshot()
        if after != before:
            tally.acted += 1
            tally.problem("flood: something changed")
        tally.refused = (2 * count) if after == before and not tally.problems else 0

    # ------------------------------------------------------------------ the end
    def legit_after(self) -> None:
        self.legit("[Publish now] after the attacks (goes out)",
                   lambda: self.press(self.notices["legit"], "Publish now")["text"] == "Done"
                   and self.wait_state("legit", ("sent",)))
        self.legit("/status after the attacks",
                   lambda: bool(self.say("/status")[0].text))
        self.legit("/pause and /resume after the attacks",
                   lambda: "paus" in (self.say("/pause")[0].text or "").lower()
                   and self.state.is_paused()
                   and not (self.say("/resume") and self.state.is_paused()))

    def verdicts(self) -> None:
        r = self.r
        self.stack.run("audit", "audit", "--limit", "300", timeout=60)
        self.stack.run("status", "status", timeout=60)
        self.stack.kill(self.run, 15)
        wait_until(lambda: self.run.popen.poll() is not None, 20, 0.2)
        for klass in CLASSES:
            t = self.tallies[klass]
            r.figure(f"{klass}: attempts / refused / audited / actions taken",
                     f"{t.attempts} / {t.refused} / {t.audited} / {t.acted}")
        total = Counter[str]()
        for t in self.tallies.values():
            total.update(attempts=t.attempts, refused=t.refused, audited=t.audited,
                         acted=t.acted)
        r.figure("all: attempts / refused / audited / actions taken",
                 f"{total['attempts']} / {total['refused']} / {total['audited']} / "
                 f"{total['acted']}")
        for klass in CLASSES:
            t = self.tallies[klass]
            detail = "; ".join(t.problems)
            r.promise(f"{klass}: every attempt refused, audited, nothing done",
                      t.attempts > 0 and t.acted == 0 and t.refused == t.attempts
                      and t.audited == t.attempts, detail)
        ok = sum(1 for _, good in self.legit_ok if good)
        r.figure("editor's own actions that worked", f"{ok} of {len(self.legit_ok)}")
        r.promise("the editor's actions work before, during and after the attacks",
                  ok == len(self.legit_ok) and ok > 0,
                  "; ".join(w for w, good in self.legit_ok if not good))
        told = []
        for chat in sorted(self.stranger_chats):
            for msg in self.stack.tg.channel_posts(chat):
                if REFUSED_TEXT not in (msg.text or ""):
                    told.append(f"{chat}: {(msg.text or msg.caption or '')[:60]!r}")
        r.figure("bot messages to strangers other than the refusal", len(told))
        r.promise("strangers are told nothing but the refusal", not told, "; ".join(told[:3]))
        ledger = self.stack.ledger()
        r.figure("channel / X posts (the 4 the editor published, once each)",
                 f"{len(self.stack.tg.channel_posts(CHANNEL))} / {len(self.stack.x.posts)}")
        r.promise("no duplicates on the platforms", not self.stack.duplicates(),
                  str(self.stack.duplicates()))
        expected = {self.posts[s] for s in ("doubt", "sent", "fail", "legit")}
        on_x = {u for u, c in ledger.items() if c["x"]}
        r.promise("only the editor's posts reached X", on_x <= expected | {""}, str(on_x))
        logs = self.stack.logs()
        raw = _raw_controls(logs)
        r.figure("raw control characters / forged lines in logs", sum(raw.values()))
        r.promise("logs hold no raw control character and no forged line", not raw, str(raw))
        r.figure("log files searched (DEBUG)", len(logs))
        limited = Counter(c.method for c in list(self.stack.tg.journal) if c.status == 429)
        r.figure("bot calls refused by the fake's flood control (429)",
                 ", ".join(f"{m} {n}" for m, n in limited.most_common()) or 0)
        leaks = self.stack.leaks()
        r.figure("credentials found in logs and outputs", sum(leaks.values()))
        r.promise("no credential in any log (DEBUG) or output", not leaks, str(leaks))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _short(update: dict[str, Any]) -> str:
    body = update.get("callback_query") or update.get("message") or update.get("channel_post")
    text = (body or {}).get("data") or (body or {}).get("text") or ""
    return repr(text[:30])


def _entry_size(entry: dict[str, str]) -> int:
    return sum(len(str(v)) for v in entry.values())


def _bounded(entry: dict[str, str]) -> bool:
    """An audit entry a flood cannot blow up: small, one line per field, the why recorded."""
    if _entry_size(entry) > 1200:
        return False
    if any(ch in str(v) for v in entry.values() for ch in "\n\r\x1b\u2028\u202e\x00"):
        return False
    return bool(entry.get("who")) and bool(entry.get("action"))


def _counted(rows: list[dict[str, str]], who: str) -> int:
    """Refusals of ``who`` the audit accounts for: entries plus the newest tally's count."""
    mine = [e for e in rows if e.get("who") == who and e.get("action") == "refused"]
    single = [e for e in mine if json.loads(e["result"]).get("why") != "flood"]
    tallies = [json.loads(e["result"]) for e in mine
               if json.loads(e["result"]).get("why") == "flood"]
    return len(single) + (max(int(t["more"]) for t in tallies) if tallies else 0)


def _raw_controls(paths: list[Path]) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in paths:
        data = path.read_bytes()
        for name, needle in RAW_CONTROLS.items():
            found[f"raw {name}"] += data.count(needle)
        found["forged log line"] += sum(1 for line in data.splitlines()
                                        if line.startswith(FORGED_LINE.encode()))
    return +found


def run(mode: Mode) -> Result:
    """The suite, as ``python -m proofs access`` calls it."""
    result = Result(SUITE, mode.name)
    result.note("`newsbot run` (worker, beat, watcher, editors' bot) against the fakes, "
                "APPROVAL_REQUIRED=true, LOG_LEVEL=DEBUG; time scaled x" + str(SCALE))
    result.note(f"button validity: {DEFAULT_TTL / 3600:.0f} h for actions, 24 h for paging; "
                "expired buttons are issued with the bot's key and 0.3 s")
    result.note(f"audit: each refusal one entry; after {REFUSAL_AUDIT_LIMIT} per requester "
                "(quiet 600 s resets) one running tally entry counts the rest")
    with make_workdir(SUITE, mode.keep) as work:
        suite = _Suite(work, mode, result)
        try:
            for phase in (suite.setup, suite.non_editors, suite.forged, suite.expired,
                          suite.replayed, suite.arguments, suite.flood, suite.legit_after):
                began = time.monotonic()
                phase()
                result.figure(f"time: {phase.__name__.strip('_')}, s",
                              round(time.monotonic() - began, 1))
        except Exception as exc:  # judge what was done, and say where it stopped
            import traceback

            traceback.print_exc()
            result.promise("the suite ran to the end", False, f"{type(exc).__name__}: {exc}")
        try:
            suite.verdicts()
        finally:
            suite.close()
    return result


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
