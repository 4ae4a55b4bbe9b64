"""The address policy that keeps image fetches off internal networks."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("93.184.216.34", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_table(addr: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(addr)) == problem


@given(st.ip_addresses(v=4))
def test_mapped_ipv6_never_more_permissive_than_its_ipv4(v4: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    if address_problem(v4) is not None:
        assert address_problem(mapped) is not None


def test_trusted_hosts_exempt_only_themselves() -> None:
    policy = HostPolicy(allow_private=False, trusted_hosts=["images.intranet", "127.0.0.1:8080"])
    assert policy.is_trusted("IMAGES.intranet", 443)
    assert policy.is_trusted("127.0.0.1", 8080)
    assert not policy.is_trusted("127.0.0.1", 8081)
    assert policy.resolve("127.0.0.1", 8080) == ["127.0.0.1"]
    with pytest.raises(Exception, match="loopback"):
        policy.resolve("127.0.0.1", 8081)
