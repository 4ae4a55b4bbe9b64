"""Benchmark: both teasers of the sample post, and X fitting cost relative to one parse_tweet.

Plain script (not a test): `taskset -c 0 .venv/bin/python benchmarks/bench_teasers.py`.
Targets: both teasers <= 4 ms median; X teaser <= 2.5x one `parse_tweet` of its final text.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
from twitter_text import parse_tweet

from bot.posts import Post
from bot.teasers import TeaserRenderer
from bot.teasers import render as render_module
from bot.teasers.graphemes import cuts
from bot.teasers.x_length import x_cluster_weight

SAMPLE = (
    Path(__file__).resolve().parents[1] / "examples/site/_posts/2024-08-07-exaone-3-open-source.md"
)
RUNS = 300


def _sample_post() -> Post:
    fm = frontmatter.load(str(SAMPLE))
    return Post(
        url="https://newsdao.kr/2024/08/07/exaone-3-open-source.html",
        path=SAMPLE,
        rel_path=SAMPLE.name,
        title=fm["title"],
        date=datetime(2024, 8, 7, tzinfo=UTC),
        slug="exaone-3-open-source",
        categories=("기술",),
        excerpt=" ".join(str(fm["excerpt"]).split()),
    )


def _median_ms(fn, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    gc.disable()
    renderer = TeaserRenderer()
    post = _sample_post()
    x_text = renderer.x(post).text
    calls = []
    original = render_module.x_parse
    render_module.x_parse = lambda text, options=None: calls.append(text) or original(text, options)
    renderer.x(post)
    render_module.x_parse = original

    both = _median_ms(lambda: (renderer.telegram(post, photo=True), renderer.x(post)))
    tg = _median_ms(lambda: renderer.telegram(post, photo=True))
    x = _median_ms(lambda: renderer.x(post))
    one_parse = _median_ms(lambda: parse_tweet(x_text))

    def new_post() -> None:  # a post never seen: per-text analysis cache empty
        cuts.cache_clear()
        renderer.telegram(post, photo=True)
        renderer.x(post)

    def cold() -> None:  # also per-grapheme weight caches empty (first post after start)
        x_cluster_weight.cache_clear()
        render_module._tg_cluster_weight.cache_clear()
        new_post()

    both_new = _median_ms(new_post)
    both_cold = _median_ms(cold, runs=50)
    print(f"runs per measurement        : {RUNS} (one core, gc disabled)")
    print(f"both teasers, median        : {both:.3f} ms   (target <= 4 ms)")
    print(f"both, unseen post, median   : {both_new:.3f} ms")
    print(f"both, all caches cold       : {both_cold:.3f} ms")
    print(f"telegram (photo), median    : {tg:.3f} ms")
    print(f"x teaser, median            : {x:.3f} ms")
    print(f"parse_tweet(final X), median: {one_parse:.3f} ms")
    print(f"x fitting / parse_tweet     : {x / one_parse:.2f}x  (target <= 2.5x)")
    print(f"parse_tweet calls per X fit : {len(calls)}")


if __name__ == "__main__":
    main()
