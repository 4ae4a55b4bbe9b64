"""The hostile-corpus suite's child processes, each measured from outside (time, peak RSS).

``reads``: every file through ``bot.sources.jekyll.read_post``, the one reader of check, scan,
preview and delivery, timed one by one: "files read over 1 s" is about this read and nothing
else (a preview's time is mostly the interpreter starting).

``images``: the image decision of every post with an image, for both platforms, through
``bot.delivery.content.prepare`` (what preview and delivery call), with the hostile host trusted
and nothing else: ``ImageResolver(trusted_hosts=["127.0.0.1:<port>"])``, as an operator trusts
one intranet image server.  So the bombs, drips and broken images of that host are fetched and
must fail alone, while every redirect to loopback, decimal, mapped or other non-global addresses
must still be refused (the canary port counts any request that gets through).  Four threads, a
worker's default concurrency.

Usage: ``python -m proofs.hostile_child reads|images ARGS.json OUT.json``.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def _load_site(site_dir: str):  # -> SiteConfig
    from bot.sources.site import SiteConfig

    return SiteConfig.load(Path(site_dir))


def reads(args: dict[str, Any]) -> list[dict[str, Any]]:
    from bot.sources.jekyll import PostFileError, read_post

    site = _load_site(args["site"])
    rows = []
    for rel in args["files"]:
        started = time.perf_counter()
        outcome, reason = "post", ""
        try:
            read_post(site, site.root / rel)
        except PostFileError as exc:
            outcome, reason = "bad", exc.reason
        except BaseException as exc:  # read_post promises a PostFileError for anything
            outcome, reason = "crash", f"{type(exc).__name__}: {exc}"[:300]
        rows.append({"file": rel, "outcome": outcome, "reason": reason,
                     "seconds": time.perf_counter() - started})
    return rows


def images(args: dict[str, Any]) -> list[dict[str, Any]]:
    from bot.delivery.content import ContentTools, image_json, prepare
    from bot.images import ImageResolver
    from bot.sources.jekyll import PostFileError, read_post
    from bot.teasers import TeaserRenderer

    site = _load_site(args["site"])
    tools = ContentTools(
        site=site,
        renderer=TeaserRenderer(None, hashtag_max=3),
        images=ImageResolver(site_dir=site.root, site_url=site.url,
                             cache_dir=Path(args["cache"]), allow_private_hosts=False,
                             trusted_hosts=args["trusted"], timeout=args["timeout"],
                             deadline=args["deadline"]),
    )
    jobs = []
    for rel in args["files"]:
        try:
            post = read_post(site, site.root / rel)
        except PostFileError:
            continue
        if post.image:
            jobs += [(rel, post, platform) for platform in ("telegram", "x")]

    def decide(job: tuple[str, Any, str]) -> dict[str, Any]:
        rel, post, platform = job
        started = time.perf_counter()
        row: dict[str, Any] = {"file": rel, "platform": platform}
        try:
            item = prepare(tools, post, platform)
            row["image"] = image_json(item.image)
            row["length"], row["limit"] = item.teaser.length, item.teaser.limit
        except BaseException as exc:  # prepare promises a decision, never an exception
            row["crash"] = f"{type(exc).__name__}: {exc}"[:300]
        row["seconds"] = time.perf_counter() - started
        return row

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(decide, jobs))


def main(argv: list[str]) -> int:
    what, args_file, out_file = argv
    args = json.loads(Path(args_file).read_text(encoding="utf-8"))
    rows = {"reads": reads, "images": images}[what](args)
    Path(out_file).write_text(json.dumps(rows, ensure_ascii=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
