"""The address policy that keeps image fetches off internal networks."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.images import ImageError, ImageResolver
from bot.images.netguard import HostPolicy, address_problem


@pytest.mark.parametrize(
    ("addr", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "carrier-grade NAT"),
        # Python 3.11 calls all of these global; the explicit table does not.
        ("fec0::1", "site-local"),
        ("feff::1", "site-local"),
        ("192.0.0.100", "IETF protocol"),
        ("192.88.99.1", "6to4 relay"),
        ("3fff::1", "documentation"),
        ("5f00::1", "SRv6"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("4000::1", "reserved"),  # outside 2000::/3
        ("2001::1", "Teredo tunnel"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("255.255.255.255", "broadcast"),
        ("0.1.2.3", "this-network"),
        ("2002:c0a8:101::1", "private"),  # 6to4 wrapping 192.168.1.1
        ("2002:6440:1::1", "carrier-grade NAT"),  # 6to4 wrapping 100.64.0.1
        ("64:ff9b::6440:1", "carrier-grade NAT"),  # NAT64 wrapping 100.64.0.1
        ("::ffff:100.64.0.1", "carrier-grade NAT"),
        ("::ffff:93.184.216.34", None),  # mapped: judged by its IPv4 address
        ("64:ff9b::5db8:d822", None),  # NAT64 of a public IPv4 address
        ("93.184.216.34", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_table(addr: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(addr)) == problem


# Written out from the IANA special-purpose registries, independently of netguard's table.
DENIED_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip
DENIED_V6 = [
    "::/128", "::1/128", "::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
]  # fmt: skip


def in_network(cidr: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(cidr)
    first, last = int(net.network_address), int(net.broadcast_address)
    return st.integers(first, last).map(lambda n: ipaddress.ip_address(n) if net.version == 4
                                        else ipaddress.IPv6Address(n))  # fmt: skip


denied_v4 = st.sampled_from(DENIED_V4).flatmap(in_network)
denied_v6 = st.sampled_from(DENIED_V6).flatmap(in_network)


@given(st.one_of(denied_v4, denied_v6))
def test_every_address_in_a_denied_range_is_refused(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert address_problem(ip) is not None


@given(denied_v4, st.sampled_from(["::ffff:{}", "64:ff9b::{}", "2002:{}::"]))
def test_ipv6_forms_wrapping_a_denied_ipv4_address_are_refused(
    v4: ipaddress.IPv4Address, form: str
) -> None:
    if form.startswith("2002:"):
        ip = ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80))
    else:
        ip = ipaddress.IPv6Address(form.format(v4))
    assert address_problem(ip) is not None, ip


@given(st.ip_addresses(v=4))
def test_mapped_and_nat64_judged_exactly_as_their_ipv4(v4: ipaddress.IPv4Address) -> None:
    for form in ("::ffff:{}", "64:ff9b::{}"):
        assert address_problem(ipaddress.IPv6Address(form.format(v4))) == address_problem(v4)


@given(st.ip_addresses())
def test_anything_allowed_is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if address_problem(ip) is None:
        v4 = getattr(ip, "ipv4_mapped", None)
        assert (v4 or ip).is_global or ip in ipaddress.ip_network("64:ff9b::/96")


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "0177.0.1"]
)
def test_numeric_ipv4_spellings_judged_by_the_address_they_dial(
    resolver: ImageResolver, host: str
) -> None:
    # The C resolver reads these as 127.0.0.1; the guard judges what is dialled, not the text.
    with pytest.raises(ImageError) as err:
        resolver.fetch(f"http://{host}:8080/x.jpg")
    assert f"host {host} resolves to loopback address 127.0.0.1" in err.value.reason


def test_dotted_octal_ipv4_refused_as_malformed(resolver: ImageResolver) -> None:
    with pytest.raises(ImageError, match="malformed image URL"):
        resolver.fetch("http://0177.0.0.1:8080/x.jpg")


@pytest.fixture()
def dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, list[str]], list[str]]:
    """Scripted DNS for *.test names: each lookup takes the next answer; returns the log."""
    real = socket.getaddrinfo
    script: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: object, **kw: object) -> object:
        if not (isinstance(host, str) and host.endswith(".test")):
            return real(host, port, *args, **kw)  # type: ignore[arg-type]
        if int(kw.get("flags", 0)) & socket.AI_NUMERICHOST:  # type: ignore[call-overload]
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        asked.append(host)
        answer = script[host].pop(0)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port)) for addr in
                answer.split(",")]  # fmt: skip

    def program(host: str, answers: list[str]) -> list[str]:
        script[host] = list(answers)
        return asked

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return program


def test_connects_to_the_address_it_checked(
    new_resolver: Callable[..., ImageResolver], http_server, jpeg: bytes, dns
) -> None:  # type: ignore[no-untyped-def]
    # A rebinding name: the first answer is what we may dial; any second lookup would get an
    # address where nothing listens. One lookup, then the checked address, succeeds.
    asked = dns("rebind.test", ["127.0.0.1", "127.0.0.2"])
    r = new_resolver(trusted_hosts=[f"rebind.test:{http_server.port}"])
    assert r.fetch(f"http://rebind.test:{http_server.port}/photo.jpg")[0] == jpeg
    assert asked == ["rebind.test"]


def test_name_with_any_private_answer_refused(resolver: ImageResolver, dns) -> None:  # type: ignore[no-untyped-def]
    dns("mixed.test", ["93.184.216.34,10.0.0.5"])
    with pytest.raises(
        ImageError, match=re.escape("mixed.test resolves to private address 10.0.0.5")
    ):
        resolver.fetch("http://mixed.test/x.jpg")


def test_trusted_hosts_exempt_only_themselves() -> None:
    policy = HostPolicy(allow_private=False, trusted_hosts=["images.intranet", "127.0.0.1:8080"])
    assert policy.is_trusted("IMAGES.intranet", 443)
    assert policy.is_trusted("127.0.0.1", 8080)
    assert not policy.is_trusted("127.0.0.1", 8081)
    assert policy.resolve("127.0.0.1", 8080) == ["127.0.0.1"]
    with pytest.raises(Exception, match="loopback"):
        policy.resolve("127.0.0.1", 8081)
