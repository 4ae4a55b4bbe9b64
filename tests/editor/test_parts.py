"""The desk's pure parts: signed button data, escaping and paging, strings."""

from __future__ import annotations

import html
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.editor.callbacks import CALLBACK_DATA_LIMIT, CallbackError, CallbackSigner, derive_key
from bot.editor.handlers import parse_push
from bot.editor.i18n import COMMANDS, STRINGS, command_descriptions, t
from bot.editor.render import esc, paginate
from bot.state import State
from fakes.telegram_html import parse_html

TOKEN = "123456:TEST-fake-token-not-real"


@pytest.fixture
def signer(state: State) -> CallbackSigner:
    return CallbackSigner.from_token(TOKEN, state.client, namespace=state.namespace)


# ----------------------------------------------------------------------------- callbacks
def test_button_data_fits_and_round_trips(signer: CallbackSigner) -> None:
    target = "https://newsdao.kr/" + "긴-주소/" * 200
    data = signer.issue("approve", target, fp="a" * 20, pl=["telegram", "x"])
    assert len(data.encode()) <= CALLBACK_DATA_LIMIT
    payload = signer.peek(data)
    assert (payload.action, payload.target, payload.options["fp"]) == ("approve", target, "a" * 20)
    assert signer.consume(data).target == target
    with pytest.raises(CallbackError) as info:
        signer.consume(data)
    assert info.value.code == "used"


def test_paging_buttons_are_reusable(signer: CallbackSigner) -> None:
    data = signer.issue("page", "status", single_use=False, p=2)
    assert signer.consume(data).options == {"p": 2}
    assert signer.consume(data).options == {"p": 2}


def test_forged_expired_and_other_key_are_invalid(signer: CallbackSigner, state: State) -> None:
    data = signer.issue("force", "https://x.kr/a")
    handle, mac = data.split(".")
    other = CallbackSigner.from_token("999:OTHER", state.client, namespace=state.namespace)
    expired = signer.issue("force", "https://x.kr/a", ttl=0.01)
    time.sleep(0.03)
    swapped = "B" if handle.endswith("A") else "A"  # a handle one character off, never the same
    for bad in (f"{handle}.{'A' * len(mac)}", f"{handle[:-1]}{swapped}.{mac}",
                "force:https://x.kr/a",
                "", None, "a.b.c", "x" * 65, expired):
        with pytest.raises(CallbackError) as info:
            signer.consume(bad)
        assert info.value.code == "invalid"
    with pytest.raises(CallbackError):
        other.consume(data)  # a signer with another token's key cannot vouch for it
    # a payload altered in Redis no longer matches its MAC
    key = f"{state.namespace}:editor:cb:{handle}"
    state.client.set(key, state.client.get(key).replace("force", "approve"))
    with pytest.raises(CallbackError):
        signer.consume(data)


def test_key_is_derived_not_the_token() -> None:
    key = derive_key(TOKEN)
    assert len(key) == 32 and TOKEN.encode() not in key
    assert derive_key(TOKEN) == key != derive_key(TOKEN + "x")
    assert "TEST" not in repr(CallbackSigner(key, client=None))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- escaping, paging
@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=400))
def test_escaped_values_show_literally_in_telegram(value: str) -> None:
    """Whatever a post or a platform says, Telegram shows it as text (never as markup)."""
    shown = esc(value, 1000)
    text = parse_html(shown).text
    expected = " ".join(value.split()) if ("\n" in value or "\r" in value) else value
    assert text == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=500).map(lambda s: html.escape(s)), max_size=80),
       st.integers(min_value=200, max_value=4000))
def test_pages_keep_every_line_in_order_within_budget(lines: list[str], budget: int) -> None:
    header = "<b>Status</b>"
    pages = paginate(lines, header, budget=budget)
    assert pages and all(len(p) <= budget for p in pages)
    assert all(p.startswith(header) for p in pages)
    body = [line for p in pages for line in p.split("\n")[1:]]
    expected = [line for original in lines for line in original.split("\n")]
    short = [e for e in expected if len(e) <= budget // 2]
    if len(short) == len(expected):
        assert body == expected


def test_parse_push_options() -> None:
    assert parse_push(["kospi"]) == (("telegram", "x"), False, "kospi")
    assert parse_push(["kospi", "x", "force"]) == (("x",), True, "kospi")
    assert parse_push(["kospi", "all"]) == (("telegram", "x"), False, "kospi")
    assert parse_push(["force"]) == (("telegram", "x"), False, "force")  # a slug named force


def test_every_string_in_both_languages_and_menu_is_valid() -> None:
    for key, (ko, en) in STRINGS.items():
        assert ko and en, key
        assert sorted(_fields(ko)) == sorted(_fields(en)), key
    for language in ("ko", "en"):
        pairs = command_descriptions(language)
        assert [c for c, _ in pairs] == list(COMMANDS)
        assert all(3 <= len(d) <= 256 for _, d in pairs)
    assert "편집" in t("ko", "help") and "editors" in t("en", "help")


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_quick_ref_finds_the_same_post_as_the_full_lookup(tmp_path: Any) -> None:
    from pathlib import Path
    from types import SimpleNamespace

    from bot.actions.lookup import PostLookupError, find_post
    from bot.config import load_settings
    from bot.delivery.content import ContentTools
    from bot.editor.handlers import quick_ref
    from bot.sources.jekyll import scan_site

    site = Path(__file__).resolve().parents[2] / "examples" / "site"
    tools = ContentTools.from_settings(load_settings(site_dir=site, data_dir=tmp_path))
    svc = SimpleNamespace(tools=tools)
    posts = scan_site(tools.site).posts
    assert posts
    for post in posts:
        for ref in (post.slug, Path(post.rel_path).name, Path(post.rel_path).stem):
            assert find_post(tools.site, quick_ref(svc, ref)).url == post.url
    for ref in ("../../etc/passwd", "nope", "a" * 200):
        assert quick_ref(svc, ref) == ref
        with pytest.raises(PostLookupError):
            find_post(tools.site, quick_ref(svc, ref))
