"""The `Post`: what the rest of newsbot knows about one blog post.

Everything downstream (teasers, images, delivery state) works from this object only, never from
the source file, so a post read from a folder and a post read from a Git remote look the same.
The canonical URL is the identity: editing a post's body or title never makes it a new post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Post:
    url: str
    """Canonical absolute URL (site `url` + `baseurl` + permalink path): the post's identity."""
    path: Path
    """Absolute path of the source file."""
    rel_path: str
    """Source file path relative to the site folder, POSIX separators (for reports)."""
    title: str
    date: datetime
    """Publication instant, timezone-aware, expressed in the site's timezone."""
    slug: str
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    excerpt: str = ""
    """Plain text (no markup, entities decoded)."""
    image: str | None = None
    """Feature image as written in front matter: an absolute http(s) URL or a site path."""
    image_alt: str = ""
    published: bool = True
    social: bool = True
    retracted: bool = False
    """``retracted: true``: never sent, and what went out is offered for deletion."""
    breaking: bool = False
    """``breaking: true``: the breaking-news lane (jumps the queue, ignores quiet hours, may be
    pinned); a category in BREAKING_CATEGORIES makes a post breaking too
    (``bot.delivery.quiet``)."""
    telegram_text: str | None = None
    """Front-matter override for the Telegram teaser body (plain text, escaped like any value)."""
    x_text: str | None = None
    """Front-matter override for the X teaser body."""
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    """Remaining front matter (read-only by convention), for user templates as `post.extra`."""
    warnings: tuple[str, ...] = field(default=(), compare=False, hash=False)
    """What reading the file changed that its author may not expect (a title's `<T>` dropped as
    HTML): `check` and `preview` show these; delivery is not affected."""

    @property
    def id(self) -> str:
        return self.url

    def unpublishable_reason(self, now: datetime) -> str | None:
        """Why this post must not go out (yet), or None when it may.

        A future date is a 'not yet', not a 'never': the caller re-asks once the date passes.
        """
        if self.retracted:
            return "retracted: true"
        if not self.published:
            return "published: false"
        if not self.social:
            return "social: false"
        if self.date > now:
            return f"scheduled for {self.date.isoformat()}"
        return None


@dataclass(frozen=True, slots=True)
class BadFile:
    """A file under `_posts/` that cannot be a post, with a reason an editor can act on."""

    path: Path
    rel_path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.rel_path}:{self.line}" if self.line else self.rel_path
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ScanResult:
    posts: list[Post]
    bad: list[BadFile]
