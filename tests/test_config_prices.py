"""X_PRICES and the X budgets as an operator writes them in the environment."""

from __future__ import annotations

import pytest

from bot.config import X_DEFAULT_PRICES, ConfigError, load_settings


def settings(monkeypatch: pytest.MonkeyPatch, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


def test_defaults_are_x_pay_per_use_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch)
    assert s.x_prices == {"post": 0.015, "post_url": 0.20, "media": 0.005, "delete": 0.010,
                          "read": 0.001} == X_DEFAULT_PRICES
    assert s.x_monthly_budget is None and s.x_daily_budget is None


@pytest.mark.parametrize("value", ['{"post_url": 0.25, "read": 0}',
                                   "post_url=0.25, read=0", "POST_URL=0.25;read=0"])
def test_prices_from_json_or_pairs_keep_the_others(monkeypatch: pytest.MonkeyPatch,
                                                   value: str) -> None:
    prices = settings(monkeypatch, X_PRICES=value).x_prices
    assert prices == {**X_DEFAULT_PRICES, "post_url": 0.25, "read": 0.0}


@pytest.mark.parametrize("value", ["like=0.1", "post=-1", "post=cheap", "post", "{bad json"])
def test_bad_prices_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ConfigError, match="X_PRICES"):
        settings(monkeypatch, X_PRICES=value)


def test_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, X_MONTHLY_BUDGET="180", X_DAILY_BUDGET="6.5")
    assert (s.x_monthly_budget, s.x_daily_budget) == (180.0, 6.5)
    with pytest.raises(ConfigError, match="X_DAILY_BUDGET"):
        settings(monkeypatch, X_DAILY_BUDGET="-1")
