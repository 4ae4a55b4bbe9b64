"""Benchmark: the front-matter split, before and after it became `JekyllHandler`, per post.

Plain script, not a test: `.venv/bin/python benchmarks/bench_front_matter.py [N]` (default 2,000
posts shaped like `bench_check`'s 20,000). Same files, same run, the variants taking turns:

- before: the reader's hand-rolled split as it was (`tests/sources/reference_split.py`, verbatim);
- after: what the reader does now, `JekyllHandler.split` then `.load`;
- `frontmatter.parse(text, handler=JekyllHandler())`, the python-frontmatter call the reader
  does not make (it strips the body; see `bot.sources.jekyll`);
- a whole `read_post` (file read, decode, split, build) with the old split and with the new.

CPU time per post (process_time), the best and the median of the rounds.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import frontmatter
from bench_check import build_site

from bot.sources import jekyll
from bot.sources.front_handler import JekyllHandler
from bot.sources.postpaths import iter_post_files
from bot.sources.site import SiteConfig

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 9


def _reference_split() -> Callable[[str], object]:
    spec = importlib.util.spec_from_file_location(
        "newsbot_reference_split", REPO / "tests/sources/reference_split.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._split  # type: ignore[no-any-return]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    old_split = _reference_split()
    new_split = jekyll._split
    handler = JekyllHandler()
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-front-"))
    try:
        build_site(work, n)
        site = SiteConfig.load(work)
        paths = sorted(iter_post_files(site))
        texts = [jekyll._decode(path.read_bytes()) for path in paths]
        for text in texts:  # the same values and body, or this compares nothing
            assert old_split(text) == new_split(text)

        def read_all(split: Callable[[str], object]) -> None:
            jekyll._split = split  # type: ignore[assignment]
            try:
                for path in paths:
                    jekyll.read_post(site, path)
            finally:
                jekyll._split = new_split

        variants: dict[str, Callable[[], object]] = {
            "split before (hand-rolled)": lambda: [old_split(t) for t in texts],
            "split after (handler split+load)": lambda: [new_split(t) for t in texts],
            "frontmatter.parse + handler": lambda: [
                frontmatter.parse(t, handler=handler) for t in texts
            ],
            "read_post, split before": lambda: read_all(old_split),
            "read_post, split after": lambda: read_all(new_split),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(ROUNDS):
            for name, run in variants.items():
                t0 = time.process_time()
                run()
                times[name].append((time.process_time() - t0) / n * 1e6)
        best = {name: min(v) for name, v in times.items()}
        print(f"{n} posts, {ROUNDS} rounds, CPU µs per post (best / median):")
        for name, v in times.items():
            print(f"  {name:34s} {min(v):7.1f} / {statistics.median(v):7.1f}")
        before, after = best["split before (hand-rolled)"], best["split after (handler split+load)"]
        parse = best["frontmatter.parse + handler"]
        whole_before, whole_after = best["read_post, split before"], best["read_post, split after"]
        print(f"ratio split after / before:          {after / before:.3f}x")
        print(f"ratio parse / split before:          {parse / before:.3f}x "
              f"(+{parse - before:.1f} µs, {(parse - before) / whole_before:.1%} of a read_post)")
        print(f"ratio read_post after / before:      {whole_after / whole_before:.3f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
