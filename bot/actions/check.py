"""`newsbot check`: every file under `_posts/`, publishable or not and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.sources.jekyll import PostFileError, iter_post_files, read_post
from bot.sources.site import SiteConfig


@dataclass(frozen=True, slots=True)
class CheckRow:
    file: str
    ok: bool
    publishable: bool
    reason: str | None
    url: str | None
    date: str | None
    title: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "publishable": self.publishable,
            "reason": self.reason,
            "url": self.url,
            "date": self.date,
            "title": self.title,
        }


def check_site(
    site: SiteConfig,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[CheckRow]:
    """Read every post file; a bad file becomes a row with its reason, never an exception."""
    files = sorted(iter_post_files(site))
    rows: list[CheckRow] = []
    for index, path in enumerate(files, start=1):
        rel = path.relative_to(site.root).as_posix()
        try:
            post = read_post(site, path)
        except PostFileError as exc:
            reason = f"line {exc.line}: {exc.reason}" if exc.line else exc.reason
            rows.append(CheckRow(rel, False, False, reason, None, None, None))
        else:
            why_not = post.unpublishable_reason(now)
            rows.append(
                CheckRow(
                    rel, True, why_not is None, why_not, post.url, post.date.isoformat(), post.title
                )
            )
        if progress is not None:
            progress(index, len(files))
    return rows
