"""newsbot's one settings object, read once from the environment and `.env`.

Every other module receives the values it needs as arguments; only the entry points (CLI,
Celery app) call `load_settings`. Secrets are `SecretStr` so that a settings object printed in a
log or a traceback shows `**********` instead of a token.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

#: Set to 1 by the test suite and the benchmarks only: it allows RATE_TIME_SCALE below 1.
TESTING_SWITCH = "NEWSBOT_TESTING"


class ConfigError(Exception):
    """A missing or invalid setting, as one line an operator can act on."""


#: Secrets (and REDIS_URL, which may hold a password) can come from a file named by
#: ``<NAME>_FILE`` instead, as Docker Compose and Kubernetes secrets are mounted.
FILE_VARIABLES = ("telegram_bot_token", "x_api_key", "x_api_secret", "x_access_token",
                  "x_access_token_secret", "redis_url", "site_git_token", "webhook_secret")
_SECRET_FILE_MAX = 64 * 1024

#: The default DATA_DIR, inside the site folder: Jekyll never publishes a folder whose name
#: starts with a dot, and the state follows the site, whatever folder a command runs in.
DEFAULT_DATA_DIR = Path(".newsbot")

_CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{4,31}|-100[0-9]{1,16}")
_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{10,200}")
_PRINTABLE_KEY = re.compile(r"[\x21-\x7e]{1,500}")


#: X's pay-per-use prices in USD per call (contracts B5, since 2026-02; the URL surcharge since
#: 2026-04-20).  A table, not constants in the code: X changes them, so ``X_PRICES`` overrides
#: any of them.  Kinds: a post, a post whose text holds a URL, a media call (upload or
#: metadata), a delete, a read of the account's own data.
X_DEFAULT_PRICES: dict[str, float] = {
    "post": 0.015, "post_url": 0.20, "media": 0.005, "delete": 0.010, "read": 0.001,
}


def parse_prices(value: object) -> dict[str, float]:
    """``X_PRICES`` as JSON (``{"post_url": 0.25}``) or ``post_url=0.25,read=0.001``; kinds not
    named keep their default.  An unknown kind or a negative price is an error, never ignored:
    a misspelt kind would silently keep the old price."""
    if value is None:
        return dict(X_DEFAULT_PRICES)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return dict(X_DEFAULT_PRICES)
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError as exc:
                raise ValueError("X_PRICES is not valid JSON") from exc
        else:
            raw = {}
            for part in text.replace(";", ",").split(","):
                if not part.strip():
                    continue
                name, sep, price = part.partition("=")
                if not sep:
                    raise ValueError(f"X_PRICES: {part.strip()!r} is not kind=price")
                raw[name.strip()] = price.strip()
    elif isinstance(value, dict):
        raw = value
    else:
        raise ValueError("X_PRICES must be JSON or kind=price pairs")
    out = dict(X_DEFAULT_PRICES)
    for name, price in raw.items():
        kind = str(name).strip().lower()
        if kind not in X_DEFAULT_PRICES:
            raise ValueError(f"X_PRICES: unknown kind {kind!r} (known: "
                             f"{', '.join(X_DEFAULT_PRICES)})")
        try:
            number = float(price)
        except (TypeError, ValueError):
            raise ValueError(f"X_PRICES: {kind} price is not a number") from None
        if not 0 <= number < 1000:
            raise ValueError(f"X_PRICES: {kind} price must be between 0 and 1000 USD")
        out[kind] = number
    return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        env_ignore_empty=True,  # `X_DAILY_LIMIT=` as copied from .env.example means "default"
    )

    # --- the site -------------------------------------------------------------------------
    site_dir: Path = Field(
        Path("."), description="Jekyll source folder (holds _config.yml, _posts/)."
    )
    site_url: str | None = Field(
        None, description="Public site origin; default: `url` in _config.yml."
    )
    templates_dir: Path | None = Field(None, description="Folder with your own teaser templates.")
    timezone: str | None = Field(
        None, description="Overrides `timezone` in _config.yml (IANA name)."
    )
    hashtag_max: int = Field(3, ge=0, le=30, description="Most hashtags in one teaser.")
    image_allow_private_hosts: bool = Field(
        False,
        description="Allow fetching images from loopback/private addresses (tests, intranets).",
    )

    # --- runtime ----------------------------------------------------------------------------
    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Embedded Redis data, image cache, dry-run outbox; relative to the site.",
    )
    redis_url: str | None = Field(None, description="Use this Redis instead of the embedded one.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["logfmt", "json"] = Field(
        "logfmt", description="Log lines as logfmt text, or one JSON object a line (shippers).")
    metrics_listen: str | None = Field(
        None, description="host:port serving Prometheus /metrics (e.g. 127.0.0.1:9464); "
                          "unset = off.")

    # --- platforms ---------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_channel: str | None = Field(None, description="@channelname or numeric chat id.")
    telegram_api_url: str = "https://api.telegram.org"
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_api_url: str = "https://api.x.com"
    x_daily_limit: int | None = Field(None, ge=1, description="Most X posts per 24 hours.")
    x_link_mode: str = Field(
        "url", description="url | none | categories:<a,b>: which X teasers carry the post's "
                           "link (a post with a URL costs $0.20 on X, one without $0.015).")
    utm_template: str | None = Field(
        None, description="Query tags added to each outgoing link, e.g. "
                          "utm_source={platform}&utm_medium=social&utm_campaign={slug}.")
    x_prices: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: dict(X_DEFAULT_PRICES),
        description="USD per billable X call, by kind (X changes them): JSON or "
                    "`post=0.015,post_url=0.20,media=0.005,delete=0.010,read=0.001`.")
    x_monthly_budget: float | None = Field(
        None, ge=0, description="Most USD spent on X calls per calendar month (UTC).")
    x_daily_budget: float | None = Field(
        None, ge=0, description="Most USD spent on X calls per day (UTC).")

    # --- editors' desk (the editor bot) ---------------------------------------------------------
    telegram_editor_chat: str | None = Field(
        None, description="Chat id (or @name) that receives previews, failures and notices."
    )
    telegram_editor_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids allowed to use the editor commands."
    )
    editor_chat_members_are_editors: bool = Field(
        False, description="Also let members of TELEGRAM_EDITOR_CHAT use the commands."
    )
    bot_language: Literal["ko", "en"] = Field("ko", description="Language of the bot's replies.")
    approval_required: bool = Field(False, description="Nothing goes out until an editor approves.")
    notify_published: bool = Field(False, description="Tell the editors' chat about each publish.")
    edit_published: bool = Field(
        False, description="Edit the sent Telegram message in place when a published post's "
                           "title, excerpt or image changes (never a new post).")
    x_edit: bool = Field(
        False, description="Not supported: X edits need Premium and the first hour; refused.")
    bot_webhook_url: str | None = Field(
        None, description="Public HTTPS URL for webhook mode; unset = long polling."
    )
    bot_webhook_listen: str = Field("127.0.0.1:8443", description="host:port the webhook serves.")

    # --- delivery ----------------------------------------------------------------------------
    scan_seconds: float = Field(60.0, gt=0, description="Safety-net rescan interval.")
    scan_processes: int = Field(
        0, ge=0, le=64,
        description="Processes reading posts when a scan has many to read (0: one per CPU, "
                    "up to 4; 1: read in the scanning process).")
    max_age_hours: float = Field(48.0, gt=0,
                                 description="Older posts are skipped (first seen or due).")
    max_attempts: int = Field(5, ge=1, le=50, description="Sends tried before a post is failed.")
    min_spacing_seconds: float = Field(0.0, ge=0, description="Least time between two posts.")
    quiet_hours: str | None = Field(
        None,
        description="HH:MM-HH:MM in the site's timezone (may cross midnight): Telegram posts go "
                    "out silently inside it, X posts per QUIET_X; empty: off.")
    quiet_x: Literal["hold", "send"] = Field(
        "hold", description="X posts inside QUIET_HOURS: hold (wait for its end) or send.")
    breaking_categories: str = Field(
        "", description="Comma list of categories (case-insensitive) that make a post breaking.")
    pin_breaking: bool = Field(False, description="Pin each breaking post's Telegram message.")
    pin_hours: float = Field(
        6.0, gt=0, le=24 * 30,
        description="A breaking pin is unpinned this many hours after it was pinned.")
    # Pacing (bot/delivery/pacing.py): a cap per destination over any sliding hour; 0 = none.
    max_per_hour: int = Field(
        0, ge=0, le=3600,
        description="At most this many posts per destination in any sliding hour (0: no cap; "
                    "breaking posts are not held by it).")
    telegram_max_per_hour: int | None = Field(
        None, ge=0, le=3600, description="MAX_PER_HOUR for Telegram destinations (unset: "
                                         "MAX_PER_HOUR; 0: no cap).")
    x_max_per_hour: int | None = Field(
        None, ge=0, le=3600, description="MAX_PER_HOUR for X (unset: MAX_PER_HOUR; 0: no cap).")
    backlog_order: Literal["newest", "oldest"] = Field(
        "newest", description="When more posts are due than pacing allows, which goes next: "
                              "the newest post (by date) or the oldest.")
    watch: bool = Field(True, description="Watch _posts/ for file events (else rescans only).")
    lease_seconds: float = Field(
        120.0, gt=0, description="How long a lease outlives its last renewal."
    )
    health_seconds: float = Field(
        300.0, ge=0,
        description="Connection health check interval (Telegram getMe + getChatMember, X "
                    "GET /2/users/me), also run at start; 0 turns the checks off.")
    wait_for_live: bool | None = Field(
        None,
        description="Send a post only once its page is live (200, its title, its image); "
                    "default: on when the site URL is http(s) and a platform has credentials.")
    live_poll_seconds: float = Field(
        1.0, gt=0, le=3600, description="How often a post waiting for its page is checked.")
    live_timeout_minutes: float = Field(
        30.0, gt=0, description="After this long not live, the editors are told (once).")
    # `<NAME>_FILE`: read the secret from this file (Compose secrets); never both.
    telegram_bot_token_file: Path | None = Field(None, exclude=True, repr=False)
    x_api_key_file: Path | None = Field(None, exclude=True, repr=False)
    x_api_secret_file: Path | None = Field(None, exclude=True, repr=False)
    x_access_token_file: Path | None = Field(None, exclude=True, repr=False)
    x_access_token_secret_file: Path | None = Field(None, exclude=True, repr=False)
    redis_url_file: Path | None = Field(None, exclude=True, repr=False)
    site_git_token_file: Path | None = Field(None, exclude=True, repr=False)
    webhook_secret_file: Path | None = Field(None, exclude=True, repr=False)

    # --- a site that lives in Git (bot.sources.git_site) ----------------------------------
    site_git_url: str | None = Field(
        None, description="Clone the site from this Git remote (https, ssh or file URL, no "
                          "credentials in it); SITE_DIR is then the checkout, "
                          "DATA_DIR/site-git.")
    site_git_branch: str | None = Field(None, description="Branch to follow; default: the "
                                                          "remote's default branch.")
    site_git_token: SecretStr | None = Field(
        None, description="Token for an https remote (sent as an HTTP header, never stored).")
    site_git_username: str = Field(
        "x-access-token", description="User name sent with SITE_GIT_TOKEN (GitLab: oauth2).")
    site_git_ssh_key: Path | None = Field(None, description="Private key file for an ssh remote.")
    webhook_listen: str | None = Field(
        None, description="host:port serving /hooks/github, /hooks/gitlab, /hooks/deploy; "
                          "unset = off.")
    webhook_secret: SecretStr | None = Field(
        None, description="Shared secret of the webhooks (required with WEBHOOK_LISTEN).")

    rate_time_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Tests and benchmarks only: shrinks rate-limit windows to match scaled fakes.",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """`TELEGRAM_BOT_TOKEN_FILE=/run/secrets/bot_token` stands for the token itself, so a
        secret need not sit in an environment variable (visible in `docker inspect`)."""
        if not isinstance(data, dict):
            return data
        for name in FILE_VARIABLES:
            path = data.get(f"{name}_file")
            if path is None or (isinstance(path, str) and not path.strip()):
                continue
            env = f"{name.upper()}_FILE"
            given = data.get(name)
            if given is not None and not (isinstance(given, str) and not given.strip()):
                raise ConfigError(f"{name.upper()} and {env} are both set: keep one")
            data[name] = _read_secret_file(env, Path(str(path)).expanduser())
        return data

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        _host, sep, port = value.strip().rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9464 (or empty for off)")
        return value.strip()

    @field_validator("webhook_listen")
    @classmethod
    def _webhook_listen(cls, value: str | None) -> str | None:
        return cls._metrics_listen(value)

    @field_validator("site_git_url")
    @classmethod
    def _git_url_without_credentials(cls, value: str | None) -> str | None:
        """A token in the URL would be written to .git/config and shown by every git error:
        it belongs in SITE_GIT_TOKEN."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value) if "://" in value else None
        if parts is not None and (parts.password or (parts.username and parts.scheme.startswith(
                "http"))):
            raise ValueError("must not carry credentials; put the token in SITE_GIT_TOKEN")
        return value

    @model_validator(mode="after")
    def _site_in_git(self) -> Settings:
        """With SITE_GIT_URL the site is newsbot's checkout, DATA_DIR/site-git, whatever
        SITE_DIR says (a copied .env.example or the compose file's read-only /site); a
        relative DATA_DIR is then taken from the current folder (no site folder to be relative
        to).  A webhook endpoint needs its secret."""
        if self.site_git_url:
            self.data_dir = self.data_dir.expanduser().absolute()
            self.site_dir = self.data_dir / "site-git"
        if self.webhook_listen and self.webhook_secret is None:
            raise ConfigError("WEBHOOK_LISTEN needs WEBHOOK_SECRET (the webhooks' shared secret)")
        return self

    @field_validator("log_format", "backlog_order", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
    @field_validator("x_prices", mode="before")
    @classmethod
    def _prices(cls, value: object) -> dict[str, float]:
        return parse_prices(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_editor_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        """Accept `123,456` or `123 456` as well as a JSON list, as operators write it."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    return value
            return [part for part in text.replace(",", " ").split() if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator(
        "site_url",
        "telegram_channel",
        "timezone",
        "telegram_editor_chat",
        "bot_webhook_url",
        "telegram_bot_token",
        "x_api_key",
        "x_api_secret",
        "x_access_token",
        "x_access_token_secret",
        "templates_dir",
        "redis_url",
        "utm_template",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """Whitespace-only (`TOKEN= `) is as unset as empty, which env_ignore_empty covers."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        """Celery's broker and redis-py must both understand the URL: redis:// or rediss://.
        Only the scheme is named in the error, never the URL (it may hold a password)."""
        if value is None:
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("redis", "rediss"):
            got = f"{scheme}://" if scheme and scheme.isascii() and scheme.isalnum() else (
                "a URL of another kind" if scheme else "no scheme")
            raise PydanticCustomError(
                "redis_scheme",
                "must be redis://[:password@]host[:port][/db] or rediss://... (TLS); got {got}",
                {"got": got},
            )
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise PydanticCustomError("redis_port", "the port is not a number") from None
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise PydanticCustomError("redis_db", "the database after the last / must be a number")
        return value

    @field_validator("telegram_channel")
    @classmethod
    def _channel_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _CHANNEL.fullmatch(value):
            raise PydanticCustomError(
                "channel",
                "must be the channel's public @name (5-32 letters, digits or _) or its numeric "
                "id starting with -100",
            )
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        """Caught here, a pasted quote, a space or a placeholder is a one-line error at start
        instead of a 404 from Telegram at the first send.  The token itself is never echoed."""
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not _BOT_TOKEN.fullmatch(token):
            raise PydanticCustomError(
                "bot_token",
                "not a bot token as @BotFather gives it (digits, a colon, then letters, digits, "
                "- and _); the value is not shown",
            )
        return SecretStr(token)

    @field_validator("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")
    @classmethod
    def _x_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not _PRINTABLE_KEY.fullmatch(key):
            raise PydanticCustomError(
                "x_key",
                "holds a space, a line break or another invisible character; copy "
                "the key again (the value is not shown)",
            )
        return SecretStr(key)

    @field_validator("x_edit")
    @classmethod
    def _no_x_edit(cls, value: bool) -> bool:
        """Refused rather than ignored: an operator who asks for X edits must learn that
        newsbot never edits (nor re-posts) on X, and that corrections there are by hand."""
        if value:
            raise PydanticCustomError(
                "x_edit",
                "X_EDIT=true is not supported: an X edit needs X Premium and works only in the "
                "first hour (and X gives the edit a new post id); newsbot never edits or "
                "re-posts on X. Correct the post on X by hand, or delete it with the "
                "retraction buttons. Set X_EDIT=false",
            )
        return value

    @field_validator("x_link_mode", mode="before")
    @classmethod
    def _link_mode(cls, value: object) -> object:
        """Checked at start: a typo must not silently post every link ($0.20 each) or none."""
        if not isinstance(value, str):
            return value
        try:
            kind, categories = parse_x_link_mode(value)
        except ValueError as exc:
            raise PydanticCustomError("x_link_mode", str(exc)) from None
        return f"categories:{','.join(categories)}" if kind == "categories" else kind

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, value: object) -> object:
        """Checked at start: a typo must not silently notify the readers at night."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        try:
            start, end = parse_quiet_hours(value)
        except ValueError as exc:
            raise PydanticCustomError("quiet_hours", str(exc)) from None
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"

    @field_validator("quiet_x", mode="before")
    @classmethod
    def _quiet_x(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("breaking_categories", mode="before")
    @classmethod
    def _breaking_categories(cls, value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, str):
            return ",".join(dict.fromkeys(
                c.strip().lower() for c in value.split(",") if c.strip()))
        return value

    @field_validator("utm_template")
    @classmethod
    def _utm_shape(cls, value: str | None) -> str | None:
        """An unknown placeholder would fail every send (or tag every link wrongly): refused
        at start instead, naming the placeholders that exist."""
        if value is None:
            return None
        try:
            return check_utm_template(value)
        except ValueError as exc:
            raise PydanticCustomError("utm_template", str(exc)) from None

    @field_validator("site_url")
    @classmethod
    def _absolute_site_url(cls, value: str | None) -> str | None:
        """Every post link is built on it: a relative one would be published as is."""
        if value is None:
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise PydanticCustomError(
                "site_url", "must be an absolute http(s) URL such as https://example.com"
            )
        return value

    @model_validator(mode="after")
    def _data_dir_beside_site(self) -> Settings:
        """A relative DATA_DIR is the site's, not the current folder's: `newsbot status --site X`
        run from anywhere finds the state `newsbot run --site X` keeps."""
        site = self.site_dir.expanduser()
        data = self.data_dir.expanduser()
        self.site_dir = site
        self.data_dir = data if data.is_absolute() else (site / data).absolute()
        return self

    @field_validator("rate_time_scale")
    @classmethod
    def _scaled_time_only_in_tests(cls, value: float) -> float:
        """Shrunk windows would send faster than Telegram and X allow and get the channel or the
        app rate-limited or banned; nothing but the test suite and the benchmarks (which run
        against time-scaled fakes and set the switch) has a reason to shrink them."""
        if value != 1.0 and os.environ.get(TESTING_SWITCH) != "1":
            raise PydanticCustomError(
                "test_only",
                "for tests and benchmarks only (it shrinks Telegram's and X's real rate-limit "
                "windows); remove it",
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    def secret_values(self) -> list[str]:
        """Every configured secret in clear, for the log redactor only."""
        fields = (
            self.telegram_bot_token,
            self.x_api_key,
            self.x_api_secret,
            self.x_access_token,
            self.x_access_token_secret,
            self.site_git_token,
            self.webhook_secret,
        )
        return [f.get_secret_value() for f in fields if f is not None]

    @property
    def image_cache_dir(self) -> Path:
        return self.data_dir / "images"


#: What UTM_TEMPLATE may name: ``{platform}`` (telegram, x), ``{slug}``, ``{category}`` (the
#: post's first category, or empty) and ``{date}`` (the post's date, YYYY-MM-DD).
UTM_PLACEHOLDERS: tuple[str, ...] = ("platform", "slug", "category", "date")
#: Literal text of UTM_TEMPLATE: query characters only, so it goes into a URL as written.
_UTM_LITERAL = re.compile(r"[A-Za-z0-9\-._~%+=&!$'()*,;:@/?]*")


def parse_quiet_hours(value: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` -> (start, end) in minutes after midnight; the window may cross midnight
    (``23:00-07:00``).  Why here: the setting is checked at start (a bad value is an ``error:``
    line and exit 2), and delivery computes the window from the same parse."""
    text = value.strip()
    match = _QUIET_RE.fullmatch(text)
    if match is None:
        raise ValueError("must look like 23:00-07:00 (HH:MM-HH:MM, 24-hour clock)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("hours go 00-23 and minutes 00-59, e.g. 23:00-07:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError("start and end are the same time: leave QUIET_HOURS empty to turn "
                         "quiet hours off")
    return start, end


_QUIET_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def parse_x_link_mode(value: str) -> tuple[str, tuple[str, ...]]:
    """``url`` | ``none`` | ``categories:a,b`` -> (kind, categories as written, deduplicated).

    Categories are compared case-insensitively with a post's categories (see
    ``bot.teasers.links``), as an editor would read them."""
    text = value.strip()
    head, sep, rest = text.partition(":")
    kind = head.strip().lower()
    if kind in ("url", "none") and not sep:
        return kind, ()
    if kind == "categories" and sep:
        names: list[str] = []
        for part in rest.split(","):
            name = part.strip()
            if name and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
        if names:
            return "categories", tuple(names)
        raise ValueError("categories: needs at least one category, e.g. categories:news,tech")
    raise ValueError("must be url, none or categories:<comma-separated categories>")


def check_utm_template(value: str) -> str:
    """UTM_TEMPLATE as given, or ValueError naming the problem (never the whole value)."""
    import string

    text = value.strip()
    pairs = [p for p in text.split("&") if p]
    if not pairs:
        raise ValueError("is empty; e.g. utm_source={platform}&utm_medium=social")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"is not a valid template ({exc}); write placeholders as "
                         "{name}") from None
    for literal, name, spec, conversion in parsed:
        if not _UTM_LITERAL.fullmatch(literal):
            raise ValueError("holds characters a query string cannot carry as written "
                             "(spaces, quotes, #); percent-encode them")
        if name is None:
            continue
        if name not in UTM_PLACEHOLDERS:
            shown = name if name.isidentifier() and len(name) <= 40 else "that name"
            raise ValueError(f"unknown placeholder {{{shown}}}; known: "
                             + ", ".join(f"{{{n}}}" for n in UTM_PLACEHOLDERS))
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion")
    for pair in pairs:
        key = pair.partition("=")[0]
        if not key or "{" in key:
            raise ValueError("every tag must be name=value with a fixed name, e.g. "
                             "utm_source={platform}")
    return text


def _read_secret_file(env: str, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_SECRET_FILE_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"{env}: cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > _SECRET_FILE_MAX:
        raise ConfigError(f"{env}: {path} is larger than 64 KB; it should hold one secret")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{env}: {path} is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{env}: {path} is empty")
    return text


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's multi-line report into one actionable line."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except SettingsError as exc:
        raise ConfigError(f"invalid setting: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        problems = len(exc.errors())
        more = f" (and {problems - 1} more)" if problems > 1 else ""
        # Never echo the rejected value: it may be a secret.
        raise ConfigError(
            f"invalid setting {name.upper()}: {first.get('msg', 'invalid')}{more}"
        ) from None
