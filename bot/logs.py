"""Logging for newsbot: plain or JSON lines on stderr, and no secret ever in a line.

A bot token is part of every Telegram Bot API URL, and X's OAuth header carries the consumer key
and a signature, so the libraries we use leak secrets as soon as they log at INFO/DEBUG
(httpx: ``HTTP Request: POST https://api.telegram.org/bot<token>/sendMessage``; PTB: ``Set Bot API
URL``; tweepy: request headers). Two layers keep them out:

1. Those loggers are held at WARNING whatever level the operator picks.
2. Every record is redacted before *any* handler sees it: registered secrets (exact, and
   percent-encoded) and generic shapes (Telegram tokens, ``/bot<token>/``, OAuth parameters,
   ``Authorization`` values, ``Bearer`` credentials) become ``[REDACTED]``.

Why patch ``logging.Handler.handle`` (once, idempotently) instead of a record factory or a
formatter wrapper: ``Handler.handle`` is the one door every record passes through on its way to
any handler, including handlers that Celery (``worker_hijack_root_logger`` replaces the root
handlers), pytest or a library add *after* ``configure_logging`` ran, and handlers that never
format (QueueHandler, MemoryHandler). A record factory runs before ``Logger.makeRecord`` attaches
``extra`` fields and never sees hand-built records (``makeLogRecord``, socket/queue listeners); a
formatter wrapper misses handlers whose formatter is replaced later and handlers that keep the raw
record. The patched ``handle`` runs the same `RedactingFilter` that is also attached explicitly to
our own handler; redaction is idempotent, and a record is redacted once (it is marked).

Exception text is rendered (``logging.Formatter.formatException``), redacted into ``exc_text``
and ``exc_info`` is dropped, because some handlers (rich tracebacks, error trackers) render the
live exception object themselves and would print its message, token and all. Uncaught exceptions
(``sys.excepthook``, ``threading.excepthook``) go through the same redaction.

A message, its ``%s`` arguments and exception messages carry text from outside (a stranger's chat
message, a post title, a platform's error): control characters in them are escaped
(`bot.escaping`) in the same door, so a newline cannot forge a second log line and an ANSI escape
cannot rewrite the terminal. Redaction runs on the raw text first (an escape would hide a token's
shape), and a registered secret is found even with control characters inside it. JSON lines keep
the raw (redacted) text, which ``json.dumps`` escapes; the few controls it leaves raw (DEL, C1,
U+2028/9, bidi) are escaped there too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, quote_plus

from bot.escaping import CONTROL_CHARS, escape_controls

__all__ = [
    "QUIET_LOGGERS",
    "REDACTED",
    "RedactingFilter",
    "add_secrets",
    "configure_logging",
    "log_event",
    "redact",
]

REDACTED: Final = "[REDACTED]"
MIN_SECRET_LENGTH: Final = 6

#: Loggers that log request URLs, headers or bodies: held at WARNING whatever the chosen level.
QUIET_LOGGERS: Final = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.ext",
    "tweepy",
    "tweepy.client",
    "urllib3",
    "requests_oauthlib",
    "oauthlib",
)

# --- redaction -----

_TOKEN68 = r"[A-Za-z0-9._~+/=-]+"
# `Authorization: <value>`: an OAuth parameter list, `<scheme> <credentials>`, or one bare token.
# `(?!\[REDACTED\])` keeps a second pass from touching an already redacted value (idempotence).
_AUTH_VALUE = (
    r"(?!\[REDACTED\])(?:"
    r"OAuth\s+[A-Za-z_]+=\"[^\"]*\"(?:\s*,\s*[A-Za-z_]+=\"[^\"]*\")*"
    rf"|[A-Za-z][\w-]*[ \t]+(?:\[REDACTED\]|{_TOKEN68})"
    rf"|{_TOKEN68})"
)

# (pattern, replacement), applied in this order after the registered secrets.
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # OAuth 1.0a parameters in a header (`oauth_token="..."`) or a query/body (`oauth_token=...`).
    (
        re.compile(
            r"\b(oauth_(?:token_secret|token|signature|consumer_key|consumer_secret|verifier))"
            r"=(\"?)[^\",&\s]*\2",
            re.IGNORECASE,
        ),
        rf"\1=\2{REDACTED}\2",
    ),
    # The same, as oauthlib logs them: a (name, value) tuple or a percent-encoded base string.
    (
        re.compile(
            r"""(['"]oauth_(?:token_secret|token|signature|consumer_key|verifier)['"]\s*,\s*)"""
            r"""(['"])(?:(?!\2).)*\2""",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}\2",
    ),
    (
        re.compile(
            r"(?<![A-Za-z_])(oauth_(?:token_secret|token|signature|consumer_key|verifier))"
            r"(%3D|%253D)"
            r"(?:(?!%26|%2526)[^&\s\"'])+",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # oauthlib's Client repr: `client_key=..., resource_owner_key=...`.
    (
        re.compile(r"\b((?:client|resource_owner)_(?:key|secret)=)(?!\*\*\*\*)[^,\s>]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\b(signature:\s*)(?!\[REDACTED\])\S+", re.IGNORECASE), rf"\1{REDACTED}"),
    # A header in a dict/tuple repr: {'Authorization': 'OAuth ...'}, (b'authorization', b'...').
    (
        re.compile(
            r"""(['"](?:proxy-)?authorization['"]\s*[:,]\s*b?)(['"])(?:(?!\2).)*\2""",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}\2",
    ),
    # A header line: `Authorization: Bearer abc`, `authorization=OAuth oauth_...`.
    (re.compile(rf"(\bauthorization\s*[:=]\s*){_AUTH_VALUE}", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(rf"\b(bearer\s+)(?!\[REDACTED\]){_TOKEN68}", re.IGNORECASE), rf"\1{REDACTED}"),
    # Telegram: the token inside a Bot API URL (any length, fakes included), then any bare token.
    (re.compile(r"/bot\d+(?::|%3A)[^/\s\"'?#]+", re.IGNORECASE), f"/bot{REDACTED}"),
    (re.compile(r"\b\d{6,12}(?::|%3A)[A-Za-z0-9_-]{30,}", re.IGNORECASE), REDACTED),
)

#: What every one of ``_PATTERNS`` needs in the text to match (each pattern contains one of
#: these literally, case aside): a text without any is left as it is without running them.
_MAYBE_CREDENTIAL: Final = re.compile(
    r"oauth|_key|_secret|signature|authorization|bearer|/bot|\d(?::|%3A)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None
# What may sit inside a registered secret and hide it from an exact match: control characters
# and whole ANSI CSI sequences (`\x1b[0m`), which escaping would otherwise print around its pieces.
_GAP_ITEM = re.compile(rf"\x1b\[[0-?]*[ -/]*[@-~]|[{CONTROL_CHARS}]")


def _redact_split_secrets(text: str, secret_re: re.Pattern[str]) -> str:
    """Look for secrets again with the gaps taken out, and redact each whole original span."""
    kept: list[str] = []
    origin: list[int] = []  # index in `text` of each kept character
    pos = 0
    for gap in _GAP_ITEM.finditer(text):
        kept.append(text[pos : gap.start()])
        origin.extend(range(pos, gap.start()))
        pos = gap.end()
    kept.append(text[pos:])
    origin.extend(range(pos, len(text)))
    spans = [(origin[m.start()], origin[m.end() - 1] + 1)
             for m in secret_re.finditer("".join(kept)) if m.end() > m.start()]
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end in spans:  # in order and disjoint, as finditer gives them
        out.append(text[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def add_secrets(*values: str | None) -> None:
    """Register values that must never be printed; empty or very short values are skipped because
    replacing every `abc` in every line would make logs unreadable without protecting anything."""
    global _secret_re
    fresh: set[str] = set()
    for value in values:
        if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
            continue
        # A secret also travels percent-encoded in URLs and form bodies.
        fresh.update({value, quote(value, safe=""), quote(value), quote_plus(value)})
    with _lock:
        if fresh <= _secrets:
            return
        _secrets.update(fresh)
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """`text` with every registered secret and every known credential shape replaced."""
    if not text:
        return text
    secret_re = _secret_re
    if secret_re is not None:
        text = secret_re.sub(REDACTED, text)
        if _GAP_ITEM.search(text):
            text = _redact_split_secrets(text, secret_re)
    if _MAYBE_CREDENTIAL.search(text) is None:
        return text  # none of the shapes below can match: a scan logs tens of thousands of lines
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: object) -> object:
    """Redact strings inside containers; other objects only when their text holds a secret."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_redact_value(v) for v in value)  # type: ignore[call-arg]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _redact_text_of(value)


def _redact_text_of(value: object) -> object:
    try:
        text = str(value)
    except Exception:  # a broken __str__ must not break logging
        return value
    cleaned = redact(text)
    return value if cleaned == text else cleaned


# Attributes every LogRecord has; anything else in record.__dict__ came from `extra=`.
_STANDARD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}
_MARK: Final = "_newsbot_redacted"
# The redacted message before escaping, for JSON lines (json.dumps escapes it itself).
_RAW_MESSAGE: Final = "_newsbot_raw_message"


def _escape_traceback(te: traceback.TracebackException, seen: set[int]) -> None:
    """Redact, then escape, the outside text of every exception in the chain (messages, notes,
    a SyntaxError's text); file names and source lines are ours and keep their layout."""
    if id(te) in seen:
        return
    seen.add(id(te))
    message = getattr(te, "_str", None)  # the exception's str(), as format_exception prints it
    if isinstance(message, str):
        te._str = escape_controls(redact(message))  # type: ignore[attr-defined]
    for attr in ("msg", "text"):  # SyntaxError and subclasses
        value = getattr(te, attr, None)
        if isinstance(value, str):
            setattr(te, attr, escape_controls(redact(value.rstrip("\n"))))
    notes = getattr(te, "__notes__", None)
    if isinstance(notes, list):
        te.__notes__ = [escape_controls(redact(str(n))) for n in notes]
    for linked in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if linked is not None:
            _escape_traceback(linked, seen)


def format_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> str:
    """A traceback whose exception messages are redacted and escaped: a message cannot add a line
    that looks like a log record. Without a trailing newline, like ``formatException``."""
    try:
        te = traceback.TracebackException(exc_type, exc, tb)
        _escape_traceback(te, set())
        text = "".join(te.format())
    except Exception:  # never lose the error itself: fall back to escaping all but newlines
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        text = escape_controls(redact(text), keep_newlines=True)
    return redact(text).rstrip("\n")


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so that no secret survives in any of its fields; never drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if record.__dict__.get(_MARK):
        return record
    try:
        message = record.getMessage()
    except Exception:  # bad %-args: keep logging's own error path, but without the secret
        message = f"{record.msg!s} % {record.args!r}"
    raw = redact(message)
    record.msg = escape_controls(raw)
    record.args = None
    if record.exc_info:
        if not record.exc_text and record.exc_info[0] is not None:
            record.exc_text = format_exception(*record.exc_info)  # type: ignore[arg-type]
        # Handlers that render the live exception would bypass exc_text: drop it.
        record.exc_info = None
    elif record.exc_text:  # rendered by someone else: its line structure is all we can keep
        record.exc_text = escape_controls(record.exc_text, keep_newlines=True)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD_ATTRS:
            record.__dict__[key] = _redact_value(value)
    record.__dict__[_RAW_MESSAGE] = raw
    record.__dict__[_MARK] = True
    return record


_FILTER: Final = RedactingFilter()
_original_handle = logging.Handler.handle


def _redacting_handle(self: logging.Handler, record: logging.LogRecord) -> Any:
    redact_record(record)
    return _original_handle(self, record)


def _install_handle_patch() -> None:
    if getattr(logging.Handler.handle, "_newsbot", False):
        return
    _redacting_handle._newsbot = True  # type: ignore[attr-defined]
    logging.Handler.handle = _redacting_handle  # type: ignore[method-assign]


# --- formatting -----

_EVENT_ATTR: Final = "newsbot_event"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Already escaped by redact_record; again here for a record that never went through it.
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return format_exception(*ei) if ei and ei[0] is not None else ""


# What json.dumps(ensure_ascii=False) leaves raw but some readers take as a line break or a
# terminal control (DEL, C1 such as NEL, U+2028/U+2029, bidi): escaped as JSON \u escapes.
_JSON_RAW_CONTROLS: Final = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_escape_controls(line: str) -> str:
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; structured events put their fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        event = record.__dict__.get(_EVENT_ATTR)
        if isinstance(event, dict):
            data.update(event)
        else:
            raw = record.__dict__.get(_RAW_MESSAGE)
            data["msg"] = raw if isinstance(raw, str) else record.getMessage()
        if record.exc_info and not record.exc_text and record.exc_info[0] is not None:
            record.exc_text = format_exception(*record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return _json_escape_controls(json.dumps(data, ensure_ascii=False, default=str))


def configure_logging(
    level: str | int = "INFO", *, secrets: Iterable[str | None] = (), json_lines: bool = False
) -> None:
    """Set up root logging on stderr; safe to call again (it replaces its own handler only)."""
    add_secrets(*secrets)
    _install_handle_patch()
    _install_excepthooks()

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_newsbot", False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(sys.stderr)
    handler._newsbot = True  # type: ignore[attr-defined]
    handler.addFilter(_FILTER)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # WARNING at the most verbose: a chosen ERROR still applies to them (logger levels are
    # checked only where a record is born, so a WARNING logger under an ERROR root would print).
    quiet = max(logging.WARNING, root.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


# --- uncaught exceptions -----

def _print_redacted(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(format_exception(exc_type, exc, tb) + "\n")


def _sys_hook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _print_redacted(exc_type, exc, tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def _install_excepthooks() -> None:
    sys.excepthook = _sys_hook
    threading.excepthook = _thread_hook


# --- structured events -----

_NEEDS_QUOTES = re.compile(rf"[\s\"'=\\{CONTROL_CHARS}]|^$")


def _logfmt_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):  # receipts, notes: JSON, not a Python repr
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = value if isinstance(value, str) else str(value)
    if not _NEEDS_QUOTES.search(text):
        return text
    # Backslashes first: the control escapes that follow add backslashes of their own.
    escaped = escape_controls(text.replace("\\", "\\\\").replace('"', '\\"'))
    return f'"{escaped}"'


def format_event(event: str, fields: dict[str, object]) -> str:
    """`event=<event> k=v ...` (logfmt); values are redacted *before* quoting, so a secret
    holding a quote or a backslash is still recognised."""
    return _format_clean(redact(event), {k: _redact_value(v) for k, v in fields.items()})


def _format_clean(event: str, clean: dict[str, object]) -> str:
    """``format_event`` of values already redacted."""
    parts = [f"event={_logfmt_value(event)}"]
    parts.extend(f"{key}={_logfmt_value(value)}" for key, value in clean.items())
    return " ".join(parts)


def log_event(logger: logging.Logger, event: str, /, *, level: int = logging.INFO,
              **fields: object) -> None:
    """One structured line per state change, greppable (`event=state_change post=...`) or, with
    `json_lines`, one JSON object whose keys are `event` and the fields.  Each value is
    redacted once, here (the line is built from the redacted values; the handler redacts the
    whole line again)."""
    if not logger.isEnabledFor(level):
        return
    values = {k: _redact_value(v) for k, v in fields.items()}
    event = redact(event)
    clean = {"event": event, **values}
    line = _format_clean(event, values)
    # The message stays the logfmt line for text handlers; JSON handlers use the dict.
    logger.log(level, "%s", line, extra={_EVENT_ATTR: clean}, stacklevel=2)


def as_one_line(record: logging.LogRecord, cause: str) -> logging.LogRecord:
    """``record`` as its message's first line and ``cause``, without its traceback, at most a
    WARNING: a library's expected trouble (Redis restarting, Telegram unreachable) is one line
    for the operator, not a screen of stack per retry."""
    first = record.getMessage().split("\n", 1)[0]
    record.msg = f"{first} ({cause})"
    record.args = ()
    record.exc_info = None
    record.exc_text = None
    if record.levelno > logging.WARNING:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return record
