"""`python -m fakes`: the README's "Try the whole path without accounts", as a user runs it.

The fakes start as their own process and print newsbot's settings; `newsbot run` (the installed
console script) is pointed at them with exactly those settings; a new post reaches the fake
channel and X (`sent`), and an editor's command injected with `say` gets the bot's answer.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from delivery_helpers import write_post

from .conftest import E2E


@pytest.fixture
def fakes(e2e: E2E) -> Iterator[tuple[dict[str, str], str]]:
    """(settings printed by `serve`, control URL)."""
    env = {**e2e.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes", "serve", "--telegram-port", "0", "--x-port", "0",
         "--control-port", "0"],
        cwd=e2e.tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while not lines or not lines[-1].startswith("# then:"):
            line = proc.stdout.readline()
            assert line, f"serve ended: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.rstrip("\n"))
            assert time.monotonic() < deadline
        settings = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
        control = re.search(r"\(control (http://127\.0\.0\.1:\d+)\)", lines[-1])
        assert control, lines[-1]
        yield settings, control.group(1)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "Traceback" not in out + err, out + err


def _cli(e2e: E2E, control: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**e2e.env, "PYTHONPATH": os.pathsep.join(sys.path), "NEWSBOT_FAKES": control}
    return subprocess.run([sys.executable, "-m", "fakes", *args], cwd=e2e.tmp, env=env,
                          capture_output=True, text=True, timeout=60)


def test_serve_prints_settings_that_the_fakes_accept(
    e2e: E2E, fakes: tuple[dict[str, str], str]
) -> None:
    settings, control = fakes
    api = settings["TELEGRAM_API_URL"]
    me = httpx.get(f"{api}/bot{settings['TELEGRAM_BOT_TOKEN']}/getMe").json()
    assert me["ok"] and me["result"]["is_bot"]
    assert httpx.get(f"{api}/bot123:wrong-token-0000000/getMe").status_code == 401
    assert settings["X_API_URL"].startswith("http://127.0.0.1:")
    assert all(settings[k] for k in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN",
                                     "X_ACCESS_TOKEN_SECRET"))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name, value in settings.items():  # the README shows what `serve` prints
        if not name.endswith("_API_URL"):
            assert f"\n{name}={value}\n" in readme, name
    empty = _cli(e2e, control, "sent")
    assert empty.returncode == 0 and "== X: 0" in empty.stdout, empty.stdout + empty.stderr
    assert "== X billable calls: none" in empty.stdout
    nobody = _cli(e2e, "http://127.0.0.1:9", "say", "/help", "--wait", "1")
    assert nobody.returncode == 1 and "Traceback" not in nobody.stderr
    assert nobody.stderr.startswith("error: the fakes do not answer")


def test_the_whole_path_without_accounts(e2e: E2E, fakes: tuple[dict[str, str], str]) -> None:
    settings, control = fakes
    write_post(e2e.site, "seed", datetime.now(UTC) - timedelta(days=3), title="Seed")
    run = e2e.start("run", extra_env=settings, ready=" ready.")
    deadline = time.monotonic() + 60
    while "editors' bot is up" not in run.text() or "event=scan" not in run.text():
        assert time.monotonic() < deadline, run.text()[-3000:]
        time.sleep(0.1)

    answer = _cli(e2e, control, "say", "/help")
    assert answer.returncode == 0, answer.stderr
    assert "editors' desk" in answer.stdout

    write_post(e2e.site, "fake-path", datetime.now(UTC) - timedelta(minutes=1),
               title="Through the fakes")
    deadline = time.monotonic() + 30
    while True:
        sent = _cli(e2e, control, "sent").stdout
        channel = sent.split("== X:")[0]
        x_part = sent.split("== X:")[1].split("==")[0]
        if "Through the fakes" in channel and "Through the fakes" in x_part:
            break
        assert time.monotonic() < deadline, sent + run.text()[-3000:]
        time.sleep(0.3)
    billed = sent.split("== X billable calls: ")[1].splitlines()[0]
    assert billed != "none" and "1 read" in billed, billed  # the post and the @handle read
    assert run.stop(signal.SIGINT) == 0
    assert run.text().strip().splitlines()[-1] == "newsbot stopped"
