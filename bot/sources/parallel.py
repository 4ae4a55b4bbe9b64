"""Reading many post files on every core: a first run's baseline of a big site.

Why processes: reading a post is pure Python (YAML constructors, the permalink, the excerpt)
and holds the GIL; on a 20,000-post site it was 13 of the first scan's 22 s on one core.

Why our own small pool of ``python -m bot.sources.parallel`` children rather than
``multiprocessing``: the scan runs in a thread of a multi-threaded worker, where ``fork`` copies
locks other threads hold; and ``spawn`` re-imports the parent's ``__main__`` in every child (the
whole CLI or Celery, a second of CPU each) before reading a single file.  A child here imports the
readers only, gets the site once and then chunks of paths, and answers each chunk with its posts
or reasons, in order.

Nothing is lost or changed by going parallel: a child runs the very ``read_post`` a serial scan
runs, and if a child cannot start, dies (a hostile file that takes the memory) or goes silent
past ``CHUNK_DEADLINE_S``, the children are stopped and the files not yet answered are read
here, one after the other, as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from bot.posts import Post
from bot.sources.errors import PostFileError
from bot.sources.jekyll import read_post
from bot.sources.site import SiteConfig

__all__ = ["CHUNK", "MIN_FILES", "Unreadable", "auto_processes", "read_in_order"]

log = logging.getLogger(__name__)

MIN_FILES = 800
"""Fewer files are read here: starting the children (0.2 s of CPU each) would cost more than
it saves."""
CHUNK = 200
"""Files per request to a child: large enough that the framing is noise, small enough that the
caller's Redis writes start within a fraction of a second."""
CHUNK_DEADLINE_S = 60.0
"""A child silent this long on one chunk is taken for stuck (a chunk normally takes 0.15 s)."""
MAX_AUTO_PROCESSES = 4
_HEADER = struct.Struct("!I")
_MAX_FRAME = 256 * 1024 * 1024


class Unreadable(tuple[str, "int | None"]):
    """A file's PostFileError as a child sends it back: (reason, line)."""

    __slots__ = ()

    def error(self) -> PostFileError:
        return PostFileError(self[0], self[1])


def auto_processes() -> int:
    """The CPUs this process may run on, up to MAX_AUTO_PROCESSES (a scan is one step of many)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_AUTO_PROCESSES))


def read_in_order(site: SiteConfig, paths: Sequence[Path], *,
                  processes: int = 0) -> Iterator[tuple[Path, Post | PostFileError]]:
    """Each of ``paths`` with its Post or PostFileError, in order, read by up to ``processes``
    children (0: one per CPU; 1: here, serially)."""
    wanted = processes if processes > 0 else auto_processes()
    if wanted <= 1 or len(paths) < MIN_FILES:
        yield from _serially(site, paths)
        return
    chunks = [list(paths[i:i + CHUNK]) for i in range(0, len(paths), CHUNK)]
    pool = _Pool(site, min(wanted, len(chunks)))
    answered = 0
    try:
        pool.start(chunks)
        for index, chunk in enumerate(chunks):
            results = pool.result(index)
            if results is None or len(results) != len(chunk):
                if results is not None:
                    pool._give_up(f"{len(results)} answers for {len(chunk)} files")
                break
            answered += 1
            for path, result in zip(chunk, results, strict=True):
                if isinstance(result, Unreadable):
                    yield path, result.error()
                else:
                    yield path, _post(path, result)
    finally:
        pool.stop()
    for chunk in chunks[answered:]:
        yield from _serially(site, chunk)


def _serially(site: SiteConfig,
              paths: Sequence[Path]) -> Iterator[tuple[Path, Post | PostFileError]]:
    for path in paths:
        try:
            yield path, read_post(site, path)
        except PostFileError as exc:
            yield path, exc


class _Pool:
    """Children reading chunks; chunk i goes to child i % n, and answers are taken in order.

    Two kinds of threads keep the children busy while the caller writes to Redis: one feeds the
    requests (a child blocked on a full answer pipe must never wait for a parent blocked on a
    full request pipe), and one per child takes its answers as they come, up to LOOKAHEAD
    chunks ahead of the caller (memory stays bounded; a 300 KB answer never sits in a 64 KB
    pipe stopping its child).
    """

    LOOKAHEAD = 8

    def __init__(self, site: SiteConfig, size: int) -> None:
        self.site = site
        self.size = size
        self.children: list[subprocess.Popen[bytes]] = []
        self.answers: list[queue.Queue[bytes | str]] = []
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.failed = False

    def start(self, chunks: list[list[Path]]) -> None:
        env = dict(os.environ)
        # The package as this process imported it, even from a checkout that is not installed.
        here = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        try:
            for _ in range(self.size):
                self.children.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.sources.parallel"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, env=env, close_fds=True,
                    # Ctrl-C is for the scanning process, which stops its children itself; a
                    # parent gone for good closes their stdin, and they end.
                    start_new_session=True))
        except OSError as exc:
            self._give_up(f"could not start a reader process ({exc.strerror or exc})")
            return
        self.threads.append(threading.Thread(target=self._feed, args=(chunks,),
                                             name="newsbot-read-feed", daemon=True))
        for child in self.children:
            answers: queue.Queue[bytes | str] = queue.Queue(maxsize=self.LOOKAHEAD)
            self.answers.append(answers)
            self.threads.append(threading.Thread(target=self._take, args=(child, answers),
                                                 name="newsbot-read-take", daemon=True))
        for thread in self.threads:
            thread.start()

    def _feed(self, chunks: list[list[Path]]) -> None:
        try:
            site = pickle.dumps(self.site, protocol=pickle.HIGHEST_PROTOCOL)
            for child in self.children:
                _write_frame(child.stdin, site)
            for index, chunk in enumerate(chunks):
                child = self.children[index % self.size]
                _write_frame(child.stdin, pickle.dumps([str(p) for p in chunk],
                                                       protocol=pickle.HIGHEST_PROTOCOL))
            for child in self.children:
                if child.stdin is not None:
                    child.stdin.close()
        except (OSError, ValueError):  # a child gone (its answers say so) or the pool stopped
            return

    def _take(self, child: subprocess.Popen[bytes], answers: queue.Queue[bytes | str]) -> None:
        while not self.stopping.is_set():
            frame = _read_frame(child.stdout, None)
            while not self.stopping.is_set():
                try:
                    answers.put(frame, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(frame, str):
                return

    def result(self, index: int) -> list[tuple[Any, ...] | Unreadable] | None:
        """Chunk ``index``'s answers, or None when the pool failed (then read the rest here)."""
        if self.failed or not self.children:
            return None
        try:
            frame = self.answers[index % self.size].get(timeout=CHUNK_DEADLINE_S)
        except queue.Empty:
            frame = f"a reader process silent for {CHUNK_DEADLINE_S:.0f} s"
        if isinstance(frame, str):
            self._give_up(frame)
            return None
        try:
            results = pickle.loads(frame)
        except Exception as exc:  # a child that died mid-frame
            self._give_up(f"an unreadable answer ({type(exc).__name__})")
            return None
        return results if isinstance(results, list) else None

    def _give_up(self, why: str) -> None:
        if not self.failed:
            log.warning("parallel reading stopped: %s; the remaining files are read one by one",
                        why)
        self.failed = True
        self.stop()

    def stop(self) -> None:
        """Children killed and reaped, threads ended (a killed child's pipe ends their reads),
        pipes closed."""
        self.stopping.set()
        for child in self.children:
            if child.poll() is None:
                child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # a kill is not refused
                child.wait(timeout=5)
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        for child in self.children:
            for stream in (child.stdin, child.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()
        self.children = []
        self.threads = []


def _write_frame(stream: IO[bytes] | None, data: bytes) -> None:
    if stream is None:
        raise ValueError("no pipe")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: IO[bytes] | None, deadline: float | None) -> bytes | str:
    """A frame's bytes, or why there is none (the child ended, or went silent past deadline)."""
    if stream is None:
        return "no pipe"
    header = _read_exactly(stream, _HEADER.size, deadline)
    if isinstance(header, str):
        return header
    (size,) = _HEADER.unpack(header)
    if size > _MAX_FRAME:
        return f"an answer of {size} bytes"
    return _read_exactly(stream, size, deadline)


def _read_exactly(stream: IO[bytes], size: int, deadline: float | None) -> bytes | str:
    fd = stream.fileno()
    parts: list[bytes] = []
    got = 0
    while got < size:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return f"a reader process silent for {CHUNK_DEADLINE_S:.0f} s"
        part = os.read(fd, min(size - got, 1 << 20))
        if not part:
            return "a reader process ended"
        parts.append(part)
        got += len(part)
    return b"".join(parts)


# A post crosses the pipe as a tuple of its fields: unpickling 20,000 slotted dataclasses and
# their Paths cost the scanning process a second; the path it gave is the one it keeps, unless
# ``read_post`` named the file otherwise (then the child sends that name along).
_FIELDS = tuple(f.name for f in dataclasses.fields(Post))
_PATH = _FIELDS.index("path")


def _fields(raw: str, post: Post) -> tuple[Any, ...]:
    values = [getattr(post, name) for name in _FIELDS]
    values[_PATH] = None if str(post.path) == raw else str(post.path)
    return tuple(values)


def _post(path: Path, values: tuple[Any, ...]) -> Post:
    named = values[_PATH]
    fields = dict(zip(_FIELDS, values, strict=True))
    fields["path"] = path if named is None else Path(named)
    return Post(**fields)


# --------------------------------------------------------------------------- the child


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Read the site, then answer each chunk of paths with its posts or reasons, until EOF."""
    site_frame = _read_frame(stdin, None)
    if isinstance(site_frame, str):
        return
    site: SiteConfig = pickle.loads(site_frame)
    while True:
        frame = _read_frame(stdin, None)
        if isinstance(frame, str):
            return
        answers: list[Any] = []
        for raw in pickle.loads(frame):
            try:
                answers.append(_fields(raw, read_post(site, Path(raw))))
            except PostFileError as exc:
                answers.append(Unreadable((exc.reason, exc.line)))
        _write_frame(stdout, pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    # Served by the module under its own name, so what it pickles (``Unreadable``) is found by
    # that name in the parent, not as ``__main__.Unreadable``.
    from bot.sources import parallel as _named

    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the parent stopped us
        _named._serve(sys.stdin.buffer, sys.stdout.buffer)
