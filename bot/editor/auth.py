"""Who may use the editors' desk, and how strangers are turned away.

Editors are the ids in TELEGRAM_EDITOR_IDS and, when EDITOR_CHAT_MEMBERS_ARE_EDITORS is on, the
current members of the editors' chat (asked with getChatMember, cached for a minute so a busy
editor does not cost one API call per command, yet someone removed from the chat loses access
quickly).  A stranger gets one polite refusal per REFUSAL_WINDOW (a shared Redis ``SET NX``, so
it holds across restarts and does not turn the bot into a spam amplifier); every attempt is
logged with the user id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import redis

from bot.state import State

__all__ = ["MEMBER_STATUSES", "EditorAuth", "RefusalGate"]

log = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
MemberLookup = Callable[[int], Awaitable[str | None]]


class EditorAuth:
    def __init__(
        self,
        editor_ids: Iterable[int],
        *,
        member_lookup: MemberLookup | None = None,
        cache_seconds: float = 60.0,
    ) -> None:
        self.editor_ids = frozenset(int(i) for i in editor_ids)
        self._lookup = member_lookup
        self._cache_seconds = cache_seconds
        self._cache: dict[int, tuple[float, bool]] = {}

    async def is_editor(self, user_id: int | None) -> bool:
        if user_id is None:
            return False
        if user_id in self.editor_ids:
            return True
        if self._lookup is None:
            return False
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            status = await self._lookup(user_id)
        except Exception as exc:  # the API being down must not open the door
            log.warning("editor auth: chat member lookup failed (%s)", type(exc).__name__)
            return False
        allowed = status in MEMBER_STATUSES
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = (now + self._cache_seconds, allowed)
        return allowed


class RefusalGate:
    """At most one refusal message per user per window."""

    def __init__(self, client: redis.Redis | State, *, namespace: str = "newsbot",
                 window_seconds: int = 600) -> None:
        self._state = client if isinstance(client, State) else State(client, namespace=namespace)
        self._window = max(1, int(window_seconds))

    def should_answer(self, user_id: int | None, what: str) -> bool:
        """Log the attempt; True only for the first attempt of this user in the window."""
        log.warning("editor bot: refused user %s (%s)", user_id, what[:40])
        if user_id is None:
            return False
        try:
            return self._state.claim_once("refusal", str(user_id), self._window)
        except redis.RedisError:
            return False
