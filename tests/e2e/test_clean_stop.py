"""Ctrl-C and SIGTERM stop `newsbot run` within seconds, with no traceback, and the embedded
Valkey is stopped last by newsbot (tests/e2e/test_bot_startup.py: the editors' bot's start-up
lines).

Real processes only: the installed `newsbot` console script in a session of its own (so a
signal to its process group is what Ctrl-C in a terminal sends), its embedded Valkey, and the
project's fake Telegram and X servers in this test process (or a closed port for an API that
cannot be reached).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.telegram import FakeTelegram
from fakes.x import FakeX

from .conftest import E2E, Proc, gone

# The shape of a real token (the fake's default is shorter than Telegram's).
TOKEN = "123456789:TEST-fake-token-not-real-000000000"
WRONG_TOKEN = "123456789:TEST-fake-token-not-real-999999999"
CHAT = -1001234567890
STOP_WITHIN = 5.0


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeTelegram, FakeX]]:
    with FakeTelegram(token=TOKEN, enforce_rate_limits=False) as tg, FakeX() as x:
        tg.add_chat(CHAT, "newsfake")
        yield tg, x


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def _env(fakes: tuple[FakeTelegram, FakeX], *, token: str | None, reachable: bool,
         data: Path) -> dict[str, str]:
    tg, x = fakes
    key, secret, access, access_secret = x.credentials
    env = {"REDIS_URL": "", "DATA_DIR": str(data),  # blank REDIS_URL: the embedded Valkey
           "X_API_KEY": key, "X_API_SECRET": secret, "X_ACCESS_TOKEN": access,
           "X_ACCESS_TOKEN_SECRET": access_secret,
           "X_API_URL": x.base_url if reachable else _closed_port()}
    if token is not None:
        env |= {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_CHANNEL": str(CHAT),
                "TELEGRAM_API_URL": tg.base_url if reachable else _closed_port()}
    return env


def _valkey_pid(data: Path) -> int:
    return int((data / "redis" / "embedded.pid").read_text().split()[0])


def _wait_for(proc: Proc, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.text():
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the output:\n{proc.text()[-3000:]}")
        time.sleep(0.05)


def _signal(proc: Proc, sig: signal.Signals) -> float:
    os.killpg(proc.popen.pid, sig)  # what Ctrl-C does: the whole foreground process group
    return time.monotonic()


def _check_stopped(proc: Proc, sig: signal.Signals, valkey: int, signalled: float) -> str:
    deadline = signalled + STOP_WITHIN + 5
    while proc.popen.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    took = time.monotonic() - signalled
    if proc.popen.poll() is None:
        os.killpg(proc.popen.pid, signal.SIGKILL)
        raise AssertionError(f"{sig.name}: still running after {took:.0f} s:\n"
                             f"{proc.text()[-3000:]}")
    code = proc.popen.returncode
    text = proc.text()
    assert took < STOP_WITHIN, f"{sig.name}: stopped in {took:.1f} s:\n{text[-3000:]}"
    assert code == 0, f"{sig.name}: exit status {code}:\n{text[-3000:]}"
    assert "Traceback" not in text, text
    assert text.strip().splitlines()[-1] == "newsbot stopped", text[-2000:]
    deadline = time.monotonic() + 2
    while not gone(valkey) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(valkey), f"the embedded Valkey (pid {valkey}) outlived newsbot"
    return text


def _stop_and_check(proc: Proc, sig: signal.Signals, valkey: int) -> str:
    return _check_stopped(proc, sig, valkey, _signal(proc, sig))


CASES = {
    # name: (bot token, APIs reachable, line to wait for before the signal)
    "no-token-reachable": (None, True, " ready."),
    "no-token-unreachable": (None, False, " ready."),
    "token-reachable": (TOKEN, True, "editors' bot is up as @"),
    "token-unreachable": (TOKEN, False, "editors' bot cannot reach the Telegram API"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_and_sigterm_stop_everything_cleanly(
    e2e: E2E, fakes: tuple[FakeTelegram, FakeX], case: str
) -> None:
    """Both signals, side by side (two `newsbot run` on their own data folders)."""
    token, reachable, ready = CASES[case]
    procs = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        data = e2e.tmp / f"var-{sig.name}"
        procs[sig] = (e2e.start("run", extra_env=_env(fakes, token=token, reachable=reachable,
                                                      data=data)), data)
    for proc, _ in procs.values():
        _wait_for(proc, ready)
        _wait_for(proc, " ready.")
    valkeys = {sig: _valkey_pid(data) for sig, (_, data) in procs.items()}
    signalled = {sig: _signal(proc, sig) for sig, (proc, _) in procs.items()}  # both at once
    for sig, (proc, _) in procs.items():
        text = _check_stopped(proc, sig, valkeys[sig], signalled[sig])
        assert TOKEN not in text
        if token is not None:
            up = "editors' bot is up as @newsbot_fake_bot" in text
            assert up == reachable, text[-2000:]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_starting_still_stops_the_embedded_server(
    e2e: E2E, fakes: tuple[FakeTelegram, FakeX], sig: signal.Signals
) -> None:
    """Before Celery's worker owns the signals (SIGTERM would end Python at once): the server,
    in a session of its own, must not outlive `newsbot run`."""
    data = e2e.tmp / f"var-early-{sig.name}"
    proc = e2e.start("run", extra_env=_env(fakes, token=None, reachable=True, data=data),
                     ready="state in embedded Redis")
    _stop_and_check(proc, sig, _valkey_pid(data))
