"""Compressed responses: decoded as they stream, capped while inflating, one layer at most."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.images import ImageError, ImageResolver
from bot.images.inflate import PIECE, decoder_for

# One fetch in a fresh process, so nothing else in the test run moves the figures: the peak of
# Python allocations during it (tracemalloc: every bytes object zlib returns) and the growth of
# the process's peak RSS, which also sees C allocations. On Linux the peak is VmHWM, reset just
# before the fetch (ru_maxrss there still holds the pytest parent's RSS from before exec);
# elsewhere ru_maxrss. A warm-up fetch first pays for imports and buffers.
_MEASURE = """
import contextlib, json, resource, sys, time, tracemalloc
from pathlib import Path
from bot.images import ImageResolver

def peak_kb():
    with contextlib.suppress(OSError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

photo, url, tmp = sys.argv[1], sys.argv[2], Path(sys.argv[3])
(tmp / "site").mkdir(exist_ok=True)
with ImageResolver(site_dir=tmp / "site", site_url="http://127.0.0.1:9/",
                   cache_dir=tmp / "cache", allow_private_hosts=True) as r:
    r.fetch(photo)
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # peak RSS := current RSS
    before = peak_kb()
    tracemalloc.start()
    start = time.monotonic()
    decision = r.decide(url, "telegram")
    elapsed = time.monotonic() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = peak_kb()
print(json.dumps({"reason": getattr(decision, "reason", None), "seconds": elapsed,
                  "traced_peak_mb": traced_peak / 2**20,
                  "rss_peak_grew_mb": (after - before) / 1024}))
"""


def measure(http_server, path: str, tmp_path: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            http_server.url("/photo.jpg"),
            http_server.url(path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    print(path, result)
    return result


def test_gzip_of_gzip_bomb_refused_with_little_memory(http_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # About 1 KB on the wire that inflates to 400 MB: refused before the second layer is
    # inflated at all, and the process's peak memory barely moves.
    result = measure(http_server, "/gzip-gzip-bomb.jpg", tmp_path)
    assert float(result["traced_peak_mb"]) < 50  # type: ignore[arg-type]
    assert float(result["rss_peak_grew_mb"]) < 50  # type: ignore[arg-type]
    assert "stacked content encodings (gzip, gzip)" in str(result["reason"])


def test_single_gzip_layer_capped_while_inflating(http_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # One legitimate-looking gzip layer of 100 KB that inflates to 100 MB, past the 20 MiB cap.
    result = measure(http_server, "/gzip-bomb.jpg", tmp_path)
    assert float(result["traced_peak_mb"]) < 50  # type: ignore[arg-type]
    assert float(result["rss_peak_grew_mb"]) < 50  # type: ignore[arg-type]
    assert "inflates to more than the 21 MB cap; stopped" in str(result["reason"])


@pytest.mark.parametrize(
    "path", ["/gzip.jpg", "/gzip-members.jpg", "/deflate.jpg", "/raw-deflate.jpg", "/identity.jpg"]
)
def test_single_encodings_decoded(new_resolver, http_server, jpeg: bytes, path: str) -> None:  # type: ignore[no-untyped-def]
    data, _ = new_resolver(allow_private_hosts=True).fetch(http_server.url(path))
    assert data == jpeg


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/gzip-gzip.jpg", "sent stacked content encodings (gzip, gzip); refused"),
        ("/gzip-gzip-lines.jpg", "sent stacked content encodings (gzip, gzip); refused"),
        ("/brotli.jpg", "sent unsupported content encoding 'br'"),
        ("/gzip-truncated.jpg", "sent a truncated gzip body"),
        ("/gzip-corrupt.jpg", "sent a corrupt gzip body"),
    ],
)
def test_bad_encodings_refused_with_reason(
    new_resolver: Callable[..., ImageResolver], http_server, path: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    with pytest.raises(ImageError) as err:
        r.fetch(http_server.url(path))
    assert reason in err.value.reason
    assert http_server.url(path) in err.value.reason
    # ... and the public API turns it into a reason, never an exception.
    failure = r.decide(http_server.url(path), "x")
    assert failure is not None and reason in getattr(failure, "reason", "")


def test_cap_applies_to_decoded_size(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    # About 1 KB on the wire, well under the 0.1 MB cap; 1 MiB once inflated.
    r = new_resolver(allow_private_hosts=True, max_download_bytes=100_000)
    with pytest.raises(ImageError, match=re.escape("inflates to more than the 0.1 MB cap")):
        r.fetch(http_server.url("/gzip-1mb.jpg"))


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3000).map(lambda b: b * 200),
    cut=st.lists(st.integers(1, 5000), max_size=8),
    wbits=st.sampled_from([16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS]),
)
def test_decoder_round_trips_any_split_in_bounded_pieces(
    data: bytes, cut: list[int], wbits: int
) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    wire = comp.compress(data) + comp.flush()
    decoder = decoder_for(["gzip" if wbits > zlib.MAX_WBITS else "deflate"], "test")
    out = bytearray()
    pos = 0
    for step in [*cut, len(wire)]:
        for piece in decoder.decode(wire[pos : pos + step]):
            assert len(piece) <= PIECE
            out += piece
        pos += step
    decoder.finish()
    assert bytes(out) == data
