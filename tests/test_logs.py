"""No secret reaches a log line: real libraries (httpx, python-telegram-bot, tweepy's OAuth 1.0a
signing) logging at DEBUG, handlers added later, exceptions, and structured events."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests
import telegram
import tweepy
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import logs
from bot.escaping import escape_controls
from bot.logs import REDACTED, add_secrets, configure_logging, log_event, redact

# Token-shaped but fake; built at run time so no file holds a real-looking token literal.
TOKEN = "123456789" + ":" + "AAH-fake-token-for-tests-0123456789abcd"
X_CONSUMER_KEY = "ckFAKE" + "consumerKEY123"
X_CONSUMER_SECRET = "csFAKE" + "consumerSECRET456"
X_ACCESS_TOKEN = "1234567-" + "FakeAccessToken789"
X_ACCESS_SECRET = "atsFAKE" + "accessSECRET000"
X_SECRETS = (X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_SECRET)


@pytest.fixture(autouse=True)
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give every test its own logging set-up and undo every global change afterwards."""
    root, child = logging.getLogger(), logging.getLogger("newsbot.test")
    handlers, level = list(root.handlers), root.level
    names = (*logs.QUIET_LOGGERS, "newsbot.test")
    levels = {name: logging.getLogger(name).level for name in names}
    monkeypatch.setattr(logging.Handler, "handle", logging.Handler.handle)
    monkeypatch.setattr(logs, "_secrets", set(logs._secrets))
    monkeypatch.setattr(logs, "_secret_re", logs._secret_re)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for handler in list(child.handlers):
        child.removeHandler(handler)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def local_server() -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 that answers every GET with a Bot API-like `ok`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"ok":true,"result":{}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _string_handler(root: bool = True) -> io.StringIO:
    """A handler added after configure_logging, with a formatter that prints extras too."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    (logging.getLogger() if root else logging.getLogger("newsbot.test")).addHandler(handler)
    return buffer


# --- real libraries --------------------------------------------------------------------------


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "generic-pattern"])
def test_httpx_request_line_never_shows_the_token(
    local_server: str, capsys: pytest.CaptureFixture[str], registered: bool
) -> None:
    configure_logging("DEBUG", secrets=[TOKEN] if registered else [])
    late = _string_handler()
    url = f"{local_server}/bot{TOKEN}/getMe"

    with httpx.Client() as client:
        assert client.get(url).status_code == 200
    quiet = capsys.readouterr().err + late.getvalue()
    assert TOKEN not in quiet
    assert "HTTP Request" not in quiet  # httpx stays at WARNING even at DEBUG

    # Someone turns httpx/httpcore back up: the lines now appear, redacted.
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    with httpx.Client() as client:
        assert client.get(url).status_code == 200
    loud = capsys.readouterr().err + late.getvalue()
    assert "HTTP Request: GET" in loud
    assert f"/bot{REDACTED}/getMe" in loud
    assert TOKEN not in loud
    assert TOKEN.split(":")[1] not in loud


def test_telegram_bot_construction_at_debug_leaks_nothing(
    local_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", secrets=[TOKEN])
    late = _string_handler()
    telegram.Bot(TOKEN, base_url=f"{local_server}/bot")
    assert TOKEN not in capsys.readouterr().err + late.getvalue()

    # Even with PTB's logger forced to DEBUG, its `Set Bot API URL` line is redacted.
    logging.getLogger("telegram").setLevel(logging.DEBUG)
    telegram.Bot(TOKEN, base_url=f"{local_server}/bot")
    out = capsys.readouterr().err + late.getvalue()
    assert "Set Bot API URL" in out
    assert f"/bot{REDACTED}" in out
    assert TOKEN not in out


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "generic-pattern"])
def test_x_oauth_signing_at_debug_leaks_no_key(
    capsys: pytest.CaptureFixture[str], registered: bool
) -> None:
    """tweepy signs with requests-oauthlib; both it and oauthlib log keys, params and headers."""
    configure_logging("DEBUG", secrets=X_SECRETS if registered else ())
    late = _string_handler()
    for name in ("requests_oauthlib", "oauthlib", "tweepy"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    auth = tweepy.OAuth1UserHandler(*X_SECRETS).apply_auth()
    request = requests.Request("POST", "https://api.x.com/2/tweets", json={"text": "hi"}, auth=auth)
    prepared = request.prepare()
    assert prepared.headers["Authorization"].startswith("OAuth ")

    out = capsys.readouterr().err + late.getvalue()
    assert "Updated headers" in out and "signature base string" in out
    for secret in X_SECRETS:
        assert secret not in out
    assert f"'Authorization': '{REDACTED}'" in out


def test_x_oauth_header_strings() -> None:
    header = (
        f'OAuth oauth_consumer_key="{X_CONSUMER_KEY}", oauth_nonce="abc", '
        f'oauth_signature="sig%2Bvalue%3D", oauth_signature_method="HMAC-SHA1", '
        f'oauth_timestamp="1700000000", oauth_token="{X_ACCESS_TOKEN}", oauth_version="1.0"'
    )
    assert redact(f"Authorization: {header}") == f"Authorization: {REDACTED}"
    bare = redact(header)
    assert f'oauth_consumer_key="{REDACTED}"' in bare
    assert f'oauth_token="{REDACTED}"' in bare
    assert f'oauth_signature="{REDACTED}"' in bare
    assert 'oauth_nonce="abc"' in bare  # not a secret: stays readable
    assert redact(str({"Authorization": header})) == str({"Authorization": REDACTED})
    assert redact("Authorization: Bearer AAAA.bbb-ccc") == f"Authorization: {REDACTED}"
    assert redact("sent with Bearer AAAA.bbb-ccc today") == f"sent with Bearer {REDACTED} today"
    assert redact(f"https://api.x.com/x?oauth_token={X_ACCESS_TOKEN}&a=1") == (
        f"https://api.x.com/x?oauth_token={REDACTED}&a=1"
    )


# --- records -----------------------------------------------------------------------------------


def test_logger_exception_with_token_in_message(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    late = _string_handler()
    log = logging.getLogger("newsbot.test")
    try:
        raise RuntimeError(f"Client error '401' for url 'https://api.telegram.org/bot{TOKEN}/getMe'")
    except RuntimeError:
        log.exception("send failed for %s", TOKEN)
    for out in (capsys.readouterr().err, late.getvalue()):
        assert "Traceback (most recent call last)" in out
        assert "RuntimeError" in out
        assert f"send failed for {REDACTED}" in out
        assert REDACTED in out
        assert TOKEN not in out


def test_generic_token_pattern_without_registration(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("newsbot.test").warning("token is %s", TOKEN)
    out = capsys.readouterr().err
    assert f"token is {REDACTED}" in out and TOKEN not in out


def test_handler_added_later_is_redacted_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    """Celery replaces the root handlers; a library adds its own: both are covered."""
    configure_logging("INFO", secrets=[TOKEN])
    root = logging.getLogger()
    for handler in list(root.handlers):  # what Celery's worker_hijack_root_logger does
        root.removeHandler(handler)
    on_root = _string_handler(root=True)
    on_child = _string_handler(root=False)
    extra_buffer = io.StringIO()
    extra_handler = logging.StreamHandler(extra_buffer)
    extra_handler.setFormatter(logging.Formatter("%(message)s url=%(url)s"))
    logging.getLogger("newsbot.test").addHandler(extra_handler)

    logging.getLogger("newsbot.test").info(
        "calling %s", f"/bot{TOKEN}/x", extra={"url": f"https://h/bot{TOKEN}/sendMessage"}
    )
    for out in (on_root.getvalue(), on_child.getvalue(), extra_buffer.getvalue()):
        assert "calling" in out
        assert TOKEN not in out
    assert f"url=https://h/bot{REDACTED}/sendMessage" in extra_buffer.getvalue()


def test_add_secrets_at_runtime_and_short_values_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    runtime_secret = "rt-" + "s3cr3t-value"
    add_secrets(runtime_secret, "", "abc", None)  # type: ignore[arg-type]
    log = logging.getLogger("newsbot.test")
    log.info("value %s and abc", runtime_secret)
    out = capsys.readouterr().err
    assert runtime_secret not in out
    assert f"value {REDACTED} and abc" in out  # the 3-character value was not registered


def test_percent_encoded_secret_is_redacted() -> None:
    secret = "pa ss/wo+rd:" + "xyz"
    add_secrets(secret)
    assert redact("q=pa%20ss%2Fwo%2Brd%3Axyz") == f"q={REDACTED}"
    assert redact("q=pa+ss%2Fwo%2Brd%3Axyz") == f"q={REDACTED}"


def test_uncaught_exception_hook_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    out = capsys.readouterr().err
    assert "ValueError: bad [REDACTED]" in out and TOKEN not in out


def test_configure_is_idempotent_and_quiets_url_loggers() -> None:
    configure_logging("DEBUG")
    configure_logging("debug", secrets=[TOKEN])
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_newsbot", False)]
    assert len(ours) == 1
    assert any(isinstance(f, logs.RedactingFilter) for f in ours[0].filters)
    assert logging.getLogger().level == logging.DEBUG
    for name in ("httpx", "httpcore", "telegram", "telegram.ext", "tweepy.client", "urllib3",
                 "requests_oauthlib", "oauthlib"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert logging.getLogger("telegram.Bot").getEffectiveLevel() == logging.WARNING
    configure_logging("ERROR")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.ERROR


# --- structured events --------------------------------------------------------------------------


def test_log_event_text_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", secrets=[TOKEN])
    log_event(
        logging.getLogger("newsbot.test"),
        "state_change",
        post="https://newsdao.kr/2024/05/01/a.html",
        platform="telegram",
        old="queued",
        new="sending",
        attempt=1,
        reason='server said "busy" = try later',
        receipt=None,
        empty="",
        url=f"https://api.telegram.org/bot{TOKEN}/sendMessage",
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    expected = (
        "event=state_change post=https://newsdao.kr/2024/05/01/a.html platform=telegram "
        'old=queued new=sending attempt=1 reason="server said \\"busy\\" = try later" '
        f'receipt=null empty="" url=https://api.telegram.org/bot{REDACTED}/sendMessage'
    )
    assert line.endswith(expected), line
    assert " INFO newsbot.test: event=state_change" in line


def test_log_event_secret_with_quote_is_still_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    quoted_secret = 'se"cr' + "et\\val"
    configure_logging("INFO", secrets=[quoted_secret])
    log_event(logging.getLogger("newsbot.test"), "x", reason=f"saw {quoted_secret} once")
    out = capsys.readouterr().err
    assert f'reason="saw {REDACTED} once"' in out
    assert quoted_secret not in out and "et\\val" not in out and 'se\\"cr' not in out


def test_log_event_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", secrets=[TOKEN], json_lines=True)
    log = logging.getLogger("newsbot.test")
    log_event(log, "state_change", post="https://a/b", attempt=2, reason=f"token {TOKEN}")
    log.warning("plain %s", "message")
    first, second = (json.loads(x) for x in capsys.readouterr().err.strip().splitlines()[-2:])
    assert first["event"] == "state_change"
    assert first["post"] == "https://a/b"
    assert first["attempt"] == 2
    assert first["reason"] == f"token {REDACTED}"
    assert first["level"] == "INFO" and first["logger"] == "newsbot.test"
    assert second["msg"] == "plain message" and second["level"] == "WARNING"


# --- text from outside cannot forge lines or drive the terminal ------------------------------

# Python's str.splitlines() breaks on all of these, as many log readers do.
_RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
FORGED = "hi\nevent=state_change new=sent"


def test_a_strangers_message_cannot_forge_a_log_line(
    capsys: pytest.CaptureFixture[str], redis_client, redis_namespace: str
) -> None:
    from bot.editor.auth import RefusalGate

    configure_logging("INFO")
    RefusalGate(redis_client, namespace=redis_namespace).should_answer(4242, FORGED)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert "refused user 4242 (hi\\nevent=state_change new=sent)" in lines[0]


@pytest.mark.parametrize(
    "evil",
    ["a\nevent=state_change", "a\r\nb", "\x1b[2J\x1b[31mred", "a\u2028b\u2029", "a\x85b",
     "\u202etxt.exe", "nul\x00bell\x07", "del\x7f", "tab\tvt\x0bff\x0c"],
)
def test_control_characters_in_arguments_are_escaped(
    capsys: pytest.CaptureFixture[str], evil: str
) -> None:
    configure_logging("INFO")
    logging.getLogger("newsbot.test").warning("title %s done", evil)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.endswith(" done\n"), repr(err)
    assert not _RAW_CONTROLS.search(err)
    assert f"title {escape_controls(evil)} done" in err


def test_log_event_values_escape_every_control(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log_event(logging.getLogger("newsbot.test"), "state_change",
              reason="busy\x1b[31m\u2028event=forged", post="https://a/b\x00", note="a\\nb")
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and not _RAW_CONTROLS.search(err)
    assert 'reason="busy\\x1b[31m\\u2028event=forged"' in err
    assert 'post="https://a/b\\x00"' in err
    assert 'note="a\\\\nb"' in err  # a typed backslash-n stays distinguishable from a newline


def test_an_exception_message_cannot_forge_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log = logging.getLogger("newsbot.test")
    try:
        try:
            raise KeyError("key\n2024-01-01 00:00:00,000 INFO x: event=forged")
        except KeyError as inner:
            outer = ValueError("bad title\r\nevent=state_change new=sent\x1b[2J")
            outer.add_note("note\nevent=forged_note")
            raise outer from inner
    except ValueError:
        log.exception("render failed")
    err = capsys.readouterr().err
    assert "ValueError: bad title\\r\\nevent=state_change new=sent\\x1b[2J" in err
    assert "note\\nevent=forged_note" in err and "\\n2024-01-01 00:00:00,000 INFO x" in err
    assert "Traceback (most recent call last)" in err  # still a readable, multi-line traceback
    assert not _RAW_CONTROLS.search(err)
    for line in err.splitlines()[1:]:
        assert not line.startswith(("event=", "2024-01-01")), line


def test_an_uncaught_exception_message_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        raise ValueError("bad\nevent=forged")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "ValueError: bad\\nevent=forged" in err
    assert not any(line.startswith("event=") for line in err.splitlines())


@pytest.mark.parametrize("gap", ["\n", "\x1b[0m", "\r\x00", "\u2028", "\x1b[1;31m\n"])
def test_a_token_split_by_control_characters_stays_redacted(
    capsys: pytest.CaptureFixture[str], gap: str
) -> None:
    configure_logging("INFO", secrets=[TOKEN, X_CONSUMER_SECRET])
    log = logging.getLogger("newsbot.test")
    pieces = []
    for secret in (TOKEN, X_CONSUMER_SECRET):
        half = len(secret) // 2
        pieces.append((secret[:half], secret[half:]))
        split = secret[:half] + gap + secret[half:]
        log.warning("got %s from the editor", split)
        log_event(log, "state_change", reason=f"saw {split} there")
        try:
            raise RuntimeError(f"boom {split}")
        except RuntimeError:
            log.exception("send failed")
    err = capsys.readouterr().err
    assert err.count(REDACTED) == 6
    for head, tail in pieces:
        assert head not in err and tail not in err
    assert not _RAW_CONTROLS.search(err)


def test_json_lines_escape_what_json_leaves_raw(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    log = logging.getLogger("newsbot.test")
    evil = "a\nb\u2028c\x85d\x7fe\u202ef\x1b[2J"
    log.warning("t %s", evil)
    log_event(log, "state_change", reason=evil)
    err = capsys.readouterr().err
    assert not _RAW_CONTROLS.search(err)
    first, second = (json.loads(line) for line in err.splitlines())
    assert first["msg"] == f"t {evil}"  # JSON keeps the text as received, escaped by JSON
    assert second["reason"] == evil


# --- properties -----------------------------------------------------------------------------------

_SECRET_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="[]")


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(_SECRET_CHARS, min_size=6, max_size=40).filter(lambda s: s.strip() == s != ""),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    add_secrets(secret)
    out = redact(before + secret + after + secret)
    assert secret not in out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.sampled_from([
    'Authorization: OAuth oauth_token="a", oauth_signature="b"',
    "Bearer abc Authorization: Basic xyz",
    "x /bot1:abc/ y 12345678:" + "A" * 35,
    "('oauth_token', 'v') oauth_token%3Dabc%26 client_key=k, Signature: s",
]))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@settings(max_examples=300, deadline=None)
@given(arg=st.text(max_size=60), value=st.text(max_size=60))
def test_any_outside_text_logs_as_one_line(arg: str, value: str) -> None:
    from bot.logs import TextFormatter, format_event, redact_record

    record = logging.LogRecord("newsbot.test", logging.INFO, __file__, 1, "got %s", (arg,), None)
    line = TextFormatter().format(redact_record(record))
    event = format_event("state_change", {"reason": value, "post": arg})
    for text in (line, event):
        assert len(text.splitlines()) == 1 and not _RAW_CONTROLS.search(text)
    assert line.endswith("got " + escape_controls(redact(arg)))


def test_structured_values_are_json_not_python_reprs() -> None:
    from bot.logs import format_event

    line = format_event("state_change", {"receipt": {"id": "42", "url": None}, "notes": ["a b"]})
    assert 'receipt="{\\"id\\":\\"42\\",\\"url\\":null}"' in line
    assert 'notes="[\\"a b\\"]"' in line


def _redact_every_pattern(text: str) -> str:
    """``redact``'s credential shapes without its quick pre-check (the reference)."""
    for pattern, replacement in logs._PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_SHAPES = [
    'Authorization: OAuth oauth_token="a", oauth_signature="b"', "authorization=OAuth x",
    "Bearer abc", "BEARER   abc.def", "x /bot1:abc/ y", "/BOT12%3Aabc", "12345678:" + "A" * 35,
    "12345678%3a" + "b" * 31, "('oauth_token', 'v')", "OAUTH_TOKEN%3Dabc%26", "oauth_verifier=v",
    "client_key=k, resource_owner_secret=s", "Signature: s", "{'Proxy-Authorization': 'x'}",
    "(b'authorization', b'OAuth a')", "resource_owner_key=abc>", "Client_Secret=zz",
]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80), st.sampled_from(_SHAPES), st.text(max_size=40))
def test_the_quick_pre_check_never_skips_a_credential_shape(before: str, shape: str,
                                                            after: str) -> None:
    # The pre-check lets a scan log tens of thousands of lines cheaply; it must never be the
    # reason a credential survives.
    for text in (before + shape + after, before + after, shape):
        assert redact(text) == _redact_every_pattern(text)


def test_log_event_redacts_each_value_once_and_still_hides_secrets(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    add_secrets(X_CONSUMER_SECRET)
    log_event(logging.getLogger("newsbot.test"), "state_change", post="https://x.example/a",
              reason=f"boom {X_CONSUMER_SECRET} Bearer abcdef", attempt=2,
              receipt={"id": 1, "url": TOKEN})
    err = capsys.readouterr().err
    assert X_CONSUMER_SECRET not in err and "abcdef" not in err and TOKEN not in err
    assert "event=state_change post=https://x.example/a" in err and "attempt=2" in err
