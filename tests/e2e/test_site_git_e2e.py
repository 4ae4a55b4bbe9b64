"""`newsbot run` with its site in Git and the webhook endpoint on, as an operator starts it:
it clones, serves the hooks, a signed push makes it pull and scan the pushed post, a deploy
hook is a deploy signal, and the token and the secret never reach its output."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import redis
from delivery_helpers import wait_for
from git_remote import Remote  # loaded by tests/conftest.py

from bot.state.deploy_signal import DeploySignals
from bot.webhook import github_signature

TOKEN = "ghp_TEST-fake-token-not-real-e2e-run-0123456789"
SECRET = "whsec-TEST-fake-secret-not-real-e2e-run-0123"




def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_run_pulls_and_scans_on_a_push_webhook(e2e: Any) -> None:
    remote = Remote(e2e.tmp / "git")
    remote.add_post("first", "First")
    port = _free_port()
    proc = e2e.start("run", extra_env={
        "SITE_GIT_URL": remote.url, "SITE_GIT_TOKEN": TOKEN, "WEBHOOK_LISTEN":
        f"127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET})
    wait_for(lambda: "baseline=true" in proc.text(), 30, "the first scan")
    assert f"site {e2e.data}/site-git" in proc.text()

    today = datetime.now(UTC).date().isoformat()
    remote.add_post("pushed", "Pushed", date=today)
    body = json.dumps({"ref": "refs/heads/main",
                       "repository": {"default_branch": "main"}}).encode()
    assert _post(port, "/hooks/github", body, {"X-GitHub-Event": "push"}) == 401
    assert "outcome=changed" not in proc.text()
    assert _post(port, "/hooks/github", body, {
        "X-GitHub-Event": "push", "X-Hub-Signature-256": github_signature(SECRET, body)}) == 202
    wait_for(lambda: "outcome=changed" in proc.text() and "new=1" in proc.text(), 15,
             "the pull and scan of the pushed post")

    assert _post(port, "/hooks/deploy", b"", {"Authorization": f"Bearer {SECRET}"}) == 202
    client = redis.Redis.from_url(e2e.url, decode_responses=True)
    try:
        wait_for(lambda: (DeploySignals(client).latest() or None) is not None
                 and DeploySignals(client).latest().source == "deploy-hook", 5,  # type: ignore[union-attr]
                 "the deploy signal")
    finally:
        client.close()
    assert proc.stop() == 0
    text = proc.text()
    assert TOKEN not in text and SECRET not in text
