"""The embedded server: persistence across restarts and recovery after kills."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bot.redis_embedded import (
    EmbeddedRedisBusyError,
    resolve_redis_url,
    start_embedded,
)

OWNER_SCRIPT = """
import sys, time, redis
from bot.redis_embedded import start_embedded
e = start_embedded(sys.argv[1])
r = redis.Redis.from_url(e.url)
r.set("owner", "child")
r.rpush("items", *range(1000))
print(e.url, e.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed orphan may linger unreaped in a container)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _start_owner(data_dir: Path) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(data_dir)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line, "owner process failed to start the server"
    return proc, line[0], int(line[1])


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def test_restart_carries_on_where_it_stopped(tmp_path: Path) -> None:
    with start_embedded(tmp_path) as first:
        assert first.url == f"redis://:{first.password}@127.0.0.1:{first.port}/0"
        c = _client(first.url)
        c.set("k", "v")
        c.hset("h", mapping={"a": "1", "한글": "값"})
        config = c.config_get("append*")
        # every write is on disk before it is acknowledged: a power cut cannot un-send a post
        assert config["appendonly"] == "yes" and config["appendfsync"] == "always"
        c.close()
    assert not first.running
    assert (tmp_path / "redis" / "appendonlydir").is_dir()
    with start_embedded(tmp_path) as second:
        assert second.password == first.password  # kept in the data folder
        c = _client(second.url)
        assert c.get("k") == "v" and c.hgetall("h") == {"a": "1", "한글": "값"}
        c.close()


def test_only_this_user_can_reach_the_embedded_server(tmp_path: Path) -> None:
    """Another local user can neither read the data folder nor talk to the port."""
    with start_embedded(tmp_path) as server:
        directory = tmp_path / "redis"
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "password").stat().st_mode) == 0o600
        stranger = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            stranger.set("paused", "by a stranger")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port, password="guess").ping()
        stranger.close()
        assert server.password not in repr(server)


def test_second_live_owner_is_refused(tmp_path: Path) -> None:
    with start_embedded(tmp_path) as first:
        with pytest.raises(EmbeddedRedisBusyError):
            start_embedded(tmp_path)
        assert _client(first.url).ping()  # the refused attempt did not harm the running one


def test_restart_after_sigkill_of_server_and_owner(tmp_path: Path) -> None:
    proc, _url, server_pid = _start_owner(tmp_path)
    os.kill(server_pid, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=10)
    _wait_dead(server_pid)
    assert (tmp_path / "redis" / "embedded.pid").exists()  # stale files left behind
    with start_embedded(tmp_path) as again:
        c = _client(again.url)
        assert c.get("owner") == "child" and c.llen("items") == 1000
        c.close()


def test_restart_after_owner_killed_stops_the_orphan(tmp_path: Path) -> None:
    proc, url, server_pid = _start_owner(tmp_path)
    proc.send_signal(signal.SIGKILL)  # the owner dies; its valkey-server child keeps running
    proc.wait(timeout=10)
    assert _alive(server_pid) and _client(url).get("owner") == "child"
    with start_embedded(tmp_path) as again:
        _wait_dead(server_pid, timeout=1.0)  # stopped before the new one started
        assert again.pid != server_pid
        c = _client(again.url)
        assert c.get("owner") == "child" and c.llen("items") == 1000
        c.close()


def test_in_process_sigkill_of_server_then_restart(tmp_path: Path) -> None:
    first = start_embedded(tmp_path)
    c = _client(first.url)
    c.set("before-kill", "1")
    c.close()
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    first.stop()  # the owner notices the death and releases the lock
    with start_embedded(tmp_path) as again:
        assert _client(again.url).get("before-kill") == "1"


def test_stale_pid_file_naming_another_process_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "redis" / "embedded.pid").write_text(f"{bystander.pid} 6379\n")
        with start_embedded(tmp_path) as server:
            assert _client(server.url).ping()
        assert bystander.poll() is None  # not ours: never signalled
    finally:
        bystander.kill()
        bystander.wait()


def test_resolve_redis_url(tmp_path: Path) -> None:
    assert resolve_redis_url("redis://example:6379/2", tmp_path) == ("redis://example:6379/2",
                                                                     None)
    url, embedded = resolve_redis_url(None, tmp_path)
    try:
        assert embedded is not None and url == embedded.url
        assert _client(url).ping()
    finally:
        assert embedded is not None
        embedded.stop()
    assert not (tmp_path / "redis" / "embedded.pid").exists()
