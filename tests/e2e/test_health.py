"""`python -m bot.health worker|beat|bot`: the compose health checks, run as commands against a
real Redis with fresh and stale heartbeats, then against the real split processes (`newsbot
worker`, `beat`, `bot`), which must also stop cleanly on either signal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from fakes.telegram import FakeTelegram

from .conftest import E2E, Proc

TOKEN = "123456789:TEST-fake-token-not-real-000000000"
HOST = socket.gethostname()
REPO = Path(__file__).resolve().parents[2]


def _health(env: dict[str, str], *args: str, cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "bot.health", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def _one_line(out: str, err: str) -> str:
    text = (out + err).strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_fresh_and_stale_heartbeats(e2e: E2E) -> None:
    client = redis.Redis.from_url(e2e.url)
    now = float(client.time()[0])
    env = {**e2e.env, "PYTHONPATH": os.pathsep.join(sys.path)}

    code, out, err = _health(env, "worker", cwd=e2e.tmp)
    assert code == 1 and "no heartbeat from host" in _one_line(out, err)

    client.hset("newsbot:health:worker", f"{HOST}:4242", repr(now - 300))
    code, out, err = _health(env, "worker", cwd=e2e.tmp)
    assert code == 1 and "older than 30 s" in _one_line(out, err)
    code, out, err = _health(env, "worker", "--max-age", "600", cwd=e2e.tmp)
    assert code == 0 and "ok" in _one_line(out, err)

    client.hset("newsbot:health:worker", f"{HOST}:4243", repr(now - 1))
    code, out, err = _health(env, "worker", cwd=e2e.tmp)
    assert code == 0 and f"{HOST}:4243" in _one_line(out, err)

    # a beat from another container says nothing about this one, unless asked
    client.hset("newsbot:health:beat", "other-host:7", repr(now))
    assert _health(env, "beat", cwd=e2e.tmp)[0] == 1
    assert _health(env, "beat", "--any-host", cwd=e2e.tmp)[0] == 0
    assert _health(env, "bot", cwd=e2e.tmp)[0] == 1

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    code, out, err = _health({**env, "REDIS_URL": closed}, "worker", cwd=e2e.tmp)
    assert code == 1 and "Redis unreachable" in _one_line(out, err)

    # no REDIS_URL and no `newsbot run` up: unhealthy, and no server is started for the check
    code, out, err = _health({**env, "REDIS_URL": ""}, "worker", cwd=e2e.tmp)
    assert code == 1 and "not running" in _one_line(out, err)
    assert not (e2e.data / "redis" / "embedded.pid").exists()

    code, out, err = _health(env, "frobnicate", cwd=e2e.tmp)
    assert code == 2 and "Traceback" not in out + err
    client.close()


def _wait_healthy(env: dict[str, str], role: str, cwd: Path, proc: Proc) -> None:
    deadline = time.monotonic() + 60
    while _health(env, role, cwd=cwd)[0] != 0:
        assert proc.popen.poll() is None, proc.text()[-3000:]
        assert time.monotonic() < deadline, f"{role} never healthy:\n{proc.text()[-3000:]}"
        time.sleep(0.3)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_split_processes_are_healthy_and_stop_cleanly(e2e: E2E, sig: signal.Signals) -> None:
    with FakeTelegram(token=TOKEN, enforce_rate_limits=False) as tg:
        tg.add_chat(-1001234567890, "newsfake")
        bot_env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHANNEL": "-1001234567890",
                   "TELEGRAM_API_URL": tg.base_url}
        procs = {
            "worker": e2e.start("worker", "--concurrency", "1"),
            "beat": e2e.start("beat", ready="for new and changed posts"),
            "bot": e2e.start("bot", extra_env=bot_env, ready="editors' bot is up as @"),
        }
        env = {**e2e.env, "PYTHONPATH": os.pathsep.join(sys.path)}
        for role, proc in procs.items():
            _wait_healthy(env, role, e2e.tmp, proc)
        for role, proc in procs.items():
            started = time.monotonic()
            os.killpg(proc.popen.pid, sig)
            code = proc.popen.wait(15)
            took = time.monotonic() - started
            text = proc.text()
            assert took < 5.0, f"{role}: {took:.1f} s\n{text[-3000:]}"
            assert code == 0, f"{role}: exit {code}\n{text[-3000:]}"
            assert "Traceback" not in text, text
            assert text.strip().splitlines()[-1] == "newsbot stopped", f"{role}:\n{text[-2000:]}"
            assert TOKEN not in text
            # a cleanly stopped process takes its heartbeat with it
            assert _health(env, role, cwd=e2e.tmp)[0] == 1


def test_the_compose_health_checks_as_commands(e2e: E2E) -> None:
    """Each service's `healthcheck.test` from docker-compose.yml, run as written (with this
    interpreter for `python`), answers from the heartbeat's age."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    client = redis.Redis.from_url(e2e.url)
    env = {**e2e.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    for role in ("worker", "beat", "bot"):
        test = compose["services"][role]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == "python"
        command = [sys.executable, *test[2:]]

        def run(command: list[str] = command) -> int:
            return subprocess.run(command, cwd=e2e.tmp, env=env, capture_output=True,
                                  timeout=60).returncode

        assert run() == 1  # nothing beats yet
        now = float(client.time()[0])
        client.hset(f"newsbot:health:{role}", f"{HOST}:99", repr(now - 2))
        assert run() == 0
        client.hset(f"newsbot:health:{role}", f"{HOST}:99", repr(now - 120))
        assert run() == 1
    client.close()
