"""Feeds must not reach inside the network (issue 8, section 5): the address policy alone, then
fetch_feed against real servers on loopback with the default policy.

Nothing here sends a packet anywhere but 127.0.0.0/8 and ::1: every connection goes through
``Recording``, which lists what it was asked to connect to, and addresses outside loopback are
only ever refused or handed to a ``Recording`` that refuses to connect.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from aiohttp import web

from core.settings import FetchConfig
from ingest.errors import ImportFailure
from ingest.fetch import fetch_feed, make_client
from ingest.guard import (
    REFUSED,
    GuardedTransport,
    IPAddress,
    is_public,
    literal_address,
)
from tests.harness import free_port
from tests.support.feedserver import feed_server

FEED = (Path(__file__).resolve().parent / "data" / "feeds" / "rss20.xml").read_bytes()
DEFAULT = FetchConfig(timeout_seconds=5.0)  # allow_private is off, as in production
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


class Recording(httpcore.AsyncNetworkBackend):
    """The real sockets (loopback only), with a list of every address asked for."""

    def __init__(self, *, connect: bool = True) -> None:
        self.asked: list[tuple[str, int]] = []
        self._connect = connect
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        if not self._connect or not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError("the test network connects nowhere")
        return await self._inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@asynccontextmanager
async def server(host: str = "127.0.0.1") -> AsyncIterator[tuple[str, list[str]]]:
    """A feed server on ``host``: ``/feed.xml``, and ``/to?url=X`` redirecting to X.

    Yields its base URL and the paths it was asked for."""

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async with feed_server({"/feed.xml": FEED, "/to": to}, host) as http:
        yield http.base, http.paths


async def failure(client: httpx.AsyncClient, url: str, config: FetchConfig = DEFAULT) -> str:
    with pytest.raises(ImportFailure) as caught:
        await fetch_feed(client, url, etag=None, last_modified=None, config=config)
    return caught.value.reason


# -- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (CGNAT)
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fe80::1%1",
        "fc00::1",
        "fd12:3456::1",  # unique local
        "fec0::1",  # site local
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_odd_spellings_of_an_address_are_read_as_the_resolver_would(
    host: str, address: str
) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["feeds.example", "localhost", "deadbeef", "1.2.3.4.5", "1..2"])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


# -- fetching with the default policy ----------------------------------------------------------


async def test_every_spelling_of_loopback_is_refused_before_connecting() -> None:
    network = Recording()
    async with server() as (base, asked), make_client(DEFAULT, network=network) as client:
        port = base.rsplit(":", 1)[1]
        closed = free_port()
        reasons = {
            url: await failure(client, url)
            for url in (
                f"{base}/feed.xml",
                f"http://127.0.0.1:{closed}/feed.xml",  # a closed port answers the same
                f"http://0x7f000001:{port}/feed.xml",
                f"http://2130706433:{port}/feed.xml",
                f"http://127.1:{port}/feed.xml",
                f"http://[::1]:{port}/feed.xml",
                f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
                f"http://localhost:{port}/feed.xml",
                f"https://127.0.0.1:{port}/feed.xml",
                "http://169.254.169.254/latest/meta-data/",
                "http://[fd00:ec2::254]/latest/meta-data/",
                "http://10.0.0.1/feed.xml",
                "http://192.168.0.1:8080/",
            )
        }
    assert set(reasons.values()) == {REFUSED}
    assert network.asked == []
    assert asked == []


async def test_a_redirect_to_an_inside_address_is_refused_at_that_hop() -> None:
    network = Recording()
    # 127.0.0.1 plays a public feed host; every other non-public address is still refused.
    outside_only: set[IPAddress] = {LOOPBACK}
    transport = GuardedTransport(lambda ip: ip in outside_only or is_public(ip), network)
    async with (
        server("127.0.0.1") as (public, public_asked),
        server("127.0.0.2") as (inside, inside_asked),
        httpx.AsyncClient(transport=transport) as client,
    ):
        to_inside = await failure(client, f"{public}/to?url={inside}/feed.xml")
        to_metadata = await failure(
            client, f"{public}/to?url=http://169.254.169.254/latest/meta-data/"
        )
        to_odd_spelling = await failure(client, f"{public}/to?url=http://0x7f000002/feed.xml")
        fine = await fetch_feed(
            client,
            f"{public}/to?url={public}/feed.xml",
            etag=None,
            last_modified=None,
            config=DEFAULT,
        )
    assert (to_inside, to_metadata, to_odd_spelling) == (REFUSED, REFUSED, REFUSED)
    assert inside_asked == []
    assert public_asked == ["/to", "/to", "/to", "/to", "/feed.xml"]
    assert {host for host, _ in network.asked} == {"127.0.0.1"}
    assert fine.content == FEED


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    # DNS rebinding: the name answers a public address first and loopback after. The check
    # and the connection use one resolution, so the socket is asked for the checked address.
    answers = [[ipaddress.ip_address("203.0.113.7")], [LOOPBACK], [LOOPBACK]]

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return answers.pop(0)

    network = Recording(connect=False)
    pretend_public = ipaddress.ip_address("203.0.113.7")
    transport = GuardedTransport(lambda ip: ip == pretend_public, network, rebinding)
    async with httpx.AsyncClient(transport=transport) as client:
        reason = await failure(client, "http://feeds.example/feed.xml")
    assert network.asked == [("203.0.113.7", 80)]
    assert reason.startswith("cannot connect")


async def test_a_name_with_any_inside_address_is_refused_whole() -> None:
    async def mixed(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("203.0.113.7"), ipaddress.ip_address("10.0.0.5")]

    network = Recording(connect=False)
    transport = GuardedTransport(is_public, network, mixed)
    async with httpx.AsyncClient(transport=transport) as client:
        reason = await failure(client, "http://feeds.example/feed.xml")
    assert reason == REFUSED
    assert network.asked == []


async def test_allow_private_opens_loopback() -> None:
    allowed = FetchConfig(timeout_seconds=5.0, allow_private=True)
    network = Recording()
    async with server() as (base, asked), make_client(allowed, network=network) as client:
        port = base.rsplit(":", 1)[1]
        got = await fetch_feed(
            client,
            f"http://0x7f000001:{port}/feed.xml",
            etag=None,
            last_modified=None,
            config=allowed,
        )
    assert got.content == FEED
    assert network.asked == [("127.0.0.1", int(port))]
    assert asked == ["/feed.xml"]
