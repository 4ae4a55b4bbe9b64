"""Benchmarks say when their time is scaled: a figure measured against shrunk rate windows must
never be read as a real-time one."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from bot.config import TESTING_SWITCH

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _timescale():
    spec = importlib.util.spec_from_file_location("bench_timescale", BENCHMARKS / "timescale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_helper_names_the_switch_the_settings_read() -> None:
    assert _timescale().TESTING_SWITCH == TESTING_SWITCH


def test_a_scaled_benchmark_prints_its_factor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TESTING_SWITCH, raising=False)
    env = _timescale().announce(0.05)
    assert env == {TESTING_SWITCH: "1", "RATE_TIME_SCALE": "0.05"}
    assert "time scaled: rate windows x0.05" in capsys.readouterr().out


def test_an_inherited_scale_is_said_and_no_scale_is_silent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    announce = _timescale().announce
    monkeypatch.delenv("RATE_TIME_SCALE", raising=False)
    assert announce() == {} and capsys.readouterr().out == ""
    monkeypatch.setenv("RATE_TIME_SCALE", "0.2")
    announce()
    assert "time scaled: rate windows x0.2" in capsys.readouterr().out


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda p: p.name)
def test_every_benchmark_that_scales_time_announces_it(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    scales = re.search(r"RATE_TIME_SCALE|rate_time_scale|time_scale=", text)
    reads_settings = re.search(r"\bSettings\(|load_settings\(|\"-m\", \"bot\"", text)
    if scales or reads_settings:
        assert "announce(" in text, f"{script.name} scales time or reads settings silently"
    if scales:
        assert "\"RATE_TIME_SCALE\":" not in text, "set it through announce(), which says so"
