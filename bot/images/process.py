"""Make one platform's upload from untrusted image bytes, with Pillow.

Every variant is rebuilt from pixels only, so nothing the author's camera or editor embedded
(EXIF with GPS, XMP, comments, thumbnails, ICC profiles) can leak to a public channel. Limits
are checked before decoding so a hostile header cannot make a worker allocate gigabytes.

Memory is bounded per image and per process, because a picture is cheap to send and dear to
decode (a 360 KB PNG can hold 9400x9400 pixels, 350 MB once decoded): an image whose pixels
would take more than MAX_DECODED_BYTES is refused before decoding (a JPEG is decoded at 1/2,
1/4 or 1/8 scale instead, which its format allows for free); every step replaces the one image
it works on, so a full-size copy is freed as soon as the next exists; and a process renders one
image at a time, whatever the worker's concurrency.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from bot.images.fetch import INPUT_FORMATS
from bot.images.model import EXT_BY_FORMAT, MIME_BY_FORMAT, ImageError, PlatformLimits

#: Safety cap on decoded pixels (about Pillow's own 89.5 MP default), checked before decoding.
MAX_PIXELS = 90_000_000
#: Most memory one image's pixels may take once decoded, counted at 4 bytes a pixel (how Pillow
#: holds RGB and RGBA, which every image becomes): 16 MP, e.g. 4096x4096, more than either
#: platform shows.  Converting and encoding hold about two such copies at once.
MAX_DECODED_BYTES = 64 * 1024 * 1024
_MB = 1024 * 1024
#: One image at a time per process: a worker's threads would otherwise multiply the peak.
_ONE_AT_A_TIME = threading.Lock()
JPEG_QUALITIES = (90, 82, 74, 66)
#: Smallest side we will shrink to when chasing a byte cap; below this the photo is useless.
MIN_SIDE = 64
MAX_SHRINK_ROUNDS = 8
_ORIENTATION = 0x0112
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True, slots=True)
class Encoded:
    data: bytes
    format: str
    width: int
    height: int
    notes: tuple[str, ...]

    @property
    def mime(self) -> str:
        return MIME_BY_FORMAT[self.format]

    @property
    def ext(self) -> str:
        return EXT_BY_FORMAT[self.format]


class _Held:
    """The one reference to the image being worked on.  Each step replaces ``im``, so the copy
    it replaces is freed at once; a step returning a new image would leave the old one alive in
    its caller's variable until the step was over."""

    __slots__ = ("im",)

    def __init__(self, im: Image.Image) -> None:
        self.im = im


def render(data: bytes, limits: PlatformLimits) -> Encoded:
    """Decode, normalise, fit and encode `data` for one platform; ImageError if impossible."""
    with _ONE_AT_A_TIME:
        return _render(data, limits)


def _render(data: bytes, limits: PlatformLimits) -> Encoded:
    notes: list[str] = []
    held, src_format = _decode(data, notes)
    _orient(held, notes)
    src_label = "JPEG" if src_format == "MPO" else src_format
    if (src_label == "GIF" and held.im.mode == "P" and "GIF" in limits.formats
            and not _animated(notes)):
        out_format = "GIF"
    else:
        _normalise_mode(held, notes)
        alpha = held.im.mode in ("RGBA", "LA")
        if src_label in limits.formats and src_label != "GIF":
            out_format = src_label
        else:
            out_format = "PNG" if alpha else "JPEG"
        if out_format != src_label:
            notes.append(f"converted {src_format} -> {out_format}")
    _fit_dimensions(held, limits, notes)
    if out_format == "GIF" and held.im.mode != "P":
        out_format = "PNG"
        notes.append("converted GIF -> PNG")
    _pixels_only(held)
    notes.append("metadata stripped")
    payload, fmt, clean = encode_under(held.im, out_format, limits.max_bytes, limits.label, notes)
    return Encoded(payload, fmt, clean.width, clean.height, tuple(notes))


def _animated(notes: list[str]) -> bool:
    """Whether _decode kept only the first frame of an animation."""
    return any(n.startswith("animated") for n in notes)


# -- decoding ----------------------------------------------------------------------------------


def _decode(data: bytes, notes: list[str]) -> tuple[_Held, str]:
    try:
        # catch_warnings turns Pillow's "possible bomb" warning (between 1x and 2x its limit)
        # into the same refusal as the hard error above 2x.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=INPUT_FORMATS)
            fmt = str(im.format)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"image is {w}x{h} ({w * h / 1e6:.0f} MP), over the "
                    f"{MAX_PIXELS / 1e6:.0f} MP safety limit (possible decompression bomb)"
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
                kind = "GIF" if fmt == "GIF" else fmt
                notes.append(f"animated {kind} -> first frame")
            _bound_decoding(im, fmt, notes)
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"refused as a possible decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if text.startswith("cannot identify image file"):
            text = "unrecognised or unsupported format"
        raise ImageError(f"not a readable image: {text[:200]}") from None
    return _Held(im), fmt


def _decoded_bytes(width: int, height: int) -> int:
    return width * height * 4


def _bound_decoding(im: Image.Image, fmt: str, notes: list[str]) -> None:
    """Refuse an image whose pixels would take more than MAX_DECODED_BYTES, before decoding;
    a JPEG is decoded at the smallest reduction (1/2, 1/4, 1/8) that fits instead."""
    w, h = im.size
    if _decoded_bytes(w, h) <= MAX_DECODED_BYTES:
        return
    if fmt in ("JPEG", "MPO"):
        for scale in (2, 4, 8):
            if _decoded_bytes(-(-w // scale), -(-h // scale)) <= MAX_DECODED_BYTES:
                im.draft(im.mode, (w // scale, h // scale))
                if _decoded_bytes(*im.size) <= MAX_DECODED_BYTES:
                    notes.append(f"decoded at 1/{scale} scale ({im.width}x{im.height}) to "
                                 "bound memory")
                    return
                break
    raise ImageError(
        f"image is {w}x{h}: its pixels would take {_decoded_bytes(w, h) / _MB:.0f} MB in "
        f"memory, over the {MAX_DECODED_BYTES // _MB} MB allowed per image; export it smaller "
        f"(at most {MAX_DECODED_BYTES // 4 / 1e6:.0f} MP, e.g. 4096x4096)"
    )


def _orient(held: _Held, notes: list[str]) -> None:
    try:
        orientation = int(held.im.getexif().get(_ORIENTATION, 1))
    except Exception:  # a mangled EXIF block must not sink an otherwise fine photo
        return
    if orientation in range(2, 9):
        held.im = ImageOps.exif_transpose(held.im)
        notes.append(f"EXIF orientation {orientation} applied")


# -- colour ------------------------------------------------------------------------------------


def _has_alpha(im: Image.Image) -> bool:
    """True only when some pixel is actually see-through, so opaque PNGs can become JPEGs."""
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        low, _high = im.getchannel("A").getextrema()
        return bool(low < 255)
    return False


def _normalise_mode(held: _Held, notes: list[str]) -> None:
    """Bring any mode to L, RGB or RGBA, converting an embedded ICC profile to sRGB first."""
    mode = held.im.mode
    if mode == "P":
        held.im = held.im.convert("RGBA" if "transparency" in held.im.info else "RGB")
    elif mode == "PA":
        held.im = held.im.convert("RGBA")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        if mode == "I":
            held.im = held.im.point(lambda v: v * (1 / 256)).convert("L")
        else:
            held.im = _i16_to_l(held.im)
    elif mode in ("F", "1"):
        held.im = held.im.convert("L")
    elif mode in ("La", "LA"):
        held.im = held.im.convert("LA")
    elif mode == "RGBa":
        held.im = held.im.convert("RGBA")
    icc = held.im.info.get("icc_profile")
    if icc and held.im.mode in ("RGB", "RGBA", "CMYK"):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if held.im.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(held.im, src, _SRGB, outputMode=out_mode)
            if converted is not None:
                held.im = converted
                notes.append("colour profile converted to sRGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            notes.append("unreadable colour profile ignored")
    if held.im.mode == "CMYK":
        held.im = held.im.convert("RGB")
        notes.append("converted CMYK -> RGB")
    elif held.im.mode not in ("L", "RGB", "RGBA", "LA"):
        held.im = held.im.convert("RGB")
    if held.im.mode in ("RGBA", "LA") and not _has_alpha(held.im):
        held.im = held.im.convert("RGB" if held.im.mode == "RGBA" else "L")
    elif held.im.mode == "LA":
        held.im = held.im.convert("RGBA")


def _i16_to_l(im: Image.Image) -> Image.Image:
    return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")


def _flatten(im: Image.Image) -> Image.Image:
    """RGBA on white: JPEG has no alpha and black (Pillow's default) looks like a bug."""
    if im.mode != "RGBA":
        return im
    bg = Image.new("RGB", im.size, (255, 255, 255))
    bg.paste(im, mask=im.getchannel("A"))
    return bg


# -- geometry ----------------------------------------------------------------------------------


def _ratio_text(r: float) -> str:
    return f"{r:.0f}" if abs(r - round(r)) < 0.05 else f"{r:.1f}"


def _fit_dimensions(held: _Held, limits: PlatformLimits, notes: list[str]) -> None:
    w, h = held.im.size
    if limits.max_ratio is not None:
        ratio = max(w, h) / max(1, min(w, h))
        if ratio > limits.max_ratio:
            # Cropping or padding would change what the editor chose to show; a text-only post
            # is the less surprising fallback.
            raise ImageError(
                f"aspect ratio {_ratio_text(ratio)}:1 exceeds {limits.label}'s "
                f"{_ratio_text(limits.max_ratio)}:1 ({w}x{h})"
            )
    if limits.max_dimension_sum is not None and w + h > limits.max_dimension_sum:
        scale = limits.max_dimension_sum / (w + h)
        nw, nh = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
        held.im = _resize(held.im, nw, nh)
        notes.append(
            f"downscaled {w}x{h} -> {nw}x{nh} ({limits.label}: width + height <= "
            f"{limits.max_dimension_sum})"
        )


def _resize(im: Image.Image, w: int, h: int) -> Image.Image:
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    return im.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _pixels_only(held: _Held) -> None:
    """A new image holding only pixels (and a palette): no info dict, no EXIF, no profile."""
    transparency = held.im.info.get("transparency") if held.im.mode == "P" else None
    clean = held.im.copy()  # a plain Image: the decoder's object and its metadata stay behind
    clean.info = {}
    if isinstance(transparency, int):
        clean.info["transparency"] = transparency
    held.im = clean


# -- encoding ----------------------------------------------------------------------------------


def _save(im: Image.Image, fmt: str, quality: int | None) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        _flatten(im).save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    elif fmt == "WEBP":
        im.save(buf, "WEBP", quality=quality, method=4)
    elif fmt == "GIF":
        kwargs = {}
        if "transparency" in im.info:
            kwargs["transparency"] = im.info["transparency"]
        im.save(buf, "GIF", **kwargs)
    else:
        im.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def encode_under(
    im: Image.Image, fmt: str, max_bytes: int, label: str, notes: list[str]
) -> tuple[bytes, str, Image.Image]:
    """Encode `im` as `fmt` in at most `max_bytes`: lower quality first, then fewer pixels.

    A lossless format that is too big becomes JPEG when it has no transparency (a photo saved
    as PNG), otherwise it keeps its alpha and loses pixels instead.
    """
    original = im.size
    cap = f"{max_bytes / 1_000_000:g} MB"
    for _round in range(MAX_SHRINK_ROUNDS):
        lossy = fmt in ("JPEG", "WEBP")
        last = b""
        for q in JPEG_QUALITIES if lossy else (None,):
            last = _save(im, fmt, q)
            if len(last) <= max_bytes:
                if q is not None and q != JPEG_QUALITIES[0]:
                    notes.append(f"re-encoded {fmt} at quality {q} to fit {label}'s {cap}")
                if im.size != original:
                    notes.append(
                        f"downscaled {original[0]}x{original[1]} -> {im.width}x{im.height} "
                        f"to fit {label}'s {cap}"
                    )
                return last, fmt, im
        opaque = im.mode in ("RGB", "L") or (im.mode == "P" and "transparency" not in im.info)
        if fmt in ("PNG", "GIF") and opaque:
            notes.append(f"converted {fmt} -> JPEG to fit {label}'s {cap}")
            fmt = "JPEG"
            if im.mode == "P":
                im = im.convert("RGB")
            continue
        # Bytes scale roughly with pixel count: aim a little under the cap in one step.
        scale = min(0.85, math.sqrt(max_bytes / len(last)) * 0.9)
        nw, nh = math.floor(im.width * scale), math.floor(im.height * scale)
        if min(nw, nh) < MIN_SIDE:
            break
        im = _resize(im, nw, nh)
    raise ImageError(f"cannot encode this image under {label}'s {cap} limit")
