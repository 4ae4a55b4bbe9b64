"""The composition root: a process's logging rules, and the Redis a command connects to."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import redis

from bot.config import Settings, load_settings
from bot.logs import log_event
from bot.redis_embedded import start_embedded
from bot.wiring import connect_redis, setup_logging
from fakes.telegram import DEFAULT_TOKEN

DEMO_SITE = Path(__file__).resolve().parents[1] / "examples" / "site"


def test_a_redis_outage_is_one_line_per_message_not_a_traceback(
        capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """Celery logs a traceback for every message it cannot ack while Redis restarts (hundreds
    in an outage); a real bug keeps its traceback."""
    setup_logging(Settings(_env_file=None, site_dir=tmp_path))  # type: ignore[call-arg]
    log = logging.getLogger("celery.worker.request")
    try:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
    except redis.ConnectionError:
        log.critical("Couldn't ack %r, reason:%r", "abc", "network", exc_info=True)
    try:
        raise ValueError("a real bug")
    except ValueError:
        log.error("unexpected", exc_info=True)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].endswith("Couldn't ack 'abc', reason:'network' (ConnectionError: Error 111 "
                             "connecting to 127.0.0.1:6399. Connection refused.)")
    assert " WARNING celery.worker.request: " in lines[0]
    assert err.count("Traceback") == 1 and "ValueError: a real bug" in err


def test_beat_failing_to_send_a_due_task_in_an_outage_is_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """Beat wraps the lost connection in its SchedulingError and appends the call stack to the
    message: that was a 60-line traceback per due task in each Redis restart of the proof."""
    import traceback

    from celery.beat import SchedulingError

    setup_logging(Settings(_env_file=None, site_dir=tmp_path))  # type: ignore[call-arg]
    log = logging.getLogger("celery.beat")
    try:
        try:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6399.")
        except redis.ConnectionError as lost:
            raise SchedulingError(f"Couldn't apply scheduled task tick: {lost}") from lost
    except SchedulingError as exc:
        log.error("Message Error: %s\n%s", exc, traceback.format_stack(), exc_info=True)
    try:
        raise SchedulingError("a real bug")
    except SchedulingError as exc:
        log.error("Message Error: %s\n%s", exc, traceback.format_stack(), exc_info=True)
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert " WARNING celery.beat: Message Error: Couldn't apply scheduled task tick: " in first
    assert first.endswith("(ConnectionError: Error 111 connecting to 127.0.0.1:6399.)")
    assert "File " not in first
    assert err.count("Traceback") == 1 and "a real bug" in err


def test_connects_to_the_embedded_redis_a_running_newsbot_owns(tmp_path: Path) -> None:
    settings = load_settings(site_dir=DEMO_SITE, data_dir=tmp_path, redis_url="")
    owner = start_embedded(tmp_path)  # stands in for `newsbot run`
    try:
        url, attached = connect_redis(settings)
        assert attached is not None and not attached.owned and url == owner.url
        client = redis.Redis.from_url(url)
        assert client.info("server")["process_id"] == owner.pid
        client.close()
        attached.stop()
    finally:
        owner.stop()
    url, started = connect_redis(settings)  # nobody runs it now: this command starts it
    try:
        assert started is not None and started.owned and url == started.url
    finally:
        assert started is not None
        started.stop()


TOKEN = DEFAULT_TOKEN  # the fakes' token: obviously not a real one
_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _logfmt_fields(line: str) -> dict[str, str]:
    """``k=v`` pairs of a logfmt text line (after ``logger: ``), quotes removed."""
    message = line.split(": ", 1)[1]
    return {k: json.loads(v) if v.startswith('"') else v
            for k, v in _LOGFMT_PAIR.findall(message)}


def _emit(settings: Settings) -> None:
    setup_logging(settings)
    log = logging.getLogger("newsbot.test")
    log_event(log, "state_change", post="https://news.example/a.html", platform="telegram",
              old="sending", new="sent", attempt=1, reason=f"token {TOKEN} in a reason",
              receipt={"id": "42", "url": None})
    log.warning("plain line with %s", TOKEN)
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        log.exception("it failed")


@pytest.mark.parametrize("fmt", ["json", "JSON"])
def test_log_format_json_is_one_object_a_line_with_the_logfmt_fields(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str) -> None:
    base = {"_env_file": None, "site_dir": tmp_path, "telegram_bot_token": TOKEN}
    _emit(Settings(**base, log_format="logfmt"))  # type: ignore[arg-type]
    text = capsys.readouterr().err
    _emit(Settings(**base, log_format=fmt))  # type: ignore[arg-type]
    lines = capsys.readouterr().err.splitlines()
    assert TOKEN not in text and TOKEN not in "\n".join(lines)
    assert "TEST-fake-token" not in text + "\n".join(lines)
    objects = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(objects) == 3
    event, plain, failure = objects
    text_event = next(line for line in text.splitlines() if "event=state_change" in line)
    fields = _logfmt_fields(text_event)
    assert {k: event[k] for k in fields} == {
        **fields, "attempt": 1, "receipt": {"id": "42", "url": None}}
    assert set(event) == {*fields, "ts", "level", "logger"}
    assert event["level"] == "INFO" and event["logger"] == "newsbot.test"
    assert "[REDACTED]" in event["reason"]
    assert plain["msg"] == "plain line with [REDACTED]" and plain["level"] == "WARNING"
    assert failure["msg"] == "it failed" and "RuntimeError: boom [REDACTED]" in failure["exc"]


def test_log_format_refuses_other_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(_env_file=None, site_dir=tmp_path, log_format="xml")  # type: ignore[call-arg]


def test_metrics_listen_on_a_taken_port_is_one_config_line(tmp_path: Path) -> None:
    """In a child interpreter: serving switches the process to multi-process mode for good."""
    import socket
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.config import ConfigError, Settings\n"
        "from bot.wiring import start_metrics\n"
        "s = Settings(_env_file=None, site_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[1]),"
        " metrics_listen=sys.argv[2])\n"
        "try:\n"
        "    start_metrics(s, None, 'test')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path), listen],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.startswith(f"METRICS_LISTEN={listen}: cannot serve metrics there ("), out


def test_metrics_are_off_without_metrics_listen(tmp_path: Path) -> None:
    from bot.wiring import start_metrics

    settings = Settings(_env_file=None, site_dir=tmp_path)  # type: ignore[call-arg]
    assert start_metrics(settings, None, "test") is None
    assert not (tmp_path / ".newsbot" / "metrics").exists()
