"""Download one feed politely: conditional GET, a size cap enforced while streaming, a deadline.

Every failure is an ImportFailure naming the URL, so the poller records one line and moves on.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import formatdate

import httpcore
import httpx

from core.settings import FetchConfig
from ingest.errors import ImportFailure
from ingest.guard import (
    REFUSED,
    AddressPolicy,
    AddressRefused,
    GuardedTransport,
    allow_any,
    is_public,
)

__all__ = ["ACCEPT", "MAX_REDIRECTS", "FetchResult", "fetch_feed", "make_client"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetch: ``content`` is None when the server answered 304 Not Modified.

    ``url`` is where the feed was finally found, after redirects; ``etag`` and
    ``last_modified`` are the validators to send next time.
    """

    url: str
    status: int
    content: bytes | None
    etag: str | None
    last_modified: str | None


def make_client(
    config: FetchConfig,
    *,
    allowed: AddressPolicy | None = None,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """An HTTP client for feed fetching; the caller closes it (``async with``).

    It connects only to public addresses unless ``config.allow_private``; ``allowed`` replaces
    that policy and ``network`` the sockets underneath (both for tests).
    """
    policy = allowed or (allow_any if config.allow_private else is_public)
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, network),
        headers={"User-Agent": config.user_agent, "Accept": ACCEPT},
        timeout=httpx.Timeout(config.timeout_seconds),
        # fetch_feed follows redirects itself, so that it counts them and never reads the
        # body of a redirect (httpx would, without any size cap).
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
    )


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    config: FetchConfig,
) -> FetchResult:
    """GET ``url`` (http, https or file) with the validators from the last fetch.

    ``config.timeout_seconds`` bounds the whole fetch, redirects and body included, and
    ``config.max_bytes`` the decoded body. Raises ImportFailure, and nothing else, on failure.
    """
    if url[:7].lower() == "file://":
        return await asyncio.to_thread(_read_local_file, url, last_modified, config.max_bytes)

    headers = {"User-Agent": config.user_agent, "Accept": ACCEPT}
    # Validators come back from servers; one that is not a plain printable header value would
    # make the request itself fail, so it is dropped and the feed is fetched in full instead.
    if etag and _is_header_safe(etag):
        headers["If-None-Match"] = etag
    if last_modified and _is_header_safe(last_modified):
        headers["If-Modified-Since"] = last_modified
    timed_out = f"timed out after {config.timeout_seconds:g} s"
    try:
        # The overall deadline, on top of httpx's per-read timeout: a server that dribbles a
        # byte every few seconds would otherwise hold a poller slot for ever.
        async with asyncio.timeout(config.timeout_seconds):
            return await _get(client, url, headers, etag, last_modified, config)
    except AddressRefused:
        raise ImportFailure(url, REFUSED) from None
    except (TimeoutError, httpx.TimeoutException):
        raise ImportFailure(url, timed_out) from None
    except httpx.ConnectError as exc:
        raise ImportFailure(url, f"cannot connect: {_describe(exc)}") from None
    except httpx.UnsupportedProtocol as exc:
        raise ImportFailure(url, f"unsupported URL: {_describe(exc)}") from None
    except httpx.InvalidURL as exc:
        raise ImportFailure(url, f"invalid URL: {_describe(exc)}") from None
    except httpx.DecodingError as exc:
        raise ImportFailure(url, f"cannot decode the response: {_describe(exc)}") from None
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise ImportFailure(url, f"download failed: {_describe(exc)}") from None


async def _get(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    etag: str | None,
    last_modified: str | None,
    config: FetchConfig,
) -> FetchResult:
    request = client.build_request(
        "GET", url, headers=headers, timeout=httpx.Timeout(config.timeout_seconds)
    )
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is None:
                return await _result(response, url, etag, last_modified, config.max_bytes)
            request = response.next_request
        finally:
            await response.aclose()
    raise ImportFailure(url, f"more than {MAX_REDIRECTS} redirects")


async def _result(
    response: httpx.Response,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
) -> FetchResult:
    status = response.status_code
    final_url = str(response.url)
    if status == httpx.codes.NOT_MODIFIED:
        # A 304 may leave the validators out; the ones we sent are still the current ones.
        return FetchResult(
            final_url,
            status,
            None,
            response.headers.get("etag") or etag,
            response.headers.get("last-modified") or last_modified,
        )
    if not 200 <= status < 300:
        # The standard phrase, not the server's: the message stays short and predictable.
        reason = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()
        if 300 <= status < 400:
            reason += " without a usable Location to follow"
        raise ImportFailure(url, reason)
    content = await _read_capped(response, url, max_bytes)
    return FetchResult(
        final_url,
        status,
        content,
        response.headers.get("etag"),
        response.headers.get("last-modified"),
    )


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    too_large = ImportFailure(url, f"feed is larger than {max_bytes} bytes")
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    # An honest Content-Length lets us refuse before reading; the cap below still counts
    # every decoded byte, since the header may lie or the body may be compressed.
    if encoding == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _read_local_file(url: str, last_modified: str | None, max_bytes: int) -> FetchResult:
    """``file://`` feeds, so a config can point at a feed file on disk; same cap as HTTP."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ImportFailure(url, "a file:// URL must name a local file (file:///path/to/feed.xml)")
    path = urllib.request.url2pathname(parts.path)
    try:
        with open(path, "rb") as file:
            # The file's mtime plays Last-Modified, so polling an unchanged file is a 304.
            stamp = formatdate(os.fstat(file.fileno()).st_mtime, usegmt=True)
            if last_modified == stamp:
                return FetchResult(url, 304, None, None, stamp)
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise ImportFailure(url, f"no such file: {path}") from None
    except OSError as exc:
        raise ImportFailure(url, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ImportFailure(url, f"feed is larger than {max_bytes} bytes")
    return FetchResult(url, 200, data, None, stamp)


def _is_header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
