"""An image's decoded size is bounded before it is decoded, and a process decodes one at a time.

Regression (hostile corpus): the pixel cap (90 MP) let through a 360 KB PNG of 9400x9400 RGBA
that decodes to 350 MB; converting, fitting and stripping it made more full-size copies, so one
such picture took a preview to 960 MB, and a worker's four threads on four of them several GB.

Memory is measured in a child process (its peak RSS, VmHWM), as in ``test_inflate``.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from PIL import Image

CHILD = r"""
import json, resource, sys, threading
from bot.images.model import PLATFORM_LIMITS, ImageError
from bot.images.process import render

def peak_mb():  # VmHWM starts afresh at exec; ru_maxrss keeps pytest's RSS from before it
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

render(open(sys.argv[1], "rb").read(), PLATFORM_LIMITS["x"])  # warm-up: imports, buffers
before = peak_mb()
results = {}

def one(index, path):
    data = open(path, "rb").read()
    for platform in ("telegram", "x"):
        try:
            enc = render(data, PLATFORM_LIMITS[platform])
            results[f"{index} {platform}"] = [enc.width, enc.height, list(enc.notes)]
        except ImageError as exc:
            results[f"{index} {platform}"] = exc.reason

threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(sys.argv[2:])]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"before_mb": before, "peak_mb": peak_mb(), "results": results}))
"""


def png_flat(width: int, height: int, colour: int = 6, fill: int = 255) -> bytes:
    """A valid one-colour PNG written row by row: a few hundred KB for hundreds of MB decoded."""
    per_pixel = {0: 1, 2: 3, 6: 4}[colour]

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    comp = zlib.compressobj(9)
    row = b"\x00" + bytes([fill]) * (width * per_pixel)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    head = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def render_in_child(tmp_path: Path, warm: bytes, *images: bytes) -> dict[str, object]:
    paths = []
    for i, data in enumerate((warm, *images)):
        path = tmp_path / f"image-{i}"
        path.write_bytes(data)
        paths.append(str(path))
    done = subprocess.run([sys.executable, "-c", CHILD, *paths], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def small_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, "JPEG")
    return buf.getvalue()


def test_a_png_that_decodes_past_the_budget_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = png_flat(9400, 9400)
    assert len(bomb) < 400_000  # 350 MB once decoded
    out = render_in_child(tmp_path, small_jpeg(), bomb)
    for platform in ("telegram", "x"):
        reason = out["results"][f"0 {platform}"]  # type: ignore[index]
        assert isinstance(reason, str) and "9400x9400" in reason and "MB" in reason, reason
    assert out["peak_mb"] - out["before_mb"] < 30, out  # type: ignore[operator]


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_within_the_budget(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (8000, 6000), 128).save(buf, "JPEG", quality=80)  # 48 MP
    out = render_in_child(tmp_path, small_jpeg(), buf.getvalue())
    width, height, notes = out["results"]["0 x"]  # type: ignore[index]
    assert (width, height) == (4000, 3000)
    assert any("1/2 scale" in n for n in notes), notes
    assert out["peak_mb"] < 250, out  # type: ignore[operator]


def test_four_threads_decode_one_image_at_a_time(tmp_path: Path) -> None:
    # Just inside the budget: 15 MP of RGBA, 60 MB decoded each, four at once.
    images = [png_flat(4000, 3750, fill=200 + i) for i in range(4)]
    out = render_in_child(tmp_path, small_jpeg(), *images)
    for i in range(4):
        assert isinstance(out["results"][f"{i} x"], list), out  # type: ignore[index]
    assert out["peak_mb"] < 250, out  # type: ignore[operator]
