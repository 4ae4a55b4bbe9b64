"""Settings of a site that lives in Git and of the webhook endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_checkout_is_always_under_the_data_dir(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    s = _settings(site_git_url="https://example.com/site.git", data_dir=tmp_path / "var")
    assert s.site_dir == tmp_path / "var" / "site-git"
    # SITE_DIR from a copied .env.example or the compose file's read-only /site: not used
    s = _settings(site_git_url="https://example.com/site.git", site_dir="/site",
                  data_dir="/data")
    assert s.site_dir == Path("/data/site-git")
    monkeypatch.chdir(tmp_path)
    s = _settings(site_git_url="https://example.com/site.git", site_dir="elsewhere")
    assert s.site_dir == tmp_path / ".newsbot" / "site-git"
    assert _settings(site_dir=tmp_path).site_dir == tmp_path  # no Git: unchanged


@pytest.mark.parametrize("url", [
    "https://user:ghp_TEST-fake-token-not-real@github.com/o/r.git",
    "https://ghp_TEST-fake-token-not-real@github.com/o/r.git",
])
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(site_git_url=url)
    assert "SITE_GIT_TOKEN" in str(info.value)
    assert "ghp_TEST" not in str(info.value)


@pytest.mark.parametrize("url", ["git@github.com:o/r.git", "ssh://git@github.com/o/r.git",
                                 "https://github.com/o/r.git", "file:///srv/site.git"])
def test_plain_urls_are_accepted(url: str) -> None:
    assert _settings(site_git_url=url).site_git_url == url


def test_the_webhook_endpoint_needs_its_secret() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        _settings(webhook_listen="127.0.0.1:8090")
    s = _settings(webhook_listen="127.0.0.1:8090", webhook_secret="whsec-TEST-fake-secret")
    assert s.webhook_listen == "127.0.0.1:8090"
    assert "whsec-TEST-fake-secret" in s.secret_values()
    with pytest.raises(ConfigError):
        load_settings(webhook_listen="nope", webhook_secret="x" * 20)


def test_the_token_is_a_secret(tmp_path: Path) -> None:
    s = _settings(site_git_url="https://example.com/r.git",
                  site_git_token="ghp_TEST-fake-token-not-real-123", data_dir=tmp_path)
    assert "ghp_TEST" not in repr(s)
    assert "ghp_TEST-fake-token-not-real-123" in s.secret_values()


def test_the_token_and_the_secret_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("ghp_TEST-fake-token-from-a-file-123\n")
    (tmp_path / "secret").write_text("whsec-TEST-fake-secret-from-a-file\n")
    s = load_settings(site_git_url="https://example.com/r.git", data_dir=tmp_path,
                      site_git_token_file=tmp_path / "token", webhook_listen="127.0.0.1:1",
                      webhook_secret_file=tmp_path / "secret")
    assert s.site_git_token is not None and s.webhook_secret is not None
    assert s.site_git_token.get_secret_value() == "ghp_TEST-fake-token-from-a-file-123"
    assert s.webhook_secret.get_secret_value() == "whsec-TEST-fake-secret-from-a-file"
