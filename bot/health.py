"""Liveness of the long-running parts, for container health checks: `python -m bot.health worker`.

Reads the heartbeats each process writes (``bot.state.health``).  The check answers for *this
host* (a container's hostname is its own), so three scaled workers each judge themselves;
``--any-host`` accepts a beat from anywhere.  Exit status 0 healthy, 1 not (with one line saying
why); it never starts an embedded server, it only attaches to one that runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import redis

from bot.config import ConfigError, load_settings
from bot.redis_embedded import attach_if_running
from bot.state.health import DEFAULT_MAX_AGE, ROLES, check

__all__ = ["main"]


def _redis_url() -> tuple[str | None, object | None]:
    """The configured server, or the embedded one of DATA_DIR if something runs it."""
    settings = load_settings()
    if settings.redis_url:
        return settings.redis_url, None
    attachment = attach_if_running(settings.data_dir)
    if attachment is None:
        return None, None
    return attachment.url, attachment


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.health",
        description="Exit 0 when ROLE beat recently on this host, 1 otherwise (health checks).")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE,
                        help=f"seconds (default {DEFAULT_MAX_AGE:.0f})")
    parser.add_argument("--any-host", action="store_true",
                        help="accept a heartbeat from any host, not only this one")
    args = parser.parse_args(argv)
    try:
        url, attachment = _redis_url()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if url is None:
        print(f"{args.role}: not running (no REDIS_URL and no embedded Redis up)",
              file=sys.stderr)
        return 1
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3,
                                  decode_responses=True)
    try:
        healthy, line = check(client, args.role, max_age=args.max_age, any_host=args.any_host)
    except redis.RedisError as exc:
        healthy, line = False, f"{args.role}: Redis unreachable ({type(exc).__name__})"
    finally:
        client.close()
        if attachment is not None:
            attachment.close()  # type: ignore[attr-defined]
    print(line, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
