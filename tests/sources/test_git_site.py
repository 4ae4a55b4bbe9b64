"""The checkout of a site that lives in Git, against a real bare repository in tmp."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from git_remote import Remote, git  # loaded by tests/conftest.py

from bot.logs import redact
from bot.sources.git_site import GitCheckout

TOKEN = "ghp_TEST-fake-token-not-real-0123456789abcdef"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def test_first_sync_clones_the_default_branch(remote: Remote, tmp_path: Path) -> None:
    head = remote.add_post("hello", "Hello")
    checkout = GitCheckout(remote.url, tmp_path / "data" / "site-git")
    result = checkout.sync()
    assert result.outcome == "cloned"
    assert result.branch == "main"  # asked of the remote (its HEAD)
    assert result.new == head == checkout.head()
    assert (tmp_path / "data" / "site-git" / "_posts" / "2026-12-01-hello.md").is_file()
    assert checkout.sync().outcome == "unchanged"


def test_clone_into_a_folder_that_already_holds_files(remote: Remote, tmp_path: Path) -> None:
    target = tmp_path / "site"
    (target / ".newsbot").mkdir(parents=True)
    (target / ".newsbot" / "state").write_text("kept")
    assert GitCheckout(remote.url, target).sync().outcome == "cloned"
    assert (target / "_config.yml").is_file()
    assert (target / ".newsbot" / "state").read_text() == "kept"


def test_a_push_fast_forwards(remote: Remote, tmp_path: Path) -> None:
    checkout = GitCheckout(remote.url, tmp_path / "site")
    old = checkout.sync().new
    new = remote.add_post("second", "Second")
    result = checkout.sync()
    assert (result.outcome, result.old, result.new) == ("changed", old, new)
    assert (tmp_path / "site" / "_posts" / "2026-12-01-second.md").is_file()


def test_a_named_branch_is_followed(remote: Remote, tmp_path: Path) -> None:
    git(remote.work, "checkout", "-q", "-b", "drafts")
    (remote.work / "draft.txt").write_text("x")
    git(remote.work, "add", "-A")
    git(remote.work, "commit", "-q", "-m", "draft")
    git(remote.work, "push", "-q", "origin", "drafts")
    checkout = GitCheckout(remote.url, tmp_path / "site", branch="drafts")
    assert checkout.sync().branch == "drafts"
    assert (tmp_path / "site" / "draft.txt").is_file()


def test_a_force_push_resets_to_the_remote(remote: Remote, tmp_path: Path) -> None:
    checkout = GitCheckout(remote.url, tmp_path / "site")
    remote.add_post("one", "One")
    old = checkout.sync().new
    new = remote.rewrite("rewritten")
    result = checkout.sync()
    assert (result.outcome, result.old, result.new) == ("force_push", old, new)
    assert checkout.head() == new
    assert (tmp_path / "site" / "rewritten.txt").is_file()
    assert checkout.sync().outcome == "unchanged"


def test_a_broken_remote_keeps_the_last_good_checkout(remote: Remote, tmp_path: Path) -> None:
    checkout = GitCheckout(remote.url, tmp_path / "site")
    good = checkout.sync().new
    remote.add_post("unseen", "Unseen")
    remote.bare.rename(tmp_path / "gone.git")  # the remote is unreachable now
    result = checkout.sync()
    assert result.outcome == "fetch_failed" and result.problem
    assert result.new == result.old == good == checkout.head()
    assert result.detail  # git's own words, for the editors
    assert (tmp_path / "site" / "_config.yml").is_file()


def test_local_edits_that_block_the_fast_forward_are_a_conflict(remote: Remote,
                                                                 tmp_path: Path) -> None:
    checkout = GitCheckout(remote.url, tmp_path / "site")
    good = checkout.sync().new
    (tmp_path / "site" / "_config.yml").write_text("edited by hand\n")
    (remote.work / "_config.yml").write_text("title: Changed\nurl: https://example.com\n")
    remote.commit("config")
    result = checkout.sync()
    assert result.outcome == "conflict"
    assert checkout.head() == good


def test_a_missing_branch_is_a_failed_pull(remote: Remote, tmp_path: Path) -> None:
    result = GitCheckout(remote.url, tmp_path / "site", branch="nope").sync()
    assert result.outcome == "fetch_failed"
    assert "nope" in result.detail


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = TOKEN.encode()  # a server that echoes the token: still never shown
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_remote() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/site.git"
    server.shutdown()
    server.server_close()


def test_the_token_travels_as_a_header_and_never_in_text(http_remote: str,
                                                          tmp_path: Path) -> None:
    checkout = GitCheckout(http_remote, tmp_path / "site", branch="main", token=TOKEN)
    result = checkout.sync()
    assert result.outcome == "fetch_failed"
    expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert expected in _Recorder.seen
    assert TOKEN not in repr(result)
    assert TOKEN not in (tmp_path / "site" / ".git" / "config").read_text()
    assert redact(f"x {TOKEN} y") != f"x {TOKEN} y"


def test_a_folder_with_someone_elses_files_is_never_taken_over(remote: Remote,
                                                               tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("my work")
    result = GitCheckout(remote.url, mine).sync()
    assert result.outcome == "fetch_failed" and "not a Git checkout" in result.detail
    assert not (mine / ".git").exists()
    # nor someone's own clone: a force-push would reset it
    result = GitCheckout(remote.url, remote.work).sync()
    assert result.outcome == "fetch_failed" and "did not make" in result.detail
    assert (mine / "notes.md").read_text() == "my work"


def test_an_ssh_remote_uses_the_key_and_never_waits_for_a_prompt(tmp_path: Path) -> None:
    key = tmp_path / "deploy key"
    key.write_text("not a real key\n")
    checkout = GitCheckout("ssh://git@127.0.0.1:1/site.git", tmp_path / "site", branch="main",
                           ssh_key=key)
    started = time.monotonic()
    result = checkout.sync()  # nothing listens on port 1: refused at once, no prompt
    assert result.outcome == "fetch_failed"
    assert time.monotonic() - started < 30
    ssh = checkout._env["GIT_SSH_COMMAND"]
    assert "BatchMode=yes" in ssh and f"-i '{key}'" in ssh
    assert checkout._env["GIT_TERMINAL_PROMPT"] == "0"
