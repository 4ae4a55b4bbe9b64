"""newsbot's one settings object, read once from the environment and `.env`.

Every other module receives the values it needs as arguments; only the entry points (CLI,
Celery app) call `load_settings`. Secrets are `SecretStr` so that a settings object printed in a
log or a traceback shows `**********` instead of a token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A missing or invalid setting, as one line an operator can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
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

    # --- delivery ----------------------------------------------------------------------------
    scan_seconds: float = Field(60.0, gt=0, description="Safety-net rescan interval.")
    max_age_hours: float = Field(48.0, gt=0, description="Older posts are skipped when first seen.")
    max_attempts: int = Field(5, ge=1, le=50, description="Sends tried before a post is failed.")
    min_spacing_seconds: float = Field(0.0, ge=0, description="Least time between two posts.")
    watch: bool = Field(True, description="Watch _posts/ for file events (else rescans only).")
    lease_seconds: float = Field(
        120.0, gt=0, description="How long a send may take before its record becomes in_doubt."
    )
    rate_time_scale: float = Field(
        1.0, gt=0, le=1, description="Shrinks rate-limit windows (benchmarks against scaled fakes)."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("site_url", "telegram_channel", "timezone", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
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
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        problems = len(exc.errors())
        more = f" (and {problems - 1} more)" if problems > 1 else ""
        # Never echo the rejected value: it may be a secret.
        raise ConfigError(
            f"invalid setting {name.upper()}: {first.get('msg', 'invalid')}{more}"
        ) from None
