"""Key ownership: every Redis key is built by ``bot.state.keys`` and reached through ``State``.

The once-only claims (notices, refusals, used buttons) and blobs (button payloads) moved there
from the notifier and the editor bot; these tests pin their documented shapes (a rename would
invalidate buttons already in editors' chats) and that nothing else spells a key name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.state import State
from bot.state.keys import BLOB_KINDS, ONCE_KINDS

ROOT = Path(__file__).resolve().parents[2]
SITE = "site1"
URL = "https://newsdao.kr/2026/11/29/a.html"


def test_claim_once_is_first_come_and_can_be_released(state: State) -> None:
    assert state.claim_once("notice", "abc", 60) is True
    assert state.claim_once("notice", "abc", 60) is False
    assert state.claim_once("refusal", "abc", 60) is True  # kinds do not collide
    ttl = state.client.ttl(f"{state.namespace}:notice:abc")
    assert 0 < ttl <= 60
    state.release_once("notice", "abc")
    assert state.claim_once("notice", "abc", 60) is True


def test_documented_shapes_are_kept(state: State) -> None:
    ns = state.namespace
    assert state.keys.once("notice", "d1") == f"{ns}:notice:d1"
    assert state.keys.once("refusal", "42") == f"{ns}:editor:refused:42"
    assert state.keys.once("button-used", "h") == f"{ns}:editor:cb:h:used"
    assert state.keys.blob("button", "h") == f"{ns}:editor:cb:h"
    doc = (ROOT / "bot" / "state" / "keys.py").read_text(encoding="utf-8")
    for shape in (*ONCE_KINDS.values(), *BLOB_KINDS.values()):
        assert "``{ns}:" + shape.replace("{id}", "{") in doc.replace(
            "{digest}", "{").replace("{user_id}", "{").replace("{handle}", "{")


def test_blobs_round_trip_with_expiry(state: State) -> None:
    assert state.get_blob("button", "h1") is None
    state.put_blob("button", "h1", '{"a": "retry", "t": "홍길동"}', 30)
    assert state.get_blob("button", "h1") == '{"a": "retry", "t": "홍길동"}'
    assert 0 < state.client.ttl(state.keys.blob("button", "h1")) <= 30


@pytest.mark.parametrize(("kind", "ident"), [("nope", "x"), ("notice", ""),
                                             ("notice", "a b"), ("button-used", "{x}")])
def test_unknown_kinds_and_bad_identifiers_are_refused(state: State, kind: str,
                                                       ident: str) -> None:
    with pytest.raises(ValueError):
        state.claim_once(kind, ident, 10)


def test_update_seen_overwrites_while_mark_seen_stays_set_once(state: State) -> None:
    assert state.mark_seen(SITE, URL, {"rel_path": "_posts/a.md"}) is True
    assert state.mark_seen(SITE, URL, {"rel_path": "_posts/b.md"}) is False
    assert state.seen_info(SITE, URL) == {"rel_path": "_posts/a.md"}
    state.update_seen(SITE, URL, {"rel_path": "_posts/b.md", "title": "제목"})
    assert state.seen_info(SITE, URL) == {"rel_path": "_posts/b.md", "title": "제목"}
    assert state.seen_count(SITE) == 1


# An f-string joining the namespace to a name, a call to the key builder, or a known key part.
KEY_SPELLING = re.compile(r"""\{([\w.]*\.)?(namespace|ns)\}:|state\.keys\.|:editor:|:notice:""")


def test_no_module_outside_bot_state_spells_a_key() -> None:
    offenders = []
    for folder in ("bot", "tasks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.parent.name == "state" and path.parent.parent.name == "bot":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if KEY_SPELLING.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
