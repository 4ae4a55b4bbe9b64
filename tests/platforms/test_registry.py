"""build_publishers: every combination of platform settings, and errors that never leak values."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.platforms.dryrun import DryRunPublisher
from bot.platforms.registry import build_publishers, is_dry_run, secrets_of
from bot.platforms.telegram import TelegramPublisher
from bot.platforms.x import XPublisher

TOKEN = "123456:TEST-fake-token-secret-value"
X_KEYS = {
    "x_api_key": "xk-secret-1",
    "x_api_secret": "xs-secret-2",
    "x_access_token": "xt-secret-3",
    "x_access_token_secret": "xts-secret-4",
}
X_ENV = {
    "x_api_key": "X_API_KEY",
    "x_api_secret": "X_API_SECRET",
    "x_access_token": "X_ACCESS_TOKEN",
    "x_access_token_secret": "X_ACCESS_TOKEN_SECRET",
}


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings also read the process environment: a developer's real keys must not leak in."""
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHANNEL", *X_ENV.values()):
        monkeypatch.delenv(name, raising=False)


def close_all(publishers: list[Any]) -> None:
    for p in publishers:
        p.close()


def test_nothing_configured_is_a_dry_run_per_platform(tmp_path: Path) -> None:
    pubs = build_publishers(settings(tmp_path))
    assert [(type(p), p.platform, p.destination) for p in pubs] == [
        (DryRunPublisher, "telegram", "dryrun"),
        (DryRunPublisher, "x", "dryrun"),
    ]
    assert all(p.path == tmp_path / "outbox.jsonl" for p in pubs)  # type: ignore[attr-defined]
    assert is_dry_run(pubs)
    assert secrets_of(settings(tmp_path)) == []


def test_blank_values_count_as_unset(tmp_path: Path) -> None:
    s = settings(tmp_path, telegram_bot_token="  ", telegram_channel=" ", x_api_key="")
    assert is_dry_run(build_publishers(s))


def test_telegram_only(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        telegram_bot_token=TOKEN,
        telegram_channel="@newsdao",
        telegram_api_url="http://127.0.0.1:9",
    )
    pubs = build_publishers(s)
    try:
        [pub] = pubs
        assert isinstance(pub, TelegramPublisher)
        assert (pub.platform, pub.destination) == ("telegram", "@newsdao")
        assert not is_dry_run(pubs)
        assert TOKEN not in repr(pub)
    finally:
        close_all(pubs)
    assert secrets_of(s) == [TOKEN]


def test_x_only(tmp_path: Path) -> None:
    s = settings(tmp_path, **X_KEYS)
    pubs = build_publishers(s)
    try:
        [pub] = pubs
        assert isinstance(pub, XPublisher)
        assert (pub.platform, pub.destination) == ("x", "x")
        assert not is_dry_run(pubs)
    finally:
        close_all(pubs)
    assert sorted(secrets_of(s)) == sorted(X_KEYS.values())


def test_both_platforms(tmp_path: Path) -> None:
    s = settings(tmp_path, telegram_bot_token=TOKEN, telegram_channel="-1001234", **X_KEYS)
    pubs = build_publishers(s)
    try:
        assert [type(p) for p in pubs] == [TelegramPublisher, XPublisher]
        assert pubs[0].destination == "-1001234"
    finally:
        close_all(pubs)
    assert sorted(secrets_of(s)) == sorted([TOKEN, *X_KEYS.values()])


def test_token_without_channel_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_publishers(settings(tmp_path, telegram_bot_token=TOKEN))
    assert str(info.value) == "TELEGRAM_CHANNEL is required when TELEGRAM_BOT_TOKEN is set"


def test_channel_without_token_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_publishers(settings(tmp_path, telegram_channel="@newsdao"))
    assert "TELEGRAM_BOT_TOKEN" in str(info.value)


@pytest.mark.parametrize(
    "present",
    [set(c) for n in (1, 2, 3) for c in combinations(X_KEYS, n)],
    ids=lambda s: "+".join(sorted(s)),
)
def test_partial_x_keys_name_the_missing_ones_only(tmp_path: Path, present: set[str]) -> None:
    values = {k: v for k, v in X_KEYS.items() if k in present}
    with pytest.raises(ConfigError) as info:
        build_publishers(settings(tmp_path, telegram_bot_token=TOKEN, telegram_channel="@cchan",
                                  **values))  # fmt: skip
    message = str(info.value)
    assert message.startswith("X needs all four keys: ")
    named = message.removeprefix("X needs all four keys: ").rsplit(" ", 2)[0].split(", ")
    assert sorted(named) == sorted(X_ENV[k] for k in X_KEYS if k not in present)
    assert not any(v in message for v in (TOKEN, *X_KEYS.values()))
