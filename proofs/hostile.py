"""Proof: a hostile corpus.  ``python -m proofs hostile [--short|--long]`` (with the other proof
suites) or ``python -m proofs.hostile [--short|--long] [--seed N] [--keep]`` on its own.

What it does, with the real ``newsbot`` commands as child processes (``LOG_LEVEL=DEBUG``, made-up
credentials, the fake Telegram and X servers and an embedded Redis started here):

pass A, default settings (private image hosts refused):
  ``scan --json`` of the empty site (the first scan records a baseline), then the corpus
  (``hostile_corpus``) is written; ``check --json``; ``scan --json`` (queues the new posts);
  ``newsbot run`` delivers them to the fakes and sends the editors' notices while
  ``preview --json`` runs for every file; ``read_post`` is timed per file in a child; the
  records settle; ``status --json --all``.  Every request reaching the hostile server in this
  pass is an unsafe fetch.
pass B, the hostile host trusted (``127.0.0.1:<port>`` only): every image decision through
  ``prepare`` in a child (``hostile_child images``): bombs, drips and broken images are fetched
  and must fail alone; a request reaching the canary port, or the hostile port under another
  name, is an unsafe fetch.
templates: ``preview`` with each hostile teaser template: each must be refused in one line.

Then the table: files tried, crashes, reads over 1 s, peak RSS, unsafe fetches, sends the fakes
refused for format or length, secrets in any output, and the rest of the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis

from bot.redis_embedded import start_embedded
from bot.state import State
from bot.state.notices import NoticeQueue
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

from .harness import Mode, credentials, wait_until, workdir
from .hostile_corpus import CANARY, CORPUS_SEED, Corpus, Hosts, generate, write_config
from .hostile_judge import Journals, count_in, log_injection, unsafe_decision
from .hostile_procs import NEWSBOT, Ran, Runner
from .hostile_server import HostileServer
from .report import Result

__all__ = ["run"]

SUITE = "hostile"
RSS_LIMIT_MB = 300
READ_LIMIT_S = 1.0
SCALE = 0.01
CHANNEL = "@hostilechannel"
CHANNEL_ID = -1001122334455
EDITOR_CHAT = -1005566778899
EDITOR = 4242
#: Records in these states still have work to do; "waiting" ones only when they wait for time.
BUSY = ("new", "queued", "sending", "retry_wait")
STABLE_WAITS = ("scheduled for 2999", "published: false", "social: false")

_T = TypeVar("_T")


class _Suite:
    def __init__(self, work: Path, long: bool, seed: int, result: Result) -> None:
        self.work, self.long, self.seed, self.result = work, long, seed, result
        self.timeouts = {"cmd": 900.0 if long else 300.0, "preview": 120.0}
        self.token, self.keys = credentials()
        self.server = HostileServer().start()
        self.tg = FakeTelegram(token=self.token, time_scale=SCALE, enforce_rate_limits=True)
        self.tg.start()
        self.tg.add_chat(CHANNEL_ID, CHANNEL)
        self.tg.add_chat(EDITOR_CHAT, None, type="supergroup", title="Editors")
        self.x = FakeX(time_scale=SCALE, credentials=self.keys, rate_limit_15min=1_000_000,
                       user_24h_limit=1_000_000, app_24h_limit=1_000_000).start()
        self.redis = start_embedded(work / "suite-redis")
        self.client = redis.Redis.from_url(self.redis.url, decode_responses=True)
        self.site = work / "site"
        self.runner = Runner(work / "logs", self._env())
        self.corpus: Corpus | None = None
        self.rows: list[dict[str, Any]] = []
        self.unsafe: list[str] = []
        self.crashes: list[str] = []
        self.children: list[Path] = []
        self.phases: dict[str, float] = {}
        self.records: dict[tuple[str, str], tuple[str, str]] = {}

    def _env(self) -> dict[str, str]:
        key, secret, token, token_secret = self.keys
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work / "home"),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost",
            "SITE_DIR": str(self.site), "DATA_DIR": str(self.work / "var"),
            "REDIS_URL": self.redis.url, "LOG_LEVEL": "DEBUG", "MAX_AGE_HOURS": "10000000",
            "WAIT_FOR_LIVE": "false",
            "NEWSBOT_TESTING": "1", "RATE_TIME_SCALE": repr(SCALE), "SCAN_SECONDS": "3600",
            "TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_CHANNEL": CHANNEL,
            "TELEGRAM_API_URL": self.tg.base_url, "TELEGRAM_EDITOR_CHAT": str(EDITOR_CHAT),
            "TELEGRAM_EDITOR_IDS": str(EDITOR), "BOT_LANGUAGE": "en",
            "X_API_KEY": key, "X_API_SECRET": secret, "X_ACCESS_TOKEN": token,
            "X_ACCESS_TOKEN_SECRET": token_secret, "X_API_URL": self.x.base_url,
        }

    def secrets(self) -> dict[str, str]:
        names = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
        return {"TELEGRAM_BOT_TOKEN": self.token,
                "TELEGRAM_BOT_TOKEN (secret part)": self.token.split(":", 1)[1],
                **dict(zip(names, self.keys, strict=True)),
                "embedded Redis password": urlsplit(self.redis.url).password or ""}

    def close(self) -> None:
        self.server.stop()
        self.tg.stop()
        self.x.stop()
        self.client.close()
        self.redis.stop()

    # ------------------------------------------------------------------------ pass A
    def crash(self, ran: Ran) -> None:
        why = ran.crashed
        if why:
            self.crashes.append(f"{ran.name}: {why} ({ran.err.name})")

    def pass_a(self) -> None:
        r = self.result
        write_config(self.site)
        self.crash(self.runner.run("scan-baseline", [NEWSBOT, "scan", "--json"],
                                   timeout=self.timeouts["cmd"]))
        started = time.monotonic()
        self.corpus = corpus = generate(self.work, hosts=Hosts(self.server.port,
                                                               self.server.canary),
                                        seed=self.seed, posts=320 if self.long else 0,
                                        long=self.long)
        r.figure("corpus written, s", round(time.monotonic() - started, 1))
        since = time.time()
        check = self.runner.run("check", [NEWSBOT, "check", "--json"],
                                timeout=self.timeouts["cmd"], allowed=(0, 1))
        self.crash(check)
        with contextlib.suppress(ValueError):
            self.rows = json.loads(check.stdout())
        scan = self.runner.run("scan", [NEWSBOT, "scan", "--json"], timeout=self.timeouts["cmd"])
        self.crash(scan)
        report: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            report = json.loads(scan.stdout())
        r.figure("check: files / publishable / bad",
                 f"{len(self.rows)} / {sum(1 for x in self.rows if x.get('publishable'))} / "
                 f"{sum(1 for x in self.rows if not x.get('ok'))}")
        r.figure("scan: new / queued / waiting / bad",
                 f"{report.get('new')} / {report.get('queued')} / {report.get('waiting')} / "
                 f"{len(report.get('bad') or [])}")
        runner = self.runner.start("run", [NEWSBOT, "run"])
        ready = wait_until(lambda: " ready." in runner.text() or not runner.alive(), 120)
        if not ready or not runner.alive():
            self.crashes.append("run: did not start")
        self.phases["pass A: check and scans"] = time.monotonic() - started
        previews = self._previews(corpus)
        self.phases["pass A: previews and templates"] = time.monotonic() - started
        self._reads(corpus)
        settled = self._settle()
        status = self.runner.run("status", [NEWSBOT, "status", "--json", "--all"],
                                 timeout=self.timeouts["cmd"])
        self.crash(status)
        self.crash(self.runner.record(runner.stop()))
        self.phases["pass A: settled"] = time.monotonic() - started
        hits = [h for h in self.server.hits if h.at >= since]
        self.unsafe += [f"pass A: request reached the hostile server: {h.host}{h.path}"
                        for h in hits]
        self._judge_previews(previews)
        r.promise("deliveries settled (nothing left queued, sending or retrying)", settled,
                  "records still busy when the wait ran out")
        with contextlib.suppress(ValueError):
            report = json.loads(status.stdout())
            self.records = {(d["post"], d["platform"]): (d["state"], d["reason"] or "")
                            for d in report.get("deliveries", [])}
            counts = report.get("counts", {})
            r.figure("records by state", ", ".join(f"{k} {v}" for k, v in sorted(
                counts.items()) if v))
            r.figure("sends in doubt", counts.get("in_doubt", 0))
            r.promise("no send in doubt", not counts.get("in_doubt"), str(counts))

    def _previews(self, corpus: Corpus) -> dict[str, dict[str, Any]]:
        """``preview --json`` of every file and of a plain post with each hostile template,
        three at a time: file -> parsed output."""
        def one(rel: str) -> tuple[str, Ran]:
            return rel, self.runner.run("preview", [NEWSBOT, "preview", "--json",
                                                    str(self.site / rel)],
                                        timeout=self.timeouts["preview"], allowed=(0, 2))

        out: dict[str, dict[str, Any]] = {}
        times: list[float] = []
        with ThreadPoolExecutor(max_workers=3) as pool:
            templates = pool.submit(self._templates)
            for rel, ran in pool.map(one, [i.rel for i in corpus.items]):
                self.crash(ran)
                times.append(ran.seconds)
                if ran.rc == 0:
                    with contextlib.suppress(ValueError):
                        out[rel] = json.loads(ran.stdout())
            templates.result()
        self.result.figure("previews run / with a post / slowest, s",
                           f"{len(times)} / {len(out)} / {max(times, default=0):.1f}")
        return out

    def _child(self, what: str, args: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        args_file = self.work / f"{what}-args.json"
        out_file = self.work / f"{what}-out.json"
        args_file.write_text(json.dumps(args, ensure_ascii=True), encoding="utf-8")
        ran = self.runner.run(f"child-{what}", [sys.executable, "-m", "proofs.hostile_child",
                                                what, str(args_file), str(out_file)],
                              timeout=timeout, env={"PYTHONPATH": str(Path(__file__).parents[1])})
        self.crash(ran)
        self.children.append(out_file)
        try:
            return json.loads(out_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []

    def _reads(self, corpus: Corpus) -> None:
        rows = self._child("reads", {"site": str(self.site),
                                     "files": [i.rel for i in corpus.items]},
                           self.timeouts["cmd"])
        slow = [x for x in rows if x["seconds"] > READ_LIMIT_S]
        self.crashes += [f"read_post {x['file']!r}: {x['reason']}" for x in rows
                         if x["outcome"] == "crash"]
        slowest = max(rows, key=lambda x: x["seconds"], default=None)
        self.result.figure("files read (read_post, timed one by one)", len(rows))
        self.result.figure("files read over 1 s", len(slow))
        if slowest:
            self.result.figure("slowest read, s", f"{slowest['seconds']:.3f} "
                               f"({slowest['file'].rsplit('/', 1)[-1][:40]!r})")
        self.result.promise("no file read over 1 s", rows and not slow,
                            ", ".join(f"{x['file']!r} {x['seconds']:.2f}s" for x in slow[:5]))

    def _busy(self, state: State) -> int:
        records = state.records()
        return sum(1 for rec in records if rec.state in BUSY or (
            rec.state == "waiting" and not rec.reason.startswith(STABLE_WAITS)))

    def _settle(self) -> bool:
        state = State(self.client)
        notices = NoticeQueue(self.client)
        quiet_since: list[float] = []

        def done() -> bool:
            if self._busy(state) or notices.pending():
                quiet_since.clear()
                return False
            quiet_since.append(time.monotonic())
            return quiet_since[-1] - quiet_since[0] >= 2.0

        return bool(wait_until(done, 900 if self.long else 180, every=0.5))

    def _judge_previews(self, previews: dict[str, dict[str, Any]]) -> None:
        assert self.corpus is not None
        for item in self.corpus.items:
            data = previews.get(item.rel)
            if not data:
                continue
            for platform, teaser in data.get("teasers", {}).items():
                why = unsafe_decision(teaser.get("image"),
                                      must_refuse=item.image in ("refuse", "hostile", "redirect"))
                if why:
                    self.unsafe.append(f"pass A preview {item.rel!r} {platform}: {why}")

    # ------------------------------------------------------------------------ pass B
    def pass_b(self) -> None:
        assert self.corpus is not None
        files = [i.rel for i in self.corpus.items if i.image in ("refuse", "hostile", "redirect")]
        timeout, deadline = (10.0, 30.0) if self.long else (2.0, 6.0)
        self.result.note(f"pass B: hostile host 127.0.0.1:{self.server.port} trusted, image "
                         f"timeout {timeout:g} s, deadline {deadline:g} s"
                         + ("" if self.long else " (the product default is 10 s / 30 s)"))
        since = time.time()
        started = time.monotonic()
        rows = self._child("images", {"site": str(self.site), "files": files,
                                      "cache": str(self.work / "var-b" / "images"),
                                      "trusted": [f"127.0.0.1:{self.server.port}"],
                                      "timeout": timeout, "deadline": deadline},
                           self.timeouts["cmd"])
        self.phases["pass B"] = time.monotonic() - started
        kinds = {i.rel: i.image for i in self.corpus.items}
        trusted = f"127.0.0.1:{self.server.port}"
        for hit in self.server.hits:
            if hit.at < since:
                continue
            if hit.port == self.server.canary or hit.host != trusted:
                self.unsafe.append(f"pass B: request to {hit.host}{hit.path} (port {hit.port})")
        for row in rows:
            if "crash" in row:
                self.crashes.append(f"pass B prepare {row['file']!r}: {row['crash']}")
                continue
            why = unsafe_decision(row.get("image"),
                                  must_refuse=kinds[row["file"]] in ("refuse", "redirect"),
                                  origin=f"http://{trusted}")
            if why:
                self.unsafe.append(f"pass B {row['file']!r} {row['platform']}: {why}")
        slowest = max((x["seconds"] for x in rows), default=0.0)
        over = [x for x in rows if x["seconds"] > deadline + 5]
        outcomes = Counter((x.get("image") or {}).get("status", "none") for x in rows)
        self.result.figure("pass B image decisions (ok / failed)",
                           f"{len(rows)} ({outcomes.get('ok', 0)} / {outcomes.get('failed', 0)})")
        self.result.figure("pass B hostile-host requests",
                           len([h for h in self.server.hits if h.at >= since]))
        self.result.figure("pass B slowest image decision, s", round(slowest, 1))
        self.result.promise(f"every image decision within the deadline ({deadline:g} s) + 5 s",
                            rows and not over,
                            ", ".join(f"{x['file']!r} {x['seconds']:.0f}s" for x in over[:5]))

    # ------------------------------------------------------------------------ templates
    def _templates(self) -> None:
        assert self.corpus is not None
        plain = next((row["file"] for row in self.rows if row.get("publishable")), None)
        refused = 0
        for name, folder in self.corpus.templates:
            ran = self.runner.run(f"template-{name}", [NEWSBOT, "preview", "--json",
                                                       str(self.site / (plain or "none"))],
                                  timeout=self.timeouts["preview"], allowed=(2,),
                                  env={"TEMPLATES_DIR": str(folder)})
            self.crash(ran)
            if ran.rc == 2 and "template" in ran.stderr().lower():
                refused += 1
            else:
                self.result.note(f"template {name}: exit {ran.rc}: {ran.stderr()[:200]!r}")
        total = len(self.corpus.templates)
        self.result.figure("hostile templates refused", f"{refused} of {total}")
        self.result.promise("every hostile template refused in one line",
                            refused == total and total > 0, f"{total - refused} rendered")

    # ------------------------------------------------------------------------ verdicts
    def verdicts(self) -> None:
        r = self.result
        assert self.corpus is not None
        corpus = self.corpus
        journals = Journals.read(self.tg, self.x, str(CHANNEL), self.work / "journals.json")
        outputs = [p for ran in self.runner.ran for p in (ran.out, ran.err)]
        outputs += [*self.children, self.work / "journals.json"]
        logs = [ran.err for ran in self.runner.ran]

        r.figure("phases, s", ", ".join(f"{k} {v:.0f}" for k, v in self.phases.items()))
        r.figure("files tried (post files)", len(corpus.items))
        r.figure("classes covered", f"{len(corpus.classes()) } (missing: "
                 f"{', '.join(corpus.missing()) or 'none'})")
        r.promise("every class of the issue in the corpus", not corpus.missing(),
                  ", ".join(corpus.missing()))
        scans = [x for x in self.crashes if x.startswith("scan")]
        r.figure("scans crashed", len(scans))
        r.figure("commands crashed (all)", len(self.crashes))
        r.promise("no scan crashed", not scans, "; ".join(scans[:5]))
        r.promise("no command crashed (check, scans, previews, run, status, children)",
                  not self.crashes, "; ".join(self.crashes[:5]))

        by_rss = sorted(self.runner.ran, key=lambda x: x.rss_kb, reverse=True)
        peak = by_rss[0]
        r.figure("commands run", len(self.runner.ran))
        r.figure("peak RSS, MB (top 3)", ", ".join(f"{x.rss_kb / 1024:.0f} {x.name}"
                                                  for x in by_rss[:3]))
        r.promise(f"peak RSS at most {RSS_LIMIT_MB} MB", peak.rss_kb <= RSS_LIMIT_MB * 1024,
                  f"{peak.rss_kb / 1024:.0f} MB in {peak.name} ({peak.err.name})")

        outside = count_in(outputs, {"canary": CANARY})["canary"]
        r.figure("unsafe fetches", len(self.unsafe))
        r.figure("reads of files outside the site (canary in outputs)", outside)
        r.promise("no unsafe fetch", not self.unsafe, "; ".join(self.unsafe[:5]))
        r.promise("nothing outside the site read", outside == 0, f"{outside} canary hits")

        r.figure("sends to the fakes (Telegram / X posts)",
                 f"{journals.telegram_sends} / {journals.x_creates}")
        r.figure("sends refused by the fakes for format or length", len(journals.refused))
        r.promise("no send refused for format or length", not journals.refused,
                  "; ".join(sorted(set(journals.refused))[:5]))
        if journals.other_errors:
            r.note("other platform errors: " + "; ".join(sorted(set(journals.other_errors))[:5]))
        publishable = [row["url"] for row in self.rows if row.get("publishable")]
        copies = {url: journals.copies(url) for url in publishable}
        doubled = [u for u, (t, x) in copies.items() if t > 1 or x > 1]
        failed = {key: f"{state}: {reason}" for key, (state, reason) in self.records.items()
                  if state in ("failed", "skipped") and reason}
        lost = [f"{u} {p}" for u, counts in copies.items()
                for p, n in zip(("telegram", "x"), counts, strict=True)
                if n < 1 and (u, p) not in failed]
        both = sum(1 for t, x in copies.values() if t and x)
        r.figure("publishable posts on both platforms", f"{both} of {len(publishable)}")
        r.figure("deliveries failed or skipped with a reason", len(failed))
        for (url, platform), reason in sorted(failed.items())[:6]:
            r.note(f"{platform} {url[:70]}: {reason[:150]}")
        r.figure("editors' notices sent", journals.editor_messages)
        r.promise("no publishable post lost (sent, or failed or skipped with a reason)",
                  publishable and not lost, ", ".join(lost[:3]))
        r.promise("no post delivered twice", not doubled, ", ".join(doubled[:3]))

        hits = count_in(outputs, self.secrets())
        leaked = {k: v for k, v in hits.items() if v}
        r.figure("secrets in any output", sum(hits.values()))
        r.promise("no secret in any output", not leaked, str(leaked))
        injected = log_injection(logs)
        r.figure("raw control characters / forged lines in logs", sum(injected.values()))
        r.promise("log lines stay one record each (no raw controls)", not injected, str(injected))


def run(mode: Mode) -> Result:
    """The suite, as ``python -m proofs hostile`` calls it."""
    result = Result(SUITE, mode.name)
    seed = CORPUS_SEED if mode.seed is None else mode.seed
    result.note(f"corpus seed {seed}; time scaled: rate windows x{SCALE} (NEWSBOT_TESTING=1)")
    result.note("pass A: default settings, private image hosts refused: check, scans, "
                "preview of every file, delivery by `newsbot run` to the fakes")
    with workdir(SUITE, mode.keep) as work:
        suite = _Suite(work, mode.long, seed, result)
        try:
            suite.pass_a()
            suite.pass_b()
            suite.verdicts()
        finally:
            suite.close()
    return result


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
