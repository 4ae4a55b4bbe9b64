from __future__ import annotations

from bot.teasers import hashtags


def test_spaces_and_punctuation_removed_any_script_kept() -> None:
    values = ["기술", "Open Source", "AI/ML", "c++", "Ünïcödé", "हिन्दी", "日本語"]
    assert hashtags(values, 10) == [
        "#기술",
        "#OpenSource",
        "#AIML",
        "#c",
        "#Ünïcödé",
        "#हिन्दी",
        "#日本語",
    ]


def test_deduplicated_case_insensitively_and_limited() -> None:
    assert hashtags(["AI", "ai", "A.I.", "기술", "경제", "IT"], 3) == ["#AI", "#기술", "#경제"]
    assert hashtags(["a", "b"], 0) == []


def test_empty_and_digit_only_tags_skipped() -> None:
    assert hashtags(["!!!", " ", "2024", "🚀", "x" * 51, "ok"], 5) == ["#ok"]


def test_leading_combining_mark_dropped() -> None:
    assert hashtags(["\u0301abc", "e\u0301"], 5) == ["#abc", "#é"]
