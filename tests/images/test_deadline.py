"""One deadline bounds a whole image fetch: connect, headers, body and every redirect hop.

Each slow server here keeps every single step under the per-step timeout (TIMEOUT), so only a
deadline that spans the whole fetch can stop it; the fetch must give up within DEADLINE plus a
margin for a loaded 2-core machine, with a reason that names the deadline.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bot.images import ImageError, ImageFailure, ImageResolver
from bot.images.netguard import HostPolicy

#: Each drip step and each hop stays under TIMEOUT; the whole fetch does not fit in DEADLINE.
DRIP_STEP = 0.5
HOP_DELAY = 0.8
TIMEOUT = 1.0
DEADLINE = 2.0
MARGIN = 0.75
TOTAL = re.escape(f"took longer than {DEADLINE:g}s in total")


def test_settings_make_every_step_fit_the_timeout() -> None:
    # The servers below only prove something if no single step trips the per-step timeout.
    assert DRIP_STEP < TIMEOUT and HOP_DELAY < TIMEOUT
    assert 5 * HOP_DELAY > DEADLINE + MARGIN


@pytest.fixture()
def slow_resolver(new_resolver: Callable[..., ImageResolver]) -> ImageResolver:
    return new_resolver(allow_private_hosts=True, timeout=TIMEOUT, deadline=DEADLINE)


def timed_failure(resolver: ImageResolver, url: str) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(ImageError) as err:
        resolver.fetch(url)
    return err.value.reason, time.monotonic() - start


@pytest.mark.parametrize(
    ("path", "after"),
    [
        ("/drip-headers.jpg", ""),  # one header byte every DRIP_STEP
        ("/drip-body.jpg", ""),  # headers at once, then one body byte every DRIP_STEP
        ("/slow-hop/1", " after 2 redirects"),  # each hop answers in HOP_DELAY
    ],
)
def test_slow_servers_stopped_at_the_total_deadline(
    slow_resolver: ImageResolver, http_server, path: str, after: str
) -> None:  # type: ignore[no-untyped-def]
    delay = HOP_DELAY if path.startswith("/slow-hop/") else DRIP_STEP
    reason, elapsed = timed_failure(slow_resolver, http_server.url(f"{path}?delay={delay}"))
    assert re.search(f"^timed out: .*{re.escape(path)} {TOTAL}{after}$", reason), reason
    assert DEADLINE - 0.1 <= elapsed <= DEADLINE + MARGIN


def test_decide_is_bounded_and_returns_a_reason(slow_resolver: ImageResolver, http_server) -> None:  # type: ignore[no-untyped-def]
    # What the sender calls before taking its lease: a result, never an exception or a hang.
    start = time.monotonic()
    url = http_server.url(f"/drip-headers.jpg?delay={DRIP_STEP}")
    decision = slow_resolver.decide(url, "telegram")
    elapsed = time.monotonic() - start
    assert isinstance(decision, ImageFailure)
    assert re.search(TOTAL, decision.reason)
    assert elapsed <= DEADLINE + MARGIN


def test_kept_alive_connection_obeys_the_next_fetchs_deadline(
    slow_resolver: ImageResolver, http_server, jpeg: bytes
) -> None:  # type: ignore[no-untyped-def]
    # The first fetch leaves a pooled connection behind; the second, reusing it, still stops.
    assert slow_resolver.fetch(http_server.url("/photo.jpg"))[0] == jpeg
    url = http_server.url(f"/drip-body.jpg?delay={DRIP_STEP}")
    reason, elapsed = timed_failure(slow_resolver, url)
    assert re.search(TOTAL, reason)
    assert elapsed <= DEADLINE + MARGIN
    (_, first), (_, second) = http_server.requests[-2:]
    assert first == second  # the same client port: one connection served both
    assert slow_resolver.fetch(http_server.url("/photo.jpg"))[0] == jpeg


def test_fast_chain_within_the_deadline_still_works(
    new_resolver: Callable[..., ImageResolver], http_server, jpeg: bytes
) -> None:  # type: ignore[no-untyped-def]
    # Five hops in about half a second: the deadline does not get in the way of a chain.
    r = new_resolver(allow_private_hosts=True, timeout=TIMEOUT, deadline=DEADLINE)
    assert r.fetch(http_server.url("/slow-hop/1?delay=0.1"))[0] == jpeg


# -- name lookups ---------------------------------------------------------------------------


@pytest.fixture()
def stuck_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A resolver that never answers for *.stuck.test until released (like a dead DNS server).

    Numeric hosts are answered as the C library does (AI_NUMERICHOST fails for names).
    """
    real = socket.getaddrinfo
    release = threading.Event()

    def getaddrinfo(host: str, port: object, *args: object, **kw: object) -> object:
        if isinstance(host, str) and host.endswith(".stuck.test"):
            if int(kw.get("flags", 0)) & socket.AI_NUMERICHOST:  # type: ignore[call-overload]
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, port, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield release
    release.set()


def test_stuck_name_lookup_stopped_at_the_deadline(
    new_resolver: Callable[..., ImageResolver], stuck_dns: threading.Event
) -> None:
    # A generous per-step timeout: the lookup must still end at the deadline.
    r = new_resolver(timeout=10 * DEADLINE, deadline=DEADLINE)
    reason, elapsed = timed_failure(r, "http://img.stuck.test/photo.jpg")
    assert re.search(f"^timed out: http://img.stuck.test/photo.jpg {TOTAL}$", reason), reason
    assert elapsed <= DEADLINE + MARGIN


def test_policy_lookup_honours_its_timeout(stuck_dns: threading.Event) -> None:
    policy = HostPolicy(allow_private=False)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=re.escape("took longer than 0.3s")):
        policy.resolve("img.stuck.test", 80, timeout=0.3)
    assert time.monotonic() - start < 0.3 + MARGIN
