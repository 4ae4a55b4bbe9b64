"""`newsbot run` on its embedded Redis, with other commands at every moment of its life and the
server killed under it: nobody fails, nothing is lost, and it never lives on without its state.

Real processes only: `newsbot run` (dry run, embedded Valkey in the data folder) and `newsbot
status` started as a user would start them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from delivery_helpers import wait_for, write_post

from .conftest import E2E, NEWSBOT, Proc, gone

EMBEDDED = {"REDIS_URL": ""}  # blank = unset: the embedded server of DATA_DIR


def _status(e2e: E2E) -> subprocess.Popen[bytes]:
    env = {**e2e.env, **EMBEDDED}
    return subprocess.Popen([NEWSBOT, "status", "--json"], cwd=e2e.tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode()


def _server_pid(e2e: E2E) -> tuple[int, int]:
    pid, port = (e2e.data / "redis" / "embedded.pid").read_text().split()[:2]
    return int(pid), int(port)


def _outbox(e2e: E2E) -> list[dict]:
    path = e2e.data / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run(e2e: E2E) -> Proc:
    """`newsbot run`, back from its first scan (the baseline: posts written later are new)."""
    if not any(e2e.site.glob("_posts/*seed*")):
        write_post(e2e.site, "seed", datetime.now(UTC) - timedelta(days=3), title="Seed")
    proc = e2e.start("run", "--concurrency", "2", extra_env=EMBEDDED)
    wait_for(lambda: "event=scan" in proc.text(), 60, "the first scan")
    return proc


def _post(e2e: E2E, slug: str) -> None:
    write_post(e2e.site, slug, datetime.now(UTC) - timedelta(minutes=1), title=f"Story {slug}")


def test_commands_at_any_moment_of_runs_life_never_fail(e2e: E2E) -> None:
    """Before, during start-up, while running, while stopping: every `status` answers, and
    `newsbot run` neither fails nor prints a traceback when a command got the server first."""
    early = [_status(e2e)]
    time.sleep(0.8)  # the first command is importing; it will start the server for itself
    early.append(_status(e2e))
    run = _run(e2e)  # waits for the command that owns the server, if any, instead of dying
    during = [_status(e2e) for _ in range(3)]
    results = [_finish(p) for p in early + during]
    pid_before, _ = _server_pid(e2e)
    os.killpg(run.popen.pid, signal.SIGTERM)
    stopping = [_status(e2e) for _ in range(2)]
    assert run.popen.wait(60) == 0, run.text()[-3000:]
    results += [_finish(p) for p in stopping]
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "counts" in json.loads(out)
        assert "Traceback" not in err
    log = run.text()
    assert "Traceback" not in log and " ERROR " not in log, log[-4000:]
    assert pid_before > 0


def test_status_with_run_up_shares_its_server(e2e: E2E) -> None:
    run = _run(e2e)
    pid, port = _server_pid(e2e)
    started = time.monotonic()
    code, _, err = _finish(_status(e2e))
    took = time.monotonic() - started
    assert code == 0, err
    assert _server_pid(e2e) == (pid, port)  # attached: no server of its own was started
    print(f"newsbot status with run up: {took:.2f} s (process start included)")
    assert run.popen.poll() is None


def test_a_killed_embedded_redis_is_restarted_on_the_same_data(e2e: E2E) -> None:
    run = _run(e2e)
    _post(e2e, "before-kill")
    wait_for(lambda: len(_outbox(e2e)) == 2, 30, "the first post in the outbox")
    pid, port = _server_pid(e2e)
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    wait_for(lambda: "restarted on the same data" in run.text(), 30, "the restart notice")
    new_pid, new_port = _server_pid(e2e)
    assert new_port == port and new_pid != pid
    _post(e2e, "after-kill")
    wait_for(lambda: len(_outbox(e2e)) == 4, 60, "the second post in the outbox")
    code, out, err = _finish(_status(e2e))
    assert code == 0, err
    counts = json.loads(out)["counts"]
    assert counts["sent"] == 4 and counts["queued"] == 0  # nothing lost, nothing re-sent
    assert len(_outbox(e2e)) == 4
    assert run.popen.poll() is None
    os.killpg(run.popen.pid, signal.SIGTERM)
    assert run.popen.wait(60) == 0
    assert run.text().count("Traceback") == 0


def test_run_stops_when_its_redis_cannot_come_back(e2e: E2E) -> None:
    """A server that cannot be restarted (here: its AOF manifest was destroyed) stops `run`
    with a reason and a non-zero exit: it never lives on without its state."""
    run = _run(e2e)
    pid, _ = _server_pid(e2e)
    os.kill(run.popen.pid, signal.SIGSTOP)  # freeze `run` (not its server) ...
    try:
        os.kill(pid, signal.SIGKILL)  # ... kill the server ...
        wait_for(lambda: gone(pid), 10, "the server to die")
        for manifest in (e2e.data / "redis" / "appendonlydir").glob("*.manifest"):
            manifest.write_text("this is not a manifest\n")  # ... and ruin its data
    finally:
        os.kill(run.popen.pid, signal.SIGCONT)
    code = run.popen.wait(90)
    assert code == 3, run.text()[-3000:]
    assert "could not be restarted" in run.text()
