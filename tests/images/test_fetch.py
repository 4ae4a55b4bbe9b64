"""Resolving `image` to bytes: site files stay inside the site, URLs stay on public hosts."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.images import ImageError, ImageResolver

# -- site paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        "/assets/img/photo.jpg",
        "assets/img/photo.jpg",
        "/assets/img/photo.jpg?v=3#top",
        "/assets/./img/../img/photo.jpg",
        "/assets/img/my%20photo.jpg",
    ],
)
def test_site_path_read_from_site_folder(resolver: ImageResolver, jpeg: bytes, src: str) -> None:
    data, source = resolver.fetch(src)
    assert data == jpeg
    assert source in ("assets/img/photo.jpg", "assets/img/my photo.jpg")


@pytest.mark.parametrize(
    "src",
    [
        "../../etc/passwd",
        "/../../etc/passwd",
        "/assets/../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "assets/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    ],
)
def test_traversal_refused(resolver: ImageResolver, src: str) -> None:
    with pytest.raises(ImageError) as err:
        resolver.fetch(src)
    assert "escapes the site folder" in err.value.reason


def test_symlink_pointing_outside_refused(
    resolver: ImageResolver, site: Path, tmp_path: Path, jpeg: bytes
) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg)  # a real image, so only the location can be the reason
    (site / "assets" / "img" / "evil.jpg").symlink_to(outside)
    (site / "assets" / "linkdir").symlink_to(tmp_path)
    for src in ("/assets/img/evil.jpg", "/assets/linkdir/outside.jpg"):
        with pytest.raises(ImageError) as err:
            resolver.fetch(src)
        assert "symlink pointing outside the site folder" in err.value.reason


def test_symlink_inside_site_is_fine(resolver: ImageResolver, site: Path, jpeg: bytes) -> None:
    (site / "assets" / "img" / "alias.jpg").symlink_to(site / "assets" / "img" / "photo.jpg")
    assert resolver.fetch("/assets/img/alias.jpg")[0] == jpeg


def test_absolute_filesystem_paths_refused(resolver: ImageResolver, site: Path) -> None:
    for src in (
        str(site / "assets" / "img" / "photo.jpg"),
        "/etc/passwd",
        "C:\\images\\photo.jpg",
        "~/photo.jpg",
    ):
        with pytest.raises(ImageError) as err:
            resolver.fetch(src)
        assert "filesystem path" in err.value.reason, src


@pytest.mark.parametrize(
    ("src", "word"),
    [
        ("file:///etc/passwd", "file:"),
        ("data:image/png;base64,iVBORw0KGgo=", "data:"),
        ("ftp://example.com/x.jpg", "ftp:"),
        ("javascript:alert(1)", "javascript:"),
    ],
)
def test_other_schemes_refused(resolver: ImageResolver, src: str, word: str) -> None:
    with pytest.raises(ImageError) as err:
        resolver.fetch(src)
    assert word in err.value.reason and "not allowed" in err.value.reason


def test_site_file_that_is_not_an_image(resolver: ImageResolver, site: Path) -> None:
    (site / "assets" / "img" / "notes.jpg").write_text("hello, not a picture")
    with pytest.raises(ImageError, match="not a readable image"):
        resolver.fetch("/assets/img/notes.jpg")


def test_missing_site_file_fetched_from_site_url(
    new_resolver: Callable[..., ImageResolver], http_server, jpeg: bytes
) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(site_url=http_server.url("/"), allow_private_hosts=True)
    data, source = r.fetch("/assets/img/remote-only.jpg")
    assert data == jpeg
    assert source == http_server.url("/assets/img/remote-only.jpg")


def test_missing_site_file_on_private_site_url_is_refused_by_default(
    resolver: ImageResolver,
) -> None:
    with pytest.raises(ImageError, match=re.escape("loopback address 127.0.0.1")):
        resolver.fetch("/assets/img/remote-only.jpg")


segments = st.sampled_from(["..", ".", "assets", "img", "photo.jpg", "%2e%2e", "%2E.", "", "x"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(segments, min_size=1, max_size=8), lead=st.booleans())
def test_property_never_reads_outside_site(
    resolver: ImageResolver, site: Path, parts: list[str], lead: bool
) -> None:
    src = ("/" if lead else "") + "/".join(parts)
    try:
        _data, source = resolver.fetch(src)
    except ImageError:
        return
    # Anything returned came from a file inside the site folder.
    assert (site / source).resolve().is_relative_to(site.resolve())
    assert os.path.isfile(site / source)


# -- URLs --------------------------------------------------------------------------------------


def test_loopback_url_refused_unless_allowed(
    new_resolver: Callable[..., ImageResolver], http_server, jpeg: bytes
) -> None:  # type: ignore[no-untyped-def]
    url = http_server.url("/photo.jpg")
    with pytest.raises(ImageError) as err:
        new_resolver().fetch(url)
    assert "127.0.0.1 resolves to loopback address 127.0.0.1" in err.value.reason
    data, source = new_resolver(allow_private_hosts=True).fetch(url)
    assert data == jpeg and source == url


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("localhost", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.0.0.7", "private"),
        ("0.0.0.0", "unspecified"),
        ("[::ffff:192.168.1.1]", "private"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_hosts_refused(resolver: ImageResolver, host: str, why: str) -> None:
    with pytest.raises(ImageError) as err:
        resolver.fetch(f"http://{host}:8080/x.jpg")
    assert f"resolves to {why} address" in err.value.reason


def test_non_image_content_type_refused(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    with pytest.raises(ImageError, match=r"is not an image \(content type text/html\)"):
        r.fetch(http_server.url("/page.html"))


def test_image_content_type_but_html_bytes_refused(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    with pytest.raises(ImageError, match="not a readable image"):
        r.fetch(http_server.url("/html-as-jpeg.jpg"))


def test_http_error_status(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    with pytest.raises(ImageError, match="HTTP 404"):
        r.fetch(http_server.url("/missing.jpg"))


def test_slow_server_times_out(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True, timeout=0.3)
    with pytest.raises(ImageError, match=r"timed out after 0.3s"):
        r.fetch(http_server.url("/slow.jpg"))


def test_dripping_server_hits_total_deadline(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    # One byte every 0.05 s never trips the 0.5 s read timeout; the whole-download bound must.
    r = new_resolver(allow_private_hosts=True, timeout=0.5)
    with pytest.raises(ImageError, match=re.escape("took longer than 1.5s")):
        r.fetch(http_server.url("/drip.jpg"))


def test_endless_stream_capped_while_streaming(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True, max_download_bytes=300_000)
    with pytest.raises(ImageError, match=re.escape("sent more than the 0.3 MB cap")):
        r.fetch(http_server.url("/endless.jpg"))


def test_declared_oversize_refused_before_reading(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True, max_download_bytes=300_000)
    with pytest.raises(ImageError, match=re.escape("is 1000 MB, over the 0.3 MB cap")):
        r.fetch(http_server.url("/huge-declared.jpg"))


def test_redirect_followed_and_each_hop_rechecked(new_resolver, http_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    # Only the test server itself is trusted; every other private target must be refused.
    r = new_resolver(trusted_hosts=[f"127.0.0.1:{http_server.port}"])
    assert r.fetch(http_server.url("/redirect/ok"))[0] == jpeg
    cases = {
        "/redirect/localhost": "host localhost resolves to loopback address",
        "/redirect/metadata": "169.254.169.254 resolves to link-local address",
        "/redirect/private": "10.1.2.3 resolves to private address",
        "/redirect/mapped": "::ffff:127.0.0.1 resolves to loopback address",
        "/redirect/file": "redirect to a file: URL refused",
        "/redirect/ftp": "redirect to a ftp: URL refused",
        "/redirect/data": "malformed image URL, or a redirect to one",
        "/redirect/fec0": "fec0::1 resolves to site-local address fec0::1",
        "/redirect/decimal": "2130706433 resolves to loopback address 127.0.0.1",
        "/redirect/loop": "more than 5 redirects",
    }
    for path, reason in cases.items():
        with pytest.raises(ImageError) as err:
            r.fetch(http_server.url(path))
        assert reason in err.value.reason, (path, err.value.reason)


def test_reasons_never_show_credentials_or_query(new_resolver, http_server) -> None:  # type: ignore[no-untyped-def]
    r = new_resolver(allow_private_hosts=True)
    for url in (
        f"http://bob:s3cretpw@127.0.0.1:{http_server.port}/photo.jpg",
        http_server.url("/missing.jpg?token=s3cretpw"),
        "http://10.0.0.1/x.jpg?sig=s3cretpw",
    ):
        with pytest.raises(ImageError) as err:
            new_resolver().fetch(url) if "10.0.0.1" in url else r.fetch(url)
        assert "s3cretpw" not in err.value.reason
        assert "s3cretpw" not in str(err.value)


def test_missing_site_file_without_site_url(new_resolver) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageError, match="no site URL is configured"):
        new_resolver(site_url="").fetch("/assets/img/absent.jpg")
