"""fetch_feed against a real HTTP server on 127.0.0.1: validators, gzip, caps, errors, deadlines."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from core.settings import FetchConfig
from ingest.errors import ImportFailure
from ingest.feeds import parse_feed
from ingest.fetch import ACCEPT, FetchResult, fetch_feed, make_client

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


class FeedServer(ThreadingHTTPServer):
    # Non-daemon handler threads, so server_close() joins them: nothing outlives a test.
    daemon_threads = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # set at teardown: stalled handlers return
        self.streamed = 0
        self.stream_ended = threading.Event()

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
        if path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self.redirect(f"/hop/{left - 1}" if left > 1 else "/feed.xml")
            return
        ROUTES.get(path, Handler.not_found)(self)

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, Location=location)

    def feed(self) -> None:
        if self.headers.get("If-None-Match") == ETAG or (
            self.headers.get("If-Modified-Since") == LAST_MODIFIED
        ):
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.send(
            200, FEED, Content_Type="application/rss+xml", ETag=ETAG, Last_Modified=LAST_MODIFIED
        )

    def gzipped(self) -> None:
        self.send(
            200, gzip.compress(FEED), Content_Type="application/rss+xml", Content_Encoding="gzip"
        )

    def gzip_bomb(self) -> None:
        # ~10 KB on the wire, 10 MB once decoded: only the decoded size can trip the cap.
        self.send(200, gzip.compress(b"\0" * (10 * CAP)), Content_Encoding="gzip")

    def endless(self) -> None:
        # No Content-Length to warn the client: the body just keeps coming (up to 50 MB).
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<rss>" + b"x" * (64 * 1024 - 5)
        try:
            while self.server.streamed < ENDLESS_LIMIT:
                self.wfile.write(chunk)
                self.server.streamed += len(chunk)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.close_connection = True
            self.server.stream_ended.set()

    def declared_huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(ENDLESS_LIMIT))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def silent(self) -> None:
        self.server.release.wait(30)
        self.close_connection = True

    def drip(self) -> None:
        # One byte every 50 ms: never idle long enough for a per-read timeout to fire.
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.close_connection = True
        try:
            while not self.server.release.wait(0.05):
                self.wfile.write(b"x")
        except OSError:
            pass

    def not_found(self) -> None:
        self.send(404, b"<h1>Not Found</h1>", Content_Type="text/html")

    def server_error(self) -> None:
        self.send(500, b"oops")

    def moved(self) -> None:
        self.redirect("/feed.xml", 301)

    def loop(self) -> None:
        self.redirect("/loop")

    def no_location(self) -> None:
        self.send(302)


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/feed.xml": Handler.feed,
    "/gzip.xml": Handler.gzipped,
    "/bomb.xml": Handler.gzip_bomb,
    "/endless.xml": Handler.endless,
    "/huge.xml": Handler.declared_huge,
    "/silent.xml": Handler.silent,
    "/drip.xml": Handler.drip,
    "/500": Handler.server_error,
    "/old.xml": Handler.moved,
    "/loop": Handler.loop,
    "/no-location": Handler.no_location,
}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()  # bound and listening once constructed: no waiting needed
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        thread.join()
        srv.server_close()


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


async def test_fetches_the_feed_with_our_headers(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/feed.xml")
    assert result == FetchResult(f"{server.base}/feed.xml", 200, FEED, ETAG, LAST_MODIFIED)
    _, headers = server.requests[0]
    assert headers["user-agent"] == "newsbot-test/1.0"
    assert headers["accept"] == ACCEPT
    assert "gzip" in headers["accept-encoding"]
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


async def test_etag_round_trip_gets_304(server: FeedServer) -> None:
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


async def test_if_modified_since_gets_304(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/feed.xml", last_modified=LAST_MODIFIED)
    assert (result.status, result.content, result.last_modified) == (304, None, LAST_MODIFIED)
    assert server.requests[0][1]["if-modified-since"] == LAST_MODIFIED


async def test_unsafe_validators_are_not_sent(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/feed.xml", etag='"v1"\r\nX-Evil: 1', last_modified="é")
    assert result.content == FEED
    headers = server.requests[0][1]
    assert "x-evil" not in headers
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


async def test_gzip_body_is_decoded(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/gzip.xml")
    assert result.content == FEED


async def test_cap_counts_decoded_bytes(server: FeedServer) -> None:
    failure = await fetch_failure(f"{server.base}/bomb.xml")
    assert failure.reason == f"feed is larger than {CAP} bytes"


async def test_endless_body_is_cut_off_at_the_cap(server: FeedServer) -> None:
    failure = await fetch_failure(f"{server.base}/endless.xml")
    assert failure.reason == f"feed is larger than {CAP} bytes"
    # The server notices the hang-up; by then it has sent the cap plus socket buffers, far
    # from the 50 MB it had to offer.
    assert server.stream_ended.wait(10)
    assert server.streamed < ENDLESS_LIMIT // 2


async def test_declared_length_over_the_cap_is_refused_up_front(server: FeedServer) -> None:
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
async def test_http_errors(server: FeedServer, path: str, reason: str) -> None:
    failure = await fetch_failure(f"{server.base}{path}")
    assert failure.reason == reason


async def test_follows_a_redirect(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/old.xml")
    assert result.status == 200
    assert result.content == FEED
    assert result.url == f"{server.base}/feed.xml"
    assert [path for path, _ in server.requests] == ["/old.xml", "/feed.xml"]
    assert server.requests[1][1]["user-agent"] == "newsbot-test/1.0"


async def test_follows_five_redirects_but_not_six(server: FeedServer) -> None:
    result = await fetch(f"{server.base}/hop/5")
    assert result.content == FEED
    failure = await fetch_failure(f"{server.base}/hop/6")
    assert failure.reason == "more than 5 redirects"


async def test_redirect_loop(server: FeedServer) -> None:
    failure = await fetch_failure(f"{server.base}/loop")
    assert failure.reason == "more than 5 redirects"
    assert len(server.requests) == 6


async def test_server_that_never_answers_times_out(server: FeedServer) -> None:
    config = FetchConfig(timeout_seconds=0.3, max_bytes=CAP, user_agent="t", allow_private=True)
    # The server would keep silent for 30 s and then hang up: "timed out" is the client's own
    # deadline; the guard only stops a missing deadline from hanging the suite.
    failure = await asyncio.wait_for(
        fetch_failure(f"{server.base}/silent.xml", config=config), GUARD
    )
    assert failure.reason == "timed out after 0.3 s"


async def test_dripping_server_hits_the_overall_deadline(server: FeedServer) -> None:
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


async def test_fetched_bytes_parse_into_articles(server: FeedServer) -> None:
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
