"""Corrections of published posts through the real planner, sender and publishers, against the
fake Telegram and X over HTTP, on real Redis (``bot.delivery.corrections``).

The promise under test: a changed published post edits its Telegram message in place (same
message id) only when the teaser changed, never posts anew on either platform, honours the rate
limits, reports refusals with Telegram's reason, and a retracted post asks the editors once.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, Queue, jpeg, now_utc, write_post

from bot.delivery.corrections import apply_edit, push_edit, retract
from bot.delivery.planner import scan
from bot.delivery.sender import deliver
from bot.delivery.services import Services
from bot.state.notices import NoticeQueue
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def publish(svc: Services, site: Path, slug: str = "story", **post: object) -> dict[str, str]:
    """Baseline, one new post, both records sent: platform -> record key."""
    scan(svc, enqueue=Queue())
    when = now_utc() - timedelta(minutes=2)
    write_post(site, slug, when, title=f"Story {slug}", **post)  # type: ignore[arg-type]
    queue = Queue()
    scan(svc, enqueue=queue)
    keys = {svc.state.get_by_key(k).platform: k for k in queue.keys}
    for key in keys.values():
        assert deliver(svc, key, owner="w:send") == "sent"
    return keys


def change(svc: Services, site: Path, slug: str = "story", **post: object) -> list[str]:
    """Rewrite the post file and scan it as a file event would: the keys handed over."""
    when = now_utc() - timedelta(minutes=2)
    path = write_post(site, slug, when, **post)  # type: ignore[arg-type]
    queue = Queue()
    scan(svc, paths=[path], enqueue=queue)
    return queue.keys


def notices(svc: Services) -> list[dict]:
    queue = NoticeQueue(svc.state.client, namespace=svc.state.namespace)
    return [e.data.get("notice", e.data) for e in queue.due()]


@pytest.fixture
def live(live):
    def build(**overrides: object) -> Services:
        return live(telegram_editor_chat="-100777", **overrides)
    return build


def test_title_change_edits_the_caption_in_place_and_never_posts_anew(
    live, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    [message] = fake_tg.channel_posts(CHANNEL)
    first = message.raw  # the fake edits its stored message in place
    rec = svc.state.get_by_key(keys["telegram"])
    assert rec.extra["sent_kind"] == "photo" and rec.extra["sent_text"] == first

    handed = change(svc, site, title="Corrected story")
    assert handed == [keys["telegram"]]  # X is never re-posted nor edited
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edited"

    [after] = fake_tg.channel_posts(CHANNEL)
    assert after.message_id == message.message_id and after.caption.startswith("Corrected story")
    assert [h["method"] for h in fake_tg.edit_history(CHAT_ID, message.message_id)] == [
        "editMessageCaption"]
    assert len(fake_tg.calls("sendPhoto")) == 1 and not fake_tg.calls("sendMessage")
    assert len(fake_x.posts) == 1 and not fake_x.deletes
    rec = svc.state.get_by_key(keys["telegram"])
    assert rec.state == "sent" and rec.receipt_id == str(message.message_id)
    assert rec.extra["sent_text"] == after.raw
    [entry] = [e for e in svc.state.audit_log() if e["action"] == "edit"]
    result = json.loads(entry["result"])
    assert result["before"] == first and result["after"] == after.raw != first
    assert result["method"] == "editMessageCaption"
    # a second delivery of the same task finds nothing to do
    assert deliver(svc, keys["telegram"], owner="w:again") == "not_queued"


def test_a_change_that_leaves_the_teaser_alone_edits_nothing(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    handed = change(svc, site, title="Story story", body="Only the body changed.")
    assert handed == [keys["telegram"]]
    assert deliver(svc, keys["telegram"], owner="w:edit") == "unchanged"
    assert not fake_tg.calls("editMessageCaption") and not fake_tg.calls("editMessageText")


def test_without_edit_published_a_published_post_is_left_alone(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live()
    keys = publish(svc, site)
    assert change(svc, site, title="Corrected story") == []
    assert deliver(svc, keys["telegram"], owner="w") == "not_queued"
    assert not fake_tg.calls("editMessageCaption")


def test_a_new_image_is_uploaded_with_edit_message_media(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    import io

    from PIL import Image  # a different picture at the same path
    buf = io.BytesIO()
    Image.new("RGB", (800, 450), (200, 40, 40)).save(buf, "JPEG", quality=85)
    (site / "assets" / "feature.jpg").write_bytes(buf.getvalue())
    assert buf.getvalue() != jpeg()
    change(svc, site, title="Story story", extra="image_alt: New picture")
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edited"
    [message] = fake_tg.channel_posts(CHANNEL)
    [edit] = fake_tg.edit_history(CHAT_ID, message.message_id)
    assert edit["method"] == "editMessageMedia" and edit["photo_changed"]
    assert len(message.caption) <= 1024


def test_text_post_is_edited_with_edit_message_text(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site, image=False)
    change(svc, site, title="Text corrected", image=False)
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edited"
    [message] = fake_tg.channel_posts(CHANNEL)
    assert message.kind == "text" and message.text.startswith("Text corrected")
    assert [h["method"] for h in fake_tg.edit_history(CHAT_ID, message.message_id)] == [
        "editMessageText"]


def test_a_message_telegram_will_not_edit_is_reported_with_the_reason(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    [message] = fake_tg.channel_posts(CHANNEL)
    fake_tg.make_uneditable(CHAT_ID, message.message_id)
    change(svc, site, title="Corrected story")
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edit_failed"
    [entry] = [e for e in svc.state.audit_log() if e["action"] == "edit_failed"]
    assert "Message can't be edited" in json.loads(entry["result"])["reason"]
    assert any("Message can't be edited" in n["text"] for n in notices(svc))
    assert svc.state.edits.pending() == []  # not retried: an editor decides
    assert len(fake_tg.channel_posts(CHANNEL)) == 1


def test_429_on_an_edit_blocks_the_bucket_for_retry_after(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    change(svc, site, title="Corrected story")
    fake_tg.fail_next("editMessageCaption", status=429, retry_after=30)
    now = svc.state.now()
    assert deliver(svc, keys["telegram"], owner="w:edit", now=now) == "rate_wait"
    assert svc.state.edits.claim(keys["telegram"], lease=60, now=now + 29) is None
    assert deliver(svc, keys["telegram"], owner="w:edit", now=now + 29) == "not_queued"
    # the limiter holds every sender of the channel back too
    rec = svc.state.get_by_key(keys["telegram"])
    assert svc.limiter.wait_time(f"telegram:{rec.destination}", (), now=now + 29) > 0
    assert deliver(svc, keys["telegram"], owner="w:edit", now=now + 31) == "edited"
    assert len(fake_tg.channel_posts(CHANNEL)) == 1


def test_a_worker_that_died_mid_edit_only_repeats_the_edit(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    key = keys["telegram"]
    change(svc, site, title="Corrected story")
    now = svc.state.now()
    assert svc.state.edits.claim(key, lease=120, now=now) is not None  # then the worker died
    assert deliver(svc, key, owner="w:other", now=now + 1) == "not_queued"
    assert svc.state.edits.stale(grace=5, now=now + 126) == [key]  # the tick hands it over
    assert apply_edit(svc, key, owner="w:heir", now=now + 127) == "edited"
    assert apply_edit(svc, key, owner="w:heir", now=now + 128) == "not_queued"
    assert len(fake_tg.channel_posts(CHANNEL)) == 1 and len(fake_tg.calls("sendPhoto")) == 1


def test_retracted_post_asks_the_editors_once_then_deletes_on_both(
    live, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    assert change(svc, site, title="Story story", extra="retracted: true") == []
    change(svc, site, title="Story story", extra="retracted: true\ntags: [x]")
    asks = [n for n in notices(svc) if n["kind"] == "retraction"]
    assert len(asks) == 1 and "telegram" in asks[0]["destination"]
    assert not fake_tg.calls("editMessageCaption")

    report = retract(svc, asks[0]["post_url"], "editor:7")
    assert report.deleted == 2 and report.refused == 0
    assert fake_tg.channel_posts(CHANNEL) == [] and fake_x.deletes == [
        svc.state.get_by_key(keys["x"]).receipt_id]
    actions = [e["action"] for e in svc.state.audit_log()]
    assert actions.count("delete") == 2
    entry = next(e for e in svc.state.audit_log() if e["action"] == "delete"
                 and e["target"] == keys["telegram"])
    assert json.loads(entry["result"])["before"] and json.loads(entry["result"])["after"] == ""
    assert {r.state for r in svc.state.records()} == {"sent"}  # never sent again
    assert retract(svc, asks[0]["post_url"], "editor:7").deleted == 0
    # un-retracted and corrected later: the deleted message is not edited (nor posted again)
    assert change(svc, site, title="Back again") == []
    assert not fake_tg.calls("editMessageCaption") and len(fake_tg.calls("sendPhoto")) == 1


def test_published_false_after_publishing_counts_as_a_retraction(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live()
    publish(svc, site)
    change(svc, site, title="Story story", extra="published: false")
    assert [n["kind"] for n in notices(svc)].count("retraction") == 1


def test_telegram_message_older_than_48_hours_is_not_deleted(
    live, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = live()
    keys = publish(svc, site)
    [message] = fake_tg.channel_posts(CHANNEL)
    fake_tg.age_message(CHAT_ID, message.message_id, 49 * 3600)
    old = svc.state.now() - 49 * 3600
    svc.state.edits.update_sent(keys["telegram"], str(message.message_id),
                                {"sent_at": repr(old)})
    report = retract(svc, svc.state.get_by_key(keys["telegram"]).post, "editor:7")
    assert report.deleted == 1 and report.refused == 1
    assert any("48 h" in line for line in report.lines)
    assert not fake_tg.calls("deleteMessage")  # not attempted: Telegram would refuse
    assert fake_tg.channel_posts(CHANNEL) and fake_x.deletes


def test_edit_command_pushes_the_current_text_and_says_x_is_not_editable(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live()  # /edit works without EDIT_PUBLISHED
    keys = publish(svc, site)
    post = svc.find_post_by_url(svc.state.get_by_key(keys["telegram"]).post)
    queue = Queue()
    lines = push_edit(svc, post, "editor:7", queue)
    assert queue.keys == [keys["telegram"]]
    assert any("X posts cannot be edited" in line for line in lines)
    assert deliver(svc, keys["telegram"], owner="w") == "unchanged"  # Telegram: not modified
    assert fake_tg.calls("editMessageCaption")[-1].status == 400
    assert len(fake_tg.channel_posts(CHANNEL)) == 1


def test_an_edit_waits_for_the_channels_send_slot_like_a_send(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    svc = live(edit_published=True)
    keys = publish(svc, site)
    change(svc, site, title="Corrected story")
    rec = svc.state.get_by_key(keys["telegram"])
    now = svc.state.now()
    svc.limiter.block_until(f"telegram:{rec.destination}", now + 20, now=now)  # another 429
    assert deliver(svc, keys["telegram"], owner="w", now=now) == "rate_wait"
    assert not fake_tg.calls("editMessageCaption")
    assert deliver(svc, keys["telegram"], owner="w", now=now + 21) == "edited"


def test_a_transient_edit_failure_backs_off_then_goes_to_the_editors(
    live, site: Path, fake_tg: FakeTelegram
) -> None:
    """A channel that answers 500 to every edit is not hammered every 30 s forever: the waits
    double, and after MAX_ATTEMPTS tries the editors get the reason and the retries stop."""
    svc = live(edit_published=True, max_attempts=3)
    keys = publish(svc, site)
    key = keys["telegram"]
    change(svc, site, title="Corrected story")
    fake_tg.fail_next("editMessageCaption", status=500, count=3)
    now = svc.state.now()
    assert deliver(svc, key, owner="w:edit", now=now) == "retry_wait"
    assert svc.state.edits.claim(key, lease=60, now=now + 29) is None
    assert deliver(svc, key, owner="w:edit", now=now + 31) == "retry_wait"
    # the second wait is twice the first
    assert svc.state.edits.claim(key, lease=60, now=now + 31 + 59) is None
    assert deliver(svc, key, owner="w:edit", now=now + 31 + 61) == "edit_failed"
    assert svc.state.edits.pending() == []  # an editor decides now
    [entry] = [e for e in svc.state.audit_log() if e["action"] == "edit_failed"]
    assert "after 3 tries" in json.loads(entry["result"])["reason"]
    assert any("not edited" in n["text"] and "after 3 tries" in n["text"]
               for n in notices(svc))
    assert len(fake_tg.calls("editMessageCaption")) == 3
    # an editor's /edit later starts a fresh count, and the edit goes through
    push_edit(svc, svc.find_post_by_url(svc.state.get_by_key(key).post), "ed", Queue())
    assert deliver(svc, key, owner="w:edit", now=now + 200) == "edited"
    assert svc.state.get_by_key(key).extra.get("edit_failures") in (None, "", "0")
    assert len(fake_tg.channel_posts(CHANNEL)) == 1


def test_a_dry_run_shows_the_edit_it_would_make_in_the_outbox(
    make_services, site: Path, tmp_path: Path
) -> None:
    """A trial without a channel shows corrections too: an "edit" line naming the call, the
    message and the new text; never a second send line."""
    svc = make_services(edit_published=True)
    keys = publish(svc, site)
    outbox = tmp_path / "var" / "outbox.jsonl"
    sends = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [s.get("action") for s in sends] == [None, None]
    tg_id = next(s["id"] for s in sends if s["platform"] == "telegram")

    change(svc, site, title="Corrected story")
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edited"
    assert deliver(svc, keys["x"], owner="w:edit") == "not_queued"  # X is never edited
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    [edit] = [x for x in lines if x.get("action") == "edit"]
    assert edit["platform"] == "telegram" and edit["message"] == tg_id
    tg_send = next(s for s in sends if s["platform"] == "telegram")
    photo = (tg_send["image"] or {}).get("status") == "ok"
    # the same photo: only its caption changes; a text message: its text
    assert edit["method"] == ("editMessageCaption" if photo else "editMessageText")
    assert "Corrected story" in edit["text"] and edit["image"] is None
    assert len([x for x in lines if x.get("action") is None]) == 2  # nothing posted anew
    [audit] = [e for e in svc.state.audit_log() if e["action"] == "edit"]
    assert "Corrected story" in json.loads(audit["result"])["after"]

    # an editor's /edit in the trial: one more edit line (Telegram would say "not modified")
    post = svc.find_post_by_url(svc.state.get_by_key(keys["telegram"]).post)
    push_edit(svc, post, "ed", Queue())
    assert deliver(svc, keys["telegram"], owner="w:edit") == "edited"
    assert len([x for x in map(json.loads, outbox.read_text().splitlines())
                if x.get("action") == "edit"]) == 2
