"""A Jekyll site's `_config.yml`, reduced to what decides a post's URL and date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml


class SiteError(Exception):
    """The site folder or its `_config.yml` cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    root: Path
    url: str
    """Site origin without trailing slash, e.g. `https://newsdao.kr` (may be '')."""
    baseurl: str
    """'' or a path starting with '/' and without trailing slash, e.g. `/blog`."""
    permalink: str
    """Jekyll permalink style name (`date`, `pretty`, `ordinal`, `none`, ...) or a pattern."""
    timezone: tzinfo
    timezone_name: str
    raw: dict

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        site_url: str | None = None,
        timezone: str | None = None,
    ) -> SiteConfig:
        """Read `root/_config.yml`; `site_url`/`timezone` (from settings) override the file.

        Jekyll falls back to the machine's local zone when `timezone` is unset; a server's zone is
        an accident, so we fall back to UTC and let `TIMEZONE` say otherwise.
        """
        root = Path(root).resolve()
        if not root.is_dir():
            raise SiteError(f"site folder not found: {root}")
        raw: dict = {}
        cfg = root / "_config.yml"
        if cfg.exists():
            try:
                loaded = yaml.safe_load(cfg.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise SiteError(f"{cfg}: not valid YAML: {exc}") from exc
            if loaded is not None and not isinstance(loaded, dict):
                raise SiteError(f"{cfg}: expected a mapping at the top level")
            raw = loaded or {}
        url = str(site_url if site_url is not None else (raw.get("url") or "")).rstrip("/")
        baseurl = str(raw.get("baseurl") or "").strip()
        baseurl = ("/" + baseurl.strip("/")) if baseurl.strip("/") else ""
        permalink = str(raw.get("permalink") or "date")
        tz_name = str(timezone or raw.get("timezone") or "UTC")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SiteError(f"unknown timezone {tz_name!r}") from exc
        return cls(
            root=root,
            url=url,
            baseurl=baseurl,
            permalink=permalink,
            timezone=tz,
            timezone_name=tz_name,
            raw=raw,
        )
