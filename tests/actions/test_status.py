"""status against a real Redis: the JSON shape, counts, pending records and rate budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.actions.status import DEFAULT_STATUS_LIMIT, status
from bot.state import STATES

from .conftest import TG, X


def test_status_json_shape_and_counts_match_records(drive, svc) -> None:
    other = "https://newsdao.kr/economy/2024/09/10/bok-base-rate-en.html"
    plan_states = {
        TG: "sent", X: "failed",
        (other, "telegram", "@newsdao"): "retry_wait", (other, "x", "newsdao"): "in_doubt",
        ("https://newsdao.kr/a.html", "x", "newsdao"): "skipped",
    }
    for ref, target in plan_states.items():
        drive(svc.state, target, ref)
    waiting = ("https://newsdao.kr/a.html", "telegram", "@newsdao")
    svc.state.ensure(*waiting, state="waiting", scheduled_at=svc.state.now() + 3600)
    plan_states[waiting] = "waiting"
    svc.state.heartbeat("worker@host")
    svc.state.pause("tg:7", "check")
    data = json.loads(json.dumps(status(svc).to_json()))

    assert {"counts", "deliveries", "paused", "pending", "rate", "workers"} <= set(data)
    assert list(data["counts"]) == list(STATES)
    expected = {s: sum(1 for v in plan_states.values() if v == s) for s in STATES}
    assert data["counts"] == expected
    assert len(data["deliveries"]) == 6
    for d in data["deliveries"]:
        assert list(d) == ["post", "platform", "destination", "state", "attempts", "reason",
                           "receipt", "updated_at", "notes"]
        assert d["state"] == plan_states[(d["post"], d["platform"], d["destination"])]
    stamps = [d["updated_at"] for d in data["deliveries"]]
    assert stamps == sorted(stamps, reverse=True)
    sent_row = next(d for d in data["deliveries"] if d["state"] == "sent")
    assert sent_row["receipt"] == {"id": "42", "url": "https://t.me/newsdao/42"}
    assert next(d for d in data["deliveries"] if d["state"] == "failed")["receipt"] is None
    assert [p["state"] for p in data["pending"]] == ["retry_wait", "waiting"]
    assert all(p["eta"] and p["eta"].endswith("+00:00") for p in data["pending"])
    assert data["paused"] is True and data["pause"]["who"] == "tg:7"
    assert set(data["workers"]) == {"worker@host"} and data["workers"]["worker@host"] < 60
    assert data["mode"] == "dry-run"
    tg_rate = data["rate"]["telegram:@newsdao"]
    shown = [(r["limit"], r["window"]) for r in tg_rate["rules"]]
    from bot.delivery.schedule import rate_spec

    spec = rate_spec(svc.settings, "telegram", "@newsdao", dry_run=False)
    # status reports the platform's own figures (1/s, 20/min per channel) ...
    assert shown == [(1, 1.0), (20, 60.0)] == list(spec.stated)
    # ... while the sender enforces the same rules, never looser (the margin stays internal)
    assert [n for n, _ in spec.rules] == [1, 20]
    assert all(w >= s for (_, w), (_, s) in zip(spec.rules, spec.stated, strict=True))
    assert "daily" in data["rate"]["x:newsdao"]


def test_status_limit_and_all(drive, svc) -> None:
    for i in range(25):
        drive(svc.state, "queued", (f"https://newsdao.kr/{i}.html", "telegram", "@newsdao"))
    assert len(status(svc).deliveries) == 20
    everything = status(svc, limit=None)
    assert len(everything.deliveries) == 25 and everything.total == 25


def test_status_shows_the_soonest_pending_of_many_and_reads_only_those(svc) -> None:
    """A burst leaves a thousand records waiting for a rate-limit slot: the status lists the
    soonest (unscheduled ones last) with the total, and loads no record it does not show."""
    now = svc.state.now()
    due = {}
    for i in range(300):
        ref = (f"https://newsdao.kr/burst-{i}.html", "telegram", "@newsdao")
        at = None if i % 50 == 0 else now + 1000 - i  # later posts are due sooner
        svc.state.ensure(*ref, state="waiting", reason="rate limit", scheduled_at=at)
        due[ref[0]] = at
    retry = ("https://newsdao.kr/retry.html", "x", "newsdao")
    svc.state.ensure(*retry, state="waiting", scheduled_at=now + 5000)
    loaded: list[str] = []
    real_load = svc.state._load

    def counting(rids):  # type: ignore[no-untyped-def]
        rids = list(rids)
        loaded.extend(rids)
        return real_load(rids)

    svc.state._load = counting
    try:
        data = status(svc).to_json()
    finally:
        del svc.state._load
    assert data["pending_total"] == 301 and len(data["pending"]) == DEFAULT_STATUS_LIMIT
    scheduled = sorted((at, url) for url, at in due.items() if at is not None)
    assert [p["post"] for p in data["pending"]] == [url for _, url in scheduled[:20]]
    assert len(loaded) <= 2 * DEFAULT_STATUS_LIMIT  # the shown pending and the recent list
    everything = status(svc, limit=None).to_json()
    assert everything["pending_total"] == len(everything["pending"]) == 301
    tail = [p["post"] for p in everything["pending"][-7:]]
    assert tail[0] == retry[0] and all(due[u] is None for u in tail[1:])  # unscheduled last


def test_status_rate_budget_counts_reserved_slots(svc) -> None:
    svc.settings = svc.settings.model_copy(update={"x_daily_limit": 17})
    now = svc.state.now()
    assert svc.limiter.reserve("telegram:@newsdao", [(1, 1.0), (20, 60.0)], now=now) == 0.0
    assert svc.limiter.reserve("x:newsdao", [(17, 86_400.0)], now=now) == 0.0
    rate = status(svc).rate
    remaining = [r["remaining"] for r in rate["telegram:@newsdao"]["rules"]]
    assert remaining[1] == 19
    daily = rate["x:newsdao"]["daily"]
    assert (daily["limit"], daily["used"], daily["remaining"]) == (17, 1, 16)


def test_status_loads_neither_the_teaser_machinery_nor_the_planner() -> None:
    """`newsbot status` is what an operator runs when something is wrong: it must start fast."""
    code = ("import sys, bot.actions.status\n"
            "print(sorted(m for m in sys.modules if m.startswith(('bot.teasers', "
            "'bot.images', 'bot.delivery.content', 'bot.delivery.planner', 'jinja2'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "[]"
