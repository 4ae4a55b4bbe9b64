"""`newsbot push | status | retry | skip | resolve | pause | resume` end to end through typer,
against the real test Redis (REDIS_URL pointed at it) and the demo site."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.common import UserError

DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"
KOSPI = "https://newsdao.kr/%EA%B2%BD%EC%A0%9C/2024/10/02/kospi-rebound.html"
STABLE_DELIVERY_KEYS = ["post", "platform", "destination", "state", "attempts", "reason",
                        "receipt", "updated_at", "notes"]


@pytest.fixture
def cli(redis_client: redis.Redis, redis_url: str, tmp_path: Path):
    """Run `newsbot ...` with settings from the environment, as an operator would."""
    runner = CliRunner()
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "var"), "SITE_DIR": str(DEMO_SITE),
           "TELEGRAM_BOT_TOKEN": "", "TELEGRAM_CHANNEL": "", "X_API_KEY": "", "X_API_SECRET": "",
           "X_ACCESS_TOKEN": "", "X_ACCESS_TOKEN_SECRET": ""}

    def run(*args: str, code: int | None = 0) -> str:
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        return result.stdout

    return run


def _status(cli) -> dict:
    return json.loads(cli("status", "--json"))


def test_status_json_on_an_empty_store_has_the_stable_keys(cli) -> None:
    data = _status(cli)
    assert {"counts", "deliveries", "paused", "pending", "rate", "workers"} <= set(data)
    assert set(data["counts"].values()) == {0} and "sent" in data["counts"]
    assert data["deliveries"] == [] and data["paused"] is False
    assert data["mode"] == "dry-run"


def _celery_messages(client: redis.Redis) -> list[tuple[str, list]]:
    """(task name, args) of the messages waiting on the default Celery queue."""
    out = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], body[0]))
    return out


def test_push_of_a_demo_post_queues_it_and_status_shows_it(cli, redis_client) -> None:
    report = json.loads(cli("push", "kospi-rebound", "--json"))
    assert report["ok"] and report["post"] == KOSPI
    assert {o["result"] for o in report["outcomes"]} == {"queued"}
    assert {o["platform"] for o in report["outcomes"]} == {"telegram", "x"}
    # the worker's broker (same Redis) holds one publish task per queued record
    keys = sorted([o["key"]] for o in report["outcomes"])
    assert sorted(_celery_messages(redis_client)) == [("newsbot.publish", k) for k in keys]

    data = _status(cli)
    assert data["counts"]["queued"] == 2 and sum(data["counts"].values()) == 2
    assert [list(d) for d in data["deliveries"]] == [STABLE_DELIVERY_KEYS] * 2
    assert {d["post"] for d in data["deliveries"]} == {KOSPI}

    again = json.loads(cli("push", "kospi-rebound", "--platform", "telegram", "--json"))
    assert [o["platform"] for o in again["outcomes"]] == ["telegram"]


def test_push_unknown_post_fails_with_a_reason(cli) -> None:
    out = cli("push", "no-such-post", "--json", code=1)
    assert "no post matches" in json.loads(out)["error"]


def test_paused_push_needs_yes(cli) -> None:
    assert json.loads(cli("pause", "--reason", "test", "--json"))["paused"] is True
    assert _status(cli)["paused"] is True
    refused = json.loads(cli("push", "kospi-rebound", "--json", code=1))
    assert refused["needs_confirmation"] and _status(cli)["counts"]["queued"] == 0
    text = cli("push", "kospi-rebound", code=1)
    assert "--yes" in text
    cli("push", "kospi-rebound", "--yes")
    assert _status(cli)["counts"]["queued"] == 2
    resumed = json.loads(cli("resume", "--json"))
    assert resumed["changed"] and len(resumed["requeued"]) == 2
    assert _status(cli)["paused"] is False


def test_skip_retry_resolve_commands(cli) -> None:
    skipped = json.loads(cli("skip", "kospi-rebound", "--json"))
    assert {o["result"] for o in skipped["outcomes"]} == {"skipped"}
    assert _status(cli)["counts"]["skipped"] == 2
    nothing = json.loads(cli("retry", "kospi-rebound", "--json"))
    assert {o["result"] for o in nothing["outcomes"]} == {"nothing_to_do"}
    with pytest.raises(UserError, match="exactly one"):  # main() prints it, exit status 2
        cli("resolve", "kospi-rebound", code=None)
    no_doubt = json.loads(cli("resolve", "kospi-rebound", "--resend", "--json", code=1))
    assert "no in-doubt" in no_doubt["error"]


def test_terminal_status_renders(cli) -> None:
    cli("push", "kospi-rebound")
    text = cli("status", "--all")
    assert "queued 2" in text and "dry-run" in text
    assert "deliveries (2 of 2, newest first" in text and "telegram dryrun" in text


def test_audit_lists_each_operator_action_newest_first(cli) -> None:
    assert json.loads(cli("audit", "--json")) == []
    cli("push", "kospi-rebound", "--json")
    cli("pause", "--reason", "checking a correction", "--json")
    cli("resume", "--json")
    rows = json.loads(cli("audit", "--json"))
    assert [r["action"] for r in rows] == ["resume", "pause", "push"]
    assert all(r["who"].startswith("cli:") and r["time"] for r in rows)
    assert rows[-1]["target"] == KOSPI
    assert "audit trail" in cli("audit")  # the terminal table renders too


def test_bot_command_needs_a_token(cli) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["bot"], env={"TELEGRAM_BOT_TOKEN": ""})
    assert result.exit_code != 0
    assert "TELEGRAM_BOT_TOKEN is required" in str(result.exception)


def test_push_refuses_an_in_doubt_delivery_and_resolve_takes_a_platform(cli,
                                                                        redis_client) -> None:
    from bot.state import State

    pushed = json.loads(cli("push", "kospi-rebound", "--json"))
    refs = {o["platform"]: (KOSPI, o["platform"], o["destination"]) for o in pushed["outcomes"]}
    state = State(redis_client)
    for ref in refs.values():  # each request left (fence), then its worker vanished
        assert state.acquire_send(*ref, owner="dead", lease_seconds=30)
        assert state.fence_send(*ref, owner="dead", send_seconds=30)
    assert len(state.expire_leases(now=state.now() + 31)) == 2

    for extra in ((), ("--force",)):
        again = json.loads(cli("push", "kospi-rebound", *extra, "--json"))
        assert {o["result"] for o in again["outcomes"]} == {"in_doubt"}
        assert all("newsbot resolve" in o["message"] for o in again["outcomes"])
    text = cli("push", "kospi-rebound", "--force")
    assert "--mark-sent" in text
    assert {state.get(*r).state for r in refs.values()} == {"in_doubt"}

    marked = json.loads(cli("resolve", "kospi-rebound", "--mark-sent", "--platform",
                            "telegram", "--json"))
    assert [(o["platform"], o["result"]) for o in marked["outcomes"]] == [
        ("telegram", "marked_sent")]
    assert state.get(*refs["telegram"]).state == "sent"
    assert state.get(*refs["x"]).state == "in_doubt"


# --- values print literally ---------------------------------------------------------------------

HOSTILE = "[/] [link=https://evil.example]x[/link] [bold red]loud :fire: \\[b]"
HOSTILE_FILE = "2024-10-03-odd.md"
PERMALINK = "/[bold red]odd[link=x]/"  # status and audit show the URL unquoted


def test_push_status_audit_print_markup_in_values_literally(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(DEMO_SITE, site)
    (site / "_posts" / HOSTILE_FILE).write_text(
        f'---\ntitle: "{HOSTILE.replace(chr(92), chr(92) * 2)} \\e[2J"\n'
        f'permalink: "{PERMALINK}"\n---\nbody\n', "utf-8"
    )
    runner = CliRunner()
    env = {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "var"), "SITE_DIR": str(site),
           "COLUMNS": "400", "TELEGRAM_BOT_TOKEN": "", "X_API_KEY": ""}

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def literal_in(out: str) -> None:
        assert "\x1b" not in out and "🔥" not in out, out
        assert PERMALINK in out, out

    pushed = run("push", str(site / "_posts" / HOSTILE_FILE))
    literal_in(pushed)
    assert f"{HOSTILE} \\x1b[2J" in pushed
    run("pause", "--reason", f"{HOSTILE} \x1b[2J")
    status = run("status")
    literal_in(status)
    assert f": {HOSTILE} \\x1b[2J" in status  # PAUSED by cli:...: <reason>
    audit = run("audit")
    literal_in(audit)
    assert HOSTILE.replace("\\", "\\\\") in audit  # the pause result, as JSON

    data = json.loads(run("status", "--json"))
    assert data["pause"]["reason"] == f"{HOSTILE} \x1b[2J"
    assert any(PERMALINK in d["post"] for d in data["deliveries"])
    rows = json.loads(run("audit", "--json"))
    assert rows[0]["action"] == "pause"
    assert rows[0]["result"]["reason"] == f"{HOSTILE} \x1b[2J"  # an object, not JSON text


def test_status_json_lists_a_paced_backlog_with_expected_times(cli, redis_client,
                                                                redis_url: str) -> None:
    """`newsbot status --json`: key ``queue``, each paced post with its expected send time.

    The demo is a dry run, which paces nothing; a backlog left in Redis (here put there by
    hand, as a live run would) is still shown."""
    from bot.state import State
    from bot.state.pacing import PaceQueue

    data = _status(cli)
    assert data["queue"] == {}
    state = State(redis_client)
    rec = state.ensure(KOSPI, "telegram", "dryrun", state="waiting",
                       reason="paced: waits for its turn")
    PaceQueue(redis_client).join("telegram:dryrun", rec.key, -1.0)
    data = _status(cli)
    [entry] = data["queue"].values()
    assert entry["total"] == 1 and entry["next"][0]["post"] == KOSPI
    assert entry["next"][0]["expected_at"]
