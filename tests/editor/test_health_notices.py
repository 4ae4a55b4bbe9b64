"""How a destination's health notice reads in the editors' chat, in both bot languages: the
platform's reason, escaped; never folded into a digest with other notices."""

from __future__ import annotations

import pytest

from bot.delivery.notify import BUTTON_KINDS, Notice
from bot.editor.callbacks import CallbackSigner
from bot.editor.notices import NoticeRenderer
from bot.state import State


@pytest.mark.parametrize(("language", "down", "up"), [
    ("en", "Connection unhealthy", "Connection healthy again"),
    ("ko", "연결 이상", "연결 정상"),
])
def test_down_and_up_notices(state: State, language: str, down: str, up: str) -> None:
    renderer = NoticeRenderer(language, CallbackSigner(b"k" * 32, state))
    broken = Notice(kind="health", platform="telegram", destination="@news",
                    reason="the bot is no longer an administrator of @news <b>",
                    text="telegram @news: unhealthy")
    part = renderer.render(broken)
    assert down in part.message.text and "telegram @news" in part.message.text
    assert "administrator of @news &lt;b&gt;" in part.message.text  # escaped
    assert part.markup is None and part.count == 1
    fixed = renderer.render(Notice(kind="health", platform="telegram", destination="@news",
                                   text="telegram @news: healthy again"))
    assert up in fixed.message.text and down not in fixed.message.text


def test_health_notices_are_never_digested() -> None:
    assert "health" in BUTTON_KINDS
    again = Notice.from_json(Notice(kind="health", reason="x").to_json())
    assert again.kind == "health"
