"""Reading posts in child processes gives exactly what reading them here gives, in order, and a
child that fails (killed, silent, never started) loses no file: the rest are read here."""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import signal
from pathlib import Path

import pytest

from bot.posts import Post
from bot.sources import parallel
from bot.sources.errors import PostFileError
from bot.sources.jekyll import iter_post_files, read_post
from bot.sources.site import SiteConfig

from .conftest import SiteBuilder


def mixed_site(builder: SiteBuilder, n: int = 60) -> SiteConfig:
    """Good posts of every shape next to broken ones, across category folders."""
    builder.configure(excerpt_separator="<!--more-->")
    for i in range(n):
        folder = ["_posts", "tech/_posts", "news/world/_posts/2024"][i % 3]
        name = f"{folder}/2024-0{1 + i % 9}-1{i % 10}-post-{i}.md"
        kind = i % 6
        if kind == 0:
            builder.raw(name, "---\ntitle: [unclosed\n---\nbody\n")  # YAML error, with a line
        elif kind == 1:
            builder.raw(name, "no front matter at all\n")
        elif kind == 2:
            builder.post(name, {"date": "2024-05-06 07:08:09 +0900", "tags": ["a", f"n{i}"],
                                "extra_key": {"nested": [1, 2, {"deep": True}]},
                                "when": "2020-01-01", "image": "/img/a.png"},
                         body="<p>HTML <b>lead</b> 문단.</p>\n\nMore.\n")
        elif kind == 3:
            builder.post(name, {"published": False, "slug": "슬러그", "excerpt": "요약 {i}"})
        elif kind == 4:
            builder.raw(name, f"---\ntitle: 'Anchors {i}'\nlist: &a [x, y]\nagain: *a\n"
                              "date: 2030-01-01\n---\nLead.<!--more-->rest\n")
        else:
            builder.raw(name, b"---\ntitle: EUC-KR\n---\n\xb1\xe2\xbb\xe7\n")  # not UTF-8
    builder.raw("_posts/notes.txt", "not a post")
    return builder.site()


def same(a: Post | PostFileError, b: Post | PostFileError) -> bool:
    if isinstance(a, PostFileError) or isinstance(b, PostFileError):
        return (isinstance(a, PostFileError) and isinstance(b, PostFileError)
                and (a.reason, a.line) == (b.reason, b.line))
    # ``extra`` is left out of Post equality: compare every field, that one included.
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(Post)) \
        and type(a.path) is type(b.path) and a.date.tzinfo == b.date.tzinfo


def serial(site: SiteConfig, paths: list[Path]) -> list[Post | PostFileError]:
    out: list[Post | PostFileError] = []
    for path in paths:
        try:
            out.append(read_post(site, path))
        except PostFileError as exc:
            out.append(exc)
    return out


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Children for a test-sized site, in many chunks (the order across children is tested)."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 7)


def no_serial_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a file read in this process fails the test: the children must do it."""
    def refuse(*_args: object) -> None:
        raise AssertionError("read in the scanning process, not by a child")

    monkeypatch.setattr(parallel, "_serially", refuse)


def test_children_read_exactly_what_one_process_reads(site_builder: SiteBuilder,
                                                      small_chunks: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    site = mixed_site(site_builder)
    paths = list(iter_post_files(site))
    assert len(paths) == 60
    expected = serial(site, paths)
    no_serial_reading(monkeypatch)
    got = list(parallel.read_in_order(site, paths, processes=3))
    assert [p for p, _ in got] == paths
    assert all(same(a, b) for (_, a), b in zip(got, expected, strict=True))
    assert sum(isinstance(r, PostFileError) for r in expected) == 30  # the mix is real
    assert any(isinstance(r, Post) and r.extra.get("extra_key") for r in expected)


def test_a_path_named_otherwise_comes_back_as_the_site_names_it(
        site_builder: SiteBuilder, small_chunks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    site = mixed_site(site_builder, 12)
    paths = [site.root / "tech" / ".." / p.relative_to(site.root) for p in iter_post_files(site)]
    expected = serial(site, paths)
    no_serial_reading(monkeypatch)
    got = list(parallel.read_in_order(site, paths, processes=2))
    assert all(same(a, b) for (_, a), b in zip(got, expected, strict=True))
    posts = [r for _, r in got if isinstance(r, Post)]
    assert posts and all(".." not in p.path.parts for p in posts)


def test_few_files_are_read_here_without_children(site_builder: SiteBuilder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = mixed_site(site_builder, 12)
    monkeypatch.setattr(parallel, "_Pool", None)  # any use of a pool would fail loudly
    paths = list(iter_post_files(site))
    got = list(parallel.read_in_order(site, paths, processes=4))
    assert all(same(a, b) for (_, a), b in zip(got, serial(site, paths), strict=True))


class FailingPool(parallel._Pool):
    """A real pool whose first child gets chunks 0 and 2 only, then is killed (it ended) or
    stopped with its pipes open (it went silent): chunk 4 never comes from it."""

    sig = signal.SIGKILL

    def _feed(self, chunks):  # type: ignore[no-untyped-def]
        site = pickle.dumps(self.site)
        for child in self.children:
            parallel._write_frame(child.stdin, site)
        for index, chunk in enumerate(chunks):
            if index == 4:
                os.kill(self.children[0].pid, self.sig)
            if index >= 4 and index % self.size == 0:
                continue
            parallel._write_frame(self.children[index % self.size].stdin,
                                  pickle.dumps([str(p) for p in chunk]))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "silent"])
def test_a_child_that_dies_or_goes_silent_loses_no_file(
        site_builder: SiteBuilder, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, sig: signal.Signals) -> None:
    site = mixed_site(site_builder)
    paths = list(iter_post_files(site))
    monkeypatch.setattr(FailingPool, "sig", sig)
    monkeypatch.setattr(parallel, "_Pool", FailingPool)
    monkeypatch.setattr(parallel, "CHUNK_DEADLINE_S", 1.0)
    pids: list[int] = []
    real_stop = FailingPool.stop

    def stop(self: FailingPool) -> None:
        pids.extend(c.pid for c in self.children)
        real_stop(self)

    monkeypatch.setattr(FailingPool, "stop", stop)
    read_here: list[Path] = []
    real_serially = parallel._serially

    def serially(site_cfg: SiteConfig, chunk: list[Path]):  # type: ignore[no-untyped-def]
        read_here.extend(chunk)
        return real_serially(site_cfg, chunk)

    monkeypatch.setattr(parallel, "_serially", serially)
    with caplog.at_level(logging.WARNING, logger=parallel.__name__):
        got = list(parallel.read_in_order(site, paths, processes=2))
    assert [p for p, _ in got] == paths
    assert all(same(a, b) for (_, a), b in zip(got, serial(site, paths), strict=True))
    # What the children answered before the failure (up to chunk 3; the kill may beat the first
    # child to chunks 0 and 2) is kept; from the first unanswered chunk on, all is read here.
    answered = len(paths) - len(read_here)
    assert answered % 7 == 0 and answered <= 4 * 7 and read_here == paths[answered:]
    why = "ended" if sig == signal.SIGKILL else "silent for 1 s"
    assert any(why in r.getMessage() and "one by one" in r.getMessage()
               for r in caplog.records), caplog.text
    assert len(pids) == 2
    for pid in pids:  # every child was stopped and reaped, the stopped one too
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_children_that_cannot_start_leave_the_reading_here(
        site_builder: SiteBuilder, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    site = mixed_site(site_builder, 12)
    paths = list(iter_post_files(site))
    monkeypatch.setattr(parallel.sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.WARNING, logger=parallel.__name__):
        got = list(parallel.read_in_order(site, paths, processes=2))
    assert all(same(a, b) for (_, a), b in zip(got, serial(site, paths), strict=True))
    assert "could not start a reader process" in caplog.text


def test_a_caller_that_stops_early_leaves_no_child(site_builder: SiteBuilder,
                                                   small_chunks: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    site = mixed_site(site_builder)
    pools: list[parallel._Pool] = []

    class Recording(parallel._Pool):
        def start(self, chunks):  # type: ignore[no-untyped-def]
            pools.append(self)
            super().start(chunks)
            self.pids = [c.pid for c in self.children]

    monkeypatch.setattr(parallel, "_Pool", Recording)
    reader = parallel.read_in_order(site, list(iter_post_files(site)), processes=2)
    next(reader)
    reader.close()
    assert pools and pools[0].children == []
    for pid in pools[0].pids:  # type: ignore[attr-defined]
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_auto_is_the_usable_cpus_within_the_cap() -> None:
    assert 1 <= parallel.auto_processes() <= parallel.MAX_AUTO_PROCESSES
    assert parallel.auto_processes() == min(len(os.sched_getaffinity(0)),
                                            parallel.MAX_AUTO_PROCESSES)


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for whoever adopted it counts: it runs no more)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


def test_children_end_when_the_scanning_process_is_killed(site_builder: SiteBuilder,
                                                          tmp_path: Path) -> None:
    """kill -9 of a scan mid-read leaves no reader behind (their stdin closes; they end), and
    a Ctrl-C meant for the scan's process group does not reach them."""
    import subprocess
    import sys
    import time

    site = mixed_site(site_builder, 60)
    script = tmp_path / "scan.py"
    script.write_text(f"""
import sys, time
from pathlib import Path
from bot.sources import parallel
from bot.sources.jekyll import iter_post_files
from bot.sources.site import SiteConfig
parallel.MIN_FILES, parallel.CHUNK = 1, 2
started = []
class Seen(parallel._Pool):
    def start(self, chunks):
        super().start(chunks)
        started.extend(c.pid for c in self.children)
    def _feed(self, chunks):  # two chunks, and the pipes left open: the readers wait for more
        import pickle
        for child in self.children:
            parallel._write_frame(child.stdin, pickle.dumps(self.site))
        for index, chunk in enumerate(chunks[:2]):
            parallel._write_frame(self.children[index].stdin,
                                  pickle.dumps([str(p) for p in chunk]))
parallel._Pool = Seen
site = SiteConfig.load(Path({str(site.root)!r}))
reader = parallel.read_in_order(site, list(iter_post_files(site)), processes=2)
next(reader)
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # after the readers started: theirs is the default
print(" ".join(map(str, started)), flush=True)
time.sleep(60)
""")
    scan = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert scan.stdout is not None
        pids = [int(p) for p in scan.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
        os.killpg(scan.pid, signal.SIGINT)  # what Ctrl-C sends the scan's process group
        time.sleep(0.5)
        assert not any(gone(p) for p in pids), "a Ctrl-C for the scan reached its readers"
        scan.kill()
        scan.wait(timeout=5)
        deadline = time.monotonic() + 10
        while not all(gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(gone(p) for p in pids)
    finally:
        if scan.poll() is None:
            scan.kill()
