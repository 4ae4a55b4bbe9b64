"""X weighted length: the reference wrapper against twitter-text's conformance data, and the fast
estimator the fitter uses against the reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text.config import config

from bot.teasers import x_weighted_length
from bot.teasers.x_length import x_estimate, x_parse

VALIDATE = Path(__file__).resolve().parents[1] / "data" / "twitter-text" / "validate.yml"
_TESTS = yaml.safe_load(VALIDATE.read_text(encoding="utf-8"))["tests"]
_V2 = {**config["version2"], "emoji_parsing_enabled": False}
SECTIONS = {
    "WeightedTweetsCounterTest": _V2,
    "WeightedTweetsWithDiscountedEmojiCounterTest": config["version3"],
    "UnicodeDirectionalMarkerCounterTest": None,
}
CASES = [
    pytest.param(section, case, id=f"{section}-{i}")
    for section in SECTIONS
    for i, case in enumerate(_TESTS[section])
]
FIELDS = (
    "weightedLength",
    "valid",
    "permillage",
    "displayRangeStart",
    "displayRangeEnd",
    "validRangeStart",
    "validRangeEnd",
)


def test_section_sizes() -> None:
    assert [len(_TESTS[s]) for s in SECTIONS] == [20, 22, 2]


@pytest.mark.parametrize(("section", "case"), CASES)
def test_conformance(section: str, case: dict) -> None:
    result = x_parse(case["text"], SECTIONS[section]).asdict()
    assert {f: result[f] for f in FIELDS} == {f: case["expected"][f] for f in FIELDS}


@pytest.mark.parametrize(
    ("section", "case"), [c for c in CASES if c.values[0] != "WeightedTweetsCounterTest"]
)
def test_estimator_matches_v3_conformance(section: str, case: dict) -> None:
    assert x_estimate(case["text"]) == case["expected"]["weightedLength"]
    assert x_weighted_length(case["text"]) == case["expected"]["weightedLength"]


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("x" * 280, 280),
        ("日" * 141, 282),
        ("…", 2),
        ("example.com", 23),
        ("e\u0301", 1),
        ("👨‍👩‍👧‍👦", 2),
        ("©", 2),
        ("가나다", 6),
        ("a\r\nb", 3),
        ("🇰🇷", 2),
        ("👍🏽", 2),
    ],
)
def test_known_weights(text: str, weight: int) -> None:
    assert x_weighted_length(text) == weight
    assert x_estimate(text) == weight


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"ab 가각한日…é\u0301.,!\n\r", "👍🏽", "🇰🇷", "👨‍👩‍👧", "ᄀ", "ᅡ", "ᆨ", "co", "http"]
        )
    ).map("".join)
)
def test_estimator_matches_reference_on_mixed_text(text: str) -> None:
    assert x_estimate(text) == x_weighted_length(text)
