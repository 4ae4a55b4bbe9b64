"""A site that lives in Git: one checkout kept in step with a remote branch.

Why the ``git`` command (through ``subprocess``) and not a library: it adds no dependency (the
image has ``git``), speaks every protocol and credential helper the operator's own ``git``
speaks (https, ssh, ``file://``, ``insteadOf`` rules, proxies from ``~/.gitconfig``), and
behaves exactly as the operator's ``git`` does when they debug by hand in the same folder.
Each call is bounded: a timeout, ``GIT_TERMINAL_PROMPT=0`` (a missing credential fails instead
of waiting for a terminal), ``BatchMode`` for ssh, and at most ``OUTPUT_LIMIT`` bytes of output
kept (read from a temporary file, never an unbounded pipe).

Credentials never touch the disk or the command line: the URL must carry none (refused by the
settings), a token travels as an ``http.extraHeader`` set through ``GIT_CONFIG_*`` environment
variables of the child only, and an SSH key is named by path in ``GIT_SSH_COMMAND``.  Every
text that leaves this module (``SyncResult.detail``) is passed through ``bot.logs.redact`` with
the token registered.

``sync()`` clones (``init`` + ``fetch``, so a folder that already holds files, such as the
state folder, is fine), then on each call fetches the branch and:

* fast-forwards when the remote moved ahead (``changed``);
* resets to the remote when the remote's history was rewritten (``force_push``: reported once);
* keeps the last good checkout when the fetch fails (``fetch_failed``: network, auth, a
  missing branch) or the fast-forward cannot be applied (``conflict``: files changed in the
  checkout by hand).
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.logs import add_secrets, redact

__all__ = ["GitCheckout", "GitError", "SyncResult"]

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 64 * 1024
FETCH_TIMEOUT = 120.0
LOCAL_TIMEOUT = 30.0
DETAIL_LIMIT = 500
MARKER = "newsbot-checkout"

Outcome = Literal["unchanged", "cloned", "changed", "force_push", "fetch_failed", "conflict"]
PROBLEMS: frozenset[str] = frozenset({"fetch_failed", "conflict"})


class GitError(Exception):
    """A git command failed; ``str()`` is redacted already."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    outcome: Outcome
    branch: str = ""
    old: str = ""  # the commit checked out before
    new: str = ""  # the commit checked out now (== old when nothing moved or on a problem)
    remote: str = ""  # the remote's commit, when the fetch worked
    detail: str = ""  # redacted git output for a problem
    seconds: float = 0.0

    @property
    def problem(self) -> bool:
        return self.outcome in PROBLEMS


class GitCheckout:
    """The checkout at ``path`` of ``branch`` (or the remote's default) of ``url``."""

    def __init__(self, url: str, path: Path, *, branch: str | None = None,
                 token: str | None = None, username: str = "x-access-token",
                 ssh_key: Path | None = None, fetch_timeout: float = FETCH_TIMEOUT,
                 git: str = "git") -> None:
        self.url = url
        self.path = Path(path)
        self.branch = branch or None
        self.fetch_timeout = fetch_timeout
        self.git = git
        self._env = self._child_env(token, username, ssh_key)

    @classmethod
    def from_settings(cls, settings: Any) -> GitCheckout | None:
        """The checkout SITE_GIT_URL asks for (at SITE_DIR), or None: a site on disk."""
        if not getattr(settings, "site_git_url", None):
            return None
        token = settings.site_git_token.get_secret_value() if settings.site_git_token else None
        return cls(settings.site_git_url, settings.site_dir, branch=settings.site_git_branch,
                   token=token, username=settings.site_git_username,
                   ssh_key=settings.site_git_ssh_key)

    @staticmethod
    def _child_env(token: str | None, username: str, ssh_key: Path | None) -> dict[str, str]:
        env = dict(os.environ)
        for name in list(env):  # a config set for us by the caller's environment stays ours
            if name.startswith("GIT_CONFIG_KEY_") or name.startswith("GIT_CONFIG_VALUE_"):
                del env[name]
        env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_CONFIG_COUNT": "0"})
        env.pop("GIT_DIR", None)
        env.pop("GIT_WORK_TREE", None)
        if token:
            basic = base64.b64encode(f"{username}:{token}".encode()).decode()
            add_secrets(token, basic)
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
        ssh = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        if ssh_key is not None:
            ssh += f" -o IdentitiesOnly=yes -i {shlex.quote(str(ssh_key))}"
        env["GIT_SSH_COMMAND"] = ssh
        return env

    # ------------------------------------------------------------------ plumbing
    def _run(self, *args: str, timeout: float = LOCAL_TIMEOUT, check: bool = True,
             cwd: Path | None = None) -> tuple[int, str]:
        """(exit code, redacted output); raises GitError on a failure when ``check``."""
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.run([self.git, *args], cwd=cwd or self.path, env=self._env,
                                      stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=timeout, check=False)
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = -1
            except OSError as exc:
                raise GitError(f"cannot run git: {exc.strerror or exc}") from None
            out.seek(0)
            text = redact(out.read(OUTPUT_LIMIT).decode("utf-8", "replace")).strip()
        if code == -1:
            text = f"git {args[0]} timed out after {timeout:.0f} s. {text}".strip()
        if check and code != 0:
            raise GitError(text[-DETAIL_LIMIT:] or f"git {args[0]} failed ({code})")
        return code, text

    def _rev(self, ref: str) -> str:
        code, out = self._run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return out.splitlines()[0].strip() if code == 0 and out else ""

    def _remote_default_branch(self) -> str:
        _, out = self._run("ls-remote", "--symref", "origin", "HEAD",
                           timeout=self.fetch_timeout)
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line[len("ref: refs/heads/"):-len("\tHEAD")]
        raise GitError("the remote names no default branch (set SITE_GIT_BRANCH)")

    def _ensure_repo(self) -> None:
        """A checkout newsbot made (marked in ``.git``), or a new one in a folder holding
        nothing but dot entries (such as the state folder).  Anything else is refused: a
        force-push resets the checkout, which must never destroy someone's own work."""
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / ".git" / MARKER
        if (self.path / ".git").exists():
            if not marker.exists():
                raise GitError(f"{self.path} is a Git checkout newsbot did not make; give "
                               "SITE_DIR an empty folder (or leave it unset)")
            self._run("remote", "set-url", "origin", self.url)
            return
        if any(not entry.name.startswith(".") for entry in self.path.iterdir()):
            raise GitError(f"{self.path} holds files and is not a Git checkout; give SITE_DIR "
                           "an empty folder (or leave it unset)")
        self._run("init", "-q")
        marker.write_text("a checkout kept by newsbot (SITE_GIT_URL); it may be reset\n")
        self._run("remote", "add", "origin", self.url)

    # ------------------------------------------------------------------ the one operation
    def head(self) -> str:
        return self._rev("HEAD") if (self.path / ".git").exists() else ""

    def sync(self) -> SyncResult:
        """Bring the checkout to the remote branch; never raises for git's own failures."""
        started = time.monotonic()
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.parent / f".{self.path.name}.lock"
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one sync at a time per checkout (threads, processes)
            try:
                result = self._sync()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return SyncResult(**{**_fields(result), "seconds": time.monotonic() - started})

    def _sync(self) -> SyncResult:
        old = ""
        branch = self.branch or ""
        try:
            self._ensure_repo()
            old = self.head()
            branch = self.branch or self._remote_default_branch()
            tracking = f"refs/remotes/origin/{branch}"
            self._run("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{branch}:{tracking}",
                      timeout=self.fetch_timeout)
            remote = self._rev(tracking)
            if not remote:
                raise GitError(f"branch {branch} not found on the remote")
        except GitError as exc:
            return SyncResult("fetch_failed", branch, old, old, "", _clip(str(exc)))
        try:
            if not old:
                self._run("checkout", "-q", "-f", "-B", branch, tracking)
                return SyncResult("cloned", branch, "", remote, remote)
            if old == remote:
                return SyncResult("unchanged", branch, old, old, remote)
            code, _ = self._run("merge-base", "--is-ancestor", old, remote, check=False)
            if code == 0:
                self._run("checkout", "-q", "-B", branch, "HEAD")
                self._run("merge", "-q", "--ff-only", remote)
                return SyncResult("changed", branch, old, remote, remote)
            # Rewritten history (a force-push): the remote is the truth.
            self._run("checkout", "-q", "-f", "-B", branch, tracking)
            self._run("reset", "-q", "--hard", remote)
            return SyncResult("force_push", branch, old, remote, remote)
        except GitError as exc:
            now = self.head()
            if now and now != old:  # half way: put the last good checkout back
                self._run("reset", "-q", "--hard", old, check=False)
            return SyncResult("conflict", branch, old, old, remote, _clip(str(exc)))


def _clip(text: str) -> str:
    return redact(text)[-DETAIL_LIMIT:]


def _fields(result: SyncResult) -> dict[str, object]:
    return {name: getattr(result, name) for name in SyncResult.__slots__}
