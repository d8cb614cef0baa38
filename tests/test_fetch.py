"""fetch_feed against a real HTTP server on 127.0.0.1: validators, gzip, caps, errors, deadlines."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from core.settings import FetchConfig
from ingest.errors import ImportFailure
from ingest.feeds import parse_feed
from ingest.fetch import ACCEPT, FetchResult, fetch_feed, make_client
from tests.support.feedserver import RSS, FeedServer, Handler, body, feed_server, redirect, status

FEED = (Path(__file__).resolve().parent / "data" / "feeds" / "rss20.xml").read_bytes()
ETAG = '"feed-v1"'
LAST_MODIFIED = "Sat, 09 Jun 2018 08:34:00 GMT"
ENDLESS_LIMIT = 50 * 1024 * 1024
CAP = 1024 * 1024
GUARD = 60  # seconds: a hang fails one test instead of stalling the suite; it measures nothing
# The server is on loopback, which feeds may not use by default (test_fetch_guard.py).
CONFIG = FetchConfig(
    timeout_seconds=10.0, max_bytes=CAP, user_agent="newsbot-test/1.0", allow_private=True
)


async def feed(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == ETAG or (
        request.headers.get("If-Modified-Since") == LAST_MODIFIED
    ):
        return web.Response(status=304, headers={"ETag": ETAG})
    return web.Response(
        body=FEED,
        headers={"Content-Type": RSS, "ETag": ETAG, "Last-Modified": LAST_MODIFIED},
    )


class Endless:
    """A body with no Content-Length that just keeps coming (up to 50 MB)."""

    def __init__(self) -> None:
        self.streamed = 0
        self.ended = asyncio.Event()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": RSS})
        response.force_close()
        await response.prepare(request)
        chunk = b"<rss>" + b"x" * (64 * 1024 - 5)
        try:
            while self.streamed < ENDLESS_LIMIT:
                await response.write(chunk)
                self.streamed += len(chunk)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.ended.set()
        return response


async def declared_huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": str(ENDLESS_LIMIT)})
    response.force_close()
    await response.prepare(request)
    return response  # and hang up without a byte of it


class Server:
    """The feed server of these tests, with the streams they look into."""

    def __init__(self, http: FeedServer, endless: Endless) -> None:
        self.http = http
        self.base = http.base
        self.requests = http.requests
        self.endless = endless

    async def silent(self, request: web.Request) -> web.StreamResponse:
        await self.http.release.wait()
        return web.Response(status=204)

    async def drip(self, request: web.Request) -> web.StreamResponse:
        # One byte every 50 ms: never idle long enough for a per-read timeout to fire.
        response = web.StreamResponse(headers={"Content-Length": "100000"})
        response.force_close()
        await response.prepare(request)
        try:
            while not self.http.release.is_set():
                await response.write(b"x")
                await asyncio.sleep(0.05)  # the drip's pace, not a wait for anything
        except OSError:
            pass
        return response


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    endless = Endless()
    hops = {f"/hop/{n}": redirect(f"/hop/{n - 1}" if n > 1 else "/feed.xml") for n in range(1, 7)}
    routes: dict[str, bytes | Handler] = {
        "/feed.xml": feed,
        "/gzip.xml": body(gzip.compress(FEED), Content_Encoding="gzip"),
        # ~10 KB on the wire, 10 MB once decoded: only the decoded size can trip the cap.
        "/bomb.xml": body(gzip.compress(b"\0" * (10 * CAP)), Content_Encoding="gzip"),
        "/endless.xml": endless,
        "/huge.xml": declared_huge,
        "/500": status(500, "oops"),
        "/old.xml": redirect("/feed.xml", 301),
        "/loop": redirect("/loop"),
        "/no-location": redirect(None),
        **hops,
    }
    async with feed_server(routes) as http:
        srv = Server(http, endless)  # these two hang until the server's release at teardown
        http.routes["/silent.xml"] = srv.silent
        http.routes["/drip.xml"] = srv.drip
        yield srv


async def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    config: FetchConfig = CONFIG,
) -> FetchResult:
    async with make_client(config) as client:
        return await fetch_feed(client, url, etag=etag, last_modified=last_modified, config=config)


async def fetch_failure(url: str, *, config: FetchConfig = CONFIG) -> ImportFailure:
    with pytest.raises(ImportFailure) as caught:
        await fetch(url, config=config)
    assert caught.value.source == url
    return caught.value


async def test_fetches_the_feed_with_our_headers(server: Server) -> None:
    result = await fetch(f"{server.base}/feed.xml")
    assert result == FetchResult(f"{server.base}/feed.xml", 200, FEED, ETAG, LAST_MODIFIED)
    _, headers = server.requests[0]
    assert headers["user-agent"] == "newsbot-test/1.0"
    assert headers["accept"] == ACCEPT
    assert "gzip" in headers["accept-encoding"]
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


async def test_etag_round_trip_gets_304(server: Server) -> None:
    first = await fetch(f"{server.base}/feed.xml")
    second = await fetch(
        f"{server.base}/feed.xml", etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == 304
    assert second.content is None
    assert second.etag == ETAG
    # The server left Last-Modified out of its 304: the one we sent still stands.
    assert second.last_modified == LAST_MODIFIED
    assert server.requests[1][1]["if-none-match"] == ETAG


async def test_if_modified_since_gets_304(server: Server) -> None:
    result = await fetch(f"{server.base}/feed.xml", last_modified=LAST_MODIFIED)
    assert (result.status, result.content, result.last_modified) == (304, None, LAST_MODIFIED)
    assert server.requests[0][1]["if-modified-since"] == LAST_MODIFIED


async def test_unsafe_validators_are_not_sent(server: Server) -> None:
    result = await fetch(f"{server.base}/feed.xml", etag='"v1"\r\nX-Evil: 1', last_modified="é")
    assert result.content == FEED
    headers = server.requests[0][1]
    assert "x-evil" not in headers
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


async def test_gzip_body_is_decoded(server: Server) -> None:
    result = await fetch(f"{server.base}/gzip.xml")
    assert result.content == FEED


async def test_cap_counts_decoded_bytes(server: Server) -> None:
    failure = await fetch_failure(f"{server.base}/bomb.xml")
    assert failure.reason == f"feed is larger than {CAP} bytes"


async def test_endless_body_is_cut_off_at_the_cap(server: Server) -> None:
    failure = await fetch_failure(f"{server.base}/endless.xml")
    assert failure.reason == f"feed is larger than {CAP} bytes"
    # The server notices the hang-up; by then it has sent the cap plus socket buffers, far
    # from the 50 MB it had to offer.
    await asyncio.wait_for(server.endless.ended.wait(), GUARD)
    assert server.endless.streamed < ENDLESS_LIMIT // 2


async def test_declared_length_over_the_cap_is_refused_up_front(server: Server) -> None:
    failure = await fetch_failure(f"{server.base}/huge.xml")
    assert failure.reason == f"feed is larger than {CAP} bytes"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.xml", "HTTP 404 Not Found"),
        ("/500", "HTTP 500 Internal Server Error"),
        ("/no-location", "HTTP 302 Found without a usable Location to follow"),
    ],
)
async def test_http_errors(server: Server, path: str, reason: str) -> None:
    failure = await fetch_failure(f"{server.base}{path}")
    assert failure.reason == reason


async def test_follows_a_redirect(server: Server) -> None:
    result = await fetch(f"{server.base}/old.xml")
    assert result.status == 200
    assert result.content == FEED
    assert result.url == f"{server.base}/feed.xml"
    assert [path for path, _ in server.requests] == ["/old.xml", "/feed.xml"]
    assert server.requests[1][1]["user-agent"] == "newsbot-test/1.0"


async def test_follows_five_redirects_but_not_six(server: Server) -> None:
    result = await fetch(f"{server.base}/hop/5")
    assert result.content == FEED
    failure = await fetch_failure(f"{server.base}/hop/6")
    assert failure.reason == "more than 5 redirects"


async def test_redirect_loop(server: Server) -> None:
    failure = await fetch_failure(f"{server.base}/loop")
    assert failure.reason == "more than 5 redirects"
    assert len(server.requests) == 6


async def test_server_that_never_answers_times_out(server: Server) -> None:
    config = FetchConfig(timeout_seconds=0.3, max_bytes=CAP, user_agent="t", allow_private=True)
    # The server would keep silent for 30 s and then hang up: "timed out" is the client's own
    # deadline; the guard only stops a missing deadline from hanging the suite.
    failure = await asyncio.wait_for(
        fetch_failure(f"{server.base}/silent.xml", config=config), GUARD
    )
    assert failure.reason == "timed out after 0.3 s"


async def test_dripping_server_hits_the_overall_deadline(server: Server) -> None:
    config = FetchConfig(timeout_seconds=0.5, max_bytes=CAP, user_agent="t", allow_private=True)
    # The drip would go on for over an hour: only the overall deadline ends it.
    failure = await asyncio.wait_for(fetch_failure(f"{server.base}/drip.xml", config=config), GUARD)
    assert failure.reason == "timed out after 0.5 s"


async def test_closed_port_cannot_connect() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = await fetch_failure(f"http://127.0.0.1:{port}/feed.xml")
    assert failure.reason.startswith("cannot connect: ")


async def test_unsupported_scheme() -> None:
    failure = await fetch_failure("ftp://127.0.0.1/feed.xml")
    assert failure.reason.startswith("unsupported URL")


async def test_fetched_bytes_parse_into_articles(server: Server) -> None:
    fetched = await fetch(f"{server.base}/gzip.xml")
    assert fetched.content is not None
    result = parse_feed(fetched.content, source=fetched.url, default_topics=("news",))
    assert result.title == "Daily & Nightly News"
    assert len(result.articles) == 4
    storm = result.articles[1]
    # Relative links resolve against where the feed was fetched from.
    assert storm.url == f"{server.base}/weather/storm"
    assert all(article.topics == ("news",) for article in result.articles)


async def test_make_client_defaults() -> None:
    async with make_client(CONFIG) as client:
        assert client.headers["User-Agent"] == "newsbot-test/1.0"
        assert client.headers["Accept"] == ACCEPT
        assert client.timeout == httpx.Timeout(10.0)
        # fetch_feed follows redirects itself (counting them, never reading their bodies).
        assert client.follow_redirects is False


class TestFileUrls:
    async def test_reads_a_local_feed(self, tmp_path: Path) -> None:
        path = tmp_path / "my feed.xml"
        path.write_bytes(FEED)
        result = await fetch(path.as_uri())
        assert (result.status, result.content) == (200, FEED)
        assert result.url == path.as_uri()
        assert result.last_modified is not None

    async def test_unchanged_file_is_not_modified(self, tmp_path: Path) -> None:
        path = tmp_path / "feed.xml"
        path.write_bytes(FEED)
        first = await fetch(path.as_uri())
        second = await fetch(path.as_uri(), last_modified=first.last_modified)
        assert (second.status, second.content) == (304, None)

    async def test_missing_file(self, tmp_path: Path) -> None:
        failure = await fetch_failure((tmp_path / "nope.xml").as_uri())
        assert failure.reason == f"no such file: {tmp_path / 'nope.xml'}"

    async def test_directory(self, tmp_path: Path) -> None:
        failure = await fetch_failure(tmp_path.as_uri())
        assert failure.reason.startswith(f"cannot read {tmp_path}: ")

    async def test_size_cap(self, tmp_path: Path) -> None:
        path = tmp_path / "big.xml"
        path.write_bytes(b"x" * (CAP + 1))
        failure = await fetch_failure(path.as_uri())
        assert failure.reason == f"feed is larger than {CAP} bytes"

    async def test_remote_host_is_refused(self) -> None:
        failure = await fetch_failure("file://example.com/etc/feed.xml")
        assert "local file" in failure.reason
