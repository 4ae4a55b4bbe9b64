"""The variant cache (content-addressed, atomic, shared) and `decide`'s never-raise contract."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest
from PIL import Image

import bot.images.resolver as resolver_module
from bot.images import ImageFailure, ImageResolver, ImageVariant


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "WEBP")  # WEBP: telegram must convert it
    return buf.getvalue()


def test_second_call_is_a_cache_hit_without_reencoding(
    resolver: ImageResolver, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "assets" / "img" / "a.webp").write_bytes(jpeg((1, 2, 3)))
    first = resolver.variant("/assets/img/a.webp", "telegram")
    assert "cached" not in first.notes and "converted WEBP -> JPEG" in first.notes
    mtime = first.path.stat().st_mtime_ns

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("re-encoded despite a cached variant")

    monkeypatch.setattr(resolver_module, "render", boom)
    second = resolver.variant("assets/img/a.webp", "telegram")
    assert second.notes == (*first.notes, "cached")
    assert (second.path, second.sha256, second.size, second.mime) == (
        first.path,
        first.sha256,
        first.size,
        first.mime,
    )
    assert second.path.stat().st_mtime_ns == mtime
    assert hashlib.sha256(second.read_bytes()).hexdigest() == second.sha256


def test_key_covers_bytes_and_platform(resolver: ImageResolver, site: Path) -> None:
    img = site / "assets" / "img" / "b.webp"
    img.write_bytes(jpeg((10, 20, 30)))
    tg = resolver.variant("/assets/img/b.webp", "telegram")
    x = resolver.variant("/assets/img/b.webp", "x")
    assert tg.path != x.path and "cached" not in x.notes
    img.write_bytes(jpeg((200, 20, 30)))  # the editor replaced the picture
    again = resolver.variant("/assets/img/b.webp", "telegram")
    assert "cached" not in again.notes and again.sha256 != tg.sha256


def test_damaged_cache_entry_is_rebuilt(resolver: ImageResolver, site: Path) -> None:
    (site / "assets" / "img" / "c.webp").write_bytes(jpeg((5, 5, 5)))
    first = resolver.variant("/assets/img/c.webp", "telegram")
    first.path.write_bytes(first.read_bytes()[:20])
    second = resolver.variant("/assets/img/c.webp", "telegram")
    assert "cached" not in second.notes and second.sha256 == first.sha256
    assert hashlib.sha256(second.read_bytes()).hexdigest() == first.sha256


def test_concurrent_workers_share_the_folder(new_resolver, site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (site / "assets" / "img" / "d.webp").write_bytes(jpeg((9, 99, 199), (400, 300)))
    resolvers = [new_resolver() for _ in range(4)]  # separate objects, one cache folder
    results: list[ImageVariant] = []
    errors: list[BaseException] = []

    def work(r: ImageResolver) -> None:
        try:
            for _ in range(3):
                results.append(r.variant("/assets/img/d.webp", "telegram"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in resolvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({(v.path, v.sha256) for v in results}) == 1
    assert hashlib.sha256(results[0].read_bytes()).hexdigest() == results[0].sha256
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_decide_contract(resolver: ImageResolver, site: Path) -> None:
    assert resolver.decide(None, "telegram") is None
    assert resolver.decide("   ", "x") is None
    (site / "assets" / "img" / "ok.webp").write_bytes(jpeg((1, 1, 1)))
    ok = resolver.decide("/assets/img/ok.webp", "x")
    assert isinstance(ok, ImageVariant) and ok.platform == "x"
    assert ok.source == "assets/img/ok.webp"
    for bad in (
        "/assets/img/nope.jpg",
        "file:///etc/passwd",
        "../secret.jpg",
        "http://10.0.0.1/x.jpg",
        "https://",
    ):
        failure = resolver.decide(bad, "telegram")
        assert isinstance(failure, ImageFailure), bad
        assert failure.source == bad and failure.reason and "\n" not in failure.reason
    with pytest.raises(ValueError, match="unknown platform"):
        resolver.decide("/assets/img/ok.webp", "myspace")
