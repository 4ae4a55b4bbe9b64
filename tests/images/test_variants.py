"""Per-platform variants: orientation, metadata, formats, limits, bombs, corrupt files."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from bot.images import PLATFORM_LIMITS, ImageError, ImageFailure, ImageResolver, ImageVariant
from bot.images.process import encode_under


def save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def put(site: Path, name: str, data: bytes) -> str:
    (site / "assets" / "img" / name).write_bytes(data)
    return f"/assets/img/{name}"


def png_header_only(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header claims width x height: the decompression-bomb shape."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def opened(v: ImageVariant) -> Image.Image:
    im = Image.open(io.BytesIO(v.read_bytes()))
    im.load()
    return im


def test_exif_orientation_applied_and_metadata_gone(resolver: ImageResolver, site: Path) -> None:
    # Stored 40x20: left half red, right half blue. Orientation 6 = rotate 90° clockwise to
    # display, so the upright picture is 20x40 with red on top.
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    data = save(
        im,
        "JPEG",
        exif=exif.tobytes(),
        quality=95,
        comment=b"private-comment",
        xmp=b"<x:xmpmeta>private-xmp</x:xmpmeta>",
    )
    assert b"SecretCam" in data and b"private-xmp" in data  # the fixture really carries them
    src = put(site, "rotated.jpg", data)
    for platform in ("telegram", "x"):
        v = resolver.variant(src, platform)
        out = opened(v)
        assert (v.width, v.height) == out.size == (20, 40)
        top, bottom = out.getpixel((10, 5)), out.getpixel((10, 35))
        assert top[0] > 200 and top[2] < 60, top
        assert bottom[2] > 200 and bottom[0] < 60, bottom
        assert "EXIF orientation 6 applied" in v.notes and "metadata stripped" in v.notes
        raw = v.read_bytes()
        assert len(out.getexif()) == 0
        assert out.getexif().get_ifd(0x8825) == {}
        for leak in (b"Exif", b"SecretCam", b"private-comment", b"private-xmp", b"xmpmeta"):
            assert leak not in raw, leak
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(out.info)


def test_webp_becomes_jpeg_for_telegram_and_stays_webp_for_x(
    resolver: ImageResolver, site: Path
) -> None:
    src = put(site, "pic.webp", save(Image.new("RGB", (60, 40), (10, 120, 200)), "WEBP"))
    tg = resolver.variant(src, "telegram")
    assert tg.mime == "image/jpeg" and opened(tg).format == "JPEG"
    assert tg.path.suffix == ".jpg"
    assert "converted WEBP -> JPEG" in tg.notes
    x = resolver.variant(src, "x")
    assert x.mime == "image/webp" and opened(x).format == "WEBP"


def test_transparent_webp_becomes_png_for_telegram(resolver: ImageResolver, site: Path) -> None:
    im = Image.new("RGBA", (30, 30), (255, 0, 0, 0))
    im.paste((0, 255, 0, 255), (10, 10, 20, 20))
    v = resolver.variant(put(site, "alpha.webp", save(im, "WEBP", lossless=True)), "telegram")
    out = opened(v)
    assert v.mime == "image/png" and out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((15, 15)) == (0, 255, 0, 255)


@pytest.mark.parametrize(
    ("mode", "fmt", "expect_mode"),
    [
        ("CMYK", "JPEG", "RGB"),
        ("P", "PNG", "RGB"),
        ("LA", "PNG", "RGBA"),
        ("L", "TIFF", "L"),
        ("RGB", "BMP", "RGB"),
        ("I;16", "PNG", "L"),
    ],
)
def test_modes_and_formats_normalised_for_telegram(
    resolver: ImageResolver, site: Path, mode: str, fmt: str, expect_mode: str
) -> None:
    im = Image.new(mode, (32, 24))
    if mode == "LA":
        im.putpixel((0, 0), (128, 0))  # one transparent pixel: transparency matters
    v = resolver.variant(
        put(site, f"m-{mode.replace(';', '')}.{fmt.lower()}", save(im, fmt)), "telegram"
    )
    out = opened(v)
    assert out.format in ("JPEG", "PNG") and out.mode == expect_mode
    assert (out.width, out.height) == (32, 24)


def test_animated_gif_first_frame_for_telegram(resolver: ImageResolver, site: Path) -> None:
    frames = [Image.new("P", (20, 20), i) for i in (1, 2, 3)]
    frames[0].putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    v = resolver.variant(put(site, "anim.gif", data), "telegram")
    assert v.mime in ("image/jpeg", "image/png")
    assert "animated GIF -> first frame" in v.notes
    assert opened(v).convert("RGB").getpixel((5, 5))[0] > 200  # frame 1 was red


def test_still_gif_stays_gif_for_x(resolver: ImageResolver, site: Path) -> None:
    im = Image.new("P", (20, 20), 1)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    v = resolver.variant(put(site, "still.gif", save(im, "GIF", comment=b"gif-comment")), "x")
    assert v.mime == "image/gif" and b"gif-comment" not in v.read_bytes()


def test_ratio_over_20_refused_for_telegram_only(resolver: ImageResolver, site: Path) -> None:
    src = put(site, "banner.png", save(Image.new("L", (12000, 400), 90), "PNG"))
    with pytest.raises(ImageError) as err:
        resolver.variant(src, "telegram")
    assert err.value.reason.startswith("aspect ratio 30:1 exceeds Telegram's 20:1")
    failure = resolver.decide(src, "telegram")
    assert isinstance(failure, ImageFailure) and "30:1" in failure.reason
    assert failure.source == src and failure.platform == "telegram"
    assert isinstance(resolver.decide(src, "x"), ImageVariant)  # X documents no ratio limit


def test_dimension_sum_downscaled_for_telegram(resolver: ImageResolver, site: Path) -> None:
    # 11.5 MP: within the decoding budget (a bigger JPEG is decoded at a reduced scale first)
    im = Image.new("RGB", (9600, 1200), (30, 30, 30))
    im.paste((250, 250, 250), (0, 0, 4800, 1200))
    v = resolver.variant(put(site, "wide.jpg", save(im, "JPEG", quality=70)), "telegram")
    assert v.width + v.height <= 10000
    assert (v.width, v.height) == (8888, 1111) == opened(v).size
    assert any(n.startswith("downscaled 9600x1200 -> 8888x1111") for n in v.notes)
    assert v.size <= PLATFORM_LIMITS["telegram"].max_bytes


def test_noisy_png_reencoded_under_5mb_for_x(new_resolver, site: Path) -> None:  # type: ignore[no-untyped-def]
    w, h = 1400, 1200  # incompressible noise: the PNG is over X's 5 MB
    data = save(Image.frombytes("RGB", (w, h), os.urandom(w * h * 3)), "PNG", compress_level=1)
    assert len(data) > 5_000_000
    r = new_resolver(max_download_bytes=20_000_000)
    v = r.variant(put(site, "noise.png", data), "x")
    assert v.size <= 5_000_000 == PLATFORM_LIMITS["x"].max_bytes
    assert v.mime == "image/jpeg" and "converted PNG -> JPEG to fit X's 5 MB" in v.notes
    assert v.size == len(v.read_bytes()) and opened(v).size == (v.width, v.height)


def test_encode_lowers_quality_then_size() -> None:
    im = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))
    notes: list[str] = []
    data, fmt, out = encode_under(im, "JPEG", 30_000, "Test", notes)
    assert len(data) <= 30_000 and fmt == "JPEG"
    assert out.width < 300 and out.size == Image.open(io.BytesIO(data)).size
    assert any(n.startswith("downscaled 300x300 ->") for n in notes)
    notes = []
    data, _, out = encode_under(im, "JPEG", 55_000, "Test", notes)
    assert len(data) <= 55_000 and out.width == 300
    assert any("at quality" in n for n in notes), notes


def test_transparent_png_shrinks_instead_of_losing_alpha() -> None:
    im = Image.frombytes("RGBA", (200, 200), os.urandom(200 * 200 * 4))
    notes: list[str] = []
    data, fmt, out = encode_under(im, "PNG", 60_000, "Test", notes)
    assert fmt == "PNG" and len(data) <= 60_000 and out.mode == "RGBA" and out.width < 200


@pytest.mark.parametrize("size", [(50000, 50000), (10000, 9500)])
def test_decompression_bomb_refused(
    resolver: ImageResolver, site: Path, size: tuple[int, int]
) -> None:
    src = put(site, f"bomb{size[0]}.png", png_header_only(*size))
    assert (site / src.lstrip("/")).stat().st_size < 200
    result = resolver.decide(src, "telegram")
    assert isinstance(result, ImageFailure)
    assert "decompression bomb" in result.reason


def test_corrupt_and_truncated_files(resolver: ImageResolver, site: Path) -> None:
    good = save(Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)), "JPEG")
    cases = {
        "noise.jpg": os.urandom(2000),
        "trunc.jpg": good[: len(good) // 2],
        "trunc.png": save(Image.new("RGB", (64, 64), 1), "PNG")[:60],
    }
    for name, data in cases.items():
        with pytest.raises(ImageError) as err:
            resolver.variant(put(site, name, data), "telegram")
        assert err.value.reason.startswith("not a readable image: "), (name, err.value.reason)
        assert "\n" not in err.value.reason


def test_icc_profile_converted_and_dropped(resolver: ImageResolver, site: Path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = save(Image.new("RGB", (16, 16), (120, 60, 30)), "JPEG", icc_profile=icc)
    v = resolver.variant(put(site, "icc.jpg", data), "x")
    out = opened(v)
    assert "icc_profile" not in out.info
    assert "colour profile converted to sRGB" in v.notes
    r, g, b = out.getpixel((8, 8))
    assert abs(r - 120) < 8 and abs(g - 60) < 8 and abs(b - 30) < 8


def test_decide_end_to_end_over_http(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    url = http_server.url("/photo.jpg")
    v = r.decide(url + "?sig=s3cret", "telegram")
    assert isinstance(v, ImageVariant)
    assert v.source == url and v.mime == "image/jpeg" and (v.width, v.height) == (64, 48)
    bad = r.decide(f"http://u:s3cret@127.0.0.1:{http_server.port}/page.html?k=s3cret", "x")
    assert isinstance(bad, ImageFailure)
    assert "s3cret" not in bad.source and "s3cret" not in bad.reason
