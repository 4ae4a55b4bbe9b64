"""`newsbot run`'s own logging rules."""

from __future__ import annotations

import logging

import pytest
import redis

from bot.config import Settings
from bot.runner import setup_logging


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
