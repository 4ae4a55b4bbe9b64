"""The operator's commands as operators run them: the installed `newsbot` console script in a
subprocess (stdout piped, a 40-column terminal), against the real test Redis and a copy of the
demo Jekyll site.  Each case checks the exit code, the output and that no traceback shows.

What they pin (issue 9, "Honest start-up and status lines"): values print as typed (no emoji
codes), stale worker heartbeats are not shown as alive, rate limits as the platform states them,
URLs whole at any width, the X account by its handle; `push`/`resume` warn without a worker and
`push` asks before announcing a page the site does not show yet; commands print their report,
not INFO lines; `audit --json` results are objects; a second pause keeps the newer reason;
`preview` shows an image failure whole and `check`/`preview` say when title HTML was dropped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from bot.config import TESTING_SWITCH
from bot.state import State

NEWSBOT = Path(sys.executable).with_name("newsbot")
DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"
# A long Korean category and slug: the URL is ~190 characters once percent-encoded.
LONG_SLUG = "a-very-long-slug-that-no-narrow-terminal-could-ever-fit-on-one-line"
EMOJI_TITLE = "Fix x:x: and :smile: in the parser"
EMOJI_FILE = f"2024-10-04-{LONG_SLUG}.md"
LONG_URL = f"https://newsdao.kr/기술정책/2024/10/04/{LONG_SLUG}.html"
UNPUBLISHED = "semiconductor-export-draft"  # demo post with published: false
FUTURE = "new-year-2030-preview"  # demo post dated 2030
KOSPI = "kospi-rebound"
INFO_LINE = re.compile(r"^\S+ \S+ INFO ", re.MULTILINE)


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(DEMO_SITE, root)
    (root / "_posts" / EMOJI_FILE).write_text(
        f'---\ntitle: "{EMOJI_TITLE}"\ncategories: 기술정책\n---\nThe parser fix.\n', "utf-8")
    (root / "_posts" / "2024-10-05-generics.md").write_text(
        '---\ntitle: "Using <T> generics"\n'
        "image: http://127.0.0.1:9/assets/a/rather/long/path/to/the/feature/image/of/this/"
        "post.jpg\n---\nGenerics explained.\n", "utf-8")
    return root


@pytest.fixture
def newsbot(redis_client: redis.Redis, redis_url: str, site: Path,
            tmp_path: Path) -> Callable[..., Ran]:
    """`newsbot ...` in a subprocess, settings from a clean environment (no .env: cwd is
    empty), stdout and stderr piped, COLUMNS=40 unless given."""
    assert NEWSBOT.is_file(), f"the console script is not installed next to {sys.executable}"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost", TESTING_SWITCH: "1",
            "REDIS_URL": redis_url, "SITE_DIR": str(site), "DATA_DIR": str(tmp_path / "var"),
            "COLUMNS": "40", "WAIT_FOR_LIVE": "false"}

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Ran:
        proc = subprocess.run([str(NEWSBOT), *args], cwd=cwd, env={**base, **(env or {})},
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
        both = proc.stdout + proc.stderr
        assert "Traceback" not in both, both
        assert proc.returncode == code, both
        return Ran(proc.returncode, proc.stdout, proc.stderr)

    return run


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def _flat(text: str) -> str:
    """Wrapped text joined again (rich wraps a long line at the console width)."""
    return " ".join(text.split())


def test_status_values_as_text_whole_urls_stated_rates_fresh_workers(
    newsbot: Callable[..., Ran], redis_client: redis.Redis
) -> None:
    pushed = newsbot("push", EMOJI_FILE.removesuffix(".md").split("-", 3)[3])
    assert EMOJI_TITLE in _lines(pushed.out)  # no ❌ / 😄 in place of the codes
    assert LONG_URL in _lines(pushed.out)
    assert not INFO_LINE.search(pushed.err), pushed.err  # the report, not log lines
    assert pushed.err.startswith("warning: no worker has reported"), pushed.err

    state = State(redis_client)
    now = state.now()
    state.heartbeat("host-a:11", now=now - 2)  # alive
    state.heartbeat("host-b:22", now=now - 125)  # killed two minutes ago
    state.heartbeat("host-c:33", now=now - 3 * 86_400)  # killed long ago

    status = newsbot("status")  # piped, 40 columns
    lines = _lines(status.out)
    assert LONG_URL in lines  # one whole line, however narrow
    assert "per 1s" in status.out and "per 60s" in status.out
    assert "1.07" not in status.out and "61.25" not in status.out  # our margin stays ours
    assert "rate telegram dryrun: 1/1 per 1s, 20/20 per 60s (not enforced in a dry run)" in lines
    assert re.search(r"^workers: host-a:11 \([2-9]s ago\)$", status.out, re.MULTILINE), status.out
    assert "not heard from: host-b:22 (last seen 2m ago)" in lines
    assert "host-c" not in status.out
    assert "❌" not in status.out and "😄" not in status.out

    data = json.loads(newsbot("status", "--json").out)
    assert list(data["workers"]) == ["host-a:11"]
    assert list(data["workers_stale"]) == ["host-b:22"]
    rules = data["rate"]["telegram:dryrun"]["rules"]
    assert [(r["limit"], r["window"]) for r in rules] == [(1, 1.0), (20, 60.0)]

    # A wide terminal is no different: every URL on a line of its own.
    wide = newsbot("status", env={"COLUMNS": "200"})
    assert LONG_URL in _lines(wide.out)


def test_the_x_account_shows_by_its_handle_once_a_post_taught_it(
    newsbot: Callable[..., Ran], redis_client: redis.Redis, redis_url: str, site: Path,
    tmp_path: Path
) -> None:
    from bot.config import Settings
    from bot.delivery.leases import new_owner
    from bot.delivery.sender import deliver
    from bot.delivery.services import Services
    from fakes.x import FakeX

    with FakeX() as fake:
        keys = dict(zip(("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
                        fake.credentials, strict=True))
        live = {**keys, "X_API_URL": fake.base_url}
        pushed = newsbot("push", KOSPI, "--json", env=live)
        [outcome] = json.loads(pushed.out)["outcomes"]
        assert (outcome["platform"], outcome["destination"]) == ("x", "x")
        before = newsbot("status", env=live)
        assert "rate x account: no local limit" in _lines(before.out)  # not "x x"
        assert " x x" not in before.out

        # The worker's delivery, in this process: the real publisher against the fake X.
        settings = Settings(_env_file=None, site_dir=site, data_dir=tmp_path / "var",
                            redis_url=redis_url, x_api_url=fake.base_url,
                            **{k.lower(): v for k, v in keys.items()})  # type: ignore[arg-type]
        svc = Services.from_settings(settings, redis_url=redis_url)
        try:
            assert deliver(svc, outcome["key"], owner=new_owner("test")) == "sent"
        finally:
            svc.close()
        assert len(fake.posts) == 1

        after = newsbot("status", env=live)
        lines = _lines(after.out)
        [rate] = [line for line in lines if line.startswith("rate x @newsbot_test: ")]
        # X's own windows, as its answer to the post stated them
        assert re.fullmatch(
            r"rate x @newsbot_test: X says 99 left in its 15 min window \(resets [-\d: ]+ UTC\), "
            r"99 left in its 24 h user window \(resets [-\d: ]+ UTC\), 9999 left in its 24 h "
            r"app window \(resets [-\d: ]+ UTC\)", rate), rate
        assert any(line.endswith("sent  x @newsbot_test") for line in lines), after.out
        data = json.loads(newsbot("status", "--json", env=live).out)
        assert data["destination_names"] == {"x:x": "@newsbot_test"}


def test_push_asks_before_a_page_the_site_does_not_show_and_warns_without_workers(
    newsbot: Callable[..., Ran], redis_client: redis.Redis
) -> None:
    def queued() -> int:
        return json.loads(newsbot("status", "--json").out)["counts"]["queued"]

    for ref, why in ((UNPUBLISHED, "published: false"), (FUTURE, "in the future")):
        refused = newsbot("push", ref, code=2)  # not a terminal: no question, a refusal
        assert refused.out == ""
        [line] = refused.err.splitlines()
        assert line.startswith("error: ") and why in line and "--yes" in line, line
    assert queued() == 0

    forced = newsbot("push", UNPUBLISHED, "--yes")
    assert "queued" in forced.out
    [warning] = forced.err.splitlines()
    assert warning.startswith("warning: no worker has reported in the last 30 s")
    assert queued() == 2

    State(redis_client).heartbeat("host-a:11")  # a worker is up now
    quiet = newsbot("push", KOSPI)
    assert quiet.err == "" and queued() == 4

    newsbot("pause", "--reason", "checking")
    State(redis_client).heartbeat("host-a:11", now=State(redis_client).now() - 60)
    resumed = newsbot("resume")
    assert resumed.out.startswith("resumed; 4 queued deliveries")
    assert resumed.err.startswith("warning: no worker has reported"), resumed.err
    State(redis_client).heartbeat("host-a:11")
    assert newsbot("resume").err == ""

    # -v brings the INFO lines back (services always log them)
    verbose = newsbot("-v", "push", KOSPI, "--force", "--platform", "telegram", "--yes")
    assert INFO_LINE.search(verbose.err), verbose.err


def test_second_pause_keeps_the_newer_reason_and_audit_json_has_objects(
    newsbot: Callable[..., Ran]
) -> None:
    assert newsbot("pause", "--reason", "first look").out == "paused; reason: first look\n"
    again = newsbot("pause", "--reason", "legal review")
    assert again.out == "already paused; reason: legal review\n"
    assert newsbot("pause").out == "already paused; reason: legal review\n"  # kept, not wiped
    pause = json.loads(newsbot("status", "--json").out)["pause"]
    assert pause["reason"] == "legal review"

    rows = json.loads(newsbot("audit", "--json").out)
    assert [r["action"] for r in rows] == ["pause"] * 3
    assert [r["result"] for r in rows] == [
        {"reason": "", "was_paused": True},
        {"reason": "legal review", "was_paused": True},
        {"reason": "first look", "was_paused": False},
    ]


def test_preview_and_check_say_what_the_title_lost_and_the_whole_image_reason(
    newsbot: Callable[..., Ran]
) -> None:
    preview = newsbot("preview", "generics", "--platform", "x")
    [warning] = preview.err.splitlines()
    assert warning == ("warning: the title shows as 'Using generics': <T> is read as an HTML "
                       "tag and dropped, as a browser would; write &lt;T&gt; to show it")
    flat = _flat(preview.out)
    assert ("image: image failed (host 127.0.0.1 resolves to loopback address 127.0.0.1; "
            "images are only fetched from public hosts): text teaser with link preview") in flat
    assert "https://newsdao.kr/2024/10/05/generics.html" in _lines(preview.out)

    data = json.loads(newsbot("preview", "generics", "--json").out)
    assert data["post"]["title"] == "Using generics"
    assert data["post"]["warnings"] == [warning.removeprefix("warning: ")]

    check = newsbot("check", code=0)
    assert [line for line in check.err.splitlines() if line.startswith("warning:")] == [
        f"warning: _posts/2024-10-05-generics.md: {warning.removeprefix('warning: ')}"]
    rows = {r["file"]: r for r in json.loads(newsbot("check", "--json").out)}
    assert rows["_posts/2024-10-05-generics.md"]["warnings"] == [
        warning.removeprefix("warning: ")]
    assert rows[f"_posts/{EMOJI_FILE}"]["warnings"] == []
    assert rows[f"_posts/{EMOJI_FILE}"]["title"] == EMOJI_TITLE


def _in_terminal(newsbot_env: dict[str, str], cwd: Path, args: list[str], answer: str
                 ) -> tuple[int, str]:
    """Run in a pseudo-terminal (stdin and stdout a tty, as an operator's shell), answering the
    question with ``answer``; (exit code, everything shown)."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(NEWSBOT), *args], cwd=cwd, env=newsbot_env, stdin=slave,
                            stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    shown, answered, deadline = b"", False, time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"anyway?" in shown:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, shown.decode("utf-8", "replace")


def test_push_of_a_draft_in_a_terminal_asks_first(
    newsbot: Callable[..., Ran], redis_client: redis.Redis, redis_url: str, site: Path,
    tmp_path: Path
) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           TESTING_SWITCH: "1", "REDIS_URL": redis_url, "SITE_DIR": str(site),
           "DATA_DIR": str(tmp_path / "var"), "COLUMNS": "100", "TERM": "dumb",
           "WAIT_FOR_LIVE": "false"}
    cwd = tmp_path / "cwd"
    code, shown = _in_terminal(env, cwd, ["push", UNPUBLISHED], "n")
    assert "published: false" in shown and "its link may not exist" in shown, shown
    assert code == 1 and "Traceback" not in shown, shown
    assert json.loads(newsbot("status", "--json").out)["counts"]["queued"] == 0

    code, shown = _in_terminal(env, cwd, ["push", UNPUBLISHED], "y")
    assert code == 0 and "Traceback" not in shown, shown
    assert "queued for sending" in shown, shown
    assert json.loads(newsbot("status", "--json").out)["counts"]["queued"] == 2
