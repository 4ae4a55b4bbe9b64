"""`newsbot scan` on a site in Git, as an operator runs it: the first run clones, each scan
pulls first, a broken remote leaves the last checkout scanned, and the token never shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from git_remote import Remote  # loaded by tests/conftest.py

NEWSBOT = str(Path(sys.executable).parent / "newsbot")
TOKEN = "ghp_TEST-fake-token-not-real-cli-0123456789abc"


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run([NEWSBOT, *args], cwd=cwd, env={**base, **env}, timeout=90,
                          capture_output=True, text=True)


def test_scan_clones_then_pulls_each_time(tmp_path: Path) -> None:
    remote = Remote(tmp_path / "git")
    remote.add_post("first", "First")
    env = {"DATA_DIR": str(tmp_path / "var"), "SITE_GIT_URL": remote.url,
           "SITE_GIT_TOKEN": TOKEN, "SITE_DIR": "/nonexistent-and-unused"}
    first = run(["scan", "--json"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["baseline"] is True
    assert (tmp_path / "var" / "site-git" / "_posts" / "2026-12-01-first.md").is_file()

    remote.add_post("second", "Second")
    second = run(["scan", "--json"], tmp_path, **env)
    assert json.loads(second.stdout)["new"] == 1, second.stderr

    remote.rewrite("history rewritten, posts unchanged")  # a force-push
    rewritten = run(["scan", "--json"], tmp_path, **env)
    report = json.loads(rewritten.stdout)
    # the checkout was reset; the posts keep their identities: nothing new, nothing changed
    assert (report["new"], report["changed"], report["unchanged"]) == (0, 0, 2), report
    assert (tmp_path / "var" / "site-git" / "rewritten.txt").is_file()

    remote.bare.rename(tmp_path / "gone.git")
    third = run(["scan", "--json"], tmp_path, **env)
    assert third.returncode == 0, third.stderr  # the last good checkout is scanned
    assert json.loads(third.stdout)["unchanged"] == 2
    assert "fetch_failed" in third.stderr
    for result in (first, second, rewritten, third):
        assert TOKEN not in result.stdout + result.stderr


def test_a_first_clone_that_fails_stops_the_command_with_one_line(tmp_path: Path) -> None:
    result = run(["scan"], tmp_path, DATA_DIR=str(tmp_path / "var"),
                 SITE_GIT_URL=(tmp_path / "missing.git").as_uri(), SITE_GIT_TOKEN=TOKEN)
    assert result.returncode == 2
    assert "SITE_GIT_URL: could not clone the site" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
