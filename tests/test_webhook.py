"""The webhook endpoint: signatures checked in constant time, bounded bodies, events routed."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.state.deploy_signal import DeploySignals
from bot.webhook import WebhookServer, github_signature

SECRET = "whsec-TEST-fake-secret-not-real-0123456789"


class Calls:
    def __init__(self) -> None:
        self.push: list[str] = []
        self.deploy: list[str] = []
        self.pushed = threading.Event()


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def server(calls: Calls) -> Iterator[WebhookServer]:
    def on_push(source: str) -> None:
        calls.push.append(source)
        calls.pushed.set()

    hooks = WebhookServer("127.0.0.1:0", SECRET, on_push=on_push,
                          on_deploy=calls.deploy.append, branch="main", max_body=4096,
                          body_seconds=1.0).start()
    yield hooks
    hooks.stop()


def post(server: WebhookServer, path: str, body: bytes, headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        conn.close()


def github(server: WebhookServer, event: str, payload: dict[str, object], *,
           secret: str = SECRET, delivery: str | None = None) -> int:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-Hub-Signature-256": github_signature(secret, body),
               "Content-Type": "application/json"}
    if delivery:
        headers["X-GitHub-Delivery"] = delivery
    return post(server, "/hooks/github", body, headers)[0]


PUSH = {"ref": "refs/heads/main", "repository": {"default_branch": "main"}}


def test_a_signed_github_push_queues_a_scan(server: WebhookServer, calls: Calls) -> None:
    assert github(server, "push", PUSH) == 202
    assert calls.push == ["github:push"]


def test_a_push_to_another_branch_is_ignored(server: WebhookServer, calls: Calls) -> None:
    assert github(server, "push", {**PUSH, "ref": "refs/heads/drafts"}) == 200
    assert calls.push == []


def test_wrong_or_missing_signature_is_401(server: WebhookServer, calls: Calls) -> None:
    body = json.dumps(PUSH).encode()
    assert github(server, "push", PUSH, secret="another-secret-entirely") == 401
    assert post(server, "/hooks/github", body, {"X-GitHub-Event": "push"})[0] == 401
    sig = github_signature(SECRET, body)
    assert post(server, "/hooks/github", body, {"X-GitHub-Event": "push",
                                                "X-Hub-Signature-256": sig.upper()})[0] == 401
    assert calls.push == []


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_valid_signature_replayed_with_any_byte_changed_is_401(
        server: WebhookServer, calls: Calls, data: st.DataObject) -> None:
    body = json.dumps(PUSH).encode()
    sig = github_signature(SECRET, body)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1:]
    status, _ = post(server, "/hooks/github", changed,
                     {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
    assert status == 401
    assert calls.push == []


def test_paths_methods_and_sizes(server: WebhookServer) -> None:
    assert post(server, "/hooks/nope", b"{}")[0] == 404
    assert post(server, "/", b"", method="GET")[0] == 404
    assert post(server, "/hooks/github", b"", method="GET")[0] == 405
    assert post(server, "/hooks/github", b"x" * 5000,
                {"X-Hub-Signature-256": github_signature(SECRET, b"x" * 5000)})[0] == 413


def test_a_slow_body_is_cut_off_in_bounded_time(server: WebhookServer, calls: Calls) -> None:
    body = json.dumps(PUSH).encode()
    started = time.monotonic()
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
                     b"X-Hub-Signature-256: " + github_signature(SECRET, body).encode()
                     + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        sock.sendall(body[:5])  # ... and the rest never comes
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.0 408") or reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 5
    assert calls.push == []


def test_ping_and_redelivery(server: WebhookServer, calls: Calls) -> None:
    assert github(server, "ping", {"zen": "x"}) == 200
    assert github(server, "push", PUSH, delivery="d-1") == 202
    assert github(server, "push", PUSH, delivery="d-1") == 200  # the same delivery again
    assert calls.push == ["github:push"]


def test_gitlab_token(server: WebhookServer, calls: Calls) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    base = {"X-Gitlab-Event": "Push Hook"}
    assert post(server, "/hooks/gitlab", body, {**base, "X-Gitlab-Token": "nope"})[0] == 401
    assert post(server, "/hooks/gitlab", body, base)[0] == 401
    assert post(server, "/hooks/gitlab", body, {**base, "X-Gitlab-Token": SECRET})[0] == 202
    assert calls.push == ["gitlab:push"]


def test_deploy_events_become_deploy_signals(redis_client: redis.Redis,
                                             redis_namespace: str) -> None:
    signals = DeploySignals(redis_client, redis_namespace)
    hooks = WebhookServer("127.0.0.1:0", SECRET, on_push=lambda s: None,
                          on_deploy=signals.signal).start()
    try:
        assert github(hooks, "page_build", {"build": {"status": "building"}}) == 200
        assert signals.latest() is None
        assert github(hooks, "page_build", {"build": {"status": "built"}}) == 202
        assert signals.latest().source == "github:page_build"  # type: ignore[union-attr]
        assert github(hooks, "deployment_status",
                      {"deployment_status": {"state": "failure"}}) == 200
        assert github(hooks, "deployment_status",
                      {"deployment_status": {"state": "success"}}) == 202
        latest = signals.latest()
        assert latest is not None and (latest.seq, latest.source) == (
            2, "github:deployment_status")
        assert post(hooks, "/hooks/deploy", b"", {"Authorization": "Bearer wrong"})[0] == 401
        assert post(hooks, "/hooks/deploy", b"", {"Authorization": f"Bearer {SECRET}"})[0] == 202
        body = b'{"site": "x"}'
        assert post(hooks, "/hooks/deploy", body,
                    {"X-Hub-Signature-256": github_signature(SECRET, body)})[0] == 202
        gl = json.dumps({"status": "success"}).encode()
        assert post(hooks, "/hooks/gitlab", gl, {"X-Gitlab-Event": "Deployment Hook",
                                                  "X-Gitlab-Token": SECRET})[0] == 202
        latest = signals.latest()
        assert latest is not None and (latest.seq, latest.source) == (5, "gitlab:deployment")
    finally:
        hooks.stop()


def test_a_failing_callback_is_503_for_the_sender_to_retry(calls: Calls) -> None:
    def down(source: str) -> None:
        raise ConnectionError("broker away")

    hooks = WebhookServer("127.0.0.1:0", SECRET, on_push=down, on_deploy=down).start()
    try:
        assert github(hooks, "push", PUSH) == 503
    finally:
        hooks.stop()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signature=st.text(max_size=80), token=st.text(max_size=80),
       bearer=st.text(max_size=80))
def test_no_forged_credential_triggers_anything(server: WebhookServer, calls: Calls,
                                                signature: str, token: str, bearer: str) -> None:
    body = json.dumps(PUSH).encode()
    def clean(value: str) -> str:  # what an HTTP header can carry
        return value.encode("latin-1", "ignore").decode("latin-1").replace("\r", "").replace(
            "\n", "").strip()

    assert post(server, "/hooks/github", body, {"X-GitHub-Event": "push",
                                                "X-Hub-Signature-256": clean(signature)})[0] == 401
    assert post(server, "/hooks/gitlab", body, {"X-Gitlab-Event": "Push Hook",
                                                "X-Gitlab-Token": clean(token)})[0] == 401
    assert post(server, "/hooks/deploy", body,
                {"Authorization": "Bearer " + clean(bearer)})[0] == 401
    assert calls.push == [] and calls.deploy == []


def test_a_flood_of_idle_connections_is_bounded(calls: Calls) -> None:
    hooks = WebhookServer("127.0.0.1:0", SECRET, on_push=calls.push.append,
                          on_deploy=calls.deploy.append, body_seconds=5.0,
                          max_connections=4).start()
    idle = [socket.create_connection(hooks.address, timeout=5) for _ in range(4)]
    try:
        time.sleep(0.3)  # the four are being served (waiting for their headers)
        with socket.create_connection(hooks.address, timeout=5) as extra:
            assert extra.recv(100) == b""  # closed unanswered: no fifth thread
    finally:
        for sock in idle:
            sock.close()
    try:
        deadline = time.monotonic() + 5
        while True:  # the slots come back as the idle ones end
            try:
                if github(hooks, "push", PUSH) == 202:
                    break
            except (ConnectionError, http.client.HTTPException):
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        hooks.stop()
    assert calls.push == ["github:push"]
