"""The planner against a real Redis and real post files (dry-run destinations)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from delivery_helpers import Queue, hours_ago, now_utc, write_post

import bot.delivery.planner as planner
from bot.delivery.planner import plan_manual, scan


def states(svc, url: str) -> dict[str, tuple[str, str]]:
    return {r.platform: (r.state, r.reason) for r in svc.state.records(post_url=url)}


def baseline(svc) -> None:
    report = scan(svc, enqueue=Queue())
    assert report.baseline


def test_first_run_records_every_post_as_baseline_and_sends_nothing(site: Path, make_services):
    write_post(site, "old-one", hours_ago(5))
    write_post(site, "old-two", hours_ago(1))
    svc = make_services()
    queue = Queue()
    report = scan(svc, enqueue=queue)
    assert report.baseline and report.new == 2 and report.skipped == 4
    assert queue.keys == []
    assert all(r.state == "skipped" and r.reason == "baseline" for r in svc.state.records())
    assert svc.state.baseline_done(svc.site_key)

    path = write_post(site, "fresh", now_utc() - timedelta(minutes=1))
    report = scan(svc, enqueue=queue)
    assert not report.baseline and report.new == 1 and report.unchanged == 2
    assert report.queued == 2 and len(queue.keys) == 2
    post = svc.find_post_by_url(svc.state.get_by_key(queue.keys[0]).post)
    assert post is not None and post.path == path
    assert {r.state for r in svc.state.records(state="queued")} == {"queued"}


def test_a_first_scan_read_by_child_processes_plans_what_one_process_would(
        site: Path, make_services, monkeypatch: pytest.MonkeyPatch):
    """Every post of the baseline recorded, the scheduled one waiting, each bad file reported
    with the reason a serial read gives, and no file read in the scanning process."""
    from bot.sources import parallel
    from bot.sources.jekyll import PostFileError, iter_post_files, read_post

    for i in range(14):
        write_post(site, f"old-{i}", hours_ago(30 + i))
    future = write_post(site, "embargoed", now_utc() + timedelta(days=2))
    (site / "_posts" / "2024-01-02-broken.md").write_text("---\ntitle: [x\n---\n", "utf-8")
    (site / "_posts" / "2024-01-03-bare.md").write_text("no front matter\n", "utf-8")
    svc = make_services(scan_processes=2)
    expected_bad = {}
    for path in iter_post_files(svc.site):
        try:
            read_post(svc.site, path)
        except PostFileError as exc:
            expected_bad[path.name] = (exc.reason, exc.line)
    assert len(expected_bad) == 2
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 3)
    monkeypatch.setattr(parallel, "_serially", lambda *a: pytest.fail("read here, not by a child"))
    queue = Queue()
    report = scan(svc, enqueue=queue)
    assert report.baseline and report.files == 17 and report.new == 15 and queue.keys == []
    assert {b.path.name: (b.reason, b.line) for b in report.bad} == expected_bad
    records = svc.state.records()
    assert len(records) == 30
    waiting = [r for r in records if r.state == "waiting"]
    assert len(waiting) == 2 and all(r.reason.startswith("scheduled for ") for r in waiting)
    assert all(r.reason == "baseline" for r in records if r not in waiting)
    assert svc.find_post_by_url(waiting[0].post).path == future


def test_a_baseline_logs_one_line_not_one_per_record(site: Path, make_services,
                                                      caplog: pytest.LogCaptureFixture):
    for i in range(5):
        write_post(site, f"old-{i}", hours_ago(30 + i))
    write_post(site, "embargoed", now_utc() + timedelta(days=2))
    svc = make_services()
    with caplog.at_level(logging.DEBUG, logger=planner.__name__):
        scan(svc, enqueue=Queue())
    by_level = {level: [r.getMessage() for r in caplog.records if r.levelno == level
                        and "state_change" in r.getMessage()]
                for level in (logging.DEBUG, logging.INFO)}
    # The waiting post is news for an editor; the 10 baseline records are kept for DEBUG.
    assert len(by_level[logging.INFO]) == 2
    assert all("scheduled for" in m for m in by_level[logging.INFO])
    assert len(by_level[logging.DEBUG]) == 10
    assert all("reason=baseline" in m for m in by_level[logging.DEBUG])
    (summary,) = [r.getMessage() for r in caplog.records
                  if r.levelno == logging.INFO and r.getMessage().startswith("event=scan")]
    assert "baseline=true" in summary.lower() and "new=6" in summary and "skipped=10" in summary


def test_old_post_is_skipped_as_stale(site: Path, make_services):
    svc = make_services(max_age_hours=48)
    baseline(svc)
    write_post(site, "old", hours_ago(72))
    queue = Queue()
    report = scan(svc, enqueue=queue)
    assert report.skipped == 2 and queue.keys == []
    (record, *_) = svc.state.records()
    assert record.state == "skipped"
    assert record.reason == "stale (first seen 72 h after its date)"


def test_future_post_waits_on_the_schedule_until_its_date(site: Path, make_services):
    svc = make_services()
    baseline(svc)
    when = now_utc() + timedelta(hours=2)
    write_post(site, "later", when)
    queue = Queue()
    report = scan(svc, enqueue=queue)
    assert report.waiting == 2 and queue.keys == []
    records = svc.state.records()
    assert {r.state for r in records} == {"waiting"}
    assert {r.scheduled_at for r in records} == {when.timestamp()}
    assert svc.state.promote_due(now=when.timestamp() - 1) == []
    promoted = svc.state.promote_due(now=when.timestamp() + 1)
    assert sorted(r.key for r in promoted) == sorted(r.key for r in records)
    assert {r.state for r in promoted} == {"queued"}


def test_published_false_waits_and_flipping_it_publishes(site: Path, make_services):
    svc = make_services()
    baseline(svc)
    when = now_utc() - timedelta(minutes=5)
    write_post(site, "draft", when, extra="published: false")
    queue = Queue()
    scan(svc, enqueue=queue)
    url = svc.state.records()[0].post
    assert set(states(svc, url).values()) == {("waiting", "published: false")}
    assert queue.keys == []

    write_post(site, "draft", when, extra="social: false")
    report = scan(svc, enqueue=queue)
    assert report.changed == 1 and queue.keys == []
    assert set(states(svc, url).values()) == {("waiting", "social: false")}

    write_post(site, "draft", when, extra="published: true")
    report = scan(svc, enqueue=queue)
    assert report.queued == 2 and len(queue.keys) == 2
    assert {s for s, _ in states(svc, url).values()} == {"queued"}


def test_editing_a_sent_post_never_sends_it_again(site: Path, make_services):
    svc = make_services()
    baseline(svc)
    when = now_utc() - timedelta(minutes=5)
    write_post(site, "story", when)
    queue = Queue()
    scan(svc, enqueue=queue)
    for rec in svc.state.records():
        svc.state.editor_resolve(*rec.ref, "mark_sent", "test")
    write_post(site, "story", when, title="Story with a corrected title")
    queue.keys.clear()
    report = scan(svc, enqueue=queue)
    assert report.changed == 1 and report.new == 0 and queue.keys == []
    assert {r.state for r in svc.state.records()} == {"sent"}


def test_bad_files_are_reported_and_logged_once_per_version(
    site: Path, make_services, caplog: pytest.LogCaptureFixture
):
    svc = make_services()
    (site / "_posts" / "no-date-in-name.md").write_text("---\ntitle: x\n---\nbody\n")
    broken = site / "_posts" / "2024-01-02-broken.md"
    broken.write_text("---\ntitle: [unclosed\n---\nbody\n")
    caplog.set_level(logging.INFO, logger="bot.delivery.planner")
    report = scan(svc, enqueue=Queue())
    assert sorted(b.rel_path for b in report.bad) == [
        "_posts/2024-01-02-broken.md", "_posts/no-date-in-name.md"]
    assert all(b.reason for b in report.bad)
    report = scan(svc, enqueue=Queue())
    assert report.bad == [] and report.unchanged == 2
    bad_lines = [r for r in caplog.records if "event=bad_file" in r.getMessage()]
    assert len(bad_lines) == 2
    broken.write_text("---\ntitle: [still unclosed\n---\nbody\n")
    report = scan(svc, enqueue=Queue())
    assert [b.rel_path for b in report.bad] == ["_posts/2024-01-02-broken.md"]


def test_two_files_with_one_url_keep_the_first(site: Path, make_services):
    svc = make_services()
    baseline(svc)
    when = now_utc() - timedelta(minutes=5)
    first = write_post(site, "same", when)
    scan(svc, enqueue=Queue())
    twin = site / "_posts" / "sub" / first.name
    twin.parent.mkdir()
    twin.write_text(first.read_text())
    report = scan(svc, enqueue=Queue())
    assert [b.rel_path for b in report.bad] == ["_posts/sub/" + first.name]
    assert "same URL as" in report.bad[0].reason


def test_backfill_publishes_the_newest_unsent_posts(site: Path, make_services):
    for i in range(4):
        write_post(site, f"p{i}", hours_ago(100 - i))  # p3 is the newest
    svc = make_services()
    baseline(svc)
    queue = Queue()
    report = scan(svc, backfill=2, enqueue=queue)
    assert report.backfilled == 2 and len(queue.keys) == 4
    queued = {svc.state.get_by_key(k).post.rsplit("/", 1)[-1] for k in queue.keys}
    assert queued == {"p3.html", "p2.html"}
    # Once sent, a post is not backfilled again: the next two go.
    for key in queue.keys:
        svc.state.editor_resolve(*svc.state.get_by_key(key).ref, "mark_sent", "test")
    queue.keys.clear()
    scan(svc, backfill=2, enqueue=queue)
    queued = {svc.state.get_by_key(k).post.rsplit("/", 1)[-1] for k in queue.keys}
    assert queued == {"p1.html", "p0.html"}


def test_unchanged_rescan_parses_nothing(site: Path, make_services,
                                         monkeypatch: pytest.MonkeyPatch):
    for i in range(60):
        write_post(site, f"bulk{i}", hours_ago(200 + i), image=False)
    svc = make_services()
    parsed: list[Path] = []
    real = planner.read_in_order

    def counting(site_cfg, paths, **kwargs):
        parsed.extend(Path(p) for p in paths)
        return real(site_cfg, paths, **kwargs)

    monkeypatch.setattr(planner, "read_in_order", counting)
    scan(svc, enqueue=Queue())
    assert len(parsed) == 60
    parsed.clear()
    report = scan(svc, enqueue=Queue())
    assert parsed == [] and report.unchanged == 60
    touched = write_post(site, "bulk7", hours_ago(207), image=False, body="Edited.")
    report = scan(svc, enqueue=Queue())
    assert parsed == [touched] and report.changed == 1


def test_path_scan_reads_only_the_given_files(site: Path, make_services,
                                              monkeypatch: pytest.MonkeyPatch):
    write_post(site, "a", hours_ago(1))
    svc = make_services()
    baseline(svc)
    new = write_post(site, "b", now_utc() - timedelta(minutes=1))
    write_post(site, "c", now_utc() - timedelta(minutes=1))
    queue = Queue()
    report = scan(svc, paths=[new, site / "README.md"], enqueue=queue)
    assert not report.full and report.files == 1 and report.new == 1 and len(queue.keys) == 2


def test_editor_push_queues_a_skipped_post_and_force_resends_a_sent_one(
    site: Path, make_services
):
    write_post(site, "old", hours_ago(5), extra="published: false")
    svc = make_services()
    baseline(svc)
    post = svc.find_post_by_url(svc.state.records()[0].post)
    queue = Queue()
    records = plan_manual(svc, post, ["telegram"], force=False, who="cli:ed", enqueue=queue)
    assert [(r.platform, r.state, r.extra.get("manual")) for r in records] == [
        ("telegram", "queued", "cli:ed")]
    assert queue.keys == [records[0].key]
    svc.state.editor_resolve(*records[0].ref, "mark_sent", "test")
    again = plan_manual(svc, post, ["telegram"], force=False, who="cli:ed", enqueue=queue)
    assert again[0].state == "sent" and len(queue.keys) == 1
    forced = plan_manual(svc, post, ["telegram"], force=True, who="cli:ed", enqueue=queue)
    assert forced[0].state == "queued" and len(queue.keys) == 2


def test_a_file_event_cannot_bring_in_what_a_full_scan_leaves_out(
    site: Path, make_services, tmp_path: Path
):
    """Regression: a post symlinked from outside the site was skipped by full scans but read,
    planned and published through a file event (an embargoed file went out)."""
    svc = make_services()
    baseline(svc)
    private = tmp_path / "private"
    (private / "_posts").mkdir(parents=True)
    fresh = now_utc() - timedelta(minutes=1)
    embargo = write_post(private, "embargo", fresh, title="EMBARGOED")
    write_post(private, "embargo-two", fresh, title="EMBARGOED too")
    link = site / "_posts" / embargo.name
    link.symlink_to(embargo)
    (site / "_posts" / "private").symlink_to(private / "_posts")
    (site / "vendor" / "theme" / "_posts").mkdir(parents=True)
    vendored = site / "vendor" / "theme" / "_posts" / f"{fresh:%Y-%m-%d}-theme-demo.md"
    vendored.write_text((private / "_posts" / embargo.name).read_text(), encoding="utf-8")
    events = [link, site / "_posts" / "private" / f"{fresh:%Y-%m-%d}-embargo-two.md", vendored]
    queue = Queue()
    report = scan(svc, paths=events, enqueue=queue)
    assert (report.files, report.new, report.bad, queue.keys) == (0, 0, [], [])
    report = scan(svc, enqueue=queue)  # and the full scan agrees
    assert (report.new, report.bad, queue.keys) == (0, [], [])
    assert svc.state.records() == []


def test_a_deeply_nested_toml_file_is_bad_and_the_baseline_completes(site: Path, make_services):
    """Regression: 5,000 nested TOML arrays raised RecursionError out of the reader and the
    first scan (the baseline) aborted, so the bot never started publishing."""
    write_post(site, "good", hours_ago(3))
    deep = site / "_posts" / "2024-01-02-deep.md"
    deep.write_text('+++\ntitle = "x"\nx = ' + "[" * 5000 + "]" * 5000 + "\n+++\nbody\n",
                    encoding="utf-8")
    svc = make_services()
    report = scan(svc, enqueue=Queue())
    assert report.baseline and svc.state.baseline_done(svc.site_key)
    assert report.new == 1
    [bad] = report.bad
    assert bad.rel_path == "_posts/2024-01-02-deep.md" and "nested too deeply" in bad.reason


def test_a_file_name_that_is_not_utf8_does_not_stop_the_scan(site: Path, make_services):
    """Regression (hostile corpus): the name reached Redis as a str with surrogate escapes and
    the UnicodeEncodeError aborted the scan, so no post after it was ever planned."""
    write_post(site, "good", hours_ago(3))
    with open(os.fsencode(site / "_posts") + b"/2024-01-02-\xff\xfe.md", "wb") as fh:
        fh.write(b"---\ntitle: x\n---\nbody\n")
    svc = make_services()
    report = scan(svc, enqueue=Queue())
    assert report.baseline and svc.state.baseline_done(svc.site_key)
    assert report.new == 1
    [bad] = report.bad
    assert bad.rel_path == "_posts/2024-01-02-\\xff\\xfe.md" and "UTF-8" in bad.reason
    report = scan(svc, enqueue=Queue())  # the signature was stored: not read again
    assert report.bad == [] and report.unchanged == 2


def test_a_bad_file_reason_stays_short_in_the_log_and_the_notice(
    site: Path, make_services, caplog: pytest.LogCaptureFixture
):
    """Regression: reasons quoted the value whole; nested YAML aliases in `date:` made a 300 KB
    reason from 300 bytes (gigabytes from 500), and a long quoted date went out as is."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 6)]
    (site / "_posts" / "2024-01-02-aliases.md").write_text(
        "---\ntitle: x\n" + "\n".join(levels) + "\ndate: *a5\n---\nbody\n", encoding="utf-8")
    (site / "_posts" / "2024-01-03-long-date.md").write_text(
        "---\ntitle: x\ndate: '" + "2024-01-03 " * 6000 + "'\n---\nbody\n", encoding="utf-8")
    svc = make_services()
    notices: list = []
    svc.notify = lambda notice: notices.append(notice) or True  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="bot.delivery.planner")
    report = scan(svc, enqueue=Queue())
    assert sorted(b.rel_path for b in report.bad) == [
        "_posts/2024-01-02-aliases.md", "_posts/2024-01-03-long-date.md"]
    lines = [r.getMessage() for r in caplog.records if "event=bad_file" in r.getMessage()]
    assert len(lines) == 2 and all(len(line) < 800 for line in lines)
    assert len(notices) == 2 and all(len(n.reason) <= 600 for n in notices)
    assert all(len(b.reason) <= 500 for b in report.bad)


def _snapshot(svc) -> dict:
    """What a scan leaves in Redis, without the clocks (first_seen, created_at, history)."""
    import json as _json

    client, k, site_key = svc.state.client, svc.state.keys, svc.site_key
    seen = {url: {f: v for f, v in _json.loads(raw).items() if f != "first_seen"}
            for url, raw in client.hgetall(k.site_seen(site_key)).items()}
    records = {r.key: (r.post, r.platform, r.state, r.reason, r.scheduled_at)
               for r in svc.state.records()}
    return {"seen": seen, "ids": client.hgetall(k.site_ids(site_key)),
            "names": client.hgetall(k.site_names(site_key)), "records": records,
            "files": sorted(client.hgetall(k.site_files(site_key)))}


def _wipe(svc) -> None:
    client = svc.state.client
    for key in client.scan_iter(f"{svc.state.namespace}*"):
        client.delete(key)


def _report(report) -> dict:
    out = report.to_json()
    out["bad"] = sorted((b["file"], b["reason"]) for b in out["bad"])
    return out


def test_batched_planning_leaves_what_planning_one_post_at_a_time_leaves(
        site: Path, make_services, monkeypatch: pytest.MonkeyPatch):
    # The first run plans posts in pipelined batches; a batch must decide exactly as the posts
    # planned one after the other: same URL twice, shared titles and excerpts, a future post,
    # `published: false`, a renamed file, batches that end anywhere.
    for i in range(5):
        write_post(site, f"digest-{i}", hours_ago(10 + i), title="Weekly digest")
    write_post(site, "same-a", hours_ago(3), extra="permalink: /same/")
    write_post(site, "same-b", hours_ago(2), extra="permalink: /same/")
    write_post(site, "later", now_utc() + timedelta(days=2))
    write_post(site, "draft", hours_ago(1), extra="published: false")
    svc = make_services()
    fresh = now_utc() - timedelta(minutes=1)

    def sequential(svc, batch, now, report, enqueue, *, baseline):
        for post, rel, sig in batch:
            planner._plan_post(svc, post, rel, sig, now, report, enqueue, baseline=baseline)

    def both_ways(step) -> list[dict]:
        seen = []
        for batch_size, plan in ((2, planner._plan_batch), (3, sequential)):
            _wipe(svc)
            monkeypatch.setattr(planner, "BATCH", batch_size)
            monkeypatch.setattr(planner, "_plan_batch", plan)
            reports = step()
            seen.append({"reports": reports, "state": _snapshot(svc)})
        return seen

    def first_run_then_edits() -> list[dict]:
        reports = [_report(scan(svc, enqueue=Queue()))]
        (site / "_posts" / f"{hours_ago(12):%Y-%m-%d}-digest-2.md").rename(
            site / "_posts" / f"{hours_ago(12):%Y-%m-%d}-digest-two.md")  # a rename
        write_post(site, "fresh", fresh, title="Weekly digest")
        reports.append(_report(scan(svc, enqueue=Queue())))
        (site / "_posts" / f"{hours_ago(12):%Y-%m-%d}-digest-two.md").rename(
            site / "_posts" / f"{hours_ago(12):%Y-%m-%d}-digest-2.md")
        (site / "_posts" / f"{fresh:%Y-%m-%d}-fresh.md").unlink()
        return reports

    batched, one_by_one = both_ways(first_run_then_edits)
    for part in ("reports", "seen", "ids", "names", "records", "files"):
        a = batched["reports"] if part == "reports" else batched["state"][part]
        b = one_by_one["reports"] if part == "reports" else one_by_one["state"][part]
        assert a == b, part
    first, second = batched["reports"]
    assert first["baseline"] and first["new"] == 8 and len(first["bad"]) == 1
    assert second["new"] == 1 and second["changed"] == 1
