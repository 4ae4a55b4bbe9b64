"""Can the configured keys still post?  ``GET /2/users/me`` through tweepy.

Why users/me: it needs the same OAuth 1.0a user context as posting and answers what posting
would: 401 when the keys were revoked or regenerated, 403 ``user-suspended`` when the account is
suspended or locked, 402 ``CreditsDepleted`` when the pay-per-use balance is spent (X also
answers that as a 403 with the credits problem).  It is an owned read: on pay-per-use X bills
it as one ($0.001), so a check every 300 s costs about $0.29 a day.

``account_problem`` is shared with ``x_api``: the same answers to a *send* hold the queue too.
"""

from __future__ import annotations

from typing import Any

import requests
import tweepy

from bot.platforms.probes import ProbeResult

__all__ = ["account_problem", "probe_account"]

_KEYS = "X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET"


def _text(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    return " ".join(value.split())[:300] if isinstance(value, str) else ""


def account_problem(status: int, body: Any) -> str | None:
    """The account-wide reason behind an X answer (any endpoint), or None for a per-post one."""
    detail = _text(body, "detail") or _text(body, "title")
    kind = (_text(body, "type") + " " + _text(body, "title")).lower()
    said = f" ({status}: {detail})" if detail else f" ({status})"
    billing = ("credits" in kind or "credits" in detail.lower()
               or "spending limit" in detail.lower())
    if status == 402 or (status == 403 and billing):
        return f"X credits are spent{said}: buy credits in the X developer console"
    if status == 401:
        return f"X no longer accepts the keys{said}: check {_KEYS}"
    if status == 403 and ("suspended" in kind or "locked" in kind
                          or "suspended" in detail.lower() or "locked" in detail.lower()):
        return f"the X account is suspended or locked{said}"
    if status == 403 and "oauth1-permissions" in kind:
        return f"the X app may not post{said}: give it Read and Write, then regenerate the keys"
    return None


def probe_account(client: tweepy.Client, scrub: Any = str) -> ProbeResult:
    """users/me with ``client``'s keys (its session carries the URL rewrite to the API)."""
    try:
        response = client.get_me(user_auth=True)
    except tweepy.HTTPException as exc:
        answer = exc.response
        status = getattr(answer, "status_code", 0) or 0
        try:
            body = answer.json()
        except ValueError:
            body = None
        problem = account_problem(status, body)
        if problem is not None:
            return ProbeResult("unhealthy", scrub(f"users/me: {problem}"))
        return ProbeResult("unreachable", scrub(f"users/me: {status} {_text(body, 'detail')}"))
    except requests.RequestException as exc:
        return ProbeResult("unreachable", scrub(f"users/me: {type(exc).__name__}: "
                                                f"{str(exc)[:200]}"))
    try:
        data = response.json().get("data") or {}
    except (ValueError, AttributeError):
        return ProbeResult("unreachable", "users/me: an answer that is not JSON")
    username = data.get("username") if isinstance(data, dict) else None
    return ProbeResult("ok", account=f"@{username}" if isinstance(username, str) else "")
