"""DryRunPublisher: the outbox file stays valid JSON Lines under concurrent appends."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.images import ImageFailure, ImageVariant
from bot.platforms.dryrun import DryRunPublisher
from bot.platforms.outgoing import PlatformTeaser, image_json
from bot.posts import Post
from bot.teasers import Teaser

KEYS = {
    "at", "platform", "destination", "post", "title", "text", "parse_mode", "length", "limit",
    "image", "id",
}  # fmt: skip


def make_post(n: int = 0, title: str = "Dry run <b>post</b>") -> Post:
    return Post(
        url=f"https://news.example/2026/11/28/post-{n}.html",
        path=Path(f"/site/_posts/2026-11-28-post-{n}.md"),
        rel_path=f"_posts/2026-11-28-post-{n}.md",
        title=title,
        date=datetime(2026, 11, 28, tzinfo=UTC),
        slug=f"post-{n}",
    )


def make_item(
    platform: str, text: str, image: ImageVariant | ImageFailure | None = None
) -> PlatformTeaser:
    limit = 280 if platform == "x" else 4096
    teaser = Teaser(platform, text, "HTML" if platform == "telegram" else None, len(text), limit,
                    False)  # fmt: skip
    return PlatformTeaser(platform=platform, teaser=teaser, image=image)


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_one_record_per_send_with_every_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var" / "nested"  # created on demand
    pub = DryRunPublisher("telegram", data_dir)
    failure = ImageFailure("telegram", "assets/x.jpg", "image not found: assets/x.jpg")
    item = make_item("telegram", "<b>Hi</b> 👋", failure)
    with caplog.at_level(logging.INFO, logger="bot.platforms.dryrun"):
        receipt = pub.send(make_post(), item)
    [record] = read_lines(data_dir / "outbox.jsonl")
    assert set(record) == KEYS
    assert record["platform"] == "telegram" and record["destination"] == "dryrun"
    assert record["post"] == "https://news.example/2026/11/28/post-0.html"
    assert record["title"] == "Dry run <b>post</b>"
    assert record["text"] == "<b>Hi</b> 👋" and record["parse_mode"] == "HTML"
    assert (record["length"], record["limit"]) == (len("<b>Hi</b> 👋"), 4096)
    assert record["image"] == image_json(failure)
    assert record["id"] == receipt.id and receipt.id.startswith("dryrun-")
    assert receipt.url is None
    at = datetime.fromisoformat(str(record["at"]))
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60
    assert len([r for r in caplog.records if r.levelno == logging.INFO]) == 1
    assert pub.platform == "telegram" and pub.destination == "dryrun"


def test_image_variant_is_described(tmp_path: Path) -> None:
    variant = ImageVariant("x", tmp_path / "a.jpg", "image/jpeg", 64, 48, 1234, "assets/a.jpg",
                           "ab" * 32, ("metadata stripped",))  # fmt: skip
    pub = DryRunPublisher("x", tmp_path)
    pub.send(make_post(), make_item("x", "teaser", variant))
    [record] = read_lines(tmp_path / "outbox.jsonl")
    assert record["image"] == image_json(variant)
    assert record["parse_mode"] is None and record["limit"] == 280


def test_threads_of_two_publishers_never_interleave(tmp_path: Path) -> None:
    pubs = [DryRunPublisher("telegram", tmp_path), DryRunPublisher("x", tmp_path)]
    big = "ä" * 20_000  # far beyond PIPE_BUF: atomicity must come from the lock
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        pub = pubs[n % 2]
        barrier.wait()
        for i in range(15):
            pub.send(make_post(n * 100 + i), make_item(pub.platform, f"{n}-{i} {big}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_lines(tmp_path / "outbox.jsonl")
    assert len(records) == 90
    assert len({r["id"] for r in records}) == 90
    assert sorted(str(r["text"]).split(" ")[0] for r in records) == sorted(
        f"{n}-{i}" for n in range(6) for i in range(15)
    )
    assert {r["platform"] for r in records} == {"telegram", "x"}


def _append_from_process(path: str, n: int) -> None:
    pub = DryRunPublisher("x", Path(path))
    for i in range(10):
        pub.send(make_post(n * 100 + i), make_item("x", f"p{n}-{i} " + "z" * 70_000))


def test_processes_append_whole_lines(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_from_process, args=(str(tmp_path), n)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    records = read_lines(tmp_path / "outbox.jsonl")
    assert len(records) == 30
    assert all(str(r["text"]).endswith("z" * 70_000) for r in records)


@settings(max_examples=50, deadline=None)
@given(st.text() | st.sampled_from(["a\u2028b\u2029c\x85d\r\n", "뉴스 \x1c\x1d\x1e"]), st.text())
def test_any_unicode_round_trips_on_one_line(tmp_path_factory: pytest.TempPathFactory,
                                             text: str, title: str) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("outbox")
    DryRunPublisher("telegram", path).send(make_post(title=title), make_item("telegram", text))
    lines = (path / "outbox.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 1  # also for U+2028, U+0085 ...: any line reader sees one record
    record = json.loads(lines[0])
    assert record["text"] == text and record["title"] == title
