"""What every operator action is handed: the services, the queue, and who asks.

``enqueue(record_key)`` is passed in (the Celery send in production, a list's ``append`` in
tests), so the actions never import the task layer.  ``DeliveryServices`` is structural for the
same reason: the action tests hand in a lighter object than the real services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings
from bot.posts import Post
from bot.state import RateLimiter, State

if TYPE_CHECKING:  # only annotations: `newsbot status` must not import the teaser machinery
    from bot.delivery.content import ContentTools

__all__ = ["DeliveryServices", "Enqueue", "check_who"]

Enqueue = Callable[[str], None]


class DeliveryServices(Protocol):
    """What the actions need from ``bot.delivery.services.Services`` (structural, for tests)."""

    settings: Settings
    tools: ContentTools
    state: State
    limiter: RateLimiter
    @property
    def dry_run(self) -> bool: ...

    def destinations(self) -> list[tuple[str, str]]: ...

    def identity_of(self, post: Post) -> str: ...

    def find_post_by_url(self, url: str) -> Post | None: ...


def check_who(who: str) -> None:
    if not who or not who.strip():
        raise ValueError("who must name the operator (e.g. 'cli:alice' or 'tg:12345')")
