"""Settings: every one documented in .env.example, read from env and .env, errors in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import TESTING_SWITCH, ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
# Settings that exist for the test suite and benchmarks only: no operator should ever set them.
TEST_ONLY = {"RATE_TIME_SCALE"}


def _readme_settings_table() -> set[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| ([^|]*) \|", section, re.M)
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}


def test_every_setting_is_documented_in_env_example() -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))
    assert documented == {name.upper() for name in Settings.model_fields} - TEST_ONLY
    assert not TEST_ONLY & set(re.findall(r"[A-Z][A-Z0-9_]{3,}", text))
    for name in documented:  # each has a comment line right above it (or above its group)
        block = text.split(f"\n{name}=")[0].rstrip().splitlines()
        assert block and (block[-1].startswith("#") or re.match(r"^[A-Z_]+=", block[-1])), name


def test_readme_settings_table_is_the_operator_settings() -> None:
    table = _readme_settings_table()
    assert table == {name.upper() for name in Settings.model_fields} - TEST_ONLY
    assert TESTING_SWITCH not in table


def test_the_test_switch_is_documented_only_with_tests_and_benchmarks() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    sections = {part.split("\n", 1)[0]: part for part in readme.split("\n## ")[1:]}
    holding = {title for title, body in sections.items() if TESTING_SWITCH in body}
    assert holding and holding <= {"Tests", "Benchmarks"}
    assert not any("RATE_TIME_SCALE" in body for title, body in sections.items()
                   if title not in {"Tests", "Benchmarks"})


@pytest.mark.parametrize("value", ["0.01", "0.5"])
def test_rate_time_scale_is_refused_outside_tests_and_benchmarks(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.delenv(TESTING_SWITCH, raising=False)
    monkeypatch.setenv("RATE_TIME_SCALE", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "RATE_TIME_SCALE" in message and "tests" in message and "\n" not in message
    monkeypatch.delenv("RATE_TIME_SCALE")
    with pytest.raises(ConfigError, match="RATE_TIME_SCALE"):
        load_settings(rate_time_scale=0.001)
    monkeypatch.setenv("RATE_TIME_SCALE", "1")  # the real windows: nothing to refuse
    assert load_settings().rate_time_scale == 1.0


def test_rate_time_scale_is_allowed_with_the_test_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTING_SWITCH, "1")
    monkeypatch.setenv("RATE_TIME_SCALE", "0.01")
    assert load_settings().rate_time_scale == 0.01


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


def test_a_relative_data_dir_is_the_sites_not_the_current_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in ("DATA_DIR", "SITE_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(site_dir=site).data_dir == site / ".newsbot"
    monkeypatch.setenv("DATA_DIR", ".state/newsbot")
    assert load_settings(site_dir=site).data_dir == site / ".state" / "newsbot"
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert load_settings(site_dir=site).data_dir == tmp_path / "data"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATA_DIR", "~/state")
    assert load_settings(site_dir=Path("site")).data_dir == tmp_path / "state"
    monkeypatch.delenv("DATA_DIR")
    # a relative --site is the current folder's, and its state follows it
    relative = load_settings(site_dir=Path("../site"))
    assert relative.data_dir == elsewhere / ".." / "site" / ".newsbot"


def test_secrets_from_files_also_named_in_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "X_API_KEY", "TELEGRAM_BOT_TOKEN_FILE", "X_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    token = "123456:" + "S3cret-token-from-a-file"
    (tmp_path / "token").write_text(f"  {token}\n")
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN_FILE={tmp_path / 'token'}\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == token
    assert token not in repr(settings) and "telegram_bot_token_file" not in settings.model_dump()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_TOKEN_FILE"):
        load_settings()
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    (tmp_path / "token").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"TELEGRAM_BOT_TOKEN_FILE: .* not UTF-8"):
        load_settings()
    (tmp_path / "token").write_text("x" * 70_000)
    with pytest.raises(ConfigError, match="larger than 64 KB"):
        load_settings()


@pytest.mark.parametrize(("name", "value"), [
    ("REDIS_URL", "localhost:6379"), ("REDIS_URL", "http://localhost:6379/0"),
    ("REDIS_URL", "redis://localhost:port/0"), ("REDIS_URL", "redis://localhost:6379/db"),
    ("TELEGRAM_CHANNEL", "mychannel"), ("TELEGRAM_CHANNEL", "@four"),
    ("TELEGRAM_CHANNEL", "@" + "a" * 33), ("TELEGRAM_CHANNEL", "-12345"),
    ("TELEGRAM_BOT_TOKEN", "YOUR_TOKEN_HERE"), ("TELEGRAM_BOT_TOKEN", '"123:abcdefghijklmno"'),
    ("X_API_KEY", "key with space"), ("SITE_URL", "newsdao.kr"), ("SITE_URL", "ftp://x.kr"),
])
def test_values_of_the_wrong_shape_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in str(err.value) and "\n" not in str(err.value)
    if name in ("TELEGRAM_BOT_TOKEN", "X_API_KEY"):
        assert value not in str(err.value)


@pytest.mark.parametrize(("name", "value"), [
    ("REDIS_URL", "redis://:p@localhost:6379/0"), ("REDIS_URL", "rediss://h.example:6380"),
    ("TELEGRAM_CHANNEL", "@newsdao"), ("TELEGRAM_CHANNEL", "-1001234567890"),
    ("TELEGRAM_BOT_TOKEN", "123456789:TEST-fake-token-not-real_0123"),
    ("SITE_URL", "https://newsdao.kr"),
])
def test_values_of_the_right_shape_are_kept(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    got = getattr(load_settings(), name.lower())
    assert (got.get_secret_value() if hasattr(got, "get_secret_value") else got) == value


def test_x_edit_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """X edits need Premium and the first hour: newsbot refuses the setting rather than
    pretending to honour it."""
    from pydantic import ValidationError

    monkeypatch.setenv("X_EDIT", "true")
    with pytest.raises(ValidationError, match="X_EDIT=true is not supported"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("X_EDIT", "false")
    monkeypatch.setenv("EDIT_PUBLISHED", "true")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.edit_published is True and settings.x_edit is False


@pytest.mark.parametrize("value", ["127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", ":9464"])
def test_metrics_listen_accepts_host_and_port(value: str) -> None:
    assert Settings(_env_file=None, metrics_listen=value).metrics_listen == value  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["9464", "localhost", "host:http", "host:70000"])
def test_metrics_listen_refuses_what_is_not_host_and_port(value: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        Settings(_env_file=None, metrics_listen=value)  # type: ignore[call-arg]


def test_metrics_listen_empty_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_LISTEN", "")
    assert Settings(_env_file=None).metrics_listen is None  # type: ignore[call-arg]
