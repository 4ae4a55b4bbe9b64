"""The webhook endpoint (WEBHOOK_LISTEN): Git pushes and deploy signals, verified, handed on.

Routes (POST only; anything else is 404, a known path with another method 405):

* ``/hooks/github``: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the body with
  WEBHOOK_SECRET.  ``push`` -> ``on_push``; ``page_build`` (status built) and
  ``deployment_status`` (state success) -> ``on_deploy``; ``ping`` -> 200.
* ``/hooks/gitlab``: ``X-Gitlab-Token: <WEBHOOK_SECRET>``.  ``Push Hook`` -> ``on_push``;
  ``Deployment Hook`` (status success) -> ``on_deploy``.
* ``/hooks/deploy``: a generic deploy hook (Netlify, a CI step, ``curl``):
  ``Authorization: Bearer <WEBHOOK_SECRET>`` or the GitHub-style signature of the body.

Every secret is compared with ``hmac.compare_digest`` (constant time); a wrong or missing one
is 401 and nothing happens.  Bodies are bounded (``MAX_BODY``, 413 before reading) and so is
the time to send one (``BODY_SECONDS`` for the whole body, 408), so a slow or huge request
costs a thread for seconds at most.  A GitHub delivery id seen before (a redelivery) is
acknowledged without a second scan.

Why the standard library's ``http.server`` in a thread: a handful of requests an hour, no new
dependency, and it runs in the process that runs the schedule (``newsbot run`` / ``beat``),
beside the watcher.  The callbacks decide what a push or a deploy means (``bot.runner``: a full
scan, which pulls first; a deploy signal in Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.logs import add_secrets

__all__ = ["BODY_SECONDS", "MAX_BODY", "WebhookServer", "github_signature"]

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
BODY_SECONDS = 10.0
MAX_CONNECTIONS = 32  # requests served at once; more are closed unanswered (a flood of slow ones)
_DELIVERIES_KEPT = 1000
ROUTES = ("/hooks/github", "/hooks/gitlab", "/hooks/deploy")


def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Reply(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WebhookServer:
    """``start()`` serves in a daemon thread; ``stop()``; ``address`` is (host, port) bound."""

    def __init__(self, listen: str, secret: str, *, on_push: Callable[[str], None],
                 on_deploy: Callable[[str], None], branch: str | None = None,
                 max_body: int = MAX_BODY, body_seconds: float = BODY_SECONDS,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        host, _, port = listen.rpartition(":")
        self.listen = (host.strip("[]") or "127.0.0.1", int(port))
        if not secret:
            raise ValueError("a webhook endpoint needs its secret")
        add_secrets(secret)
        self._secret = secret.encode()
        self.on_push = on_push
        self.on_deploy = on_deploy
        self.branch = branch
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.max_connections = max_connections
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> WebhookServer:
        hooks = self

        class Handler(_Handler):
            server_hooks = hooks

        server_cls: type[ThreadingHTTPServer] = _BoundedServer
        if ":" in self.listen[0]:
            server_cls = type("V6Server", (_BoundedServer,), {"address_family": socket.AF_INET6})
        self._server = server_cls(self.listen, Handler)
        self._server.slots = threading.BoundedSemaphore(self.max_connections)  # type: ignore[attr-defined]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhooks",
                                        daemon=True)
        self._thread.start()
        host, port = self.address
        log.info("webhooks listening on http://%s:%d/hooks/{github,gitlab,deploy}", host, port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------------ checks
    def _bearer_ok(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                                  self._secret)

    def _signature_ok(self, header: str | None, body: bytes) -> bool:
        expected = github_signature(self._secret.decode(), body).encode()
        return hmac.compare_digest((header or "").strip().encode(), expected)

    def _token_ok(self, header: str | None) -> bool:
        return hmac.compare_digest((header or "").encode(), self._secret)

    def _first_delivery(self, delivery: str | None) -> bool:
        if not delivery:
            return True
        with self._seen_lock:
            if delivery in self._seen:
                return False
            self._seen[delivery[:100]] = None
            while len(self._seen) > _DELIVERIES_KEPT:
                self._seen.popitem(last=False)
            return True

    def _branch_ok(self, ref: object, default: object) -> bool:
        """A push to another branch than the one followed changes nothing we read."""
        wanted = self.branch or (default if isinstance(default, str) and default else None)
        return wanted is None or ref == f"refs/heads/{wanted}"

    # ------------------------------------------------------------------ routes
    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        if path == "/hooks/github":
            if not self._signature_ok(headers.get("X-Hub-Signature-256"), body):
                raise _Reply(401, "bad or missing signature")
            return self._github(headers.get("X-GitHub-Event", ""), headers, _json(body))
        if path == "/hooks/gitlab":
            if not self._token_ok(headers.get("X-Gitlab-Token")):
                raise _Reply(401, "bad or missing token")
            return self._gitlab(headers.get("X-Gitlab-Event", ""), _json(body))
        if not (self._bearer_ok(headers.get("Authorization"))
                or self._signature_ok(headers.get("X-Hub-Signature-256"), body)):
            raise _Reply(401, "bad or missing secret")
        self.on_deploy("deploy-hook")
        return 202, "deploy signal"

    def _github(self, event: str, headers: Any, payload: dict[str, Any]) -> tuple[int, str]:
        if event == "ping":
            return 200, "pong"
        if not self._first_delivery(headers.get("X-GitHub-Delivery")):
            return 200, "delivery seen before"
        if event == "push":
            repo = payload.get("repository") or {}
            if not self._branch_ok(payload.get("ref"), repo.get("default_branch")):
                return 200, "another branch"
            self.on_push("github:push")
            return 202, "scan queued"
        if event == "page_build":
            if (payload.get("build") or {}).get("status") != "built":
                return 200, "build not done"
            self.on_deploy("github:page_build")
            return 202, "deploy signal"
        if event == "deployment_status":
            if (payload.get("deployment_status") or {}).get("state") != "success":
                return 200, "deployment not successful"
            self.on_deploy("github:deployment_status")
            return 202, "deploy signal"
        return 200, "event ignored"

    def _gitlab(self, event: str, payload: dict[str, Any]) -> tuple[int, str]:
        if event == "Push Hook":
            project = payload.get("project") or {}
            if not self._branch_ok(payload.get("ref"), project.get("default_branch")):
                return 200, "another branch"
            self.on_push("gitlab:push")
            return 202, "scan queued"
        if event == "Deployment Hook":
            if payload.get("status") != "success":
                return 200, "deployment not successful"
            self.on_deploy("gitlab:deployment")
            return 202, "deploy signal"
        return 200, "event ignored"


class _BoundedServer(ThreadingHTTPServer):
    """At most ``slots`` requests in flight: each holds a thread for ``BODY_SECONDS`` at most,
    and a connection beyond them is closed at once instead of starting one more thread."""

    daemon_threads = True
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _Reply(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _Reply(400, "the body is not a JSON object")
    return data


class _Handler(BaseHTTPRequestHandler):
    server_hooks: WebhookServer
    server_version = "newsbot-webhooks"
    sys_version = ""
    timeout = BODY_SECONDS  # a client that never sends its headers is dropped too

    def do_POST(self) -> None:
        hooks = self.server_hooks
        try:
            path = self.path.split("?", 1)[0]
            if path not in ROUTES:
                raise _Reply(404, "not found")
            body = self._body(hooks)
            status, message = hooks.handle(path, self.headers, body)
        except _Reply as reply:
            status, message = reply.status, reply.message
        except Exception as exc:  # Redis or the broker away: the sender retries a 5xx
            log.warning("webhook %s failed: %s", self.path[:100], type(exc).__name__)
            status, message = 503, "try again later"
        self._send(status, message)

    def _other(self) -> None:
        path = self.path.split("?", 1)[0]
        self._send(405 if path in ROUTES else 404, "POST only" if path in ROUTES else
                   "not found")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other

    def _body(self, hooks: WebhookServer) -> bytes:
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            raise _Reply(411, "Content-Length required")
        length = int(raw)
        if length > hooks.max_body:
            raise _Reply(413, "body too large")
        deadline = time.monotonic() + hooks.body_seconds
        chunks: list[bytes] = []
        left = length
        while left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Reply(408, "body too slow")
            self.connection.settimeout(remaining)
            try:
                chunk = self.rfile.read1(min(left, 65536))
            except (TimeoutError, OSError):
                raise _Reply(408, "body too slow") from None
            if not chunk:
                raise _Reply(400, "body cut short")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _send(self, status: int, message: str) -> None:
        body = json.dumps({"status": status, "message": message}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook: %s", format % args)
