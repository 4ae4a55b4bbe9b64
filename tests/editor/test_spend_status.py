"""The editors' /status shows X spend and names budget waits (rendering only: the figures come
from ``bot.actions.spend``, tested with the CLI)."""

from __future__ import annotations

from bot.actions.reports import StatusReport
from bot.editor.render import status_lines


def report(spend: dict | None, pending: list | None = None) -> StatusReport:
    return StatusReport(counts={"waiting": 1}, deliveries=[], paused=False, pause=None,
                        pending=pending or [], pending_total=len(pending or []), rate={},
                        workers={}, mode="live", total=1, generated_at="", spend=spend)


SPEND = {"month": "2026-12", "total_usd": 1.0, "today_usd": 0.4, "projection_usd": 2.138,
         "monthly_budget_usd": 1.0, "daily_budget_usd": None, "month_left_usd": 0.0,
         "waiting_for_budget": 1, "today_left_usd": None}


def test_status_has_a_spend_line_with_budget_and_waits() -> None:
    _, lines = status_lines("en", report(SPEND))
    [line] = [x for x in lines if x.startswith("<b>X spend</b>")]
    assert "$1.000 in 2026-12" in line and "projected $2.138" in line
    assert "monthly budget $1.000 ($0.000 left)" in line
    assert "1 waiting (budget)" in line


def test_a_budget_wait_is_labelled_and_no_spend_line_without_x() -> None:
    pending = [{"post": "https://news.example.com/a.html", "platform": "x", "destination": "x",
                "state": "waiting", "eta": None, "reason": "budget: ...", "attempts": 0,
                "label": "waiting (budget)"}]
    _, lines = status_lines("en", report(None, pending))
    assert any(x.startswith("• waiting (budget) x") for x in lines)
    assert not any("X spend" in x for x in lines)


def test_the_editors_preview_shows_the_x_price(tmp_path) -> None:
    from pathlib import Path

    from bot.actions.lookup import find_post
    from bot.config import Settings, parse_prices
    from bot.delivery.content import ContentTools
    from bot.editor.preview import prepare_both, preview_messages

    demo = Path(__file__).resolve().parents[2] / "examples" / "site"
    settings = Settings(_env_file=None, site_dir=demo, data_dir=tmp_path / "var")
    tools = ContentTools.from_settings(settings)
    post = find_post(tools.site, "exaone-3-open-source")
    tg, x = prepare_both(tools, post)
    _, details = preview_messages("en", post, tg, x, parse_prices("media=0.01"))
    assert "X price $0.220 (1× post_url, 2× media)" in details.text
    _, default = preview_messages("en", post, tg, x)
    assert "X price $0.210" in default.text
