"""The one sender of editors' notices: works through the Redis queue at Telegram's pace.

Why a loop of its own (healthchecks' sendalerts): producers only queue events
(``bot.delivery.notify``), so a Telegram outage, a 429 or a burst of 40 bad files never loses a
notice nor slows a publish.  The editors' bot process runs this loop in a thread beside the bot
(``bot.editor.app.serve``); it is synchronous (plain httpx) because it shares nothing with the
bot's event loop.

Each step sends one Telegram message:

* **pace** -- a slot from the shared ``RateLimiter`` on the editors' chat: at most 1 message a
  second and 18 a minute (Telegram allows 20 a minute in a group; two are left for the bot's
  answers to commands there).  A 429's ``retry_after`` blocks the same bucket, so no request goes
  out before it has passed.
* **claim, send, ack** -- the entries of the message are claimed (a lease) just before the send
  and removed only after Telegram accepted it.  5xx, network errors and timeouts back off
  exponentially (full jitter) and are tried again, for ever; 400, 403 and 413 are permanent and
  the entry is given up with a log line.  A process killed between claim and ack leaves the lease
  to run out, then the entry is sent (at least once; dedupe happened when it was queued).  A
  send whose answer was lost may therefore show twice; none is ever lost.
* **digest** -- notices without buttons (bad files, publishes, generic) of one kind that are
  pending together become one message listing them (split to stay within 4096 characters).  The
  loop lets such a burst settle first (``gather_seconds`` without a new one, at most
  ``max_gather_seconds``).  Notices with buttons (failed, in doubt, approval) are always sent one
  by one with their own buttons.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.delivery.notify import BUTTON_KINDS, Notice
from bot.delivery.schedule import JITTER_SECONDS, WINDOW_MARGIN, backoff_delay, bucket_name
from bot.state import RateLimiter, Rule
from bot.state.notices import NoticeEntry, NoticeQueue

from .callbacks import CallbackSigner
from .notices import NoticeRenderer, Part, RenderError, SupersededError
from .preview import OutMessage

__all__ = ["NOTICE_RULES", "BotApiSender", "NoticeDispatcher", "NotifyError"]

log = logging.getLogger(__name__)

# Telegram: about 1 message a second per chat, 20 a minute in a group.
NOTICE_RULES: tuple[Rule, ...] = ((1, 1.0), (18, 60.0))
PERMANENT_STATUSES = frozenset({400, 403, 413})
LEASE_SECONDS = 60.0  # > the 15 s HTTP timeout of one send: a live sender is never overtaken
GATHER_SECONDS = 3.0
MAX_GATHER_SECONDS = 60.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
POLL_SECONDS = 0.5
MAX_SLEEP = 5.0
TRIES_BEFORE_BACK = 5  # an entry failing this often lets the ones behind it go first


class NotifyError(Exception):
    """The Bot API refused or could not be reached; the message never contains the token."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        return self.status in PERMANENT_STATUSES and self.retry_after is None


class BotApiSender:
    """The few Bot API calls notices need, synchronous, one pooled httpx client."""

    def __init__(self, token: str, api_url: str = "https://api.telegram.org", *,
                 timeout: float = 15.0) -> None:
        if not token:
            raise ValueError("a bot token is required")
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._client = httpx.Client(timeout=timeout)

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
            raise NotifyError(f"{method}: HTTP {answer.status_code}",
                              status=answer.status_code) from None
        if not isinstance(payload, dict) or not payload.get("ok"):
            payload = payload if isinstance(payload, dict) else {}
            params = payload.get("parameters") or {}
            after = params.get("retry_after") if isinstance(params, dict) else None
            code = payload.get("error_code", answer.status_code)
            raise NotifyError(
                f"{method}: {str(payload.get('description', answer.status_code))[:300]}",
                status=int(code) if isinstance(code, int) else answer.status_code,
                retry_after=float(after) if isinstance(after, int | float) else None)
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
class _Unit:
    """One message to send and the entries it settles."""

    entries: tuple[NoticeEntry, ...]
    part: Part
    digest: bool


class NoticeDispatcher:
    """Sends queued notices to the editors' chat; ``start()`` runs it in a daemon thread."""

    def __init__(
        self,
        queue: NoticeQueue,
        sender: BotApiSender,
        chat: str | int,
        renderer: NoticeRenderer,
        limiter: RateLimiter,
        *,
        rules: Sequence[Rule] = NOTICE_RULES,
        lease_seconds: float = LEASE_SECONDS,
        gather_seconds: float = GATHER_SECONDS,
        max_gather_seconds: float = MAX_GATHER_SECONDS,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        poll_seconds: float = POLL_SECONDS,
        on_claimed: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.queue = queue
        self.sender = sender
        self.chat = int(chat) if str(chat).lstrip("-").isdigit() else chat
        self.renderer = renderer
        self.limiter = limiter
        self.bucket = bucket_name("telegram", str(chat))
        self.rules = tuple(rules)
        self.lease_seconds = lease_seconds
        self.gather_seconds = gather_seconds
        self.max_gather_seconds = max_gather_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.poll_seconds = poll_seconds
        self.on_claimed = on_claimed  # a test seam: "the process dies here"
        self._failures = 0
        self._flush = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Any, services: Any) -> NoticeDispatcher | None:
        """None when notices are off (no bot token or no editors' chat)."""
        token = settings.telegram_bot_token
        chat = settings.telegram_editor_chat
        if token is None or not chat:
            return None
        secret = token.get_secret_value()
        state = services.state
        scale = settings.rate_time_scale
        rules = tuple((n, w * scale * WINDOW_MARGIN + JITTER_SECONDS) for n, w in NOTICE_RULES)
        renderer = NoticeRenderer(settings.bot_language, CallbackSigner.from_token(secret, state),
                                  services)
        return cls(NoticeQueue(state.client, namespace=state.namespace),
                   BotApiSender(secret, settings.telegram_api_url), chat, renderer,
                   services.limiter, rules=rules, backoff_base=max(0.01, BACKOFF_BASE * scale),
                   backoff_cap=max(1.0, BACKOFF_CAP * scale))

    def __repr__(self) -> str:
        return f"NoticeDispatcher(chat={self.chat!r})"

    # ------------------------------------------------------------------ the loop
    def start(self) -> NoticeDispatcher:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="editor-notices",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        self.stop()
        self.sender.close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception as exc:  # Redis away, a bug: say so, keep going
                log.warning("notices: step failed (%s)", type(exc).__name__)
                wait = MAX_SLEEP
            if wait > 0:
                self._stop.wait(min(wait, MAX_SLEEP))

    def drain(self, timeout: float = 10.0) -> bool:
        """Send everything queued now, without waiting for bursts to settle; True when empty.

        For tests and scripts; the pace and every retry rule still apply.
        """
        deadline = time.monotonic() + timeout
        self._flush = True
        try:
            while time.monotonic() < deadline:
                if self.queue.pending() == 0:
                    return True
                wait = self.step()
                if wait > 0:
                    time.sleep(min(wait, self.poll_seconds, max(0.0, deadline - time.monotonic())))
            return self.queue.pending() == 0
        finally:
            self._flush = False

    # ------------------------------------------------------------------ one step
    def step(self) -> float:
        """Send at most one message; the seconds until another step is worth it (0: now)."""
        now = self.queue.now()
        wait = self.limiter.wait_time(self.bucket, self.rules, now=now)
        if wait > 0:
            return wait
        entries = self.queue.due(now=now)
        if not entries:
            return self.poll_seconds
        chosen = self._choose(entries, now)
        if not isinstance(chosen, list):
            return float(chosen)
        unit = self._render(chosen)
        if unit is None:
            return 0.0
        wait = self.limiter.reserve(self.bucket, self.rules)
        if wait > 0:
            return wait
        reserved = time.monotonic()
        ids = [e.id for e in unit.entries]
        if not self.queue.claim(ids, self.lease_seconds):
            return 0.0  # another sender took one of them meanwhile
        if self.on_claimed is not None:
            self.on_claimed(ids)
        try:
            self.sender.send(self.chat, unit.part.message, unit.part.markup)
        except NotifyError as exc:
            return self._refused(unit, exc)
        except Exception as exc:  # a bug in sending must not lose the notice: retry later
            return self._refused(unit, NotifyError(type(exc).__name__))
        self._failures = 0
        self._done(unit)
        # The request reached Telegram somewhere within `took` after our slot.  When that is
        # more than the rules' jitter allowance (a loaded machine, a slow network), the next
        # send waits a full window after this answer, so two can never land closer than the
        # platform allows (as the publishers' sender does).
        took = time.monotonic() - reserved
        return min(w for _, w in self.rules) if took > JITTER_SECONDS and self.rules else 0.0

    def _choose(self, entries: list[NoticeEntry], now: float
                ) -> list[NoticeEntry] | float:
        """The entries of the next message (oldest first), or how long until one is ready."""
        waits: list[float] = []
        seen: set[str] = set()
        for entry in entries:
            kind = str((entry.data.get("notice") or {}).get("kind", ""))
            if kind in BUTTON_KINDS or entry.data.get("part"):
                return [entry]
            if kind in seen:
                continue
            seen.add(kind)
            group = [e for e in entries
                     if (e.data.get("notice") or {}).get("kind") == kind
                     and not e.data.get("part")]
            newest = max(e.enqueued_at for e in group)
            oldest = min(e.enqueued_at for e in group)
            quiet = now - newest
            if self._flush or quiet >= self.gather_seconds or (
                    now - oldest >= self.max_gather_seconds):
                return group
            waits.append(min(self.gather_seconds - quiet,
                             self.max_gather_seconds - (now - oldest)))
        return max(0.01, min(waits)) if waits else self.poll_seconds

    def _render(self, entries: list[NoticeEntry]) -> _Unit | None:
        """The message for ``entries``; None when an entry had to be given up (rendered never)."""
        notices = [Notice.from_json(e.data.get("notice") or {}) for e in entries]
        if len(entries) > 1:
            message, count = self.renderer.digest(notices)
            return _Unit(tuple(entries[:count]), Part(message, None, 1), True)
        (entry,), (notice,) = entries, notices
        part = int(entry.data.get("part") or 0)
        try:
            rendered = self.renderer.render(notice, part)
        except SupersededError as exc:
            log.info("notices: %s notice for %s dropped: %s", notice.kind, notice.post_url, exc)
            self.queue.ack([entry.id])
            return None
        except RenderError as exc:
            log.warning("notices: %s notice given up: %s", notice.kind, str(exc)[:300])
            self.queue.ack([entry.id])
            return None
        except Exception as exc:  # e.g. an image server timing out: try again later
            log.warning("notices: %s notice could not be built (%s); trying again later",
                        notice.kind, type(exc).__name__)
            self._back_off([entry], self._next_failure())
            return None
        if part >= rendered.count:
            self.queue.ack([entry.id])
            return None
        return _Unit((entry,), rendered, False)

    def _done(self, unit: _Unit) -> None:
        if not unit.digest:
            (entry,) = unit.entries
            part = int(entry.data.get("part") or 0) + 1
            if part < unit.part.count:  # the approval's details still to go: keep our place
                self.queue.release(entry.id, data={**entry.data, "part": part, "tries": 0})
                return
        self.queue.ack(e.id for e in unit.entries)

    def _refused(self, unit: _Unit, exc: NotifyError) -> float:
        kinds = sorted({str((e.data.get("notice") or {}).get("kind")) for e in unit.entries})
        if exc.retry_after is not None:
            after = max(0.0, float(exc.retry_after))
            self.limiter.block_until(self.bucket, self.queue.now() + after)
            for entry in unit.entries:
                self.queue.release(entry.id)
            log.info("notices: Telegram asks to wait %.0f s; %d notice(s) wait", after,
                     len(unit.entries))
            return after
        if exc.permanent:
            if not unit.digest:
                (entry,) = unit.entries
                part = int(entry.data.get("part") or 0) + 1
                if part < unit.part.count:  # e.g. a preview photo refused: the details (and
                    log.warning("notices: %s notice part refused, sending the rest: %s",
                                ",".join(kinds), str(exc)[:300])  # buttons) still go out
                    self.queue.release(entry.id, data={**entry.data, "part": part})
                    return 0.0
            log.warning("notices: %s notice(s) given up: %s", ",".join(kinds), str(exc)[:300])
            self.queue.ack(e.id for e in unit.entries)
            return 0.0
        delay = self._next_failure()
        log.warning("notices: %s notice(s) not sent (%s); trying again in %.1f s",
                    ",".join(kinds), str(exc)[:300], delay)
        self._back_off(list(unit.entries), delay)
        return delay

    def _next_failure(self) -> float:
        self._failures += 1
        return backoff_delay(self._failures, base=self.backoff_base, cap=self.backoff_cap)

    def _back_off(self, entries: Sequence[NoticeEntry], delay: float) -> None:
        """Hold the whole chat for ``delay`` (Telegram is unwell, not one message); an entry
        that failed often waits on its own too, so the ones behind it may go first."""
        now = self.queue.now()
        self.limiter.block_until(self.bucket, now + delay)
        for entry in entries:
            tries = int(entry.data.get("tries") or 0) + 1
            later = now + delay * 2 if tries >= TRIES_BEFORE_BACK else None
            self.queue.release(entry.id, not_before=later, data={**entry.data, "tries": tries})
