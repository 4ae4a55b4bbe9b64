"""Settings: every one documented in .env.example, read from env and .env, errors in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_env_example() -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))
    assert documented == {name.upper() for name in Settings.model_fields}
    for name in documented:  # each has a comment line right above it (or above its group)
        block = text.split(f"\n{name}=")[0].rstrip().splitlines()
        assert block and (block[-1].startswith("#") or re.match(r"^[A-Z_]+=", block[-1])), name


def test_env_example_itself_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=REPO / ".env.example")  # type: ignore[call-arg]
    assert settings.telegram_bot_token is None and settings.x_api_key is None
    assert settings.site_dir == Path("examples/site")


def test_secrets_never_show_in_a_repr_or_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "123456:" + "S3cret-token-value-for-config-test"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    monkeypatch.setenv("X_API_SECRET", "x-secret-value-123")
    settings = load_settings()
    assert token not in repr(settings) and "x-secret-value-123" not in repr(settings)
    assert set(settings.secret_values()) == {token, "x-secret-value-123"}
    monkeypatch.setenv("MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "MAX_ATTEMPTS" in str(err.value) and token not in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("", []), ("12", [12]), ("12, 34", [12, 34]), ("12 34", [12, 34]), ("[5, 6]", [5, 6])],
)
def test_editor_ids_as_operators_write_them(
    monkeypatch: pytest.MonkeyPatch, raw: str, ids: list[int]
) -> None:
    monkeypatch.setenv("TELEGRAM_EDITOR_IDS", raw)
    assert load_settings().telegram_editor_ids == ids


def test_bad_editor_ids_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_EDITOR_IDS", "alice")
    with pytest.raises(ConfigError, match="TELEGRAM_EDITOR_IDS"):
        load_settings()
