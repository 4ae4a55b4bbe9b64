"""What every `newsbot` command module shares: the consoles, the one-line messages, the checked
settings and the error a user can act on.

Its own module so that the command modules (``ops``, ``run``) and the app that registers them
(``bot.cli``) import it and not each other: no circle.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from bot.config import Settings

EXIT_PROBLEM = 1
EXIT_USAGE = 2


class UserError(Exception):
    """An expected problem: printed as one line, exit status 2."""


_consoles: dict[str, Console] = {}


def get_console(name: str = "console") -> Console:
    """The stdout (``console``) or stderr (``err_console``) console, made on first use: rich
    costs 40 ms to import, more than `newsbot --help` may spend altogether."""
    if name not in _consoles:
        from rich.console import Console

        # No emoji codes: a title holding `:fire:` prints as typed (values go in as Text).
        _consoles[name] = Console(stderr=name == "err_console", emoji=False)
    return _consoles[name]


def __getattr__(name: str) -> Any:
    """`from bot.cli.common import console, err_console`: made on first use (see get_console)."""
    if name in ("console", "err_console"):
        return get_console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def checked_settings(site: Path | None, *, reading: bool = False) -> Settings:
    """Load and check the settings (`bot.preflight`), and set up redacted logging before
    anything can log a secret.  ``reading``: the command only reads the site (check, preview),
    so a missing site URL is a warning there, not an error, and the state is not needed."""
    from bot.cli.verbosity import command_log_level
    from bot.config import load_settings
    from bot.preflight import check_data_dir, check_redis, check_settings
    from bot.wiring import setup_logging

    settings = load_settings(site_dir=site)
    setup_logging(settings, level=command_log_level(settings.log_level))
    for line in check_settings(settings, reading=reading):
        warn(line)
    if reading:
        return settings
    if settings.redis_url:  # within seconds, not the system's minutes for a silent host
        check_redis(settings.redis_url)
    else:  # the embedded Redis keeps its data there
        check_data_dir(settings)
    return settings


def warn(line: str) -> None:
    """One `warning: ...` line on stderr."""
    stderr_line("warning", line)


def stderr_line(kind: str, message: object) -> None:
    """`kind: message` on stderr as plain text (rich would add 40 ms to every mistake), with the
    message's control characters escaped: it may quote a file name or a value from outside."""
    from bot.escaping import escape_controls

    sys.stderr.write(f"{kind}: {escape_controls(str(message))}\n")
    sys.stderr.flush()


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
