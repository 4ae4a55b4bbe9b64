"""A real Git remote for tests: a bare repository in tmp, fed from a work clone by `git push`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com",
       "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com",
       "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}

CONFIG = "title: Test\nurl: https://example.com\ntimezone: UTC\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


class Remote:
    """``bare`` is the remote (its URL: ``url``); ``work`` is an author's clone of it."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.bare = root / "remote.git"
        self.work = root / "author"
        self.branch = branch
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "--bare", f"--initial-branch={branch}", str(self.bare))
        git(root, "init", "-q", f"--initial-branch={branch}", str(self.work))
        git(self.work, "remote", "add", "origin", str(self.bare))
        (self.work / "_config.yml").write_text(CONFIG)
        (self.work / "_posts").mkdir()
        self.commit("site")

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def add_post(self, slug: str, title: str, date: str = "2026-12-01") -> str:
        path = self.work / "_posts" / f"{date}-{slug}.md"
        path.write_text(f"---\ntitle: {title}\ndate: {date} 10:00:00 +0000\n---\nBody of "
                        f"{title}.\n")
        return self.commit(f"post {slug}")

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", self.branch)
        return git(self.work, "rev-parse", "HEAD")

    def rewrite(self, message: str) -> str:
        """Amend the last commit and force-push it: the remote's history is rewritten."""
        (self.work / "rewritten.txt").write_text(message)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--amend", "-m", message)
        git(self.work, "push", "-q", "--force", "origin", self.branch)
        return git(self.work, "rev-parse", "HEAD")
