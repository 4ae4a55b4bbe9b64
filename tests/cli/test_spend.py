"""`newsbot spend` and the spend lines of `newsbot status` through typer, on the real test
Redis, from a ledger the way the X transport fills it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.common import UserError
from bot.state.spend import SpendLedger

DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"


@pytest.fixture
def cli(redis_client: redis.Redis, redis_url: str, tmp_path: Path):
    runner = CliRunner()
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "var"), "SITE_DIR": str(DEMO_SITE),
           "TELEGRAM_BOT_TOKEN": "", "TELEGRAM_CHANNEL": "", "X_API_KEY": "", "X_API_SECRET": "",
           "X_ACCESS_TOKEN": "", "X_ACCESS_TOKEN_SECRET": "", "X_MONTHLY_BUDGET": "10",
           "X_DAILY_BUDGET": "1"}

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


@pytest.fixture
def ledger(redis_client: redis.Redis) -> SpendLedger:
    return SpendLedger(redis_client)  # the default namespace, as the CLI's


def test_spend_json_month_to_date_per_day_and_projection(cli, ledger: SpendLedger) -> None:
    now = ledger.now()
    ledger.charge("post_url", count=3, now=now)
    ledger.charge("media", count=2, now=now)
    ledger.charge("read", now=now)
    data = json.loads(cli("spend", "--json"))
    month = datetime.fromtimestamp(now, UTC).strftime("%Y-%m")
    assert data["month"] == month
    assert data["total_usd"] == data["today_usd"] == 0.611
    assert data["by_kind"]["post_url"] == {"calls": 3, "usd": 0.6}
    assert [d["date"] for d in data["days"]] == [datetime.fromtimestamp(now, UTC)
                                                 .strftime("%Y-%m-%d")]
    assert data["projection_usd"] >= data["total_usd"]
    assert data["monthly_budget_usd"] == 10 and data["month_left_usd"] == 9.389
    text = cli("spend")
    assert f"X spend in {month}" in text
    assert "month to date $0.611, today $0.611" in text
    assert "3 posts with a URL $0.600" in text
    assert "monthly budget $10.000 ($9.389 left)" in text


def test_spend_of_another_month_and_a_bad_month(cli, ledger: SpendLedger) -> None:
    data = json.loads(cli("spend", "--month", "2020-01", "--json"))
    assert data["total_usd"] == 0 and data["days"] == [] and data["projection_usd"] == 0
    with pytest.raises(UserError, match="YYYY-MM"):
        cli("spend", "--month", "2020-13")


def test_status_shows_the_spend(cli, ledger: SpendLedger) -> None:
    ledger.charge("post", now=ledger.now())
    data = json.loads(cli("status", "--json"))
    assert data["spend"]["total_usd"] == 0.015
    assert data["spend"]["daily_budget_usd"] == 1 and data["spend"]["today_left_usd"] == 0.985
    assert data["spend"]["waiting_for_budget"] == 0
    text = cli("status")
    assert "X spend: $0.015 this month" in text
    assert "daily budget $1.000 ($0.985 left)" in text


def test_preview_shows_each_x_posts_price(tmp_path: Path) -> None:
    """`newsbot preview` prices the X post at X_PRICES: the demo post has a link and a photo
    with alt text (1 post with a URL, an upload and an alt-text call)."""
    sample = sorted((DEMO_SITE / "_posts").glob("*exaone*"))[0]
    runner = CliRunner()
    env = {"DATA_DIR": str(tmp_path / "var"), "X_PRICES": "post_url=0.25"}
    result = runner.invoke(app, ["preview", str(sample), "--site", str(DEMO_SITE), "--json"],
                           env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    x = json.loads(result.stdout)["teasers"]["x"]
    assert x["billable"] == {"post_url": 1, "media": 2}
    assert x["price_usd"] == 0.26
    assert "price_usd" not in json.loads(result.stdout)["teasers"]["telegram"]
    text = runner.invoke(app, ["preview", str(sample), "--site", str(DEMO_SITE), "-p", "x"],
                         env=env, catch_exceptions=False).stdout
    assert "X price $0.260 (1× post_url, 2× media; X_PRICES)" in text
