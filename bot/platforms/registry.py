"""Which publishers a configuration asks for; the only place that knows every platform.

Half a configuration is an error, never a silent dry run or a silently skipped platform: an
operator who set a token expects posts to go out. With no platform configured at all newsbot runs
dry, writing every teaser to the outbox file, which is how a new installation is tried safely.
Error messages name settings, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.platforms.base import Publisher

if TYPE_CHECKING:  # the publishers (PTB, tweepy) load only when a process builds them
    from bot.platforms.telegram import TelegramPublisher
    from bot.platforms.x import XPublisher

DRY_RUN_PLATFORMS = ("telegram", "x")
DRY_RUN_DESTINATION = "dryrun"
_X_KEYS = (
    ("x_api_key", "X_API_KEY"),
    ("x_api_secret", "X_API_SECRET"),
    ("x_access_token", "X_ACCESS_TOKEN"),
    ("x_access_token_secret", "X_ACCESS_TOKEN_SECRET"),
)


def targets(settings: Settings) -> list[tuple[str, str]]:
    """(platform, destination) of every publisher ``build_publishers`` would build, in the same
    order, without building them (a quick command needs the names, not the HTTP clients)."""
    out: list[tuple[str, str]] = []
    if _telegram_token(settings):
        out.append(("telegram", (settings.telegram_channel or "").strip()))
    if _x_values(settings):
        out.append(("x", "x"))
    return out or [(platform, DRY_RUN_DESTINATION) for platform in DRY_RUN_PLATFORMS]


def build_publishers(settings: Settings) -> list[Publisher]:
    """Real publishers for every configured platform, else one dry-run publisher per platform."""
    # Each platform's client library (python-telegram-bot, tweepy) loads only when it is configured.
    from bot.platforms.dryrun import DryRunPublisher

    publishers: list[Publisher] = []
    telegram = _telegram(settings)
    if telegram is not None:
        publishers.append(telegram)
    x = _x(settings)
    if x is not None:
        publishers.append(x)
    if publishers:
        return publishers
    return [DryRunPublisher(platform, settings.data_dir, prices=settings.x_prices)
            for platform in DRY_RUN_PLATFORMS]


def is_dry_run(publishers: Sequence[Publisher]) -> bool:
    return bool(publishers) and all(getattr(p, "dry_run", False) for p in publishers)


def secrets_of(settings: Settings) -> list[str]:
    """Every configured secret value, for log redaction."""
    fields = ("telegram_bot_token", *(name for name, _ in _X_KEYS))
    return [v for v in (_secret(getattr(settings, name)) for name in fields) if v]


def _telegram_token(settings: Settings) -> str:
    """The bot token when Telegram is configured; half a configuration is an error."""
    token = _secret(settings.telegram_bot_token)
    channel = (settings.telegram_channel or "").strip()
    if token and not channel:
        raise ConfigError("TELEGRAM_CHANNEL is required when TELEGRAM_BOT_TOKEN is set")
    if channel and not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is required when TELEGRAM_CHANNEL is set")
    return token


def _telegram(settings: Settings) -> TelegramPublisher | None:
    token = _telegram_token(settings)
    if not token:
        return None
    from bot.platforms.telegram import TelegramPublisher

    return TelegramPublisher(token, (settings.telegram_channel or "").strip(),
                             api_url=settings.telegram_api_url)


def _x_values(settings: Settings) -> dict[str, str]:
    """The four X keys when X is configured (empty when none is); some missing is an error."""
    values = {env: _secret(getattr(settings, name)) for name, env in _X_KEYS}
    missing = [env for env, value in values.items() if not value]
    if len(missing) == len(values):
        return {}
    if missing:
        raise ConfigError(
            f"X needs all four keys: {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing"
        )
    return values


def _x(settings: Settings) -> XPublisher | None:
    values = _x_values(settings)
    if not values:
        return None
    from bot.platforms.x import XPublisher
    from bot.platforms.x_api import XCredentials

    creds = XCredentials(*(values[env] for _, env in _X_KEYS))
    return XPublisher(creds, api_url=settings.x_api_url)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""
