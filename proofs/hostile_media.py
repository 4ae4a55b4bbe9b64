"""Hostile image bytes for the hostile corpus, shared by the generator and the hostile server.

Why hand-built files: the dangerous images are the ones that are cheap for an attacker and dear
for us (a 360 KB PNG that decodes to 350 MB, a header claiming 4 billion pixels, a GIF of 5,000
frames), and building them through Pillow would cost the proof itself that memory.  PNGs are
written chunk by chunk with a streaming zlib; every builder is deterministic (same arguments,
same bytes) and cached, since the server hands the same bytes out many times.
"""

from __future__ import annotations

import functools
import gzip
import io
import struct
import zlib

from PIL import Image

__all__ = [
    "CANARY_SIZE",
    "canary_png",
    "gif_frames",
    "gzip_gzip_bomb",
    "gzip_zeros",
    "jpeg",
    "jpeg_claiming",
    "png_claiming",
    "png_flat",
    "truncated",
]

#: The canary image's size: a preview or a send of a 333x222 picture means something read a
#: file outside the site or fetched from the port only refused URLs lead to.
CANARY_SIZE = (333, 222)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BYTES_PER_PIXEL = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> bytes per 8-bit pixel


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _ihdr(width: int, height: int, colour: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))


@functools.cache
def png_flat(width: int, height: int, colour: int = 6, fill: int = 0) -> bytes:
    """A whole, valid PNG of one colour: tiny on disk (deflate's ~1000:1), huge once decoded."""
    comp = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_RLE)
    row = b"\x00" + bytes([fill]) * (width * _BYTES_PER_PIXEL[colour])
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (_PNG_SIGNATURE + _ihdr(width, height, colour) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


@functools.cache
def png_claiming(width: int, height: int, colour: int = 6) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with one row of data and no end."""
    comp = zlib.compressobj(9)
    row = b"\x00" + bytes(min(width, 4096) * _BYTES_PER_PIXEL[colour])
    return _PNG_SIGNATURE + _ihdr(width, height, colour) + _chunk(b"IDAT", comp.compress(row)
                                                                 + comp.flush())


@functools.cache
def jpeg(width: int, height: int, colour: tuple[int, int, int] = (30, 90, 160),
         quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@functools.cache
def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to claim ``width`` x ``height``."""
    data = bytearray(jpeg(64, 48))
    at = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: max(16, int(len(data) * keep))]


@functools.cache
def canary_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", CANARY_SIZE, (255, 0, 255)).save(buf, "PNG")
    return buf.getvalue()


@functools.cache
def gif_frames(count: int, size: int = 8) -> bytes:
    """An animated GIF of ``count`` tiny frames (counting frames walks the whole file)."""
    frames = [Image.new("L", (size, size), (i * 37) % 256) for i in range(count)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=10, loop=0)
    return buf.getvalue()


@functools.cache
def gzip_zeros(megabytes: int) -> bytes:
    """gzip of ``megabytes`` MiB of zeros, made a MiB at a time."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
    zeros = bytes(1 << 20)
    return b"".join(comp.compress(zeros) for _ in range(megabytes)) + comp.flush()


@functools.cache
def gzip_gzip_bomb() -> bytes:
    """About 1 KB on the wire with ``Content-Encoding: gzip, gzip``, 400 MB once undone."""
    return gzip.compress(gzip_zeros(400), compresslevel=9, mtime=0)
