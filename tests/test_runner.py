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
