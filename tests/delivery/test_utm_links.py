"""UTM_TEMPLATE through delivery: what the fakes receive carries the tags, the records keep the
canonical URL (the post's identity), and X_LINK_MODE=none sends X no link at all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from delivery_helpers import CHANNEL, Queue, live_env, now_utc, write_post

from bot.delivery.planner import scan
from bot.delivery.sender import deliver
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

UTM = "utm_source={platform}&utm_medium=social&utm_campaign={slug}"


def _queued(svc, site: Path, slug: str, *, image: bool) -> dict[str, str]:
    scan(svc, enqueue=Queue())
    write_post(site, slug, now_utc() - timedelta(minutes=2), title="속보 한국어 뉴스", image=image)
    queue = Queue()
    scan(svc, enqueue=queue)
    return {svc.state.get_by_key(k).platform: k for k in queue.keys}


def test_every_outgoing_link_is_tagged_and_the_identity_stays_canonical(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    svc = make_services(**live_env(fake_tg, fake_x), utm_template=UTM,
                        site_url="https://newsdao.kr")
    keys = _queued(svc, site, "한국-뉴스", image=False)
    assert deliver(svc, keys["telegram"], owner="a") == "sent"
    assert deliver(svc, keys["x"], owner="b") == "sent"
    canonical = svc.state.get_by_key(keys["x"]).post
    assert "utm_" not in canonical and svc.state.get_by_key(keys["telegram"]).post == canonical

    [message] = fake_tg.channel_posts(CHANNEL)
    preview = message.link_preview_options["url"]
    assert preview.startswith(canonical + "?utm_source=telegram&")
    assert dict(parse_qsl(urlsplit(preview).query))["utm_campaign"] == "한국-뉴스"
    [tweet] = fake_x.posts
    tagged = canonical + "?utm_source=x&utm_medium=social&utm_campaign=" \
        "%ED%95%9C%EA%B5%AD-%EB%89%B4%EC%8A%A4"
    assert tweet.text.endswith(tagged)


def test_link_mode_none_posts_no_link_on_x_and_keeps_telegrams(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
) -> None:
    (site / "_config.yml").write_text("url: https://newsdao.kr\ntitle: 뉴스다오\ntimezone: UTC\n",
                                      encoding="utf-8")
    svc = make_services(**live_env(fake_tg, fake_x), x_link_mode="none")
    keys = _queued(svc, site, "no-link", image=False)
    assert deliver(svc, keys["telegram"], owner="a") == "sent"
    assert deliver(svc, keys["x"], owner="b") == "sent"
    [tweet] = fake_x.posts
    assert "http" not in tweet.text and "newsdao.kr" not in tweet.text
    assert tweet.text.endswith(": 뉴스다오")  # the site named instead of the link
    [message] = fake_tg.channel_posts(CHANNEL)
    assert "https://newsdao.kr/" in message.link_preview_options["url"]
