"""Feeds must not reach inside the network: which addresses a feed fetch may connect to.

An admin's ``/addfeed`` URL, or any redirect it leads to, could name a loopback port, a host
on the private network or the cloud metadata service (169.254.169.254). The check is made on
the addresses a name resolves to, at every connection the fetch opens (so at every redirect
hop), and the connection then goes to the address that was checked: a name that resolves to a
public address for the check and a private one for the connection (DNS rebinding) gets nowhere.

``[fetch] allow_private = true`` lifts the rule, for a feed server on the same machine or
network (and for the tests, whose servers all listen on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

__all__ = [
    "REFUSED",
    "AddressPolicy",
    "AddressRefused",
    "GuardedBackend",
    "GuardedTransport",
    "IPAddress",
    "allow_any",
    "is_public",
    "literal_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

# The one answer for every refused address: whether a port there is open, closed or filtered
# is never tried, so never told.
REFUSED = "refused: address is private/loopback"

# inet_aton's spellings of an IPv4 address: 0x7f000001, 2130706433, 127.1, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


class AddressRefused(Exception):
    """A connection the policy does not allow; raised before any packet is sent."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: {REFUSED}")
        self.host = host


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, 6to4, Teredo's client or NAT64."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is on the public internet: not loopback, private, link-local, multicast,
    reserved, unspecified or shared (CGNAT), in IPv4 or IPv6, nor an IPv6 address carrying
    such an IPv4 one (``::ffff:127.0.0.1``)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False  # fe80::1%eth0: a link-local address with its interface
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public(embedded):
            return False
        if ip.is_site_local:
            return False
    elif ip in _CGNAT:
        return False
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def allow_any(ip: IPAddress) -> bool:
    """The policy of ``[fetch] allow_private = true``."""
    return True


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address if it is one in any spelling a resolver would accept, else None.

    ``0x7f000001``, ``2130706433`` and ``127.1`` are all 127.0.0.1 to the C library; they are
    read here the same way (inet_aton, which parses and never resolves).
    """
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without repeats."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]))
        if address not in found:
            found.append(address)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the address policy in front of every TCP connection.

    The name is resolved here, every address checked, and the inner backend is handed the
    checked address itself, so what was vetted is what gets connected to.
    """

    def __init__(
        self,
        allowed: AddressPolicy,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._allowed = allowed
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        vetted = [a for a in addresses if self._allowed(a)]
        if not vetted or len(vetted) < len(addresses):
            # A name with one private address among public ones is refused whole: it is
            # either a misconfiguration or someone trying their luck.
            raise AddressRefused(host)
        failure: Exception | None = None
        for address in vetted:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its pooling and error mapping) over a ``GuardedBackend``.

    No proxy is used: a proxy would make the connection, to an address never checked.
    """

    def __init__(
        self,
        allowed: AddressPolicy,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        context = httpx.create_ssl_context()
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allowed, inner, resolver),
        )
