"""One process's delivery collaborators, built once from the settings.

Why one object: a Celery worker handles thousands of tasks and must not re-read `_config.yml`,
re-open HTTP pools or reconnect to Redis per task; the ops commands and tests build the same
object, so every path shares one wiring.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import redis

from bot.config import Settings
from bot.delivery.leases import LeaseKeeper
from bot.delivery.notify import Notice, Notifier, approval_notice
from bot.logs import add_secrets
from bot.metrics import record_x_spend
from bot.platforms.base import Publisher
from bot.platforms.registry import build_publishers, is_dry_run, targets
from bot.sources.site import SiteConfig
from bot.state import RateLimiter, State
from bot.state.spend import SpendLedger

if TYPE_CHECKING:
    from bot.delivery.content import ContentTools
    from bot.posts import Post

__all__ = ["APPROVED_FP", "AWAITING_APPROVAL", "MANUAL", "NO_AGE_LIMIT", "PUSH_ANYWAY",
           "Services", "site_key_of"]

log = logging.getLogger(__name__)

# The reason of a record held for an editor's approval (APPROVAL_REQUIRED): the scan and the
# sender both write it; only an editor's decision (a push, retry, resend) takes a record past it.
AWAITING_APPROVAL = "awaiting approval"

# Record fields the planner and the editors' actions set (``State.transition(**fields)``) and
# the sender obeys.
MANUAL = "manual"  # an editor pushed it: held neither by front matter nor by age
PUSH_ANYWAY = "push_anyway"  # confirmed while paused ([Push anyway]): the pause does not hold it
APPROVED_FP = "approved_fp"  # the teaser an editor approved (APPROVAL_REQUIRED)
NO_AGE_LIMIT = "no_age_limit"  # an operator's backfill: old on purpose


def site_key_of(site: SiteConfig) -> str:
    """Stable across restarts and machines serving the same site from the same folder."""
    raw = f"{site.url}{site.baseurl}\x1f{site.root}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass
class Services:
    """The teaser tools (templates, image fetcher) and the publishers (HTTP clients) are built
    on first use: a quick command such as ``newsbot status`` reads Redis and never needs them,
    and must answer in a fraction of a second while ``newsbot run`` is up."""

    settings: Settings
    site: SiteConfig
    state: State
    limiter: RateLimiter
    site_key: str
    lease_seconds: float = 120.0
    notifier: Notifier | None = None
    lease_keeper: LeaseKeeper = field(default=None, repr=False)  # type: ignore[assignment]
    _publishers: list[Publisher] | None = field(default=None, repr=False)
    _tools: ContentTools | None = field(default=None, repr=False)
    _targets: list[tuple[str, str]] = field(default_factory=list, repr=False)
    spend: SpendLedger = field(default=None, repr=False)  # type: ignore[assignment]
    _metered: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.spend is None:
            self.spend = SpendLedger(self.state.client, namespace=self.state.namespace,
                                     prices=self.settings.x_prices)
        if self._publishers is not None:
            self._targets = [(p.platform, p.destination) for p in self._publishers]
        else:
            self._targets = targets(self.settings)
        if self.lease_keeper is None:
            self.lease_keeper = LeaseKeeper(self.state, self.lease_seconds)

    @property
    def tools(self) -> ContentTools:
        if self._tools is None:
            # The teaser and image machinery costs `newsbot status` a second: on first use.
            from bot.delivery.content import ContentTools

            self._tools = ContentTools.from_settings(self.settings, site=self.site)
        return self._tools

    @property
    def publishers(self) -> list[Publisher]:
        if self._publishers is None:
            self._publishers = build_publishers(self.settings)
        if not self._metered:
            # Every billable X call is priced as it is made (bot.state.spend), whoever makes it:
            # a send, a retraction's delete, the handle read.
            self._metered = True
            for publisher in self._publishers:
                set_meter = getattr(publisher, "set_meter", None)
                if callable(set_meter):
                    set_meter(self._meter)
        return self._publishers

    def _meter(self, kind: str) -> None:
        # the metric first: it never raises, and a Redis outage must not hide the call there too
        record_x_spend(kind, self.spend.price(kind) / 1_000_000)
        self.spend.charge(kind)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redis_url: str,
        namespace: str = "newsbot",
        publishers: list[Publisher] | None = None,
    ) -> Services:
        """``publishers`` overrides the registry (tests); ``namespace`` prefixes every key."""
        # Whatever process builds Services holds the secrets: redact them from here on, also in
        # the reasons stored on records (exception texts).
        add_secrets(*settings.secret_values())
        site = SiteConfig.load(settings.site_dir, site_url=settings.site_url,
                               timezone=settings.timezone)
        client = redis.Redis.from_url(
            redis_url, decode_responses=True, socket_timeout=30, health_check_interval=30
        )
        state = State(client, namespace=namespace)
        return cls(
            settings=settings,
            site=site,
            state=state,
            limiter=RateLimiter(client, namespace=namespace),
            site_key=site_key_of(site),
            lease_seconds=settings.lease_seconds,
            notifier=Notifier.from_settings(settings, state),
            _publishers=list(publishers) if publishers is not None else None,
        )

    @property
    def dry_run(self) -> bool:
        if self._publishers is None:
            return all(d == "dryrun" for _, d in self._targets)
        return is_dry_run(self._publishers)

    def destinations(self) -> list[tuple[str, str]]:
        """(platform, destination) of every configured publisher, in configuration order."""
        return list(self._targets)

    def publisher_for(self, platform: str, destination: str) -> Publisher | None:
        for publisher in self.publishers:
            if (publisher.platform, publisher.destination) == (platform, destination):
                return publisher
        return None

    def find_post_by_url(self, url: str) -> Post | None:
        """The post as it is on disk now, through the seen index's file path.

        ``url`` is a post's identity: the URL it had when first seen, under which its records
        live.  The file found there is that post when it still gives that URL or when the
        identity index says the file is that post (its URL changed: new slug, category, date or
        permalink).  None when the file is gone or now holds another post; the planner follows
        a renamed file on its next scan.
        """
        info = self.state.seen_info(self.site_key, url) or {}
        rel = info.get("rel_path")
        if not isinstance(rel, str) or not rel:
            return None
        post = self._read(self.site.root / rel)
        if post is None:
            return None
        if post.url == url or self.state.file_identity(self.site_key, post.rel_path) == url:
            return post
        return None

    def identity_of(self, post: Post) -> str:
        """The URL ``post``'s records live under (its first URL, if its URL changed since)."""
        return self.state.file_identity(self.site_key, post.rel_path) or post.url

    def _read(self, path: Path) -> Post | None:
        """The post at `path` if it is still a post file of the site (`read_post` applies the
        rule every scan follows: a file the index names that became a symlink to a file
        outside the site is not read, so it cannot be published)."""
        # The post reader, on first use only (as the content tools above).
        from bot.sources.jekyll import read_post

        try:
            return read_post(self.site, path)
        except Exception:  # read_post reports every failure as PostFileError; be sure
            return None

    def notify(self, notice: Notice) -> bool:
        """Queue a notice for the editors' chat (once per notice identity); False when notices
        are off or it was queued before.  The editors' bot sends it (``bot.editor.outbox``).

        Never raises: a notice that cannot be queued must not fail the publish behind it.
        """
        if self.notifier is None:
            return False
        return self.notifier.notify(notice)

    def request_approval(self, post: Post) -> bool:
        """Queue the approval preview of ``post`` as it is now for the editors.

        Deduped on the preview's fingerprint: the same content is previewed once, an edit (new
        fingerprint) is previewed again, and the old preview's [Publish now] is then refused by
        the bot (its fingerprint no longer matches).
        """
        if self.notifier is None:
            return False
        try:
            notice = approval_notice(self.tools, post)
        except Exception as exc:  # a preview that cannot be built must not stop the scan
            log.warning("approval preview of %s failed (%s)", post.url, type(exc).__name__)
            return False
        return self.notifier.notify(notice)

    def remind_approvals(self) -> int:
        """Offer previews of posts still awaiting approval; returns how many were queued now.

        A safety net: the notice queue delivers previews through Telegram outages by itself, so
        this only queues previews that were never queued (e.g. notices were off when the post
        was planned); previews already queued are deduped on their fingerprint.
        """
        if self.notifier is None or not self.settings.approval_required:
            return 0
        urls = {r.post for r in self.state.records(state="waiting")
                if r.reason == AWAITING_APPROVAL}
        sent = 0
        for url in sorted(urls):
            post = self.find_post_by_url(url)
            if post is not None and self.request_approval(post):
                sent += 1
        return sent

    def close(self) -> None:
        """Release publishers' pools, the image fetcher and Redis connections."""
        self.lease_keeper.stop()
        for publisher in self._publishers or ():
            try:
                publisher.close()
            except Exception as exc:  # closing must not break a shutdown
                log.debug("closing %r failed: %s", publisher, type(exc).__name__)
        close_images = getattr(self._tools.images, "close", None) if self._tools else None
        if callable(close_images):
            close_images()
        self.state.client.close()
