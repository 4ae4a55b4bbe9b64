"""What every proof suite stands on: the fakes, a real Redis, a site, real ``newsbot`` processes,
and the ledger that says what reached the platforms.

The suites judge the product only by what the fake platforms received (``Stack.ledger``) and by
the delivery records in Redis, never by the product's own account of itself: a duplicate is two
channel messages for one post URL, whatever the records say.  Everything from this module is
small and additive; a suite builds its scenario from it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shutil
import signal
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from PIL import Image

from bot.redis_embedded import EmbeddedRedis, _stop_orphan, start_embedded
from bot.state import State
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

from .hostile_judge import count_in
from .hostile_procs import NEWSBOT, Ran, Runner, Started

__all__ = [
    "CHANNEL", "CHANNEL_ID", "EDITOR", "EDITOR_CHAT", "NEWSBOT", "SITE_URL", "Mode", "Ran",
    "Stack", "Started", "credentials", "now_utc", "wait_until", "workdir",
]

SITE_URL = "https://news.example"
CHANNEL = "@proofchannel"
CHANNEL_ID = -1001999888777
EDITOR_CHAT = -1005550001111
EDITOR = 4242
_POST_URL = re.compile(re.escape(SITE_URL) + r"/[^\s\"'<>]+")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Mode:
    """``short`` (CI: a minute or two) or ``long`` (the full figures, on demand)."""

    name: str = "short"
    keep: bool = False
    seed: int | None = None

    @property
    def long(self) -> bool:
        return self.name == "long"


def wait_until(check: Callable[[], _T], timeout: float, every: float = 0.2) -> _T | None:
    """``check()``'s first truthy value, or its last value once ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


@contextlib.contextmanager
def workdir(suite: str, keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"newsbot-proof-{suite}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"note: work folder kept: {path}", flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


def credentials() -> tuple[str, tuple[str, str, str, str]]:
    """A fresh bot token and X keys per run: the secrets search looks for these exact values."""
    alphabet = string.ascii_letters + string.digits
    token = f"{secrets.randbelow(9 * 10**9) + 10**9}:" + "".join(
        secrets.choice(alphabet) for _ in range(35))
    keys = tuple(f"proof{n}{secrets.token_hex(12)}" for n in ("Key", "Sec", "Tok", "Tsc"))
    return token, keys  # type: ignore[return-value]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 450), (20, 110, 190)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


class Stack:
    """Fakes, Redis, a site and the ``newsbot`` environment for one suite run.

    ``redis_url``: an external server (``"embedded"``, the default, starts a private embedded
    one for the suite; ``None`` leaves ``REDIS_URL`` unset so that ``newsbot run`` brings its
    own, as an operator's laptop does).  ``scale`` time-scales the fakes' rate windows and the
    product's (``RATE_TIME_SCALE``).  Extra keyword arguments go to the fakes.
    """

    def __init__(self, work: Path, *, scale: float = 0.01, redis_url: str | None = "embedded",
                 tg: dict[str, Any] | None = None, x: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.work = work
        self.scale = scale
        self.token, self.keys = credentials()
        self.tg = FakeTelegram(token=self.token, time_scale=scale, enforce_rate_limits=True,
                               **(tg or {}))
        self.tg.start()
        self.tg.add_chat(CHANNEL_ID, CHANNEL)
        self.tg.add_chat(EDITOR_CHAT, None, type="supergroup", title="Editors")
        x_args = {"rate_limit_15min": 1_000_000, "user_24h_limit": 1_000_000,
                  "app_24h_limit": 1_000_000, **(x or {})}
        self.x = FakeX(time_scale=scale, credentials=self.keys, **x_args).start()
        self.embedded: EmbeddedRedis | None = None
        if redis_url == "embedded":
            self.embedded = start_embedded(work / "suite-redis")
            redis_url = self.embedded.url
        self.redis_url = redis_url
        self.data = work / "var"
        self.site = self.make_site(work / "site")
        self.runner = Runner(work / "logs", self.env(env))
        self._clients: list[redis.Redis] = []
        self._states: dict[str, State] = {}

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def make_site(root: Path) -> Path:
        (root / "_posts").mkdir(parents=True, exist_ok=True)
        (root / "_config.yml").write_text(f"url: {SITE_URL}\ntimezone: UTC\n", encoding="utf-8")
        (root / "assets").mkdir(exist_ok=True)
        (root / "assets" / "feature.jpg").write_bytes(_jpeg())
        return root

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        key, secret, token, token_secret = self.keys
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work / "home"),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost",
            "SITE_DIR": str(self.site), "DATA_DIR": str(self.data), "LOG_LEVEL": "DEBUG",
            "MAX_AGE_HOURS": "48", "NEWSBOT_TESTING": "1", "RATE_TIME_SCALE": repr(self.scale),
            "SCAN_SECONDS": "3600", "WAIT_FOR_LIVE": "false",  # no site server here
            "TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_CHANNEL": CHANNEL,
            "TELEGRAM_API_URL": self.tg.base_url, "TELEGRAM_EDITOR_CHAT": str(EDITOR_CHAT),
            "TELEGRAM_EDITOR_IDS": str(EDITOR), "BOT_LANGUAGE": "en",
            "X_API_KEY": key, "X_API_SECRET": secret, "X_ACCESS_TOKEN": token,
            "X_ACCESS_TOKEN_SECRET": token_secret, "X_API_URL": self.x.base_url,
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return {**env, **(extra or {})}

    def write_post(self, slug: str, when: datetime | None = None, *, title: str | None = None,
                   extra: str = "", body: str = "Body text.") -> Path:
        """A post file (written whole, then renamed: as an editor's save or ``git pull`` does)."""
        when = when or now_utc() - timedelta(minutes=1)
        path = self.site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
        front = ["---", f"title: {title or 'Story ' + slug}",
                 f"date: {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} +0000",
                 "tags: [news]", f"excerpt: A short excerpt about {slug}.",
                 "image: /assets/feature.jpg", "image_alt: Blue test picture"]
        if extra:
            front.append(extra)
        front.append("---")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("\n".join(front) + "\n\n" + body + "\n", encoding="utf-8")
        tmp.rename(path)
        return path

    # ------------------------------------------------------------------ processes
    def start(self, name: str, *args: str, env: dict[str, str] | None = None,
              allowed: tuple[int, ...] = (0,)) -> Started:
        """``newsbot ARGS`` in its own session (kill its group with ``kill``)."""
        return self.runner.start(name, [NEWSBOT, *args], env=env, allowed=allowed)

    def run(self, name: str, *args: str, timeout: float = 120.0,
            env: dict[str, str] | None = None, allowed: tuple[int, ...] = (0,)) -> Ran:
        return self.runner.run(name, [NEWSBOT, *args], timeout=timeout, env=env,
                               allowed=allowed)

    @staticmethod
    def kill(proc: Started, sig: int = signal.SIGKILL) -> None:
        """``sig`` to the process group of ``proc`` (``kill -9`` of a worker and its children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)

    def logs(self) -> list[Path]:
        return sorted(p for p in (self.work / "logs").iterdir() if p.suffix in (".out", ".err"))

    # ------------------------------------------------------------------ Redis and state
    def client(self, url: str | None = None) -> redis.Redis:
        """A client of the suite's Redis (or ``url``), closed with the stack."""
        target = url or self.redis_url
        if not target:
            raise RuntimeError("no Redis URL: the suite left it to `newsbot run`")
        client = redis.Redis.from_url(target, decode_responses=True, socket_timeout=10)
        self._clients.append(client)
        return client

    def state(self, url: str | None = None) -> State:
        """The records of the suite's Redis (or ``url``): one client per URL for the whole run
        (a suite polls it many times a second; a client each would exhaust file descriptors)."""
        key = url or self.redis_url or ""
        if key not in self._states:
            self._states[key] = State(self.client(url))
        return self._states[key]

    # ------------------------------------------------------------------ what the platforms got
    def ledger(self) -> dict[str, Counter[str]]:
        """Post URL -> how many times each platform received it (channel messages, X posts)."""
        out: dict[str, Counter[str]] = {}
        for message in self.tg.channel_posts(CHANNEL):
            for url in set(_POST_URL.findall(message.raw or message.caption or message.text or "")):
                out.setdefault(url, Counter())["telegram"] += 1
        for post in list(self.x.posts):
            for url in set(_POST_URL.findall(post.text)):
                out.setdefault(url, Counter())["x"] += 1
        return out

    def duplicates(self) -> dict[str, Counter[str]]:
        return {url: c for url, c in self.ledger().items() if max(c.values()) > 1}

    def secrets(self) -> dict[str, str]:
        names = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
        found = {"TELEGRAM_BOT_TOKEN": self.token,
                 "TELEGRAM_BOT_TOKEN (secret part)": self.token.split(":", 1)[1],
                 **dict(zip(names, self.keys, strict=True))}
        if self.redis_url and urlsplit(self.redis_url).password:
            found["Redis password"] = urlsplit(self.redis_url).password or ""
        return found

    def leaks(self, extra: Iterable[Path] = ()) -> dict[str, int]:
        """Credentials found in any log of the run (and ``extra`` files): all zeros or a leak."""
        hits = count_in([*self.logs(), *extra], self.secrets())
        return {name: n for name, n in hits.items() if n}

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        for proc in list(self.runner.started):
            self.kill(proc)
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self.tg.stop()
        self.x.stop()
        if self.embedded is not None:
            self.embedded.stop()
        # A `newsbot run` killed with SIGKILL leaves its own embedded server (its own session).
        pid_file = self.data / "redis" / "embedded.pid"
        if pid_file.exists():
            _stop_orphan(pid_file, (self.data / "redis").resolve())

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
