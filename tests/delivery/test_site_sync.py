"""Pulls reported to the editors: a force-push once, a failed pull once per distinct problem
(again after a good pull), the last good checkout kept, the token never in a notice or log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis
from git_remote import Remote  # loaded by tests/conftest.py

from bot.delivery.notify import Notifier
from bot.delivery.site_sync import SiteSync, _gist
from bot.sources.git_site import GitCheckout
from bot.state import State

TOKEN = "ghp_TEST-fake-token-not-real-site-sync-0123456789"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def _sync(remote_url: str, path: Path, client: redis.Redis, ns: str) -> SiteSync:
    checkout = GitCheckout(remote_url, path, token=TOKEN)
    return SiteSync(checkout, client, namespace=ns,
                    notifier=Notifier(State(client, namespace=ns)))


def _texts(sync: SiteSync) -> list[str]:
    assert sync.notifier is not None
    return [e.data["notice"]["text"] for e in sync.notifier.queue.due()]


def test_force_push_is_reported_once(remote: Remote, tmp_path: Path,
                                     redis_client: redis.Redis, redis_namespace: str) -> None:
    sync = _sync(remote.url, tmp_path / "site", redis_client, redis_namespace)
    sync.sync()
    new = remote.rewrite("rewritten")
    assert sync.sync().outcome == "force_push"
    # a second process with its own checkout sees the same force-push: still one notice
    other = _sync(remote.url, tmp_path / "other", redis_client, redis_namespace)
    other.checkout.sync()
    assert sync.sync().outcome == "unchanged"
    texts = _texts(sync)
    assert len(texts) == 1 and "force-pushed" in texts[0] and new[:12] in texts[0]


def test_failed_pull_reported_once_then_again_after_recovery(
        remote: Remote, tmp_path: Path, redis_client: redis.Redis, redis_namespace: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sync = _sync(remote.url, tmp_path / "site", redis_client, redis_namespace)
    good = sync.sync().new
    hidden = tmp_path / "hidden.git"
    remote.bare.rename(hidden)
    for _ in range(3):  # three rescans against a broken remote: one notice
        result = sync.sync()
        assert result.outcome == "fetch_failed" and sync.checkout.head() == good
    assert len(_texts(sync)) == 1
    hidden.rename(remote.bare)
    assert sync.sync().outcome == "unchanged"  # a good pull forgets the problem
    remote.bare.rename(hidden)
    sync.sync()
    texts = _texts(sync)
    assert len(texts) == 2 and all("Could not pull" in t for t in texts)
    assert good[:12] in texts[0]
    everything = " ".join(texts) + caplog.text + repr(redis_client.keys("*"))
    assert TOKEN not in everything


def test_conflict_is_reported_and_the_checkout_kept(remote: Remote, tmp_path: Path,
                                                    redis_client: redis.Redis,
                                                    redis_namespace: str) -> None:
    sync = _sync(remote.url, tmp_path / "site", redis_client, redis_namespace)
    good = sync.sync().new
    (tmp_path / "site" / "_config.yml").write_text("edited by hand\n")
    (remote.work / "_config.yml").write_text("title: Changed\nurl: https://example.com\n")
    remote.commit("config")
    assert sync.sync().outcome == "conflict"
    assert sync.sync().outcome == "conflict"
    assert sync.checkout.head() == good
    texts = _texts(sync)
    assert len(texts) == 1 and "Could not update" in texts[0]


def test_the_same_problem_is_the_same_whatever_its_numbers() -> None:
    a = "remote: x\nfatal: unable to access 'http://127.0.0.1:4001/s.git/': Failed after 3 ms"
    b = "remote: y\nfatal: unable to access 'http://127.0.0.1:4002/s.git/': Failed after 9 ms"
    assert _gist(a) == _gist(b)
    assert _gist(a) != _gist("fatal: Authentication failed for 'https://example.com/s.git/'")
    assert _gist("") == ""
