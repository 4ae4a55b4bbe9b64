"""`newsbot check`: every file under `_posts/`, publishable or not and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.posts import Post
from bot.sources.jekyll import iter_post_files, read_posts
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
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "publishable": self.publishable,
            "reason": self.reason,
            "url": self.url,
            "date": self.date,
            "title": self.title,
            "warnings": list(self.warnings),
        }


def check_site(
    site: SiteConfig,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[CheckRow]:
    """Read every post file; a bad file becomes a row with its reason, never an exception.

    Files are read through `read_posts`, as a scan reads them, so what `check` calls bad (also
    the second of two files that give one URL) is what the scan reports.
    """
    files = list(iter_post_files(site))
    rows: list[CheckRow] = []
    for index, item in enumerate(read_posts(site, files), start=1):
        if isinstance(item, Post):
            why_not = item.unpublishable_reason(now)
            rows.append(
                CheckRow(item.rel_path, True, why_not is None, why_not, item.url,
                         item.date.isoformat(), item.title, item.warnings)
            )
        else:
            reason = f"line {item.line}: {item.reason}" if item.line else item.reason
            rows.append(CheckRow(item.rel_path, False, False, reason, None, None, None))
        if progress is not None:
            progress(index, len(files))
    return rows
