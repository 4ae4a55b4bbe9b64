"""newsbot's one settings object, read once from the environment and `.env`.

Every other module receives the values it needs as arguments; only the entry points (CLI,
Celery app) call `load_settings`. Secrets are `SecretStr` so that a settings object printed in a
log or a traceback shows `**********` instead of a token.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

#: Set to 1 by the test suite and the benchmarks only: it allows RATE_TIME_SCALE below 1.
TESTING_SWITCH = "NEWSBOT_TESTING"


class ConfigError(Exception):
    """A missing or invalid setting, as one line an operator can act on."""


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
        Path("var"), description="Embedded Redis data, image cache, dry-run outbox."
    )
    redis_url: str | None = Field(None, description="Use this Redis instead of the embedded one.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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
    watch: bool = Field(True, description="Watch _posts/ for file events (else rescans only).")
    lease_seconds: float = Field(
        120.0, gt=0, description="How long a lease outlives its last renewal."
    )
    rate_time_scale: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Tests and benchmarks only: shrinks rate-limit windows to match scaled fakes.",
    )

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
                import json

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
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """Whitespace-only (`TOKEN= `) is as unset as empty, which env_ignore_empty covers."""
        return None if isinstance(value, str) and not value.strip() else value

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
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        )
        return [f.get_secret_value() for f in fields if f is not None]

    @property
    def image_cache_dir(self) -> Path:
        return self.data_dir / "images"


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
