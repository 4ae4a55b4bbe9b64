"""Checks at start: what the settings point at must exist and be usable before any part starts.

The settings object checks each value's shape; these checks look at the world: the site folder,
the data folder, the Redis server.  Each refusal is one `ConfigError` line naming the setting,
so the operator sees the cause at once instead of a traceback every second from a scheduler
that keeps trying (a `SITE_DIR` that is a file did exactly that), and never a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bot.config import ConfigError

if TYPE_CHECKING:
    from bot.config import Settings

_SITE = "SITE_DIR (or --site)"


def check_settings(settings: Settings, *, reading: bool = False) -> list[str]:
    """Refuse a site newsbot cannot read; return the warnings to show.

    Without a public origin every post link would be relative, which must never be published:
    that stops a live configuration, and is only a warning where nothing can be sent (a dry run)
    or nothing is sent (``reading``: `check`, `preview`)."""
    check_site_git(settings)
    check_site_dir(settings.site_dir)
    problem = site_url_problem(settings)
    if problem is None:
        return []
    if reading or is_dry_run(settings):
        return [f"{problem}; post links are relative until then"]
    raise ConfigError(f"{problem}: a live newsbot never publishes a relative link")


def check_site_git(settings: Settings) -> None:
    """With SITE_GIT_URL, a first clone before anything reads the site; once there, the
    checkout is pulled by each full scan (``bot.delivery.site_sync``), not here."""
    from bot.sources.git_site import GitCheckout

    checkout = GitCheckout.from_settings(settings)
    if checkout is None or checkout.head():
        return
    result = checkout.sync()
    if result.problem or not checkout.head():
        raise ConfigError(f"SITE_GIT_URL: could not clone the site: {result.detail}")


def check_site_dir(site_dir: Path) -> None:
    where = Path(site_dir)
    if not where.exists():
        raise ConfigError(f"{_SITE}: site folder not found: {where}")
    if not where.is_dir():
        raise ConfigError(f"{_SITE}: {where} is a file, not a Jekyll site folder")
    if not os.access(where, os.R_OK | os.X_OK):
        raise ConfigError(f"{_SITE}: {where} cannot be read by this user")
    if not ((where / "_config.yml").is_file() or (where / "_posts").is_dir()
            or any(where.glob("*/_posts"))):
        raise ConfigError(f"{_SITE}: {where} is not a Jekyll site: it has neither _config.yml "
                          "nor a _posts/ folder")


def site_url_problem(settings: Settings) -> str | None:
    """Why post URLs would not be absolute, or None when they are."""
    if settings.site_url:
        return None  # its shape is checked with the other settings
    from bot.sources.site import SiteConfig

    url = SiteConfig.load(settings.site_dir, timezone=settings.timezone).url
    if not url:
        return "the site has no public address: set `url` in _config.yml or SITE_URL"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ("`url` in _config.yml is not an absolute http(s) URL: fix it or set SITE_URL "
                "(https://example.com)")
    return None


def is_dry_run(settings: Settings) -> bool:
    # Only the commands that publish need the platform registry.
    from bot.platforms.registry import DRY_RUN_DESTINATION, targets

    return all(destination == DRY_RUN_DESTINATION for _, destination in targets(settings))


def check_data_dir(settings: Settings) -> Path:
    """DATA_DIR exists (made if missing), is a folder this user can write, and is not a folder
    Jekyll would publish with the site (the outbox, the embedded Redis password)."""
    data = Path(settings.data_dir)
    site = Path(settings.site_dir).resolve()
    resolved = data.resolve()
    if resolved.is_relative_to(site):
        inside = resolved.relative_to(site).parts
        if not any(part.startswith(".") for part in inside):
            raise ConfigError(
                f"DATA_DIR: {data} is inside the site folder, where Jekyll would publish it "
                "(the outbox, the Redis password): use a name starting with '.' (the default is "
                ".newsbot) or a folder outside the site"
            )
    if data.exists() and not data.is_dir():
        raise ConfigError(f"DATA_DIR: {data} is a file, not a folder")
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"DATA_DIR: {data} is not writable by this user "
                          f"({exc.strerror or exc})") from None
    ignore = data / ".gitignore"
    if resolved.is_relative_to(site) and not ignore.exists():
        # Inside a site that is a git checkout: keep the state out of its commits.
        ignore.write_text("# newsbot's state (DATA_DIR): never commit it\n*\n")
    return data


def redact_url(url: str) -> str:
    """A URL without its password, for messages."""
    try:
        parts = urlsplit(url)
        if not parts.password:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "(REDIS_URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_redis(url: str, *, timeout: float = 5.0) -> None:
    """REDIS_URL answers PING, or one line saying why not (Celery would otherwise retry with a
    traceback per attempt, or exit with kombu's)."""
    # Only with REDIS_URL set: `check` and `preview` never load the Redis client.
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    where = redact_url(url)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise ConfigError(f"REDIS_URL: {where} refused the password or user") from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc):
            raise ConfigError(f"REDIS_URL: {where} requires a password "
                              "(redis://:password@host:6379/0)") from None
        raise ConfigError(f"REDIS_URL: {where} answered PING with an error: {exc}") from None
    except redis.RedisError as exc:
        reason = str(exc)
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        raise ConfigError(f"REDIS_URL: cannot reach Redis at {where}: {reason}") from None
    finally:
        client.close()


def _password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""
