"""Signed inline-button data: a button press can only do what the bot itself offered.

Telegram hands ``callback_data`` back verbatim from any client, so anyone can send any string
(a modified client, a replayed old button).  Each button therefore carries ``<id>.<mac>`` where
``id`` is a random handle of the full payload stored in Redis (the payload does not fit
callback_data's 64 bytes) and ``mac`` is HMAC-SHA256 over id and payload, keyed by a key derived
from the bot token.  A press is honoured only when the payload exists, the MAC matches, the expiry
has not passed and, for state-changing actions, the handle was not used before (``SET NX`` on a
used-marker: two editors tapping the same [Publish now] at once act once).  Buttons issued
together as alternatives (a notice's [Publish now] / [Skip], [Send again] / [It went out]) share a
``group``: pressing one uses them all, so a saved copy of [Publish now] cannot publish a post an
editor chose to skip with its sibling.

Validity: action buttons expire after ``DEFAULT_TTL`` (7 days); paging buttons after a day.  An
expired, unknown, tampered or truncated press is ``invalid``; a second press is ``used``.

The Notifier (Celery worker) and the bot process share the signer through Redis and the token,
so a button sent by a worker is honoured by the bot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from bot.state import State

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CallbackError",
    "CallbackSigner",
    "Payload",
    "derive_key",
]

CALLBACK_DATA_LIMIT = 64
DEFAULT_TTL = 7 * 24 * 3600.0
_MAC_BYTES = 12  # 96 bits: forging needs ~2^95 tries, each a Telegram round trip
_ID_BYTES = 9


class CallbackError(Exception):
    """A press that must do nothing; ``code`` is ``invalid`` (forged/expired) or ``used``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Payload:
    """What a button means: an action, its target (a post URL, a view name) and options."""

    action: str
    target: str
    options: dict[str, Any]
    expires_at: float
    single_use: bool
    handle: str
    group: str = ""


def derive_key(token: str, purpose: bytes = b"newsbot/editor/callbacks/v1") -> bytes:
    """HKDF-SHA256 (RFC 5869, one block): the token itself is never used as the MAC key."""
    prk = hmac.new(b"newsbot-callback-salt", token.encode(), hashlib.sha256).digest()
    return hmac.new(prk, purpose + b"\x01", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class CallbackSigner:
    """Issues and checks button data; synchronous (Redis calls take well under a millisecond)."""

    def __init__(self, key: bytes, client: redis.Redis | State, *,
                 namespace: str = "newsbot") -> None:
        """``client`` may be the shared ``State`` (or a Redis client it is built on): payloads
        and used-marks live under the keys ``bot.state.keys`` documents."""
        if len(key) < 16:
            raise ValueError("callback key too short")
        self._key = key
        self._namespace = client.namespace if isinstance(client, State) else namespace
        self._client = client
        self._store: State | None = client if isinstance(client, State) else None

    @classmethod
    def from_token(cls, token: str, client: redis.Redis | State, *, namespace: str = "newsbot"
                   ) -> CallbackSigner:
        return cls(derive_key(token), client, namespace=namespace)

    def __repr__(self) -> str:  # never show the key
        return f"CallbackSigner(namespace={self._namespace!r})"

    @property
    def _state(self) -> State:
        """Built on first use, so a signer needs no Redis until it issues or checks a button."""
        if self._store is None:
            self._store = State(self._client, namespace=self._namespace)  # type: ignore[arg-type]
        return self._store

    def _mac(self, handle: str, body: str) -> str:
        digest = hmac.new(self._key, f"{handle}|{body}".encode(), hashlib.sha256).digest()
        return _b64(digest[:_MAC_BYTES])

    def issue(
        self,
        action: str,
        target: str = "",
        *,
        ttl: float = DEFAULT_TTL,
        single_use: bool = True,
        group: str = "",
        **options: Any,
    ) -> str:
        """Store the payload and return callback_data (<= 64 bytes) for one button.

        ``group`` (from ``new_group``): the buttons of one choice; a press uses every one.
        """
        handle = _b64(secrets.token_bytes(_ID_BYTES))
        expires = time.time() + ttl
        raw: dict[str, Any] = {"a": action, "t": target, "o": options, "e": round(expires, 3),
                               "s": 1 if single_use else 0, "n": secrets.token_hex(4)}
        if group:
            raw["g"] = group
        body = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self._state.put_blob("button", handle, body, ttl + 60)
        data = f"{handle}.{self._mac(handle, body)}"
        assert len(data.encode()) <= CALLBACK_DATA_LIMIT
        return data

    def peek(self, data: str | None) -> Payload:
        """Verify without consuming (paging buttons, and checks before auth-gated work)."""
        # Ours are ASCII (base64url); anything else is forged, and compare_digest would raise
        # on it instead of saying no.
        if (not data or len(data) > CALLBACK_DATA_LIMIT or not data.isascii()
                or data.count(".") != 1):
            raise CallbackError("invalid")
        handle, mac = data.split(".")
        try:
            body = self._state.get_blob("button", handle)
        except ValueError:  # not a handle we could have issued
            raise CallbackError("invalid") from None
        if body is None:
            raise CallbackError("invalid")
        if not hmac.compare_digest(self._mac(handle, body), mac):
            raise CallbackError("invalid")
        raw = json.loads(body)
        payload = Payload(action=str(raw["a"]), target=str(raw["t"]), options=dict(raw["o"]),
                          expires_at=float(raw["e"]), single_use=bool(raw["s"]), handle=handle,
                          group=str(raw.get("g") or ""))
        if payload.expires_at < time.time():
            raise CallbackError("invalid")
        return payload

    def consume(self, data: str | None) -> Payload:
        """Verify and, for single-use buttons, claim: a second press raises ``used``."""
        payload = self.peek(data)
        if payload.single_use:
            ttl = max(1, int(payload.expires_at - time.time()) + 60)
            if not self._state.claim_once("button-used", payload.handle, ttl):
                raise CallbackError("used")
            if payload.group and not self._state.claim_once("button-used", "g" + payload.group,
                                                            ttl):
                raise CallbackError("used")  # a sibling of this button was pressed
        return payload

    @staticmethod
    def new_group() -> str:
        """An id for buttons that are alternatives to each other (see ``issue``)."""
        return _b64(secrets.token_bytes(_ID_BYTES))
