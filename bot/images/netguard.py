"""Refuse connections to non-public addresses, checked at connect time.

The check lives in the socket layer (an httpcore network backend) rather than before the request
because a host name can resolve differently a moment later (DNS rebinding): here the very
addresses we validated are the ones we connect to, for the first request and every redirect hop.
TLS still verifies the certificate against the host name, since httpcore passes the origin host
as `server_hostname`, not the IP we dialled.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from bot.images.model import ImageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` must not be contacted, or None when it is a public unicast address.

    IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by that
    address too: Python 3.11 reports `::ffff:127.0.0.1` as not loopback.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            problem = address_problem(inner)
            if problem:
                return problem
    checks = (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    )
    for attr, label in checks:
        if getattr(ip, attr):
            return label
    if not ip.is_global:
        return "non-public"
    return None


class HostPolicy:
    """Decides which hosts may resolve to non-public addresses."""

    def __init__(self, *, allow_private: bool, trusted_hosts: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.trusted = frozenset(h.strip().lower() for h in trusted_hosts if h.strip())

    def is_trusted(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return self.allow_private or host in self.trusted or f"{host}:{port}" in self.trusted

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve `host` and return addresses safe to dial; raise ImageError otherwise.

        Every address must pass: a name answering with one public and one private address is
        refused, because we cannot tell which one a later lookup would prefer.
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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
        last_error: Exception | None = None
        for addr in self._policy.resolve(host, port):
            try:
                return super().connect_tcp(addr, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
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
