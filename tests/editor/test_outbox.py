"""The notice queue and its sender against the fake Telegram server and a real Redis.

Producers queue events (``Notifier``), the sender (``NoticeDispatcher``) delivers them: at least
once through 429s, 5xx and dropped connections, never before a ``retry_after`` has passed, paced
under Telegram's limits (the fake enforces them and would answer 429), bursts folded into
digests, and a sender killed between claim and ack leaves nothing lost.
"""

from __future__ import annotations

import html
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.notify import Notice, Notifier
from bot.delivery.schedule import JITTER_SECONDS, WINDOW_MARGIN
from bot.editor.callbacks import CallbackSigner
from bot.editor.notices import NoticeRenderer
from bot.editor.outbox import NOTICE_RULES, BotApiSender, NoticeDispatcher
from bot.state import RateLimiter, State
from bot.state.notices import NoticeQueue
from fakes.telegram import FakeTelegram
from fakes.telegram_html import parse_html

EDITORS = -100500
SCALE = 0.01  # the fake's windows: 1 s -> 10 ms, 60 s -> 0.6 s; our rules shrink alike
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=True, time_scale=SCALE) as server:
        server.add_chat(EDITORS, None, type="supergroup", title="Editors")
        yield server


def scaled_rules(scale: float = SCALE) -> tuple[tuple[int, float], ...]:
    return tuple((n, w * scale * WINDOW_MARGIN + JITTER_SECONDS) for n, w in NOTICE_RULES)


def dispatcher(state: State, fake: FakeTelegram, **options: Any) -> NoticeDispatcher:
    values: dict[str, Any] = dict(rules=scaled_rules(), backoff_base=0.05, backoff_cap=0.5,
                                  gather_seconds=0.3, poll_seconds=0.02)
    values.update(options)
    signer = CallbackSigner.from_token(fake.token, state)
    return NoticeDispatcher(NoticeQueue(state.client, namespace=state.namespace),
                            BotApiSender(fake.token, fake.base_url), str(EDITORS),
                            NoticeRenderer("en", signer), RateLimiter(state.client,
                                                                      namespace=state.namespace),
                            **values)


def failed(n: int) -> Notice:
    """A notice with a button: never folded, so each is one message."""
    return Notice(kind="failed", title=f"Story {n}", post_url=f"https://n.kr/{n}.html",
                  platform="telegram", destination="@news", reason=f"refused #{n}",
                  record_key=f"{n:024x}", dedupe=f"rec{n}|failed|1")


def texts(fake: FakeTelegram) -> list[str]:
    return [m.text or m.caption or "" for m in fake.channel_posts(EDITORS)]


def sends(fake: FakeTelegram) -> list[Any]:
    return [c for c in fake.journal if c.method == "sendMessage"]


# ----------------------------------------------------------------------------- queue once
def test_notices_are_queued_once_and_sent_escaped_with_their_buttons(state: State,
                                                                     fake: FakeTelegram) -> None:
    notifier = Notifier(state, notify_published=False)
    notice = Notice(kind="failed", title="<T&C>", post_url="https://n.kr/a", platform="x",
                    destination="x", reason="403 <forbidden>", record_key="ab" * 12)
    assert notifier.notify(notice) is True
    assert notifier.notify(notice) is False
    assert notifier.notify(Notice(kind="published", links=("https://t.me/c/1/2",))) is False
    assert notifier.notify(Notice(kind="generic", text="X budget reached: 0/17")) is True
    sender = dispatcher(state, fake)
    assert sender.drain()
    first, second = texts(fake)
    assert "<T&C>" in first and "403 <forbidden>" in first
    (button,) = fake.channel_posts(EDITORS)[0].reply_markup["inline_keyboard"][0]
    assert button["text"] == "Retry"
    payload = CallbackSigner.from_token(fake.token, state).peek(button["callback_data"])
    assert (payload.action, payload.options["k"]) == ("retry", "ab" * 12)
    assert "X budget reached" in second
    # Once across restarts: a new notifier (another process) and a new sender stay quiet.
    assert Notifier(state).notify(notice) is False
    assert dispatcher(state, fake).drain() and len(texts(fake)) == 2


def test_queueing_never_raises_when_redis_is_gone(state: State) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    gone = State(redis.Redis(host="127.0.0.1", port=1, decode_responses=True,
                             socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)),
                 namespace=state.namespace)
    assert Notifier(gone).notify(Notice(kind="generic", text="server gone")) is False


# ----------------------------------------------------------------------------- refusals
def test_429_is_waited_out_exactly_and_every_notice_arrives_once(state: State,
                                                                 fake: FakeTelegram) -> None:
    notifier = Notifier(state)
    for n in range(3):
        assert notifier.notify(failed(n))
    fake.fail_next("sendMessage", status=429, retry_after=1)
    assert dispatcher(state, fake).drain(timeout=15)
    assert [("Story 0" in t, "Story 1" in t, "Story 2" in t) for t in texts(fake)] == [
        (True, False, False), (False, True, False), (False, False, True)]
    refused, *accepted = sends(fake)
    assert refused.status == 429 and [c.status for c in accepted] == [200, 200, 200]
    assert accepted[0].time >= refused.time + 1.0  # nothing before retry_after had passed


def test_500_and_a_dropped_connection_are_retried_until_accepted(state: State,
                                                                fake: FakeTelegram) -> None:
    notifier = Notifier(state)
    for n in range(3):
        notifier.notify(failed(n))
    fake.fail_next("sendMessage", status=500)
    fake.drop_next("sendMessage")
    fake.fail_next("sendMessage", status=502)  # queued after the drop: the third try fails too
    assert dispatcher(state, fake).drain(timeout=15)
    assert [c.status for c in sends(fake)] == [500, 0, 502, 200, 200, 200]
    assert sorted(texts(fake)) == sorted(set(texts(fake)))
    assert len(texts(fake)) == 3 and all(f"Story {n}" in texts(fake)[n] for n in range(3))


def test_a_permanent_refusal_gives_the_notice_up_with_a_log_line(state: State,
                                                                fake: FakeTelegram,
                                                                caplog: Any) -> None:
    notifier = Notifier(state)
    notifier.notify(failed(1))
    notifier.notify(failed(2))
    fake.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
    with caplog.at_level(logging.WARNING, logger="bot.editor.outbox"):
        assert dispatcher(state, fake).drain(timeout=10)
    (text,) = texts(fake)
    assert "Story 2" in text
    assert any("given up" in r.getMessage() and "can't parse entities" in r.getMessage()
               for r in caplog.records)
    assert all(fake.token not in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- pace, digests
def test_a_burst_of_60_notices_is_paced_under_telegrams_limits(state: State,
                                                               fake: FakeTelegram) -> None:
    notifier = Notifier(state)
    for n in range(60):
        notifier.notify(failed(n))
    started = time.monotonic()
    assert dispatcher(state, fake).drain(timeout=60)
    elapsed = time.monotonic() - started
    assert fake.count_429 == 0
    assert len(texts(fake)) == 60 and len(set(texts(fake))) == 60
    # 18 per scaled minute: at least three full windows must have passed.
    assert elapsed >= 3 * 60 * SCALE


def test_many_bad_files_at_once_are_one_digest_and_long_ones_are_split(state: State,
                                                                       fake: FakeTelegram
                                                                       ) -> None:
    notifier = Notifier(state)
    for n in range(40):
        notifier.notify(Notice(kind="bad_file", file=f"_posts/2024-01-{n:02d}-broken.md",
                               reason="line 2: mapping values are not allowed here"))
    sender = dispatcher(state, fake, gather_seconds=0.5).start()
    try:
        deadline = time.monotonic() + 10
        while sender.queue.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sender.close()
    (digest,) = texts(fake)
    assert digest.startswith("📄 Bad post files: 40")
    assert all(f"2024-01-{n:02d}-broken.md" in digest for n in range(40))

    # 150 long reasons do not fit one message: several, each within 4096, each file once.
    for n in range(150):
        notifier.notify(Notice(kind="bad_file", file=f"_posts/long-{n:03d}.md",
                               reason=f"reason {n} " + "x" * 250))
    assert dispatcher(state, fake).drain(timeout=30)
    parts = fake.channel_posts(EDITORS)[1:]
    assert len(parts) > 1
    assert all(len(parse_html(m.raw or "").text) <= 4096 for m in parts)
    listed = "".join(m.text or "" for m in parts)
    assert all(listed.count(f"long-{n:03d}.md") == 1 for n in range(150))
    assert sum(int(m.text.split(": ")[1].split("\n")[0]) for m in parts) == 150


def test_notices_with_buttons_are_never_folded(state: State, fake: FakeTelegram) -> None:
    notifier = Notifier(state)
    notifier.notify(Notice(kind="in_doubt", title="A", post_url="https://n.kr/a",
                           platform="telegram", destination="@n", record_key="1" * 24))
    notifier.notify(Notice(kind="in_doubt", title="A", post_url="https://n.kr/a",
                           platform="x", destination="x", record_key="2" * 24))
    assert dispatcher(state, fake).drain()
    cards = fake.channel_posts(EDITORS)
    assert len(cards) == 2
    signer = CallbackSigner.from_token(fake.token, state)
    keys = [[signer.peek(b["callback_data"]).options["k"]
             for b in card.reply_markup["inline_keyboard"][0]] for card in cards]
    assert keys == [["1" * 24] * 2, ["2" * 24] * 2]


# ----------------------------------------------------------------------------- crash
CHILD = """
import sys, time
import redis
from bot.editor.callbacks import CallbackSigner
from bot.editor.notices import NoticeRenderer
from bot.editor.outbox import BotApiSender, NoticeDispatcher
from bot.state import RateLimiter, State
from bot.state.notices import NoticeQueue

url, ns, api, token, chat = sys.argv[1:6]
client = redis.Redis.from_url(url, decode_responses=True)
state = State(client, namespace=ns)

def claimed(ids):
    print("claimed", *ids, flush=True)
    time.sleep(60)  # killed here: between claim and ack

NoticeDispatcher(NoticeQueue(client, namespace=ns), BotApiSender(token, api), chat,
                 NoticeRenderer("en", CallbackSigner.from_token(token, state)),
                 RateLimiter(client, namespace=ns), rules=(), lease_seconds=1.5,
                 poll_seconds=0.02, on_claimed=claimed).drain(timeout=30)
"""


def test_a_sender_killed_between_claim_and_ack_is_made_good_after_restart(
        state: State, fake: FakeTelegram, redis_url: str) -> None:
    notifier = Notifier(state)
    notifier.notify(failed(7))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, redis_url, state.namespace, fake.base_url, fake.token,
         str(EDITORS)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(child.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(20)
        assert line and line[0].startswith("claimed ")
    finally:
        child.kill()
        child.wait(10)
        child.stdout.close()
    queue = NoticeQueue(state.client, namespace=state.namespace)
    assert queue.pending() == 1 and queue.held() == 1  # claimed, never acknowledged
    assert texts(fake) == []
    killed_at = time.monotonic()

    restarted = dispatcher(state, fake, lease_seconds=1.5)
    assert restarted.drain(timeout=15)
    (text,) = texts(fake)
    assert "Story 7" in text
    assert time.monotonic() - killed_at >= 1.0  # it waited for the dead sender's lease


# ----------------------------------------------------------------------------- rendering
def test_digest_lines_escape_values(state: State, fake: FakeTelegram) -> None:
    renderer = NoticeRenderer("en", CallbackSigner.from_token(fake.token, state))
    notices = [Notice(kind="bad_file", file="<b>a.md</b>", reason="x & y"),
               Notice(kind="bad_file", file="b.md", reason="</pre>")]
    message, count = renderer.digest(notices)
    assert count == 2
    text = parse_html(message.text).text
    assert "<b>a.md</b>: x & y" in text and "b.md: </pre>" in text
    assert html.escape("<b>a.md</b>", quote=False) in message.text


def test_a_digest_line_that_escaping_made_huge_still_fits(state: State, fake: FakeTelegram
                                                          ) -> None:
    renderer = NoticeRenderer("en", CallbackSigner.from_token(fake.token, state))
    notices = [Notice(kind="bad_file", file="<" * 200, reason="&" * 300) for _ in range(30)]
    message, count = renderer.digest(notices)
    assert 1 <= count < 30
    parsed = parse_html(message.text).text  # valid Telegram HTML, within the limit
    assert len(parsed) <= 4096 and "<<<<" in parsed


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=80),
       st.sampled_from(["bad_file", "published", "generic"]))
def test_digests_list_every_notice_once_in_valid_messages_within_the_limit(
        items: list[tuple[str, str]], kind: str) -> None:
    import redis

    renderer = NoticeRenderer("en", CallbackSigner(b"k" * 32, redis.Redis(
        decode_responses=True)))
    notices = [Notice(kind=kind, file=a, reason=b, title=a, text=b,  # type: ignore[arg-type]
                      post_url=f"https://n.kr/{n}", links=(f"https://t.me/c/1/{n}",))
               for n, (a, b) in enumerate(items)]
    rest, counts = list(notices), []
    while rest:
        message, count = renderer.digest(rest)
        assert 1 <= count <= len(rest)
        assert len(parse_html(message.text).text) <= 4096  # raises on invalid HTML
        counts.append(count)
        rest = rest[count:]
    assert sum(counts) == len(notices)
