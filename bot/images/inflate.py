"""Undo a response's Content-Encoding ourselves, a bounded piece at a time.

httpx inflates each network chunk in one call, so 800 bytes of `gzip, gzip` on the wire become
one 400 MB string before any size cap can look at it. Here the caller reads the raw stream and
feeds it through a decoder that never returns more than `PIECE` bytes per step, so the decoded
size is checked while it inflates and memory stays near the cap.

Only what a real image server needs is accepted: no encoding, or exactly one of gzip and
deflate. Stacked encodings are refused outright (images are already compressed; nothing honest
compresses them twice), and br/zstd are refused because no bounded decoder for them is installed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

from bot.images.model import ImageError

#: What we advertise; a server sending anything else is refused with a reason.
ACCEPT_ENCODING = "gzip, deflate"
#: Most decoded bytes one step may produce: the overshoot past the cap, at worst.
PIECE = 256 * 1024
_GZIP = 16 + zlib.MAX_WBITS


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of the next raw bytes, each at most PIECE long."""

    def finish(self) -> None:
        """Raise ImageError when the encoded stream ended early."""


def decoder_for(encodings: list[str], what: str) -> Decoder:
    """The decoder for a response's Content-Encoding values (one per header line or comma).

    `what` names the source in reasons (a redacted URL).
    """
    tokens = [t.strip().lower() for t in encodings]
    coded = [t for t in tokens if t not in ("", "identity")]
    if len(coded) > 1:
        raise ImageError(
            f"{what} sent stacked content encodings ({', '.join(coded)}); refused as a "
            "possible compression bomb"
        )
    if not coded:
        return _Identity()
    if coded[0] in ("gzip", "x-gzip"):
        return _Zlib(what, gzip=True)
    if coded[0] == "deflate":
        return _Zlib(what, gzip=False)
    raise ImageError(f"{what} sent unsupported content encoding {coded[0][:40]!r}")


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE):
            yield data[start : start + PIECE]

    def finish(self) -> None:
        return None


class _Zlib:
    """gzip (members may be concatenated, as RFC 1952 allows) or deflate.

    RFC 9110's deflate is zlib-wrapped, but some servers send raw deflate: the first two bytes
    tell them apart, as browsers do.
    """

    def __init__(self, what: str, *, gzip: bool) -> None:
        self._what = what
        self._gzip = gzip
        self._obj = zlib.decompressobj(_GZIP) if gzip else None
        self._head = b""
        self._ended = False

    @property
    def _name(self) -> str:
        return "gzip" if self._gzip else "deflate"

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._decode(data)
        except zlib.error as exc:
            raise ImageError(f"{self._what} sent a corrupt {self._name} body: {exc}") from None

    def _decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        while True:
            if self._ended:
                # After a gzip member only another member or zero padding may follow; what
                # trails a deflate stream is ignored, as every client does.
                data = data.lstrip(b"\x00") if self._gzip else b""
                if not data:
                    return
                self._obj = zlib.decompressobj(_GZIP)
                self._ended = False
            piece = self._obj.decompress(data, PIECE)
            if not piece and self._obj.unconsumed_tail:
                raise ImageError(f"{self._what} sent a {self._name} body that does not decode")
            if piece:
                yield piece
            if self._obj.eof:
                self._ended = True
                data = self._obj.unused_data
                continue
            data = self._obj.unconsumed_tail
            # A full piece may leave output inside zlib even when all input was taken.
            if not data and len(piece) < PIECE:
                return

    def finish(self) -> None:
        if not self._ended:
            raise ImageError(f"{self._what} sent a truncated {self._name} body")
