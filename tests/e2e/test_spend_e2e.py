"""The budget figure end to end: `newsbot run` (a real Celery worker, beat and editors' bot) on
a real Redis against the fake X and Telegram, judged by what the fakes received.

Cap $1.00 and 6 link posts queued: exactly 5 go out on X, the 6th waits as ``waiting
(budget)``, the editors get exactly one notice, and the ledger equals the fake X's own count
of billable calls priced by the table.  Raising the budget (setting + restart) releases it.

The posts are text teasers (no image), so each is one $0.20 post with a URL.  ``X_PRICES``
prices the owned read at 0 here: the account's reads (the health check's and the @handle's
GET /2/users/me, $0.001 each by default) would otherwise take a tenth of a cent or more of the
dollar and leave room for 4 posts, not the figure's 5.  The reads are still counted, and
checked against the fake's count.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post

from bot.config import parse_prices
from bot.state.spend import SpendLedger
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

from .conftest import NEWSBOT

pytestmark = pytest.mark.timeout(180)

EDITORS = -100500
PRICES = "read=0"
SITE = "https://news.example.com"


@pytest.fixture
def fake_tg():
    with FakeTelegram() as server:
        server.add_chat(CHAT_ID, CHANNEL)
        server.add_chat(EDITORS, None, type="supergroup", title="Editors")
        yield server


@pytest.fixture
def fake_x():
    with FakeX() as server:
        yield server


def env_for(fake_tg: FakeTelegram, fake_x: FakeX, budget: str) -> dict[str, str]:
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    return env | {"TELEGRAM_EDITOR_CHAT": str(EDITORS), "BOT_LANGUAGE": "en",
                  "X_MONTHLY_BUDGET": budget, "X_PRICES": PRICES}


def budget_notices(fake_tg: FakeTelegram) -> list[str]:
    return [m.raw for m in fake_tg.channel_posts(EDITORS) if "X budget reached" in m.raw]


def x_states(e2e) -> dict[str, list]:
    out: dict[str, list] = {}
    for rec in e2e.records():
        if rec.platform == "x":
            out.setdefault(rec.state, []).append(rec)
    return out


def test_budget_figure_five_of_six_then_released(e2e, fake_tg, fake_x):
    # A real top-level domain: twitter-text (and X) finds no URL in ``news.example``.
    (e2e.site / "_config.yml").write_text(f"url: {SITE}\ntimezone: UTC\n", encoding="utf-8")
    write_post(e2e.site, "already-there", now_utc() - timedelta(hours=3), image=False)
    run = e2e.start("run", extra_env=env_for(fake_tg, fake_x, "1.00"))
    # The first scan records the site as it is as the baseline: nothing of it goes out.
    wait_for(lambda: len(e2e.records("skipped")) == 2, 30, "the baseline records")
    base = now_utc() - timedelta(minutes=5)
    for i in range(6):
        write_post(e2e.site, f"link-{i}", base + timedelta(seconds=i), image=False,
                   title=f"Budget story {i}")
    try:
        wait_for(lambda: len(x_states(e2e).get("sent", [])) == 5
                 and len(x_states(e2e).get("waiting", [])) == 1, 60, "5 sent, 1 waiting")
    except AssertionError:  # say where each record stands, and what the process said
        raise AssertionError(f"{[(r.platform, r.state, r.reason) for r in e2e.records()]}\n"
                             f"{run.text()[-3000:]}") from None
    [waiting] = x_states(e2e)["waiting"]
    assert waiting.reason.startswith("budget: X_MONTHLY_BUDGET $1.000 reached")
    wait_for(lambda: budget_notices(fake_tg), 30, "the budget notice")
    time.sleep(3)  # ticks and rescans go on: still one notice, still 5 posts
    assert len(budget_notices(fake_tg)) == 1
    assert len(fake_x.posts) == 5
    assert all(f"{SITE}/" in p.text for p in fake_x.posts)

    billed = fake_x.billable_calls()
    assert billed["post_url"] == 5 and billed["post"] == 0 and billed["media"] == 0
    ledger = SpendLedger(e2e.state.client, prices=parse_prices(PRICES))
    report = ledger.report()
    assert {k: v["n"] for k, v in report.by_kind.items()} == billed
    assert report.total == sum(ledger.prices[k] * n for k, n in billed.items()) == 1_000_000
    # What an operator sees meanwhile.
    status = subprocess.run([NEWSBOT, "status", "--json"], cwd=e2e.tmp, capture_output=True,
                            env={**e2e.env, **env_for(fake_tg, fake_x, "1.00")}, text=True,
                            timeout=60, check=True)
    data = json.loads(status.stdout)
    assert data["spend"]["total_usd"] == 1.0 and data["spend"]["month_left_usd"] == 0
    assert data["spend"]["waiting_for_budget"] == 1
    assert [p["label"] for p in data["pending"] if p["platform"] == "x"] == ["waiting (budget)"]

    # Raise the budget: a setting, so a restart; the waiting post goes out by itself.
    assert run.stop(signal.SIGTERM) == 0
    e2e.start("run", extra_env=env_for(fake_tg, fake_x, "2.00"))
    wait_for(lambda: len(fake_x.posts) == 6, 60, "the 6th post after the raise")
    wait_for(lambda: len(x_states(e2e).get("sent", [])) == 6, 30, "6 sent records")
    billed = fake_x.billable_calls()
    assert billed["post_url"] == 6
    report = ledger.report()
    assert {k: v["n"] for k, v in report.by_kind.items()} == billed
    assert report.total == 1_200_000
    assert ledger.waiting() == []
    assert len(budget_notices(fake_tg)) == 1
