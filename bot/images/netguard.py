"""Refuse connections to non-public addresses, checked at connect time.

The check lives in the socket layer (an httpcore network backend) rather than before the request
because a host name can resolve differently a moment later (DNS rebinding): here the very
addresses we validated are the ones we connect to, for the first request and every redirect hop.
TLS still verifies the certificate against the host name, since httpcore passes the origin host
as `server_hostname`, not the IP we dialled.

Whether an address is public is decided by our own table of the IANA special-purpose ranges as
well as by `ipaddress.is_global`: the standard library's view differs between Python releases
(3.11 calls the deprecated site-local `fec0::/10` and `192.0.0.0/24` global), and a guard must
not loosen when the interpreter is upgraded.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from bot.images.deadline import DeadlineStream, left
from bot.images.model import ImageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _table(*rows: tuple[str, str]) -> tuple[tuple[Any, str], ...]:
    return tuple((ipaddress.ip_network(net), label) for net, label in rows)


#: Non-global IPv4 ranges (IANA IPv4 Special-Purpose Address Registry), first match names it.
_V4_DENY = _table(
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "this-network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
#: Non-global IPv6 ranges (IANA IPv6 Special-Purpose Address Registry). Anything outside
#: 2000::/3, the only block allocated for global unicast, is refused as well.
_V6_DENY = _table(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo tunnel"),
    ("2001:db8::/32", "documentation"),
    ("2001::/23", "IETF protocol"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "SRv6"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_PYTHON_FLAGS = (
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_unspecified", "unspecified"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
    ("is_site_local", "site-local"),
)


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` must not be contacted, or None when it is a public unicast address.

    IPv6 forms that carry an IPv4 address are judged by it: a mapped (`::ffff:127.0.0.1`) or
    NAT64 (`64:ff9b::a00:1`) address reaches exactly that IPv4 host, and a 6to4 address
    (`2002:7f00:1::`) wrapping a refused IPv4 address is refused.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _MAPPED or ip in _NAT64:
            return address_problem(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            problem = address_problem(ip.sixtofour)
            if problem:
                return problem
        table = _V6_DENY
    else:
        table = _V4_DENY
    for network, label in table:
        if ip in network:
            return label
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST:
        return "reserved"
    for attr, label in _PYTHON_FLAGS:
        if getattr(ip, attr, False):
            return label
    if not ip.is_global:
        return "non-public"
    return None


def lookup(host: str, port: int, timeout: float | None) -> list[Any]:
    """`getaddrinfo` that gives up after `timeout` seconds; TimeoutError then.

    The C resolver call cannot be interrupted, so a name lookup runs in a daemon thread that we
    stop waiting for; it ends by itself when the system resolver gives up (its own timeouts,
    resolv.conf). Numeric hosts, including the forms only C parses (`2130706433`, `127.1`,
    `0x7f.1`), are answered locally without a thread.
    """
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass  # a name, not a number
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)

    worker = threading.Thread(target=run, name="image-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"looking up {host} took longer than {timeout:.3g}s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]  # type: ignore[no-any-return]


class HostPolicy:
    """Decides which hosts may resolve to non-public addresses."""

    def __init__(self, *, allow_private: bool, trusted_hosts: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.trusted = frozenset(h.strip().lower() for h in trusted_hosts if h.strip())

    def is_trusted(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return self.allow_private or host in self.trusted or f"{host}:{port}" in self.trusted

    def resolve(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """Resolve `host` and return addresses safe to dial; raise ImageError otherwise.

        Every address must pass: a name answering with one public and one private address is
        refused, because we cannot tell which one a later lookup would prefer. A lookup slower
        than `timeout` raises TimeoutError.
        """
        try:
            infos = lookup(host, port, timeout)
        except (socket.gaierror, UnicodeError) as exc:
            raise ImageError(f"cannot resolve host {host}: {exc}") from None
        addresses: list[str] = []
        for info in infos:
            addr = str(info[4][0])
            if addr not in addresses:
                addresses.append(addr)
        if not addresses:
            raise ImageError(f"cannot resolve host {host}")
        if not self.is_trusted(host, port):
            for addr in addresses:
                ip = ipaddress.ip_address(addr.split("%", 1)[0])
                problem = address_problem(ip)
                if problem:
                    raise ImageError(
                        f"host {host} resolves to {problem} address {ip}; images are only "
                        "fetched from public hosts"
                    )
        return addresses


class _GuardedBackend(httpcore.SyncBackend):
    """Dials only addresses the policy approved, each step within the fetch's deadline."""

    def __init__(self, policy: HostPolicy) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.resolve(host, port, left(timeout, httpcore.ConnectTimeout))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        last_error: Exception | None = None
        for addr in addresses:
            budget = left(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(addr, port, budget, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return DeadlineStream(stream)
        assert last_error is not None
        raise last_error


class GuardedTransport(httpx.HTTPTransport):
    """httpx transport whose every TCP connection goes through `HostPolicy`.

    httpx has no public hook for the network backend, so the connection pool is rebuilt with
    one (httpx 0.28 keeps it in `_pool`); tests/images prove the guard is in effect.
    Environment proxies are ignored: a proxy would dial on our behalf, bypassing the check.
    """

    def __init__(self, policy: HostPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=_GuardedBackend(policy),
        )
